/**
 * Patch documents: JSON merge patch (RFC 7386), JSON patch (RFC 6902, including `test`) and a
 * small strategic merge patch for the built-in types.
 *
 * Errors are `PatchError` (the operation could not apply: the server answers 422) or
 * `PatchDecodeError` (not a patch document: 400), matching the apiserver's patch handler.
 * Deviation: strategic merge patch is a merge patch plus set-union of metadata.finalizers and the
 * `$deleteFromPrimitiveList/finalizers` and `$patch: delete|replace` directives; other directives
 * and list merge keys (e.g. ownerReferences by uid) are treated as plain merge patch.
 */

/** The patch applied cleanly as a document but an operation failed (failed `test`, bad path). */
export class PatchError extends Error {
  override name = "PatchError";
}

/** The body is not a patch document of the declared type. */
export class PatchDecodeError extends Error {
  override name = "PatchDecodeError";
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** RFC 7386: objects merge recursively, `null` removes a key, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

/** Deep equality of JSON values (key order ignored), as RFC 6902 `test` compares. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

function parsePointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new PatchError(`invalid JSON pointer: "${path}"`);
  return path.slice(1).split("/").map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
}

interface Location {
  parent: Record<string, Json> | Json[];
  key: string;
}

/** Resolves the container of the last path segment; throws when an intermediate is missing. */
function locate(doc: Json, path: string, op: string): Location {
  const parts = parsePointer(path);
  if (parts.length === 0) throw new PatchError(`${op} operation does not apply: root path`);
  let node: Json = doc;
  for (const part of parts.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(node)
      ? node[Number(part)]
      : isObject(node)
      ? (node as Record<string, Json>)[part]
      : undefined;
    if (next === undefined || next === null || typeof next !== "object") {
      throw new PatchError(`${op} operation does not apply: doc is missing path: "${path}"`);
    }
    node = next;
  }
  if (node === null || typeof node !== "object") {
    throw new PatchError(`${op} operation does not apply: doc is missing path: "${path}"`);
  }
  return { parent: node as Record<string, Json> | Json[], key: parts[parts.length - 1] };
}

function arrayIndex(array: Json[], key: string, allowEnd: boolean, path: string): number {
  if (key === "-" && allowEnd) return array.length;
  if (!/^(0|[1-9][0-9]*)$/.test(key)) throw new PatchError(`invalid array index in "${path}"`);
  const i = Number(key);
  if (i > array.length || (!allowEnd && i === array.length)) {
    throw new PatchError(`index out of bounds in "${path}"`);
  }
  return i;
}

function getAt(doc: Json, path: string, op: string): Json | undefined {
  if (path === "") return doc;
  const { parent, key } = locate(doc, path, op);
  if (Array.isArray(parent)) {
    if (!/^(0|[1-9][0-9]*)$/.test(key)) return undefined;
    return parent[Number(key)];
  }
  return Object.hasOwn(parent, key) ? parent[key] : undefined;
}

function removeAt(doc: Json, path: string, op: string): Json {
  const { parent, key } = locate(doc, path, op);
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, key, false, path);
    return parent.splice(i, 1)[0];
  }
  if (!Object.hasOwn(parent, key)) {
    throw new PatchError(`Unable to remove nonexistent key: ${key}: missing value`);
  }
  const old = parent[key];
  delete parent[key];
  return old;
}

function addAt(doc: Json, path: string, value: Json, op: string): Json {
  if (path === "") return value;
  const { parent, key } = locate(doc, path, op);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true, path), 0, value);
  else parent[key] = value;
  return doc;
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

/** Validates a JSON patch document's shape; throws `PatchDecodeError` like the decoder does. */
export function decodeJsonPatch(body: unknown): Operation[] {
  if (!Array.isArray(body)) {
    throw new PatchDecodeError(
      "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
    );
  }
  return body.map((raw, i) => {
    if (!isObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") {
      throw new PatchDecodeError(`invalid JSON patch operation at index ${i}`);
    }
    return raw as unknown as Operation;
  });
}

/** RFC 6902. The document is copied; on any failure nothing is applied. */
export function jsonPatch(target: unknown, operations: Operation[]): unknown {
  let doc = structuredClone(target) as Json;
  for (const o of operations) {
    switch (o.op) {
      case "add":
        if (!("value" in o)) throw new PatchError(`add operation has no value: "${o.path}"`);
        doc = addAt(doc, o.path, structuredClone(o.value!), "add");
        break;
      case "remove":
        removeAt(doc, o.path, "remove");
        break;
      case "replace": {
        if (o.path === "") {
          doc = structuredClone(o.value!);
          break;
        }
        if (getAt(doc, o.path, "replace") === undefined) {
          throw new PatchError(
            `replace operation does not apply: doc is missing key: ${o.path}: missing value`,
          );
        }
        removeAt(doc, o.path, "replace");
        doc = addAt(doc, o.path, structuredClone(o.value!), "replace");
        break;
      }
      case "move": {
        const value = getAt(doc, o.from ?? "", "move");
        if (value === undefined) {
          throw new PatchError(
            `move operation does not apply: doc is missing from path: ${o.from}`,
          );
        }
        removeAt(doc, o.from!, "move");
        doc = addAt(doc, o.path, value, "move");
        break;
      }
      case "copy": {
        const value = getAt(doc, o.from ?? "", "copy");
        if (value === undefined) {
          throw new PatchError(
            `copy operation does not apply: doc is missing from path: ${o.from}`,
          );
        }
        doc = addAt(doc, o.path, structuredClone(value), "copy");
        break;
      }
      case "test": {
        const actual = getAt(doc, o.path, "test");
        // json-patch v4 (used by the apiserver) treats a missing value as equal to null.
        const expected = o.value ?? null;
        if (actual === undefined ? expected !== null : !jsonEqual(actual, expected)) {
          throw new PatchError(`testing value ${o.path} failed: test failed`);
        }
        break;
      }
      default:
        throw new PatchError(`Unexpected kind: ${o.op}`);
    }
  }
  return doc;
}

const DELETE_FINALIZERS = "$deleteFromPrimitiveList/finalizers";

/** Strategic merge patch for built-in types (see the file comment for what it covers). */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === "delete") return undefined;
  const base: Record<string, unknown> = patch.$patch === "replace"
    ? {}
    : isObject(target)
    ? { ...target }
    : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith("$")) continue;
    if (value === null) {
      delete base[key];
      continue;
    }
    const merged = strategicMergePatch(base[key], value);
    if (merged === undefined) delete base[key];
    else base[key] = merged;
  }
  return base;
}

/** Applies SMP, with finalizers in metadata merged as a set (their patch strategy is merge). */
export function strategicMergePatchObject(target: Record<string, unknown>, patch: unknown) {
  const result = strategicMergePatch(target, patch) as Record<string, unknown>;
  const metaPatch = isObject(patch) && isObject(patch.metadata) ? patch.metadata : undefined;
  if (metaPatch && isObject(result.metadata) && isObject(target.metadata)) {
    const before = (target.metadata.finalizers as string[] | undefined) ?? [];
    const added = Array.isArray(metaPatch.finalizers) ? metaPatch.finalizers as string[] : [];
    const removed = Array.isArray(metaPatch[DELETE_FINALIZERS])
      ? metaPatch[DELETE_FINALIZERS] as string[]
      : [];
    if (metaPatch.finalizers !== null && (added.length || removed.length)) {
      const set = [...before, ...added.filter((f) => !before.includes(f))]
        .filter((f) => !removed.includes(f));
      if (set.length) result.metadata.finalizers = set;
      else delete result.metadata.finalizers;
    }
  }
  return result;
}
