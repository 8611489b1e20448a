/** Small helpers for AbortSignal plumbing shared by long-running loops. */

/**
 * `work`'s outcome, or a rejection with the signal's reason once it aborts first (`work` is then
 * left to settle unobserved). The abort listener is removed as soon as `work` settles: racing
 * many reads against one long-lived "aborted" promise would instead leave a reaction on it per
 * read, held until the signal's owner goes (a watch stream's reads piled up tens of thousands).
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then((value) => {
      signal.removeEventListener("abort", onAbort);
      resolve(value);
    }, (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(error);
    });
  });
}

/** Aborts `controller` when `outer` aborts; returns the unlink function. */
export function link(outer: AbortSignal, controller: AbortController): () => void {
  if (outer.aborted) {
    controller.abort(outer.reason);
    return () => {};
  }
  const onAbort = () => controller.abort(outer.reason);
  outer.addEventListener("abort", onAbort, { once: true });
  return () => outer.removeEventListener("abort", onAbort);
}
