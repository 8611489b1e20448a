/** Shared pieces of the benchmarks: a fake API server in its own process, figures, RSS. */
import { KubeConfig } from "@kubernetes/client-node";
import {
  KubeConfigTransport,
  type KubeRequest,
  type KubeTransport,
} from "../lib/kube/transport.ts";
import type { KubeObject, ResourceType } from "../lib/kube/resource.ts";

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

/** Creates `items` on the cluster from a child process (see `_seed.ts`). */
export async function seed(
  cluster: FakeClusterProcess,
  items: { type: ResourceType; object: KubeObject }[],
): Promise<void> {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await Deno.writeTextFile(file, JSON.stringify(items));
    const { success } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./_seed.ts", import.meta.url).pathname,
        cluster.kubeconfigPath,
        file,
      ],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!success) throw new Error(`Seeding ${items.length} objects failed`);
  } finally {
    await Deno.remove(file);
  }
}

/** Counts the requests it passes on: non-watch requests by method and kind, watches apart. */
export class CountingTransport implements KubeTransport {
  readonly counts = new Map<string, number>();
  total = 0;
  watches = 0;
  constructor(readonly inner: KubeTransport) {}
  get server(): string {
    return this.inner.server;
  }
  fetch(request: KubeRequest): Promise<Response> {
    const watch = request.query?.watch === true || request.query?.watch === "true";
    if (watch) {
      this.watches++;
    } else {
      this.total++;
      const key = `${request.method} ${kindOf(request.path)}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    }
    return this.inner.fetch(request);
  }
  /** Non-watch requests with this method on this kind (`events`, `nodeimages/status`, …). */
  count(method: string, kind: string): number {
    return this.counts.get(`${method} ${kind}`) ?? 0;
  }
  /** `METHOD kind=n …`, sorted. */
  summary(): string {
    return [...this.counts].sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => `${key}=${n}`).join(" ");
  }
}

/** `nodeimages`, `nodeimages/status`, `releases`, `events`: the resource part of an API path. */
function kindOf(path: string): string {
  const parts = path.split("?")[0].split("/").filter(Boolean);
  let rest = parts.slice(parts[0] === "api" ? 2 : 3);
  if (rest[0] === "namespaces" && rest.length >= 3) rest = rest.slice(2);
  const [plural, , subresource] = rest;
  return subresource ? `${plural}/${subresource}` : plural ?? path;
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

/**
 * The `DENO_V8_FLAGS` the Containerfile sets (the pod's flags), or "" when it sets none: benches
 * that measure the operator's memory run it with these.
 */
export function containerV8Flags(
  text = Deno.readTextFileSync(new URL("../Containerfile", import.meta.url)),
): string {
  const match = /^ENV .*\bDENO_V8_FLAGS=("([^"]*)"|(\S*))/m.exec(text);
  return match?.[2] ?? match?.[3] ?? "";
}

/**
 * The Containerfile ENTRYPOINT's `deno run` flags that change how the runtime behaves rather
 * than what it may do (`--no-code-cache`, `--cached-only`, …): permission flags are left out,
 * since a bench grants `--allow-all` for its own set-up.
 */
export function containerDenoFlags(
  text = Deno.readTextFileSync(new URL("../Containerfile", import.meta.url)),
): string[] {
  const line = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(text)?.[1];
  if (!line) return [];
  const entrypoint = JSON.parse(line) as string[];
  return entrypoint.slice(2, -1).filter((flag) =>
    !/^--(allow|deny|ignore)-[a-z-]+(=|$)|^-A$/.test(flag)
  );
}
