/**
 * Time as a dependency. Everything that waits or measures takes a `Clock`, so tests can step a
 * fake one instead of sleeping (no timing assertions in tests).
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` after `ms` milliseconds unless cancelled. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The longest delay `setTimeout` honours: longer ones overflow and fire after 1 ms, which would
 * turn a 30-day retention requeue into a hot loop.
 */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** `setTimeout` for any delay: long ones are chained in steps the runtime can hold. */
function longTimeout(ms: number, fn: () => void, unref: boolean): TimerHandle {
  let id: ReturnType<typeof setTimeout>;
  const due = Date.now() + Math.max(0, ms);
  const arm = () => {
    const left = due - Date.now();
    id = setTimeout(left > MAX_TIMEOUT_MS ? arm : fn, Math.min(Math.max(0, left), MAX_TIMEOUT_MS));
    if (unref) Deno.unrefTimer(id as unknown as number);
  };
  arm();
  return { cancel: () => clearTimeout(id) };
}

/** The wall clock. Timers are unref'd so a pending requeue never keeps the process alive. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    return longTimeout(ms, fn, true);
  },
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = longTimeout(ms, () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, false);
      const onAbort = () => {
        timer.cancel();
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
