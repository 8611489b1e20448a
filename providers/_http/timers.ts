/**
 * The timeouts of one request as phases of one timer: sending a stream body (idle), waiting for
 * the response headers (response), reading the response body (idle). The timer aborts the
 * request's own controller with an `HttpTransportError` naming the phase.
 *
 * Progress only records a time (`poke`); the timer re-arms itself lazily when it fires early,
 * so a 2 GiB transfer in 64 KiB chunks does not create and clear 32 768 timers.
 */
import { HttpTransportError } from "./errors.ts";
import type { HttpRequest, HttpTimeouts } from "./types.ts";

export class RequestTimers {
  /** Aborted by the caller's signal, a timeout, or `stop`. */
  readonly signal: AbortSignal;
  readonly #controller = new AbortController();
  readonly #waiting = new Set<(reason: unknown) => void>();
  readonly #request: HttpRequest;
  readonly #timeouts: HttpTimeouts;
  #timer?: ReturnType<typeof setTimeout>;
  #limitMs = 0;
  #last = 0;
  #error?: () => HttpTransportError;

  constructor(request: HttpRequest, timeouts: HttpTimeouts) {
    this.#request = request;
    this.#timeouts = timeouts;
    this.signal = request.signal
      ? AbortSignal.any([request.signal, this.#controller.signal])
      : this.#controller.signal;
    this.signal.addEventListener("abort", () => {
      for (const reject of this.#waiting) reject(this.signal.reason);
      this.#waiting.clear();
    }, { once: true });
  }

  /**
   * `promise`, or a rejection with the abort reason as soon as `signal` aborts: for reads that
   * may never end on their own (an aborted undici body under Deno, a stalled source).
   *
   * Not `Promise.race` with one long-lived "aborted" promise: every race would leave a reaction
   * on it holding the settled read, so a 2 GiB upload would keep every chunk it sent.
   */
  race<T>(promise: Promise<T>): Promise<T> {
    if (this.signal.aborted) return Promise.reject(this.signal.reason);
    return new Promise<T>((resolve, reject) => {
      this.#waiting.add(reject);
      promise.then(resolve, reject).finally(() => this.#waiting.delete(reject));
    });
  }

  /** The timeout error that aborted the request, if one did. */
  get timedOut(): HttpTransportError | undefined {
    const reason = this.#controller.signal.reason;
    return reason instanceof HttpTransportError ? reason : undefined;
  }

  /** Sending a stream body: `sent()` tells how far it got when the timer fires. */
  sending(total: number, sent: () => number): void {
    const ms = this.#timeouts.idleMs;
    this.#arm(ms, () =>
      new HttpTransportError(
        "idle-timeout",
        this.#request,
        `sending stalled: no progress for ${ms} ms after ${sent()} of ${total} bytes`,
      ));
  }

  /** The request is sent; the headers are due. */
  awaitingResponse(): void {
    const ms = this.#timeouts.responseMs;
    this.#arm(ms, () =>
      new HttpTransportError(
        "response-timeout",
        this.#request,
        `no response headers within ${ms} ms of sending the request`,
      ));
  }

  /** Reading the response body: `received()` tells how far it got. */
  receiving(received: () => number): void {
    const ms = this.#timeouts.idleMs;
    this.#arm(ms, () =>
      new HttpTransportError(
        "idle-timeout",
        this.#request,
        `the response body stalled: nothing received for ${ms} ms after ${received()} bytes`,
      ));
  }

  /** Records progress in the current phase. */
  poke(): void {
    this.#last = performance.now();
  }

  /** Ends every wait of the request (after a failure). */
  stop(reason: unknown): void {
    this.disarm();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number, error: () => HttpTransportError): void {
    this.disarm();
    if (ms <= 0) return;
    this.#limitMs = ms;
    this.#error = error;
    this.#last = performance.now();
    this.#schedule(ms);
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      const idle = performance.now() - this.#last;
      if (idle + 1 < this.#limitMs) return this.#schedule(this.#limitMs - idle);
      this.#timer = undefined;
      this.#controller.abort(this.#error!());
    }, ms);
  }
}
