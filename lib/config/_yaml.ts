/**
 * YAML → plain values, keeping the source text of non-string plain scalars.
 *
 * Why not `yaml.parse`: the Go operator reads its files with yaml.v2, which fills a string
 * field with the scalar's text as written. `password: 0x1F` is the string "0x1F" there, but
 * YAML 1.2 resolves it to the number 31. Keeping the text lets string fields get exactly what
 * the Go operator got, while boolean and integer fields still get typed values.
 *
 * Errors are reported by code, line and column only: the library's messages quote the offending
 * source line, which may hold a password.
 */
import { isAlias, isMap, isScalar, isSeq, type Node, parseDocument } from "yaml";
import type { ConfigIssue } from "./errors.ts";

/** A plain (unquoted) scalar YAML resolved to a number or boolean, with its text as written. */
export class PlainScalar {
  constructor(readonly value: number | boolean | bigint, readonly source: string) {}
}

/** A decoded YAML value: objects have a null prototype so keys like `__proto__` are inert. */
export type YamlValue =
  | string
  | null
  | PlainScalar
  | YamlValue[]
  | { [key: string]: YamlValue };

/** Parses one YAML document; syntax problems come back as issues, never thrown. */
export function parseYaml(
  text: string,
  file: string,
): { value: YamlValue; issues: ConfigIssue[] } {
  const doc = parseDocument(text, { uniqueKeys: true });
  const issues = doc.errors.map((error): ConfigIssue => {
    const at = error.linePos?.[0];
    const where = at ? ` at line ${at.line}, column ${at.col}` : "";
    return { file, path: "", message: `YAML syntax error (${error.code})${where}` };
  });
  if (issues.length > 0) return { value: null, issues };
  const toPlain = (node: unknown, depth: number): YamlValue => {
    // Alias chains ("billion laughs") could expand without bound; config files are shallow.
    if (depth > 64) throw new RangeError("YAML nesting is deeper than 64 levels");
    if (isAlias(node)) return toPlain(node.resolve(doc), depth + 1);
    if (isMap(node)) {
      const out: { [key: string]: YamlValue } = Object.create(null);
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        out[key] = toPlain(pair.value, depth + 1);
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((item) => toPlain(item, depth + 1));
    if (isScalar(node)) {
      const { value } = node;
      if (value === null || value === undefined) return null;
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
        return new PlainScalar(value, node.source ?? String(value));
      }
      return String(value);
    }
    return null;
  };
  try {
    return { value: toPlain(doc.contents as Node | null, 0), issues: [] };
  } catch (error) {
    return { value: null, issues: [{ file, path: "", message: (error as Error).message }] };
  }
}
