/**
 * Field readers for decoded YAML that record problems instead of throwing, so one load reports
 * every invalid field with its path. Values are never quoted in messages unless the caller says
 * the field is not secret; a wrong-typed password must not end up in a log.
 */
import { parseGoDuration } from "../duration.ts";
import type { ConfigIssue } from "./errors.ts";
import { PlainScalar, type YamlValue } from "./_yaml.ts";
import { Secret } from "./secret.ts";

export type YamlObject = { [key: string]: YamlValue };

/** Reads fields of one file, collecting issues. */
export class Decoder {
  readonly file: string;
  readonly issues: ConfigIssue[] = [];

  constructor(file: string) {
    this.file = file;
  }

  issue(path: string, message: string): void {
    this.issues.push({ file: this.file, path, message });
  }

  /** A mapping, or undefined when absent/null; another type is an issue. */
  object(value: YamlValue | undefined, path: string): YamlObject | undefined {
    if (value === undefined || value === null) return undefined;
    if (isObject(value)) return value;
    this.issue(path, `expected a mapping, got ${kindOf(value)}`);
    return undefined;
  }

  /** A non-empty string field. Numbers and booleans count as their YAML text, as in yaml.v2. */
  requiredString(parent: YamlObject, key: string, path: string): string {
    const value = this.optionalString(parent, key, path, "");
    if (value === "" && !this.#hasIssue(join(path, key))) this.issue(join(path, key), "required");
    return value;
  }

  /** A string field that may be absent (then `fallback`). */
  optionalString(parent: YamlObject, key: string, path: string, fallback: string): string {
    const value = field(parent, key);
    if (value === undefined || value === null) return fallback;
    if (typeof value === "string") return value;
    if (value instanceof PlainScalar) return value.source;
    this.issue(join(path, key), `expected a string, got ${kindOf(value)}`);
    return fallback;
  }

  /** A required secret; the value never appears in an issue. */
  requiredSecret(parent: YamlObject, key: string, path: string): Secret {
    return new Secret(this.requiredString(parent, key, path));
  }

  boolean(parent: YamlObject, key: string, path: string, fallback: boolean): boolean {
    const value = field(parent, key);
    if (value === undefined || value === null) return fallback;
    if (value instanceof PlainScalar && typeof value.value === "boolean") return value.value;
    this.issue(join(path, key), `expected true or false, got ${kindOf(value)}`);
    return fallback;
  }

  /** A whole number ≥ 0. */
  count(parent: YamlObject, key: string, path: string, fallback: number): number {
    const value = field(parent, key);
    if (value === undefined || value === null) return fallback;
    if (value instanceof PlainScalar && typeof value.value === "number") {
      if (Number.isSafeInteger(value.value) && value.value >= 0) return value.value;
    }
    this.issue(join(path, key), `expected a whole number ≥ 0, got ${kindOf(value)}`);
    return fallback;
  }

  /**
   * A non-negative Go duration (`720h`) in milliseconds; absent or "" gives `fallbackMs`.
   * The value is quoted in issues: durations are never secret.
   */
  duration(parent: YamlObject, key: string, path: string, fallbackMs: number): number {
    const text = this.optionalString(parent, key, path, "");
    if (text === "") return fallbackMs;
    let ms: number;
    try {
      ms = parseGoDuration(text);
    } catch (error) {
      const message = (error as Error).message;
      this.issue(join(path, key), message[0].toLowerCase() + message.slice(1));
      return fallbackMs;
    }
    if (ms < 0) {
      this.issue(join(path, key), `must not be negative, got "${text}"`);
      return fallbackMs;
    }
    return ms;
  }

  /** Entries of a mapping of named items (locations); absent gives no entries. */
  entries(parent: YamlObject, key: string, path: string): [string, YamlObject][] {
    const map = this.object(field(parent, key), join(path, key));
    if (!map) return [];
    const out: [string, YamlObject][] = [];
    for (const [name, value] of Object.entries(map)) {
      const item = this.object(value, join(join(path, key), name));
      if (item) out.push([name, item]);
      else if (value === null) {
        this.issue(join(join(path, key), name), "expected a mapping, got null");
      }
    }
    return out;
  }

  #hasIssue(path: string): boolean {
    return this.issues.some((issue) => issue.path === path);
  }
}

/** `a.b` path joining that tolerates an empty prefix. */
export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** An own field of a decoded mapping (inherited names like `constructor` are absent). */
export function field(parent: YamlObject, key: string): YamlValue | undefined {
  return Object.hasOwn(parent, key) ? parent[key] : undefined;
}

export function isObject(value: YamlValue | undefined): value is YamlObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof PlainScalar);
}

function kindOf(value: YamlValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (value instanceof PlainScalar) {
    return typeof value.value === "boolean" ? "a boolean" : "a number";
  }
  return typeof value === "string" ? "a string" : "a mapping";
}
