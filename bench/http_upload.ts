/**
 * Platform HTTP client upload bench: streams GiBs through `providers/_http` to a local sink (its
 * own process) and reports throughput and peak RSS next to baselines measured in the same run:
 * curl uploading the same number of bytes, and Deno's own fetch with the same stream body.
 *
 * Each variant runs in a fresh process with the deployment's V8 flag (`--max-old-space-size=160`),
 * so a peak is that variant's alone. Peak RSS is the kernel's high-water mark (VmHWM), not a
 * sample. The concurrent rows are the production shape: several transfers, one process.
 * `BENCH_HTTP_MIB` sets the size of one transfer (default 2048). Figures only, no pass/fail.
 */
import { line } from "./_support.ts";

const MIB = 1024 * 1024;

interface Figures {
  bytes: number;
  ms: number;
  rssBefore: number;
  peak: number;
}

export async function benchHttpUpload(): Promise<void> {
  const size = Number(Deno.env.get("BENCH_HTTP_MIB") ?? 2048) * MIB;
  console.log(`http: streamed uploads of ${size / MIB} MiB to a local sink (own process)`);
  const sink = await startSink();
  try {
    const rows: [string, Figures | string][] = [];
    const run = async (label: string, fn: () => Promise<Figures>) => {
      const figures = await fn().catch((e) => `failed: ${(e as Error).message}`);
      rows.push([label, figures]);
      print(label, figures);
    };
    await run("curl -T (baseline)", () => curlUpload(sink.origin, size));
    await run(
      "Deno fetch, generated body (baseline)",
      () => runner("fetch", "generated", size, 1, sink.origin),
    );
    await run(
      "HTTP client, generated body",
      () => runner("client", "generated", size, 1, sink.origin),
    );
    await run(
      "Deno fetch, GET → PUT pipe (baseline)",
      () => runner("fetch", "pipe", size, 1, sink.origin),
    );
    await run(
      "Deno fetch, pipe through a JS counting stage",
      () => runner("fetch-counted", "pipe", size, 1, sink.origin),
    );
    await run("HTTP client, GET → PUT pipe", () => runner("client", "pipe", size, 1, sink.origin));
    const quarter = Math.max(MIB, Math.floor(size / 4 / MIB) * MIB);
    await run(
      `Deno fetch, 4 × ${quarter / MIB} MiB pipes (baseline)`,
      () => runner("fetch", "pipe", quarter, 4, sink.origin),
    );
    await run(
      `HTTP client, 4 × ${quarter / MIB} MiB pipes`,
      () => runner("client", "pipe", quarter, 4, sink.origin),
    );
    await run(
      `HTTP client, 4 × ${size / MIB} MiB pipes`,
      () => runner("client", "pipe", size, 4, sink.origin),
    );
    ratio(rows, "HTTP client, generated body", "Deno fetch, generated body (baseline)");
    ratio(rows, "HTTP client, GET → PUT pipe", "Deno fetch, GET → PUT pipe (baseline)");
  } finally {
    await sink.stop();
  }
}

function print(label: string, figures: Figures | string): void {
  if (typeof figures === "string") return line(label, figures);
  const mbps = figures.bytes / 1e6 / (figures.ms / 1000);
  const growth = figures.rssBefore
    ? ` (+${((figures.peak - figures.rssBefore) / MIB).toFixed(0)} over ${
      (figures.rssBefore / MIB).toFixed(0)
    } before)`
    : "";
  line(label, `${mbps.toFixed(0)} MB/s, peak RSS ${(figures.peak / MIB).toFixed(0)} MiB${growth}`);
}

function ratio(rows: [string, Figures | string][], subject: string, baseline: string): void {
  const a = rows.find(([l]) => l === subject)?.[1];
  const b = rows.find(([l]) => l === baseline)?.[1];
  if (typeof a !== "object" || typeof b !== "object") return;
  const speed = (b.ms / b.bytes) / (a.ms / a.bytes);
  const growthA = a.peak - a.rssBefore;
  const growthB = b.peak - b.rssBefore;
  line(
    `${subject} vs its baseline`,
    `${speed.toFixed(2)}× the throughput, ${
      (growthA / Math.max(growthB, 1)).toFixed(2)
    }× the RSS growth`,
  );
}

async function runner(
  engine: string,
  source: string,
  bytes: number,
  concurrency: number,
  origin: string,
): Promise<Figures> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--max-old-space-size=160",
      new URL("./_http_upload_run.ts", import.meta.url).pathname,
      engine,
      source,
      String(bytes),
      String(concurrency),
      origin,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(new TextDecoder().decode(output.stderr).trim().split("\n").slice(-3).join(" "));
  }
  return JSON.parse(text.split("\n").at(-1)!);
}

/** curl uploading a sparse file of `bytes` (reads as zeros, no disk I/O); peak from /proc. */
async function curlUpload(origin: string, bytes: number): Promise<Figures> {
  const dir = await Deno.makeTempDir({ prefix: "ido-http-bench-" });
  const file = `${dir}/zeros`;
  try {
    const handle = await Deno.open(file, { create: true, write: true });
    await handle.truncate(bytes);
    handle.close();
    const started = performance.now();
    const child = new Deno.Command("curl", {
      args: ["-sS", "-T", file, `${origin}/sink`],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let peak = 0;
    const poll = setInterval(() => {
      try {
        const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
        peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024);
      } catch { /* exited */ }
    }, 20);
    const output = await child.output();
    clearInterval(poll);
    const ms = performance.now() - started;
    if (!output.success) throw new Error(new TextDecoder().decode(output.stderr).trim());
    const answer = new TextDecoder().decode(output.stdout).trim();
    if (answer !== String(bytes)) throw new Error(`the sink received ${answer}`);
    return { bytes, ms, rssBefore: 0, peak };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function startSink(): Promise<{ origin: string; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", new URL("./_http_sink.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the sink exited before listening: ${seen}`);
    seen += value;
  }
  reader.releaseLock();
  return {
    origin: `http://127.0.0.1:${Number(seen.trim())}`,
    stop: async () => {
      child.kill();
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}
