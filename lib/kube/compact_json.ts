/**
 * JSON decoding for objects that stay in memory (informer caches, watch events).
 *
 * V8's `JSON.parse` returns each string of 13 characters or more as a slice of the text it
 * parsed, so one kept uid, name or timestamp keeps the whole watch line or list response alive:
 * with 12,000 cached objects the heap held ~20 MiB of old watch lines (heap snapshot of
 * `deno task bench memory`). Every string of the parsed value is therefore replaced by its
 * internalized copy: a flat string of its own, shared by all objects holding the same text
 * (apiVersion, namespace, finalizers, condition reasons and messages), and collected by V8 once
 * no object holds it. It costs ~25 µs per object.
 */

/** `JSON.parse`, with every string of the result independent of `text` and deduplicated. */
export function parseCompactJson(text: string): unknown {
  return compact(JSON.parse(text));
}

function compact(value: unknown): unknown {
  if (typeof value === "string") return internalized(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = compact(value[i]);
  } else if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    for (const key in record) {
      const field = record[key];
      if (typeof field !== "string" && (field === null || typeof field !== "object")) continue;
      // An own "__proto__" (JSON.parse makes one) must stay data: assigning it sets the prototype.
      if (key === "__proto__") {
        Object.defineProperty(record, key, {
          value: compact(field),
          writable: true,
          enumerable: true,
          configurable: true,
        });
      } else record[key] = compact(field);
    }
  }
  return value;
}

/** V8 internalizes property names: the key read back is the table's copy of `text`. */
function internalized(text: string): string {
  for (const key in { [text]: 0 }) return key;
  return text;
}
