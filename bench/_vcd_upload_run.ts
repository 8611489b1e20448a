/**
 * One VCD upload measured in a fresh process (the operator side alone):
 * `<s3 endpoint> <bucket> <image name> <vcd url> <piece MiB>`.
 *
 * Resolves the image with the real S3 resolver and calls the real VCD provider's `ensure`, as a
 * transfer of the image controller does. Prints one JSON line: object bytes, wall ms, RSS before
 * the transfer, the kernel's peak RSS (VmHWM), and the bytes this process made the kernel write
 * to storage (`/proc/self/io` `write_bytes`, -1 when unreadable), before and after.
 */
import { Secret } from "../lib/config/secret.ts";
import type { TransferProgress } from "../lib/image/provider.ts";
import { S3Resolver } from "../providers/s3/resolver.ts";
import { createVcdProvider } from "../providers/vcd/mod.ts";

const [endpoint, bucket, imageName, vcdUrl, pieceMiB] = Deno.args;

function kib(field: string): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
    Deno.readTextFileSync("/proc/self/status"),
  );
  return Number(match?.[1] ?? 0) * 1024;
}

/** User + system CPU seconds of this process so far (clock ticks of 1/100 s). */
function cpuSeconds(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function writeBytes(): number {
  try {
    const io = Deno.readTextFileSync("/proc/self/io");
    return Number(/^write_bytes:\s+(\d+)$/m.exec(io)?.[1] ?? -1);
  } catch {
    return -1;
  }
}

const resolver = new S3Resolver({
  bucket,
  region: "us-east-1",
  http: true,
  timeoutMs: 60_000,
  endpoint,
  forcePathStyle: true,
});
const provider = createVcdProvider({
  sessionRefreshThresholdMs: 20 * 3_600_000,
  uploadPieceBytes: Number(pieceMiB) * 1024 * 1024,
  credentials: {
    url: vcdUrl,
    username: "operator",
    password: new Secret("operator-password"),
    org: "demo-org",
    insecure: false,
  },
  locations: { bench: { vdc: "vdc1", catalog: "images", hardwareVersion: 19, storageProfile: "" } },
}, {
  pollDelaysMs: [50, 100, 250],
  // BENCH_VCD_DEBUG=1 shows the steps on stderr.
  ...(Deno.env.get("BENCH_VCD_DEBUG")
    ? { onStep: (step: string, event: string) => console.error(`${event} ${step}`) }
    : {}),
});
const image = { name: imageName, provider: "capvcd", objectKey: "bench/vcd" };
// Not AbortSignal.timeout: with listeners on it, Deno would stay up until it fires.
const signal = new AbortController().signal;
await provider.probe(signal);
const source = await resolver.resolve(image, { directory: "capv", format: "ova" }, signal);
let progressCalls = 0;
const progress: TransferProgress = {
  bytes: () => void progressCalls++,
  reference: () => {},
  phase: () => {},
};
const gcMs = Number(Deno.env.get("BENCH_VCD_GC_MS") ?? 0);
const gcTimer = gcMs > 0
  ? setInterval(() => (globalThis as unknown as { gc(): void }).gc(), gcMs)
  : undefined;
const rssBefore = kib("VmRSS");
const writtenBefore = writeBytes();
const cpuBefore = cpuSeconds();
const started = performance.now();
const result = await provider.ensure(image, "bench", source, progress, signal);
const ms = performance.now() - started;
const writtenAfter = writeBytes();
const cpu = cpuSeconds() - cpuBefore;
const peak = kib("VmHWM");
clearInterval(gcTimer);
await provider.close();
resolver.close();
console.log(JSON.stringify({
  bytes: source.size,
  ms,
  rssBefore,
  peak,
  writtenBefore,
  writtenAfter,
  cpu,
  progressCalls,
  verified: result.verified ?? [],
}));
