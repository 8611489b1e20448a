/**
 * The one way to write under contention (client-go's `retry.RetryOnConflict`): run a write
 * computed from an object; when the API server rejects it because the object changed since,
 * read the object again from the API server and run the write again on what was read, a
 * bounded number of times. Then `WriteConflictError`: the reconcile throws it and its key is
 * retried with the work queue's backoff.
 *
 * "Changed since" is a 409 Conflict (a stale `resourceVersion` precondition) and, for writes
 * that carry JSON-patch `test` ops (`testOps`), a 422 from a failed `test`.
 *
 * Guarantees:
 * - Every attempt after the first works on a fresh `read()` (the API server, never the cache,
 *   which may lag), so the write is recomputed from the object as it is now: a stale decision
 *   is never reapplied.
 * - At most `attempts` attempts, and one read before each attempt but the first when `start`
 *   is given.
 * - Any other error, from `attempt` or from `read` (NotFound included: see `unlessNotFound`),
 *   passes straight through, unwrapped.
 *
 * Assumptions: no sleep between attempts. The fresh read is what makes the next attempt worth
 * making; pacing belongs to the work queue, which backs off whole keys.
 *
 * Caveats: `attempt` may run several times; anything it does besides the conditional write
 * must be safe to repeat.
 *
 * @example
 * ```ts
 * const updated = await retryOnConflict(
 *   (signal) => client.get(name, namespace, signal),
 *   (current) => client.jsonPatch(name, namespace, opsFor(current), { signal }),
 *   { start: cached, testOps: true, action: `update NodeImage "${namespace}/${name}"`, signal },
 * );
 * ```
 */
import { ConflictError, InvalidError } from "./errors.ts";

export interface RetryOnConflictOptions<T> {
  /** What the first attempt works on (the cached object, say); default: a fresh `read()`. */
  start?: T;
  /** Attempts in all, at least 1; default `DEFAULT_CONFLICT_ATTEMPTS`. */
  attempts?: number;
  /** The write carries JSON-patch `test` ops: a 422 is a failed test, retried like a 409. */
  testOps?: boolean;
  /** What is being done, for the error: `update NodeImage "ns/name"`. */
  action: string;
  /** Passed to `read`; an abort ends the retries with the read's abort error. */
  signal?: AbortSignal;
}

/** Attempts when the caller does not say (client-go's `retry.DefaultRetry` makes 5). */
export const DEFAULT_CONFLICT_ATTEMPTS = 5;

/** The object changed under every attempt; `cause` is the last rejection. */
export class WriteConflictError extends Error {
  override name = "WriteConflictError";
  /** How many attempts were made. */
  readonly attempts: number;

  constructor(message: string, attempts: number, options?: ErrorOptions) {
    super(message, options);
    this.attempts = attempts;
  }
}

/** Whether `error` says the object changed under a write (see the module doc). */
export function isWriteConflict(error: unknown, testOps = false): boolean {
  return error instanceof ConflictError || (testOps && error instanceof InvalidError);
}

/**
 * Runs `attempt` on `options.start` (or a fresh read), and again on a fresh read after each
 * conflict, at most `options.attempts` times.
 *
 * @param read Reads the object from the API server.
 * @param attempt Computes the write from the object it is given and makes it.
 * @returns What the successful attempt returned.
 * @throws {WriteConflictError} when every attempt met a conflict.
 */
export async function retryOnConflict<T, R>(
  read: (signal?: AbortSignal) => Promise<T>,
  attempt: (current: T) => Promise<R>,
  options: RetryOnConflictOptions<T>,
): Promise<R> {
  const attempts = Math.max(1, options.attempts ?? DEFAULT_CONFLICT_ATTEMPTS);
  let current = options.start !== undefined ? options.start : await read(options.signal);
  let last: unknown;
  for (let made = 1;; made++) {
    try {
      return await attempt(current);
    } catch (error) {
      if (!isWriteConflict(error, options.testOps)) throw error;
      last = error;
    }
    if (made >= attempts) break;
    current = await read(options.signal);
  }
  throw new WriteConflictError(
    `Cannot ${options.action}: it changed under each of ${attempts} attempts`,
    attempts,
    { cause: last },
  );
}
