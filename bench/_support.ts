/** Shared pieces of the benchmarks: a fake API server in its own process, figures, RSS. */
import { KubeConfig } from "@kubernetes/client-node";
import {
  KubeConfigTransport,
  type KubeRequest,
  type KubeTransport,
} from "../lib/kube/transport.ts";

export interface FakeClusterProcess {
  url: string;
  kubeconfigPath: string;
  transport: KubeConfigTransport;
  stop(): Promise<void>;
}

/**
 * Starts `tests/fake_apiserver/main.ts` as a child process, so the figures measured in this
 * process (RSS above all) are the operator side's alone.
 */
export async function startFakeCluster(crdDir: string): Promise<FakeClusterProcess> {
  const dir = await Deno.makeTempDir({ prefix: "ido-bench-" });
  const kubeconfigPath = `${dir}/kubeconfig`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("../tests/fake_apiserver/main.ts", import.meta.url).pathname,
      "--port",
      "0",
      "--kubeconfig",
      kubeconfigPath,
      "--crds",
      crdDir,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`The fake API server exited before it was ready: ${seen}`);
    seen += value;
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  const config = new KubeConfig();
  config.loadFromString(await Deno.readTextFile(kubeconfigPath));
  const transport = new KubeConfigTransport(config);
  return {
    url: transport.server,
    kubeconfigPath,
    transport,
    async stop() {
      transport.close();
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Creates `count` widgets in `namespace` from a child process (see `_seed.ts`). */
export async function seed(
  kubeconfigPath: string,
  namespace: string,
  count: number,
): Promise<void> {
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./_seed.ts", import.meta.url).pathname,
      kubeconfigPath,
      namespace,
      String(count),
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!success) throw new Error(`Seeding ${count} objects failed`);
}

/** Counts requests by method, around any transport. */
export class CountingTransport implements KubeTransport {
  readonly byMethod: Record<string, number> = {};
  total = 0;
  constructor(readonly inner: KubeTransport) {}
  get server(): string {
    return this.inner.server;
  }
  fetch(request: KubeRequest): Promise<Response> {
    this.total++;
    this.byMethod[request.method] = (this.byMethod[request.method] ?? 0) + 1;
    return this.inner.fetch(request);
  }
}

/** Samples RSS every `everyMs` and remembers the peak. */
export class RssSampler {
  peak = 0;
  #timer: ReturnType<typeof setInterval>;
  constructor(everyMs = 50) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), everyMs);
  }
  sample(): number {
    const rss = Deno.memoryUsage().rss;
    this.peak = Math.max(this.peak, rss);
    return rss;
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The value below which `p` (0–1) of the sorted samples fall. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function forEachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Forces a full GC when the process runs with `--v8-flags=--expose-gc`. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export function line(label: string, value: string): void {
  console.log(`  ${label.padEnd(46)} ${value}`);
}
