/**
 * What a reconcile returns, and how its errors are treated (controller-runtime semantics):
 * - resolves `done()` → the key is forgotten (backoff reset) until the next change;
 * - resolves `requeueAfter(ms)` → the key runs again after that fixed delay;
 * - throws an ordinary error → retried with per-key exponential backoff;
 * - throws a `TerminalError` → recorded (log, metric) and not retried until the next change.
 */

export interface ReconcileResult {
  /** Run the key again after this many milliseconds (fixed delay, not backoff). */
  requeueAfterMs?: number;
}

/** Nothing more to do until something changes. */
export function done(): ReconcileResult {
  return {};
}

/** Look again after `ms` milliseconds, e.g. to wait for an expiry or a long platform task. */
export function requeueAfter(ms: number): ReconcileResult {
  return { requeueAfterMs: Math.max(0, ms) };
}

/** An error retrying cannot fix (bad input); recorded and not retried. */
export class TerminalError extends Error {
  override name = "TerminalError";
}

export type Reconciler = (key: string, signal: AbortSignal) => Promise<ReconcileResult | void>;
