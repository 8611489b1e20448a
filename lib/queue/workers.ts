/**
 * N concurrent workers pulling keys from a queue.
 *
 * Guarantees:
 * - Every key a worker takes is `done()` exactly once, whether `process` resolves, rejects or
 *   throws synchronously, so a failing key never stays "processing" forever.
 * - A failure never escapes: it goes to `onError` (which decides retries, e.g.
 *   `queue.addRateLimited(key)`), and an `onError` that throws itself is reported on the console.
 * - Aborting the signal stops handing out keys, is seen by in-flight `process` calls (they get
 *   the same signal), and the returned promise resolves once they have all returned.
 *
 * Assumption: `process` honours the signal; a run that ignores it delays shutdown until it ends.
 * Aborting does not shut the queue down: its owner does that (so delayed keys stop firing).
 *
 * @module
 */

/** The part of a queue the workers use. */
export interface WorkSource {
  /** Next key, or `undefined` once shut down or aborted. */
  get(signal?: AbortSignal): Promise<string | undefined>;
  /** Marks a key returned by `get()` as finished. */
  done(key: string): void;
}

/** Runs one key. Receives the workers' signal so it can stop early on shutdown. */
export type ProcessKey = (key: string, signal: AbortSignal) => Promise<void>;

/** Options of `runWorkers`. */
export interface RunWorkersOptions {
  /**
   * Receives what `process` threw, before the key is `done()`. Defaults to writing it to the
   * console; pass a handler that logs properly and requeues with backoff.
   */
  onError?: (error: unknown, key: string) => void;
}

/**
 * Runs `count` workers that take keys from `queue` and run `process` on each, until the queue
 * shuts down or `signal` aborts.
 *
 * @param queue Where keys come from; any `Queue` layer fits.
 * @param count Number of concurrent workers (controller-runtime's MaxConcurrentReconciles).
 * @param process The work for one key.
 * @param signal Stops the workers; passed to every `process` call.
 * @param options Error hook.
 * @returns Resolves once every worker has exited; never rejects because of `process`.
 * @example
 * ```ts
 * const controller = new AbortController();
 * const queue = new WorkQueue({ name: "demo" });
 * const finished = runWorkers(queue, 2, async (key, signal) => {}, controller.signal, {
 *   onError: (error, key) => queue.addRateLimited(key),
 * });
 * controller.abort();
 * queue.shutDown();
 * await finished;
 * ```
 */
export async function runWorkers(
  queue: WorkSource,
  count: number,
  process: ProcessKey,
  signal: AbortSignal,
  options: RunWorkersOptions = {},
): Promise<void> {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`Cannot run ${count} workers: expected a positive integer`);
  }
  const onError = options.onError ?? reportUnhandled;
  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const key = await queue.get(signal);
      if (key === undefined) return;
      try {
        await process(key, signal);
      } catch (error) {
        try {
          onError(error, key);
        } catch (hookError) {
          reportUnhandled(
            new Error(`Error hook failed for key "${key}"`, { cause: hookError }),
            key,
          );
        }
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: count }, worker));
}

/** Last resort for errors nobody handles: visible, but never fatal. */
function reportUnhandled(error: unknown, key: string): void {
  console.error(`Work queue: processing key "${key}" failed:`, error);
}
