/** Bounded waiting for tests: a condition polled until true, never a duration asserted. */

/** Resolves when `check()` is true; rejects after `ms` naming `what` (a bound, not a timing). */
export async function until(check: () => boolean, ms = 5_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what} after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
