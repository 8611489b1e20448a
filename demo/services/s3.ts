/**
 * A local S3 (s3rver 3.7.1 under Node, fetched by npx on first use) holding the generated
 * images in bucket `node-images`, reached with s3rver's fixed key pair.
 */
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { S3RVER_KEYS, s3rverScript, sdkClient } from "../../tests/support/s3rver.ts";
import { ServiceProcess } from "../processes.ts";
import { freePort } from "../../tests/support/free_port.ts";
import type { SeedObject } from "../images/seed.ts";

export const BUCKET = "node-images";

export interface S3Service {
  endpoint: string;
  /** The `s3` values section, pointing at the credentials file written next to it. */
  section: Record<string, unknown>;
  process: ServiceProcess;
}

export async function startS3(
  dir: string,
  objects: readonly SeedObject[],
  signal: AbortSignal,
): Promise<S3Service> {
  const script = await s3rverScript();
  const port = freePort();
  await Deno.mkdir(`${dir}/s3`, { recursive: true });
  const process = ServiceProcess.spawn("s3rver", "node", [
    script,
    "--directory",
    `${dir}/s3`,
    "--port",
    String(port),
    "--address",
    "127.0.0.1",
  ], { logPath: `${dir}/s3rver.log` });
  const endpoint = `http://127.0.0.1:${port}`;
  await process.waitFor(/listening|S3rver/i, signal);
  const client = sdkClient(endpoint);
  try {
    await seed(client, objects, signal);
  } catch (error) {
    await process.stop();
    throw new Error(`Cannot seed the local S3: ${(error as Error).message}`, { cause: error });
  } finally {
    client.destroy();
  }
  const credentialsFile = `${dir}/s3-credentials.yaml`;
  await Deno.writeTextFile(
    credentialsFile,
    `accessKeyId: ${S3RVER_KEYS.accessKeyId}\nsecretAccessKey: ${S3RVER_KEYS.secretAccessKey}\n`,
  );
  return {
    endpoint,
    section: {
      bucket: BUCKET,
      region: "us-east-1",
      http: true,
      endpoint,
      forcePathStyle: true,
      presign: true,
      credentialsFile,
    },
    process,
  };
}

async function seed(
  client: ReturnType<typeof sdkClient>,
  objects: readonly SeedObject[],
  signal: AbortSignal,
): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }), { abortSignal: signal });
  for (const object of objects) {
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: object.key,
        Body: object.bytes,
        ContentLength: object.bytes.byteLength,
      }),
      { abortSignal: signal },
    );
  }
}
