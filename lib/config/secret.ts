/**
 * A credential that must not reach logs. `String()`, `JSON.stringify()` and `Deno.inspect()`
 * all print `[redacted]`; only `reveal()` gives the value, so every use is greppable.
 */

const REDACTED = "[redacted]";

/** A secret string (password, API token secret). */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself, for the one place that sends it to a platform. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for("Deno.customInspect")](): string {
    return REDACTED;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }
}
