/**
 * Decoding of watch streams: newline-delimited JSON split across arbitrary chunk boundaries,
 * each line validated just enough to be safe to use.
 */
import type { ApiStatus } from "./errors.ts";
import type { KubeObject } from "./resource.ts";
import { parseCompactJson } from "./compact_json.ts";

/** The API server answered with something that is not a valid list or watch stream. */
export class WatchStreamError extends Error {
  override name = "WatchStreamError";
}

/** One line of a watch stream, validated just enough to be safe to use. */
export interface RawWatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject | ApiStatus;
}

const EVENT_TYPES = new Set(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]);

/** Parses one watch line; throws `WatchStreamError` naming the watch and the bad text. */
export function parseWatchLine(line: string, what: string): RawWatchEvent {
  let value: unknown;
  try {
    value = parseCompactJson(line);
  } catch (error) {
    throw new WatchStreamError(
      `Cannot parse event from the watch of ${what}: ${JSON.stringify(line.slice(0, 200))}`,
      { cause: error },
    );
  }
  const event = value as Partial<RawWatchEvent> | null;
  const object = event?.object as { metadata?: unknown } | undefined;
  if (
    !event || typeof event.type !== "string" || !EVENT_TYPES.has(event.type) ||
    !object || typeof object !== "object" ||
    (event.type !== "ERROR" && (typeof object.metadata !== "object" || !object.metadata))
  ) {
    throw new WatchStreamError(
      `Cannot use event from the watch of ${what}: ${JSON.stringify(line.slice(0, 200))}`,
    );
  }
  return event as RawWatchEvent;
}

/**
 * Splits a byte stream into non-empty lines, across chunk boundaries and split UTF-8
 * sequences. Pieces of a long line are joined once, when its end arrives.
 */
export class LineDecoder {
  readonly #decoder = new TextDecoder();
  #pieces: string[] = [];

  push(chunk: Uint8Array): string[] {
    const text = this.#decoder.decode(chunk, { stream: true });
    if (!text.includes("\n")) {
      if (text) this.#pieces.push(text);
      return [];
    }
    this.#pieces.push(text);
    const lines = this.#pieces.join("").split("\n");
    const rest = lines.pop()!;
    this.#pieces = rest ? [rest] : [];
    return lines.map((l) => l.trim()).filter((l) => l.length > 0);
  }

  /** The unterminated last line, if any (servers may omit the final newline). */
  flush(): string | undefined {
    this.#pieces.push(this.#decoder.decode());
    const rest = this.#pieces.join("").trim();
    this.#pieces = [];
    return rest || undefined;
  }
}
