/**
 * VCD upload bench: a 2 GiB OVA (`BENCH_VCD_MIB` sets the disk size) from a local S3 server
 * (s3rver) into the fake VCD (its own process), with the operator side in a fresh process of
 * its own (`_vcd_upload_run.ts`, with the Containerfile's V8 flags) so its peak RSS is its alone.
 *
 * Figures, never pass/fail:
 * - throughput next to a baseline measured in the same run between the same two servers:
 *   `curl GET <object> | curl PUT <transfer URL>` (the whole object to one VCD file);
 * - peak RSS (VmHWM) of the operator side, and its growth over the RSS before the transfer;
 * - bytes the operator side made the kernel write to storage (`/proc/self/io` write_bytes),
 *   which must be 0: nothing goes to disk.
 * The fake's own report (SHA-256 of the disk it received) is checked against the source.
 *
 * `BENCH_VCD_PIECE_MIB` sets the piece size (default 64); `BENCH_VCD_GC_MS` forces a V8
 * collection that often on the operator side (a diagnostic: how much of the growth is garbage).
 */
import { createHash } from "node:crypto";
import { containerV8Flags, line } from "./_support.ts";
import { type S3rver, s3rverUnavailable, startS3rver } from "../tests/support/s3rver.ts";
import { ovfDescriptor, tarArchive } from "../tests/support/images.ts";

const MIB = 1024 * 1024;
const IMAGE = "flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs";
const KEY = `capv/${IMAGE}/flatcar-stable-4593.2.3-kube-v1.35.6.ova`;
const BUCKET = "bench-images";
const PIECE_MIB = Number(Deno.env.get("BENCH_VCD_PIECE_MIB") ?? 64);

export async function benchVcdUpload(): Promise<void> {
  const diskBytes = Number(Deno.env.get("BENCH_VCD_MIB") ?? 2048) * MIB;
  console.log(
    `vcd: a ${diskBytes / MIB} MiB OVA from s3rver into the fake VCD (own processes), ` +
      `pieces of ${PIECE_MIB} MiB`,
  );
  const unavailable = await s3rverUnavailable();
  if (unavailable) return line("skipped", unavailable);
  const s3 = await startS3rver();
  const vcd = await startFakeVcd();
  try {
    const { size, diskSha256 } = await seed(s3, diskBytes);
    const object = `${s3.endpoint}/${BUCKET}/${KEY}`;
    const baseline = await curlPipe(object, size, vcd.url);
    printFigures("curl GET | curl PUT (baseline)", size, baseline.ms, 0, baseline.peak);
    const run = await operatorSide(s3.endpoint, vcd.url);
    printFigures("VCD provider, S3 → VCD", run.bytes, run.ms, run.rssBefore, run.peak);
    const written = run.writtenAfter < 0
      ? "unavailable (/proc/self/io not readable)"
      : `${run.writtenAfter - run.writtenBefore} during the transfer, ${run.writtenAfter} since ` +
        `the process started (Deno's code cache, before the transfer)`;
    line("bytes written to disk by the operator side", written);
    line("CPU time of the operator side", `${run.cpu.toFixed(1)} s (user + system)`);
    line("VCD provider vs the curl pipe", `${(baseline.ms / run.ms).toFixed(2)}× the throughput`);
    line("verified", run.verified.join("; "));
    const report = await vcd.resolved(IMAGE);
    const ok = report.includes(`flatcar-disk1.vmdk=${diskSha256}`);
    line("fake VCD received the disk intact", ok ? "yes (SHA-256 matches)" : `NO: ${report}`);
  } finally {
    await vcd.stop();
    await s3.stop();
  }
}

function printFigures(label: string, bytes: number, ms: number, before: number, peak: number) {
  const mbps = bytes / 1e6 / (ms / 1000);
  const growth = before
    ? ` (+${((peak - before) / MIB).toFixed(0)} over ${(before / MIB).toFixed(0)} before)`
    : "";
  line(
    label,
    `${mbps.toFixed(0)} MB/s, ${(ms / 1000).toFixed(1)} s, peak RSS ${
      (peak / MIB).toFixed(0)
    } MiB${growth}`,
  );
}

/** A deterministic disk: one random MiB repeated (hashing and moving it costs what real data does). */
function diskStream(bytes: number, block: Uint8Array): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(block.byteLength, bytes - sent);
      controller.enqueue(block.slice(0, n));
      sent += n;
    },
  }, { highWaterMark: 0 });
}

/** Uploads `flatcar.ovf`, `flatcar.mf`, `flatcar-disk1.vmdk` as one streamed tar object. */
async function seed(s3: S3rver, diskBytes: number): Promise<{ size: number; diskSha256: string }> {
  await s3.createBucket(BUCKET);
  return await putOva(s3, BUCKET, KEY, diskBytes);
}

/**
 * Streams an OVA with a `diskBytes` disk to `bucket`/`key` (the memory bench uses it too).
 * Nothing of the disk is held in memory: it is one random MiB repeated.
 */
export async function putOva(
  s3: S3rver,
  bucket: string,
  key: string,
  diskBytes: number,
): Promise<{ size: number; diskSha256: string }> {
  const block = new Uint8Array(MIB);
  for (let at = 0; at < MIB; at += 65_536) crypto.getRandomValues(block.subarray(at, at + 65_536));
  const hash = createHash("sha256");
  for (let at = 0; at < diskBytes; at += MIB) {
    hash.update(block.subarray(0, Math.min(MIB, diskBytes - at)));
  }
  const diskSha256 = hash.digest("hex");
  const encoder = new TextEncoder();
  const ovf = encoder.encode(ovfDescriptor("flatcar-disk1.vmdk", diskBytes));
  const mf = encoder.encode(
    `SHA256(flatcar.ovf)= ${createHash("sha256").update(ovf).digest("hex")}\n` +
      `SHA256(flatcar-disk1.vmdk)= ${diskSha256}\n`,
  );
  // The tar's head (ovf, mf, disk header) and tail from the fixture builder, the disk between.
  const withDisk = tarArchive([
    { name: "flatcar.ovf", data: ovf },
    { name: "flatcar.mf", data: mf },
    { name: "flatcar-disk1.vmdk", data: new Uint8Array(0) },
  ]);
  const head = withDisk.subarray(0, withDisk.byteLength - 1024);
  // Patch the disk header's size field (octal, 11 digits) and checksum.
  const header = head.subarray(head.byteLength - 512);
  header.set(encoder.encode(diskBytes.toString(8).padStart(11, "0") + "\0"), 124);
  header.set(encoder.encode("        "), 148);
  let sum = 0;
  for (const b of header) sum += b;
  header.set(encoder.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  const pad = (512 - (diskBytes % 512)) % 512;
  const tail = new Uint8Array(pad + 1024);
  const size = head.byteLength + diskBytes + tail.byteLength;
  // Pulled as s3rver reads, so nothing piles up here.
  const parts: (Uint8Array | ReadableStreamDefaultReader<Uint8Array>)[] = [
    head.slice(),
    diskStream(diskBytes, block).getReader(),
    tail,
  ];
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        const next = parts[0];
        if (next === undefined) return controller.close();
        if (next instanceof Uint8Array) {
          parts.shift();
          return controller.enqueue(next);
        }
        const { done, value } = await next.read();
        if (!done) return controller.enqueue(value);
        parts.shift();
      }
    },
  }, { highWaterMark: 0 });
  await s3.put(bucket, key, body, size);
  return { size, diskSha256 };
}

interface FakeVcdProcess {
  url: string;
  /** The fake's "resolved" line for an image (waits for it). */
  resolved(name: string): Promise<string>;
  stop(): Promise<void>;
}

async function startFakeVcd(): Promise<FakeVcdProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../tests/vcd/fake_vcd/main.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`The fake VCD exited before it was ready: ${seen}`);
    seen += value;
  }
  const url = /ready at (\S+)/.exec(seen)![1];
  const lines: string[] = [];
  const waiting: (() => void)[] = [];
  (async () => {
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts);
      for (const wake of waiting.splice(0)) wake();
    }
  })().catch(() => {});
  return {
    url,
    async resolved(name) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const found = lines.find((l) => l.startsWith(`fake-vcd resolved ${name} `));
        if (found) return found;
        if (Date.now() > deadline) return "(no report)";
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          setTimeout(resolve, 500);
        });
      }
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/** The baseline: the whole object piped from S3 into one file of a fresh VCD upload. */
async function curlPipe(
  object: string,
  size: number,
  vcdUrl: string,
): Promise<{ ms: number; peak: number }> {
  const upload = await transferUrl(vcdUrl, size);
  // A real shell pipe, so no byte passes through this process.
  const script = `set -o pipefail; curl -sS --fail '${object}' | curl -sS --fail -X PUT -T - ` +
    `-H 'Content-Length: ${size}' -H 'Content-Range: bytes 0-${size - 1}/${size}' ` +
    `-H 'Transfer-Encoding:' -o /dev/null '${upload}'`;
  const started = performance.now();
  const pipe = new Deno.Command("bash", { args: ["-c", script], stderr: "piped" }).spawn();
  let peak = 0;
  const poll = setInterval(() => {
    for (const pid of childPids(pipe.pid)) {
      try {
        const status = Deno.readTextFileSync(`/proc/${pid}/status`);
        peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024);
      } catch { /* exited */ }
    }
  }, 50);
  const result = await pipe.output();
  clearInterval(poll);
  if (!result.success) {
    throw new Error(`the curl pipe failed: ${new TextDecoder().decode(result.stderr).trim()}`);
  }
  return { ms: performance.now() - started, peak };
}

/** The pids of `pid`'s children (the two curls under bash). */
function childPids(pid: number): number[] {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
      .filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A disk transfer URL for a file of `size` bytes: login, action/upload, descriptor, file list. */
async function transferUrl(vcdUrl: string, size: number): Promise<string> {
  const login = await fetch(`${vcdUrl}/cloudapi/1.0.0/sessions`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${btoa("operator@demo-org:operator-password")}`,
      Accept: "application/*;version=37.0",
    },
  });
  await login.body?.cancel();
  const headers = {
    Authorization: `Bearer ${login.headers.get("x-vmware-vcloud-access-token")}`,
    Accept: "application/*+xml;version=37.0",
  };
  const get = async (url: string) => await (await fetch(url, { headers })).text();
  const hrefOf = (text: string, pattern: RegExp) => pattern.exec(text)?.[1] ?? "";
  const orgs = await get(`${vcdUrl}/api/org`);
  const org = await get(hrefOf(orgs, /<Org href="([^"]+)"/));
  const catalog = hrefOf(
    org,
    /<Link rel="down" href="([^"]+)" type="application\/vnd\.vmware\.vcloud\.catalog\+xml"/,
  );
  const item = await (await fetch(`${catalog}/action/upload`, {
    method: "POST",
    headers: {
      ...headers,
      "Content-Type": "application/vnd.vmware.vcloud.uploadVAppTemplateParams+xml",
    },
    body:
      `<UploadVAppTemplateParams xmlns="http://www.vmware.com/vcloud/v1.5" name="curl-baseline">` +
      `<Description>baseline</Description></UploadVAppTemplateParams>`,
  })).text();
  const template = hrefOf(item, /<Entity href="([^"]+)"/);
  const descriptor = hrefOf(await get(template), /rel="upload:default" href="([^"]+)"/);
  const ovf = ovfDescriptor("blob", size);
  await (await fetch(descriptor, { method: "PUT", body: ovf })).body?.cancel();
  for (let i = 0; i < 200; i++) {
    const doc = await get(template);
    const blob = /<File[^>]*name="blob"[^>]*>\s*<Link rel="upload:default" href="([^"]+)"/.exec(
      doc,
    );
    if (blob) return blob[1];
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the fake VCD listed no upload link for the baseline");
}

async function operatorSide(s3Endpoint: string, vcdUrl: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `--v8-flags=${containerV8Flags()}${Deno.env.get("BENCH_VCD_GC_MS") ? ",--expose-gc" : ""}`,
      new URL("./_vcd_upload_run.ts", import.meta.url).pathname,
      s3Endpoint,
      BUCKET,
      IMAGE,
      vcdUrl,
      String(PIECE_MIB),
    ],
    stdout: "piped",
    stderr: Deno.env.get("BENCH_VCD_DEBUG") ? "inherit" : "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(
      new TextDecoder().decode(output.stderr ?? new Uint8Array()).trim().split("\n").slice(-5)
        .join(" "),
    );
  }
  return JSON.parse(text.split("\n").at(-1)!) as {
    bytes: number;
    ms: number;
    rssBefore: number;
    peak: number;
    writtenBefore: number;
    writtenAfter: number;
    cpu: number;
    verified: string[];
  };
}

if (import.meta.main) await benchVcdUpload();
