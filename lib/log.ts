/**
 * A tiny structured logger: one JSON object per line on stderr (production), or a readable
 * single-line form for `deno task dev`.
 *
 * Fields follow controller-runtime's zap output so existing log queries keep working:
 * `level`, `time`, `msg`, plus `controller`, `object` and `error` when given.
 *
 * Guarantees: a log call never throws (unserialisable values are stringified).
 * Caveats: callers must not pass secrets; the only redaction here is of URLs (userinfo, query
 * and fragment, by `lib/redact.ts`), whatever field or message carries them.
 */
import { redactUrlsIn } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "text";
export type LogFields = Record<string, unknown>;

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Where log lines go; replaceable in tests. */
export type LogSink = (line: string) => void;

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  sink?: LogSink;
  /** Clock for the `time` field; injected in tests. */
  now?: () => Date;
}

const encoder = new TextEncoder();
const stderrSink: LogSink = (line) => {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
};

/** A logger carrying fixed fields; `with()` derives a child with more fields. */
export class Logger {
  readonly #level: number;
  readonly #options: Required<LoggerOptions>;
  readonly #fields: LogFields;

  constructor(options: LoggerOptions = {}, fields: LogFields = {}) {
    this.#options = {
      level: options.level ?? "info",
      format: options.format ?? "json",
      sink: options.sink ?? stderrSink,
      now: options.now ?? (() => new Date()),
    };
    this.#level = LEVEL_ORDER[this.#options.level];
    this.#fields = fields;
  }

  /** Returns a child logger that adds `fields` to every line. */
  with(fields: LogFields): Logger {
    return new Logger(this.#options, { ...this.#fields, ...fields });
  }

  debug(msg: string, fields?: LogFields): void {
    this.#write("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#write("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#write("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#write("error", msg, fields);
  }

  #write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVEL_ORDER[level] < this.#level) return;
    const record: LogFields = {
      level,
      time: this.#options.now().toISOString(),
      msg,
      ...this.#fields,
      ...fields,
    };
    for (const [k, v] of Object.entries(record)) record[k] = normalise(v);
    try {
      // URLs lose userinfo, query and fragment whatever field or message carries them.
      this.#options.sink(
        redactUrlsIn(
          this.#options.format === "json" ? safeStringify(record) : formatText(record),
        ),
      );
    } catch {
      // A broken sink (closed stderr) must never take the operator down.
    }
  }
}

function normalise(value: unknown): unknown {
  if (value instanceof Error) {
    const cause = value.cause instanceof Error ? `: ${value.cause.message}` : "";
    return `${value.message}${cause}`;
  }
  return value;
}

function safeStringify(record: LogFields): string {
  try {
    return JSON.stringify(record);
  } catch {
    return JSON.stringify(
      Object.fromEntries(Object.entries(record).map(([k, v]) => [k, String(v)])),
    );
  }
}

function formatText(record: LogFields): string {
  const { level, time, msg, ...rest } = record;
  const extra = Object.entries(rest)
    .map(([k, v]) =>
      `${k}=${typeof v === "string" ? JSON.stringify(v) : safeStringify({ v }).slice(5, -1)}`
    )
    .join(" ");
  return `${String(time).slice(11, 23)} ${String(level).toUpperCase().padEnd(5)} ${msg}${
    extra ? "  " + extra : ""
  }`;
}

/** A logger that drops everything; the default for library code under test. */
export const silentLogger: Logger = new Logger({ level: "error", sink: () => {} });
