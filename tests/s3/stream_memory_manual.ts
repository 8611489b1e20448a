/**
 * Manual measurement (not a test): peak RSS and throughput of `S3ImageSource.open()` with every
 * verifier (size, sidecar sha256, OVA manifest) over a large OVA in a local s3rver.
 *
 *   deno run --allow-all tests/s3/stream_memory_manual.ts [disk MiB, default 512]
 *
 * The OVA is generated on the fly and streamed into s3rver by a child process, so the reading
 * process's RSS reflects only the download and verification.
 */
import { createHash } from "node:crypto";
import { S3Source } from "../../providers/s3/mod.ts";
import { ovfDescriptor, tarArchive } from "../support/images.ts";
import { sdkClient, startS3rver } from "../support/s3rver.ts";
import { PutObjectCommand } from "@aws-sdk/client-s3";

const BUCKET = "images";
const KEY = "capv/flatcar-big-gs/flatcar-big.ova";
const CHUNK = 1 << 20;
const encoder = new TextEncoder();

/** Deterministic 1 MiB chunks, each stamped with its index so chunks differ. */
function diskChunk(pattern: Uint8Array, index: number): Uint8Array {
  const chunk = pattern.slice();
  new DataView(chunk.buffer).setUint32(0, index);
  return chunk;
}

function pattern(): Uint8Array {
  const data = new Uint8Array(CHUNK);
  let x = 2463534242;
  for (let i = 0; i < CHUNK; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  return data;
}

/** The OVF and manifest members (without the end-of-archive blocks). */
function ovaHead(mib: number, diskSha256: string): Uint8Array {
  const ovf = encoder.encode(ovfDescriptor("flatcar-big-disk1.vmdk", mib * CHUNK));
  const mf = encoder.encode(
    `SHA256(flatcar-big.ovf)= ${createHash("sha256").update(ovf).digest("hex")}\n` +
      `SHA256(flatcar-big-disk1.vmdk)= ${diskSha256}\n`,
  );
  const head = tarArchive([
    { name: "flatcar-big.ovf", data: ovf },
    { name: "flatcar-big.mf", data: mf },
  ]);
  return head.subarray(0, head.byteLength - 1024);
}

/** The disk member's header, built for an empty member and patched to the real size. */
function diskHeader(size: number): Uint8Array {
  const archive = tarArchive([{ name: "flatcar-big-disk1.vmdk", data: new Uint8Array(0) }]);
  const block = archive.slice(0, 512);
  block.set(encoder.encode(size.toString(8).padStart(11, "0") + "\0"), 124);
  block.set(encoder.encode("        "), 148);
  let sum = 0;
  for (const b of block) sum += b;
  block.set(encoder.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return block;
}

async function upload(endpoint: string, mib: number): Promise<void> {
  const base = pattern();
  const diskHash = createHash("sha256");
  for (let i = 0; i < mib; i++) diskHash.update(diskChunk(base, i));
  const diskSha256 = diskHash.digest("hex");
  const parts = [ovaHead(mib, diskSha256), diskHeader(mib * CHUNK)];
  const trailer = new Uint8Array(1024);
  const total = parts.reduce((n, p) => n + p.byteLength, 0) + mib * CHUNK + trailer.byteLength;
  const whole = createHash("sha256");
  let index = -parts.length;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      let chunk: Uint8Array;
      if (index < 0) chunk = parts[parts.length + index];
      else if (index < mib) chunk = diskChunk(base, index);
      else if (index === mib) chunk = trailer;
      else return controller.close();
      index++;
      whole.update(chunk);
      controller.enqueue(chunk);
    },
  });
  const client = sdkClient(endpoint);
  await client.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: body, ContentLength: total }),
  );
  await client.send(
    new PutObjectCommand({
      Bucket: BUCKET,
      Key: `${KEY}.sha256`,
      Body: encoder.encode(`${whole.digest("hex")}  flatcar-big.ova\n`),
    }),
  );
  client.destroy();
}

async function measure(mib: number): Promise<void> {
  const server = await startS3rver();
  try {
    await server.createBucket(BUCKET);
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL(import.meta.url).pathname,
        "--upload",
        server.endpoint,
        String(mib),
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!child.success) throw new Error("upload failed");
    const s3 = new S3Source({ bucket: BUCKET, region: "", endpoint: server.endpoint });
    const signal = new AbortController().signal;
    const image = await s3.inspectKey(KEY, signal);
    const before = Deno.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => peak = Math.max(peak, Deno.memoryUsage().rss), 50);
    const started = performance.now();
    let bytes = 0;
    for await (const chunk of await image.open({ signal })) bytes += chunk.byteLength;
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, Deno.memoryUsage().rss);
    s3.close();
    const mb = (n: number) => (n / 1e6).toFixed(0);
    console.log(`object: ${bytes} bytes (${mib} MiB disk)`);
    console.log(`verified: ${image.verified().join(", ")}`);
    console.log(`throughput: ${(bytes / 1e6 / seconds).toFixed(0)} MB/s (${seconds.toFixed(1)} s)`);
    console.log(`RSS before open: ${mb(before)} MB, peak during stream: ${mb(peak)} MB`);
  } finally {
    await server.stop();
  }
}

if (Deno.args[0] === "--upload") await upload(Deno.args[1], Number(Deno.args[2]));
else await measure(Number(Deno.args[0] ?? 512));
