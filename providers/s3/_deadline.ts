/**
 * A per-request deadline: an AbortSignal that fires when the caller aborts or when `timeoutMs`
 * passes without `reset()`. Used until response headers, then as a stall detector while a body
 * streams (each chunk resets it), so a multi-gigabyte download is not cut off by a fixed limit.
 */
import { link } from "../../lib/abort.ts";

export class RequestDeadline {
  readonly #controller = new AbortController();
  readonly #timeoutMs: number;
  readonly #unlink: () => void;
  #timer?: ReturnType<typeof setTimeout>;
  #timedOut = false;

  constructor(outer: AbortSignal, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#unlink = link(outer, this.#controller);
    this.reset();
  }

  /** Aborts on the caller's abort or on timeout. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** True once the timer (not the caller) aborted the request. */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Restarts the timer: progress was made. */
  reset(): void {
    clearTimeout(this.#timer);
    if (this.#controller.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#timedOut = true;
      this.#controller.abort(new DOMException("S3 request timed out", "TimeoutError"));
    }, this.#timeoutMs);
  }

  /** Stops the timer until the next `reset()`: waiting on someone else, not the network. */
  pause(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stops the timer and forgets the caller's signal; call when the request is over. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unlink();
  }
}
