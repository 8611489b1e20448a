/**
 * A real local S3 server for tests: `s3rver@3.7.1` run under Node (fetched by npx on first use,
 * then from npm's cache), on 127.0.0.1 and a free port, with its data in a temporary directory.
 *
 * Use one server per test file (start-up is ~1 s): check `s3rverUnavailable()` at module load to
 * `ignore` the tests when Node or the package is missing (the reason is printed, tests are never
 * passed silently), start the server in the test, run the cases as steps, `stop()` at the end.
 *
 * @example
 * ```ts
 * const unavailable = await s3rverUnavailable();
 * Deno.test({ name: "…", ignore: unavailable !== undefined, fn: async (t) => {
 *   const s3 = await startS3rver();
 *   try { await s3.createBucket("images"); … } finally { await s3.stop(); }
 * }});
 * ```
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { freePort } from "./free_port.ts";

const PACKAGE = "s3rver@3.7.1";
/** s3rver's only accepted key pair. */
export const S3RVER_KEYS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
const START_TIMEOUT_MS = 30_000;

let binPath: Promise<string> | undefined;

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const output = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const decoder = new TextDecoder();
    return {
      ok: output.success,
      out: decoder.decode(output.stdout).trim() || decoder.decode(output.stderr).trim(),
    };
  } catch (error) {
    return { ok: false, out: (error as Error).message };
  }
}

/** Finds (installing into npm's cache if needed) the s3rver CLI script. */
function resolveBin(): Promise<string> {
  binPath ??= (async () => {
    const node = await run("node", ["--version"]);
    if (!node.ok) throw new Error(`node is not available: ${node.out}`);
    const which = await run("npx", ["--yes", "--prefer-offline", "-p", PACKAGE, "which", "s3rver"]);
    if (!which.ok || !which.out) throw new Error(`npx could not provide ${PACKAGE}: ${which.out}`);
    return await Deno.realPath(which.out.split("\n").pop()!);
  })();
  return binPath;
}

/** The s3rver CLI script to run with `node` (installed into npm's cache on first use). */
export function s3rverScript(): Promise<string> {
  return resolveBin();
}

/** Undefined when s3rver can run here, else the reason (also printed once). */
export async function s3rverUnavailable(): Promise<string | undefined> {
  try {
    await resolveBin();
    return undefined;
  } catch (error) {
    const reason = `s3rver tests ignored: ${(error as Error).message}`;
    console.error(reason);
    return reason;
  }
}

/** SDK client settings from runtime-notes.md (the ones that do not corrupt uploads). */
export function sdkClient(endpoint: string, keys = S3RVER_KEYS): S3Client {
  return new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: keys,
    requestHandler: new FetchHttpHandler(),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** A running s3rver. */
export class S3rver {
  readonly endpoint: string;
  readonly #child: Deno.ChildProcess;
  readonly #dir: string;
  readonly #client: S3Client;

  constructor(endpoint: string, child: Deno.ChildProcess, dir: string) {
    this.endpoint = endpoint;
    this.#child = child;
    this.#dir = dir;
    this.#client = sdkClient(endpoint);
  }

  async createBucket(name: string): Promise<void> {
    await this.#client.send(new CreateBucketCommand({ Bucket: name }));
  }

  /** Uploads bytes, or a stream of exactly `contentLength` bytes. */
  async put(
    bucket: string,
    key: string,
    body: Uint8Array | ReadableStream<Uint8Array>,
    contentLength?: number,
  ): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ContentLength: contentLength ?? (body instanceof Uint8Array ? body.byteLength : undefined),
      }),
    );
  }

  async stop(): Promise<void> {
    this.#client.destroy();
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already exited
    }
    await this.#child.status;
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/** Starts s3rver and waits until it answers HTTP. */
export async function startS3rver(): Promise<S3rver> {
  const bin = await resolveBin();
  const dir = await Deno.makeTempDir({ prefix: "s3rver-" });
  const port = freePort();
  const child = new Deno.Command("node", {
    args: [bin, "--directory", dir, "--port", String(port), "--address", "127.0.0.1", "--silent"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = new S3rver(endpoint, child, dir);
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && !exited) {
    try {
      const response = await fetch(endpoint + "/");
      await response.body?.cancel();
      return server;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await server.stop();
  throw new Error(
    exited ? `s3rver exited during start-up` : `s3rver did not answer on ${endpoint} in time`,
  );
}
