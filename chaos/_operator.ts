/**
 * The operator under test, two ways: in-process through `main()` (the real flag parsing,
 * configuration loading and wiring, logs captured by a sink), or as a `main.ts` child process for
 * the faults that need one (SIGKILL, SIGTERM, two replicas).
 *
 * Both keep every log line, and expose the probe and metrics URLs so the checker can hunt for
 * secrets there and read the operator's retry counters.
 */
import { main } from "../main.ts";
import { type ChaosEnv, NAMESPACE } from "./_env.ts";
import { freePort } from "../tests/support/free_port.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** A running operator, whichever way it was started. */
export interface Operator {
  readonly name: string;
  /** Every log line so far. */
  readonly logs: string[];
  readonly healthUrl: string;
  readonly metricsUrl: string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;
  /** Graceful stop (SIGTERM, or the in-process abort); resolves with the exit code. */
  stop(): Promise<number>;
}

/** The flags every run gets: the env's kubeconfig and values, probes on free ports. */
function baseArgs(env: ChaosEnv, health: number, metrics: number): string[] {
  return [
    `--kubeconfig=${env.kubeconfig}`,
    `--config=${env.valuesPath}`,
    `--namespace=${NAMESPACE}`,
    `--health-probe-bind-address=127.0.0.1:${health}`,
    `--metrics-bind-address=127.0.0.1:${metrics}`,
    // Plain HTTP: the checker reads /metrics for figures and for leaked secrets.
    "--metrics-secure=false",
  ];
}

/** `main()` in this process with `args` after the base flags. */
export function startInProcess(env: ChaosEnv, args: string[] = [], name = "operator"): Operator {
  const health = freePort();
  const metrics = freePort();
  const logs: string[] = [];
  const abort = new AbortController();
  const exited = main([...baseArgs(env, health, metrics), ...args], {
    signal: abort.signal,
    logSink: (line) => void logs.push(line),
  });
  return {
    name,
    logs,
    healthUrl: `http://127.0.0.1:${health}`,
    metricsUrl: `http://127.0.0.1:${metrics}`,
    exited,
    stop: () => {
      abort.abort();
      return exited;
    },
  };
}

/** `main()` with exactly `args` (no base flags), for start-up errors; resolves code and logs. */
export async function runMainOnce(args: string[]): Promise<{ code: number; logs: string[] }> {
  const logs: string[] = [];
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 30_000);
  try {
    const code = await main(args, { signal: abort.signal, logSink: (l) => void logs.push(l) });
    return { code, logs };
  } finally {
    clearTimeout(timer);
  }
}

/** A `main.ts` child process, as a pod runs it. */
export interface OperatorProcess extends Operator {
  readonly pid: number;
  kill(signal: Deno.Signal): void;
}

export function startProcess(
  env: ChaosEnv,
  args: string[] = [],
  name = "operator",
): OperatorProcess {
  const health = freePort();
  const metrics = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...baseArgs(env, health, metrics), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      logs.push(...lines.filter((l) => l.trim() !== ""));
    }
    if (rest.trim()) logs.push(rest);
  };
  const output = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const exited = child.status.then(async (status) => {
    await output;
    return status.code;
  });
  return {
    name,
    pid: child.pid,
    logs,
    healthUrl: `http://127.0.0.1:${health}`,
    metricsUrl: `http://127.0.0.1:${metrics}`,
    exited,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
    },
    stop: () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      return exited;
    },
  };
}

/** Waits until the operator's `/readyz` answers 200 (generous deadline). */
export async function waitReady(operator: Operator, deadlineMs = 60_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${operator.healthUrl}/readyz`);
      await response.body?.cancel();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${operator.name} did not become ready within ${deadlineMs} ms`);
}

/** Sum of a counter's samples in the operator's `/metrics` (0 when absent or unreachable). */
export async function metricSum(operator: Operator, name: string): Promise<number> {
  try {
    const text = await (await fetch(`${operator.metricsUrl}/metrics`)).text();
    let sum = 0;
    for (const line of text.split("\n")) {
      if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
        sum += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
      }
    }
    return sum;
  } catch {
    return 0;
  }
}
