/**
 * Label selectors (`=`, `==`, `!=`, `in`, `notin`, `exists`, `!key`, `>`/`<`) and field
 * selectors (`=`, `==`, `!=`) with the real server's semantics: `!=` and `notin` match objects
 * without the label; field labels a resource does not support are rejected with 400
 * "field label not supported: <label>".
 *
 * Deviation: parse-error messages are close to, not byte-identical with, the real parser's.
 */
import type { KubeObject } from "../../lib/kube/resource.ts";
import { badRequest } from "./status.ts";

type Requirement =
  | { key: string; op: "exists" | "!exists" }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "gt" | "lt"; value: number };

/** A parsed label selector; `matches` takes an object's labels. */
export interface LabelSelector {
  matches(labels: Record<string, string> | undefined): boolean;
  readonly empty: boolean;
}

const KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Splits on commas outside parentheses. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms.map((t) => t.trim()).filter((t) => t !== "");
}

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key)) {
    throw badRequest(
      `unable to parse requirement: invalid label key "${key}" in selector "${selector}"`,
    );
  }
  return key;
}

function checkValue(value: string, selector: string): string {
  if (value.length > 63 || !VALUE.test(value)) {
    throw badRequest(
      `unable to parse requirement: invalid label value: "${value}" in selector "${selector}"`,
    );
  }
  return value;
}

function parseRequirement(term: string, selector: string): Requirement {
  let m = /^!\s*(\S+)$/.exec(term);
  if (m) return { key: checkKey(m[1], selector), op: "!exists" };
  m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) {
    const values = m[3].split(",").map((v) => checkValue(v.trim(), selector));
    return { key: checkKey(m[1], selector), op: m[2] as "in" | "notin", values };
  }
  m = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(term);
  if (m) {
    const key = checkKey(m[1], selector);
    if (m[2] === ">" || m[2] === "<") {
      const value = Number(m[3].trim());
      if (!Number.isInteger(value)) {
        throw badRequest(
          `unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`,
        );
      }
      return { key, op: m[2] === ">" ? "gt" : "lt", value };
    }
    const value = checkValue(m[3].trim(), selector);
    return { key, op: m[2] === "!=" ? "notin" : "in", values: [value] };
  }
  if (/^\S+$/.test(term)) return { key: checkKey(term, selector), op: "exists" };
  throw badRequest(`unable to parse requirement: found '${term}', expected: identifier`);
}

/** Parses a `labelSelector` query value; throws a 400 `ApiFailure` when it is malformed. */
export function parseLabelSelector(selector: string | null | undefined): LabelSelector {
  const requirements = splitTerms(selector ?? "").map((t) => parseRequirement(t, selector!));
  return {
    empty: requirements.length === 0,
    matches(labels) {
      const l = labels ?? {};
      return requirements.every((r) => {
        const has = Object.hasOwn(l, r.key);
        switch (r.op) {
          case "exists":
            return has;
          case "!exists":
            return !has;
          case "in":
            return has && r.values.includes(l[r.key]);
          case "notin":
            return !has || !r.values.includes(l[r.key]);
          case "gt":
          case "lt": {
            const n = Number(l[r.key]);
            if (!has || !Number.isInteger(n)) return false;
            return r.op === "gt" ? n > r.value : n < r.value;
          }
        }
      });
    },
  };
}

interface FieldTerm {
  field: string;
  value: string;
  negate: boolean;
}

/** A parsed field selector; `matches` takes the object. */
export interface FieldSelector {
  matches(object: KubeObject): boolean;
  readonly empty: boolean;
}

/** Reads a field label's value from an object (`source` is events' source.component). */
function fieldValue(object: KubeObject, field: string): string {
  if (field === "source") {
    return String((object.source as { component?: string } | undefined)?.component ?? "");
  }
  let node: unknown = object;
  for (const part of field.split(".")) {
    node = node && typeof node === "object" ? (node as Record<string, unknown>)[part] : undefined;
  }
  return node === undefined || node === null ? "" : String(node);
}

/**
 * Parses a `fieldSelector`. `supported` lists the labels this resource accepts beyond
 * metadata.name and metadata.namespace; anything else is a 400, like the real server.
 */
export function parseFieldSelector(
  selector: string | null | undefined,
  supported: readonly string[],
): FieldSelector {
  const terms: FieldTerm[] = splitTerms(selector ?? "").map((term) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
    return { field: m[1].trim(), value: m[3].trim(), negate: m[2] === "!=" };
  });
  for (const t of terms) {
    const ok = t.field === "metadata.name" || t.field === "metadata.namespace" ||
      supported.includes(t.field);
    if (!ok) throw badRequest(`field label not supported: ${t.field}`);
  }
  return {
    empty: terms.length === 0,
    matches(object) {
      return terms.every((t) => (fieldValue(object, t.field) === t.value) !== t.negate);
    },
  };
}
