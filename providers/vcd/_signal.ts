/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Runs `fn` with a signal that aborts after `ms` with `reason()`; the timer is cleared when `fn`
 * settles and never keeps the process alive. (Deno keeps a process running until an
 * `AbortSignal.timeout` fires once anything listens to it, and every request made with it
 * does, through `AbortSignal.any`.)
 */
export async function withDeadline<T>(
  ms: number,
  reason: () => Error,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(reason()), ms);
  Deno.unrefTimer(timer);
  try {
    return await fn(controller.signal);
  } finally {
    clearTimeout(timer);
  }
}
