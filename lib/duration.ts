/**
 * Go `time.Duration` strings (`720h`, `1h30m`, `1.5h`, `300ms`, `0`), parsed and formatted
 * exactly as Go does, because users pass the values they gave the Go operator
 * (`--image-retention-period`, `imageRetentionPeriod`, `sessionRefreshThreshold`).
 *
 * Guarantees: accepts exactly what `time.ParseDuration` accepts (sign, decimal fractions,
 * units ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h, several segments, the bare `0`),
 * including its int64-nanosecond overflow check; formats like `Duration.String()`.
 * Arithmetic is done on BigInt nanoseconds so no precision is lost on the way.
 */

/** A string that is not a valid Go duration, or one out of range for its use. */
export class DurationError extends Error {
  override name = "DurationError";
  /** The text that was given. */
  readonly value: string;

  constructor(value: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.value = value;
  }
}

const NANOS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n, // U+00B5 micro sign
  "μs": 1_000n, // U+03BC Greek small letter mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const NANOS_PER_MS = 1_000_000n;
const MAX_ABS = 1n << 63n; // Go checks magnitudes against 1<<63 before applying the sign.

/**
 * Parses a Go duration into nanoseconds.
 * @throws {DurationError} quoting the text, with Go's reason (invalid, missing or unknown unit,
 *   overflow).
 */
export function parseGoDurationNanos(text: string): bigint {
  let rest = text;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest[0] === "-";
    rest = rest.slice(1);
  }
  if (rest === "0") return 0n;
  if (rest === "") throw invalid(text);
  let total = 0n;
  while (rest !== "") {
    if (!/^[.0-9]/.test(rest)) throw invalid(text);
    const whole = /^[0-9]*/.exec(rest)![0];
    rest = rest.slice(whole.length);
    let fraction = "";
    if (rest.startsWith(".")) {
      fraction = /^[0-9]*/.exec(rest.slice(1))![0];
      rest = rest.slice(1 + fraction.length);
    }
    if (whole === "" && fraction === "") throw invalid(text); // "." or ".s"
    const unitText = /^[^.0-9]*/.exec(rest)![0];
    if (unitText === "") {
      throw new DurationError(
        text,
        `Invalid duration "${text}": missing unit (ns, us, ms, s, m, h)`,
      );
    }
    rest = rest.slice(unitText.length);
    const unit = NANOS_PER_UNIT[unitText];
    if (unit === undefined || !Object.hasOwn(NANOS_PER_UNIT, unitText)) {
      throw new DurationError(
        text,
        `Invalid duration "${text}": unknown unit "${unitText}" (use ns, us, ms, s, m or h)`,
      );
    }
    const wholeValue = BigInt(whole || "0");
    if (wholeValue > MAX_ABS / unit) throw overflow(text);
    let value = wholeValue * unit;
    if (fraction !== "") {
      value += fractionNanos(fraction, unit);
      if (value > MAX_ABS) throw overflow(text);
    }
    total += value;
    if (total > MAX_ABS) throw overflow(text);
  }
  if (!negative && total > MAX_ABS - 1n) throw overflow(text);
  return negative ? -total : total;
}

/**
 * Parses a Go duration into milliseconds (fractional below one millisecond, e.g. `300us` → 0.3).
 * @throws {DurationError} as `parseGoDurationNanos`.
 */
export function parseGoDuration(text: string): number {
  const nanos = parseGoDurationNanos(text);
  const whole = nanos / NANOS_PER_MS;
  return Number(whole) + Number(nanos - whole * NANOS_PER_MS) / 1e6;
}

/**
 * Parses a duration that must not be negative, e.g. a retention period.
 * @param what Names the setting in the error, e.g. `imageRetentionPeriod`.
 * @throws {DurationError} for invalid syntax or a negative value.
 */
export function parseNonNegativeGoDuration(text: string, what: string): number {
  let ms: number;
  try {
    ms = parseGoDuration(text);
  } catch (error) {
    throw new DurationError(text, `Invalid ${what}: ${(error as Error).message}`, { cause: error });
  }
  if (ms < 0) {
    throw new DurationError(text, `Invalid ${what} "${text}": must not be negative`);
  }
  return ms;
}

/** Formats nanoseconds as Go's `Duration.String()`: `720h0m0s`, `1.5s`, `300ms`, `0s`. */
export function formatGoDurationNanos(nanos: bigint): string {
  const negative = nanos < 0n;
  let u = negative ? -nanos : nanos;
  let text: string;
  if (u < NANOS_PER_UNIT.s) {
    if (u === 0n) return "0s";
    if (u < NANOS_PER_UNIT.us) text = `${u}ns`;
    else if (u < NANOS_PER_UNIT.ms) text = `${withFraction(u, 3)}µs`;
    else text = `${withFraction(u, 6)}ms`;
  } else {
    text = `${withFraction(u % NANOS_PER_UNIT.m, 9)}s`; // seconds within the minute
    u /= NANOS_PER_UNIT.m; // whole minutes
    if (u > 0n) {
      text = `${u % 60n}m${text}`;
      u /= 60n; // whole hours
      if (u > 0n) text = `${u}h${text}`;
    }
  }
  return negative ? `-${text}` : text;
}

/**
 * Formats milliseconds as Go's `Duration.String()` (rounded to whole nanoseconds).
 * @example formatGoDuration(5_400_000) === "1h30m0s"
 */
export function formatGoDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`Cannot format duration ${ms}: not finite`);
  const whole = Math.trunc(ms);
  return formatGoDurationNanos(
    BigInt(whole) * NANOS_PER_MS + BigInt(Math.round((ms - whole) * 1e6)),
  );
}

/** `value / 10^digits` with trailing zeros (and a bare point) dropped, like Go's fmtFrac. */
function withFraction(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const integer = value / scale;
  const fraction = (value % scale).toString().padStart(digits, "0").replace(/0+$/, "");
  return fraction === "" ? `${integer}` : `${integer}.${fraction}`;
}

/**
 * Nanoseconds contributed by the fractional digits of one `unit`, computed the way Go does:
 * digits accumulate into a uint64 until it would overflow (later digits are ignored), then
 * `uint64(float64(f) * (float64(unit) / scale))`. Float64 is kept on purpose so rounding matches
 * Go's bit for bit.
 */
function fractionNanos(fraction: string, unit: bigint): bigint {
  let f = 0n;
  let scale = 1;
  for (const digit of fraction) {
    if (f > (MAX_ABS - 1n) / 10n) break;
    const next = f * 10n + BigInt(digit);
    if (next > MAX_ABS) break;
    f = next;
    scale *= 10;
  }
  if (f === 0n) return 0n;
  return BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
}

function invalid(text: string): DurationError {
  return new DurationError(
    text,
    `Invalid duration "${text}": expected a Go duration such as "0", "720h", "1h30m" or "1.5h"`,
  );
}

function overflow(text: string): DurationError {
  return new DurationError(text, `Invalid duration "${text}": out of range (more than ~292 years)`);
}
