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

/**
 * The delay to arm now for `left` ms still to wait: `left` itself up to a second, above that
 * `left` rounded down to one of 64 steps per power of two (the rest is armed when it fires).
 *
 * Why: Deno 2.9's timers keep a list per distinct delay, and `clearTimeout` leaves that list
 * behind (~140 bytes each). Delays computed from deadlines (the work queue's next item, a
 * watch's resync) are distinct almost every time, so an operator running for weeks would grow
 * without bound. Armed from this set, at most ~2,400 distinct delays are ever used.
 */
export function armedDelay(left: number): number {
  const ms = Math.min(Math.max(0, Math.floor(left)), MAX_TIMEOUT_MS);
  if (ms <= 1_000) return ms;
  const step = 2 ** (Math.floor(Math.log2(ms)) - 6);
  return Math.floor(ms / step) * step;
}

/**
 * `setTimeout` for any delay: long ones are chained in steps the runtime can hold, and every
 * step is an `armedDelay`, so `fn` runs once the whole delay has passed.
 */
function longTimeout(ms: number, fn: () => void, unref: boolean): TimerHandle {
  let id: ReturnType<typeof setTimeout>;
  const due = Date.now() + Math.max(0, ms);
  const arm = () => {
    const left = due - Date.now();
    const delay = armedDelay(left);
    id = setTimeout(delay < left ? arm : fn, delay);
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
