/**
 * Short platform calls made inside a reconcile (a listing, a source lookup, a removal), each
 * with its own deadline on top of the reconcile's signal: a platform that stops answering
 * costs one call its deadline, never a worker for good.
 */
import type { Clock } from "../clock.ts";

export interface PlatformCallOptions {
  /** The reconcile's signal; its abort ends the call too. */
  signal: AbortSignal;
  /** Deadline for this call. */
  timeoutMs: number;
  clock: Clock;
}

/**
 * Runs `call` with a signal that aborts at the deadline or with `options.signal`.
 *
 * @example
 * ```ts
 * await platformCall((s) => provider.remove(spec, location, s), { signal, timeoutMs, clock });
 * ```
 */
export async function platformCall<T>(
  call: (signal: AbortSignal) => Promise<T>,
  options: PlatformCallOptions,
): Promise<T> {
  const deadline = new AbortController();
  const { timeoutMs } = options;
  const timer = options.clock.setTimer(
    timeoutMs,
    () => deadline.abort(new Error(`platform call exceeded ${Math.round(timeoutMs / 1000)}s`)),
  );
  try {
    return await call(AbortSignal.any([options.signal, deadline.signal]));
  } finally {
    timer.cancel();
  }
}
