/**
 * What a fault-catalogue case is, and the helpers most cases share: a Release fleet spread over a
 * few images, the standard in-process set-up, and figures (time to converge, API requests,
 * retries).
 *
 * A case throws when the end state is not reached (with the checker's problems); otherwise it
 * returns its figures. Parameters have catalogue defaults and smaller test-suite values.
 */
import { AlreadyExistsError, NotFoundError } from "../lib/kube/errors.ts";
import { type CheckOptions, converge, proxmoxCheck } from "./_check.ts";
import { ChaosEnv, type EnvOptions, flatcarVersion, proxmoxRelease } from "./_env.ts";
import { metricSum, type Operator, startInProcess, waitReady } from "./_operator.ts";

export type Figures = Record<string, string | number>;

export interface ChaosCase<P = Record<string, number>> {
  name: string;
  /** One line: the fault. */
  summary: string;
  /** The catalogue's parameters (`deno task chaos`). */
  defaults: P;
  /** Smaller ones for the test suite, when the case fits in a few seconds. */
  quick?: P;
  run(params: P): Promise<Figures>;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Release `i` of a fleet: `proxmox-1.<i>.0` on one of `images` flatcar versions. */
export function fleetRelease(i: number, images: number) {
  return proxmoxRelease(`proxmox-1.${i}.0`, flatcarVersion(i % images));
}

/** Creates Releases `from … to-1` of the fleet (an existing one is fine). */
export async function createFleet(
  env: ChaosEnv,
  from: number,
  to: number,
  images: number,
): Promise<void> {
  for (let i = from; i < to; i++) {
    await retryApi(() => env.releases.create(fleetRelease(i, images)), AlreadyExistsError);
  }
}

/** Deletes Releases `from … to-1` of the fleet (a missing one is fine). */
export async function deleteFleet(env: ChaosEnv, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i++) {
    await retryApi(() => env.releases.delete(`proxmox-1.${i}.0`), NotFoundError);
  }
}

/**
 * The test driver's own writes go through the same faulty API server: retry them (a real user
 * would), treating `done` (e.g. AlreadyExists after a retried create) as success.
 */
export async function retryApi<T>(
  fn: () => Promise<T>,
  // deno-lint-ignore no-explicit-any
  done?: new (...args: any[]) => Error,
): Promise<T | undefined> {
  const giveUpAt = Date.now() + 180_000;
  for (let attempt = 0;; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (done && error instanceof done) return undefined;
      if (Date.now() > giveUpAt) throw error;
      await sleep(Math.min(200, 10 * 2 ** Math.min(attempt, 5)));
    }
  }
}

/** A case's world with the operator running in-process, ready. */
export interface Running {
  env: ChaosEnv;
  operator: Operator;
  check: CheckOptions;
}

/** Starts the env and the in-process operator; runs `fn`; always cleans up. */
export async function withOperator<T>(
  options: EnvOptions & {
    args?: string[];
    /** Runs before the operator starts (another platform, its values section). */
    prepare?: (env: ChaosEnv) => Promise<void>;
  },
  fn: (running: Running) => Promise<T>,
): Promise<T> {
  const env = await ChaosEnv.start(options);
  let operator: Operator | undefined;
  try {
    await options.prepare?.(env);
    operator = startInProcess(env, options.args ?? []);
    await waitReady(operator);
    const check: CheckOptions = { platforms: [proxmoxCheck(env)], operators: [operator] };
    return await fn({ env, operator, check });
  } catch (error) {
    if (operator) await keepLogs(error, operator);
    throw error;
  } finally {
    await operator?.stop();
    await env.close();
  }
}

/**
 * Starts the env for a case that runs the operator as processes (it adds each one it starts to
 * `operators`); runs `fn`; stops any still running and keeps their logs on failure.
 */
export async function withEnv<T>(
  options: EnvOptions,
  fn: (env: ChaosEnv, operators: Operator[]) => Promise<T>,
): Promise<T> {
  const env = await ChaosEnv.start(options);
  const operators: Operator[] = [];
  try {
    return await fn(env, operators);
  } catch (error) {
    await keepLogs(error, ...operators);
    throw error;
  } finally {
    await Promise.all(operators.map((o) => o.stop()));
    await env.close();
  }
}

/** Counters read before a fault, to report what the fault cost. */
export interface Baseline {
  at: number;
  requests: number;
  retries: number;
}

export async function baseline(running: Running): Promise<Baseline> {
  return {
    at: performance.now(),
    requests: running.env.operatorRequests,
    retries: await metricSum(running.operator, "workqueue_retries_total"),
  };
}

/**
 * Waits for the end state and reports the time to converge after the fault ended (now), and the
 * operator's API requests and retries since `b` (the fault's start).
 */
export async function settle(
  running: Running,
  b: Baseline,
  deadlineMs = 180_000,
): Promise<Figures> {
  const { ms } = await converge(running.env, { ...running.check, deadlineMs });
  return {
    "converged (s)": round(ms / 1000),
    "API requests": running.env.operatorRequests - b.requests,
    retries: await metricSum(running.operator, "workqueue_retries_total") - b.retries,
  };
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** On failure the operator's logs go to `.tmp/chaos/<name>-<time>.log`, named in the error. */
export async function keepLogs(error: unknown, ...operators: Operator[]): Promise<void> {
  await Deno.mkdir(".tmp/chaos", { recursive: true });
  for (const operator of operators) {
    const path = `.tmp/chaos/${operator.name}-${Date.now()}.log`;
    await Deno.writeTextFile(path, operator.logs.join("\n") + "\n");
    if (error instanceof Error) error.message += `\n  (${operator.name} logs: ${path})`;
  }
}
