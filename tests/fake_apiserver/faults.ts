/**
 * Fault injection for tests: canned failures for the next N matching requests, added latency,
 * and hooks the server wires to its watches and history (drop/close watches, compaction).
 */
import { ApiFailure, reasonForCode } from "./status.ts";

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete";

export interface FaultMatch {
  verb?: Verb;
  /** Any of these verbs (e.g. every write); combined with `verb` when both are given. */
  verbs?: Verb[];
  /** Plural resource name, e.g. `nodeimages`. */
  resource?: string;
  subresource?: string;
}

export interface FaultResponse {
  code: number;
  reason?: string;
  message?: string;
  /** Sent as `Retry-After` and `details.retryAfterSeconds`. */
  retryAfterSeconds?: number;
  /**
   * For watches: answer HTTP 200 and put the Status in one ERROR event (how real servers report
   * errors on an established watch, e.g. 410 Expired) instead of failing the HTTP request.
   */
  inStream?: boolean;
}

/** What the server needs from its owner to carry out watch and history faults. */
export interface FaultHooks {
  dropWatches(): void;
  closeWatches(): void;
  compact(): void;
}

interface Rule {
  match: FaultMatch;
  response: FaultResponse;
  remaining: number;
  /** Periodic rules (`failEvery`): fail one matching request in `period`, until reset. */
  period?: number;
  seen?: number;
}

/** The request as the fault matcher sees it. */
export interface RequestInfo {
  verb: string;
  resource?: string;
  subresource?: string;
}

export class Faults {
  #rules: Rule[] = [];
  #latencyMs = 0;
  readonly #hooks: FaultHooks;

  constructor(hooks: FaultHooks) {
    this.#hooks = hooks;
  }

  /** Fails the next `count` requests matching `match` with `response` (a proper Status). */
  failNext(match: FaultMatch, response: FaultResponse, count = 1): void {
    if (!Number.isInteger(response.code) || response.code < 400 || response.code > 599) {
      throw new RangeError(`Cannot inject HTTP ${response.code}: expected an error code 400-599`);
    }
    this.#rules.push({ match, response, remaining: count });
  }

  /**
   * Fails every `period`-th request matching `match` (the 1st, then the `period+1`-th, …) with
   * `response`, until `reset`: e.g. a 409 on every other write.
   */
  failEvery(match: FaultMatch, response: FaultResponse, period: number): void {
    if (!Number.isInteger(period) || period < 1) {
      throw new RangeError(`Cannot fail every ${period}th request: expected a whole number >= 1`);
    }
    this.failNext(match, response);
    const rule = this.#rules[this.#rules.length - 1];
    rule.remaining = Infinity;
    rule.period = period;
    rule.seen = 0;
  }

  /** Tears down every open watch connection mid-stream (no clean end). */
  dropWatches(): void {
    this.#hooks.dropWatches();
  }

  /** Ends every open watch stream cleanly. */
  closeWatches(): void {
    this.#hooks.closeWatches();
  }

  /** Forgets history: every resourceVersion before the current one now answers 410. */
  compact(): void {
    this.#hooks.compact();
  }

  /** Delay added before every request is handled. */
  setLatency(ms: number): void {
    this.#latencyMs = Math.max(0, ms);
  }

  get latencyMs(): number {
    return this.#latencyMs;
  }

  /** Clears pending failures and latency. */
  reset(): void {
    this.#rules = [];
    this.#latencyMs = 0;
  }

  /** Consumes the first matching rule, if any, and returns its failure. */
  take(info: RequestInfo): { failure: ApiFailure; inStream: boolean } | undefined {
    const index = this.#rules.findIndex((r) =>
      (r.match.verb === undefined || r.match.verb === info.verb) &&
      (r.match.verbs === undefined || (r.match.verbs as string[]).includes(info.verb)) &&
      (r.match.resource === undefined || r.match.resource === info.resource) &&
      (r.match.subresource === undefined || r.match.subresource === info.subresource)
    );
    if (index < 0) return undefined;
    const rule = this.#rules[index];
    if (rule.period !== undefined) {
      // Periodic rules let the requests between their failures through.
      const turn = rule.seen! % rule.period;
      rule.seen! += 1;
      if (turn !== 0) return undefined;
    }
    rule.remaining -= 1;
    if (rule.remaining <= 0) this.#rules.splice(index, 1);
    const { code, retryAfterSeconds } = rule.response;
    const reason = rule.response.reason ?? reasonForCode(code);
    const failure = new ApiFailure(
      {
        message: rule.response.message ?? defaultMessage(code, info),
        reason,
        details: retryAfterSeconds !== undefined ? { retryAfterSeconds } : {},
        code,
      },
      retryAfterSeconds !== undefined ? { "Retry-After": String(retryAfterSeconds) } : {},
    );
    return { failure, inStream: Boolean(rule.response.inStream) };
  }
}

function defaultMessage(code: number, info: RequestInfo): string {
  switch (code) {
    case 410:
      return "too old resource version: 1 (2)";
    case 429:
      return "Too many requests, please try again later.";
    case 409:
      return `Operation cannot be fulfilled on ${
        info.resource ?? "resource"
      }: the object has been modified; please apply your changes to the latest version and try again`;
    default:
      return `injected failure: HTTP ${code} on ${info.verb} ${info.resource ?? ""}`.trim();
  }
}
