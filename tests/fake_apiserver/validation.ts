/**
 * Structural-schema handling for custom resources, in the real server's order: prune unknown
 * fields, apply defaults, then validate (types, required, enum, nullable, bounds, pattern).
 * Plus object-name and label checks every write goes through.
 *
 * Deviations: no CEL (x-kubernetes-validations), no `format` checks, no ratcheting, no
 * oneOf/anyOf/allOf/not; error texts follow kube-openapi's shapes (checked against
 * kube-apiserver 1.36 in tests/api_fidelity_test.ts for types, enums, required and minimum) and
 * are sorted by field path as kube-apiserver sorts them.
 */
import type { JsonSchema } from "./resources.ts";
import type { FieldError } from "./status.ts";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function child(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

const OBJECT_META_FIELDS = new Set([
  "name",
  "generateName",
  "namespace",
  "selfLink",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "labels",
  "annotations",
  "ownerReferences",
  "finalizers",
  "managedFields",
]);

/**
 * Removes fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields) and
 * returns their paths, for fieldValidation Warn/Strict. Mutates `value`.
 */
export function prune(value: unknown, schema: JsonSchema | undefined, path = "", root = true) {
  const pruned: string[] = [];
  walkPrune(value, schema, path, root, pruned);
  return pruned;
}

function walkPrune(
  value: unknown,
  schema: JsonSchema | undefined,
  path: string,
  root: boolean,
  pruned: string[],
) {
  if (!schema) return;
  if (Array.isArray(value)) {
    value.forEach((item, i) => walkPrune(item, schema.items, `${path}[${i}]`, false, pruned));
    return;
  }
  if (!isObject(value)) return;
  const embedded = root || schema["x-kubernetes-embedded-resource"];
  for (const key of Object.keys(value)) {
    if (embedded && (key === "apiVersion" || key === "kind")) continue;
    if (embedded && key === "metadata") {
      const meta = value.metadata;
      if (isObject(meta)) {
        for (const k of Object.keys(meta)) {
          if (!OBJECT_META_FIELDS.has(k)) {
            delete meta[k];
            pruned.push(child(child(path, "metadata"), k));
          }
        }
      }
      continue;
    }
    const declared = schema.properties?.[key];
    if (declared) {
      walkPrune(value[key], declared, child(path, key), false, pruned);
    } else if (isObject(schema.additionalProperties)) {
      walkPrune(value[key], schema.additionalProperties, child(path, key), false, pruned);
    } else if (
      !schema["x-kubernetes-preserve-unknown-fields"] && schema.additionalProperties !== true
    ) {
      delete value[key];
      pruned.push(child(path, key));
    }
  }
}

/** Fills in `default` values for absent properties (and nulls on non-nullable ones). */
export function applyDefaults(value: unknown, schema: JsonSchema | undefined): void {
  if (!schema) return;
  if (Array.isArray(value)) {
    for (const item of value) applyDefaults(item, schema.items);
    return;
  }
  if (!isObject(value)) return;
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    const missing = !(key in value) || (value[key] === null && !prop.nullable);
    if (missing && prop.default !== undefined) value[key] = structuredClone(prop.default);
    applyDefaults(value[key], prop);
  }
  if (isObject(schema.additionalProperties)) {
    for (const key of Object.keys(value)) applyDefaults(value[key], schema.additionalProperties);
  }
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function typeMatches(value: unknown, schema: JsonSchema): boolean {
  if (schema["x-kubernetes-int-or-string"]) {
    return typeof value === "string" || (typeof value === "number" && Number.isInteger(value));
  }
  switch (schema.type) {
    case undefined:
      return true;
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    default:
      return true;
  }
}

/** Validates against the schema; returns field errors with paths like `spec.items[0].name`. */
export function validateSchema(value: unknown, schema: JsonSchema | undefined, path = "") {
  const errors: FieldError[] = [];
  if (schema) walkValidate(value, schema, path, errors, true);
  // kube-apiserver reports them ordered by field path.
  return errors.sort((a, b) => a.field < b.field ? -1 : a.field > b.field ? 1 : 0);
}

function walkValidate(
  value: unknown,
  schema: JsonSchema,
  path: string,
  errors: FieldError[],
  root = false,
) {
  const where = path || "<root>";
  if (value === null) {
    if (!schema.nullable && schema.type) {
      errors.push({
        type: "FieldValueTypeInvalid",
        field: where,
        value: null,
        detail: `${where} in body must be of type ${schema.type}: "null"`,
      });
    }
    return;
  }
  if (!typeMatches(value, schema)) {
    // kube-openapi shows the JSON type of the bad value, not the value itself.
    errors.push({
      type: "FieldValueTypeInvalid",
      field: where,
      value: typeName(value),
      detail: `${where} in body must be of type ${schema.type}: "${typeName(value)}"`,
    });
    return;
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push({
      type: "FieldValueNotSupported",
      field: where,
      value,
      detail: `supported values: ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`,
    });
  }
  if (typeof value === "string") {
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      errors.push({
        type: "FieldValueTooLong",
        field: where,
        detail: `may not be more than ${schema.maxLength} bytes`,
      });
    }
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      errors.push({
        type: "FieldValueInvalid",
        field: where,
        value,
        detail: `${where} in body should be at least ${schema.minLength} chars long`,
      });
    }
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
      errors.push({
        type: "FieldValueInvalid",
        field: where,
        value,
        detail: `${where} in body should match '${schema.pattern}'`,
      });
    }
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) {
      errors.push({
        type: "FieldValueInvalid",
        field: where,
        value,
        detail: `${where} in body should be greater than or equal to ${schema.minimum}`,
      });
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      errors.push({
        type: "FieldValueInvalid",
        field: where,
        value,
        detail: `${where} in body should be less than or equal to ${schema.maximum}`,
      });
    }
  }
  if (Array.isArray(value)) {
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      errors.push({
        type: "FieldValueTooMany",
        field: where,
        detail: `must have at most ${schema.maxItems} items`,
      });
    }
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      errors.push({
        type: "FieldValueInvalid",
        field: where,
        value,
        detail: `${where} in body should have at least ${schema.minItems} items`,
      });
    }
    if (schema.items) {
      value.forEach((item, i) => walkValidate(item, schema.items!, `${path}[${i}]`, errors));
    }
    errors.push(...listDuplicates(value, schema, path));
  }
  if (isObject(value)) {
    for (const name of schema.required ?? []) {
      if (!(name in value) || value[name] === undefined) {
        errors.push({ type: "FieldValueRequired", field: child(path, name) });
      }
    }
    for (const [key, item] of Object.entries(value)) {
      if (root && (key === "apiVersion" || key === "kind" || key === "metadata")) continue;
      const prop = schema.properties?.[key] ??
        (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (prop) walkValidate(item, prop, child(path, key), errors);
    }
  }
}

/** `x-kubernetes-list-type: set|map` forbid duplicates (map: by the list-map keys). */
function listDuplicates(value: unknown[], schema: JsonSchema, path: string): FieldError[] {
  const type = schema["x-kubernetes-list-type"];
  if (type !== "set" && type !== "map") return [];
  const keys = schema["x-kubernetes-list-map-keys"] ?? [];
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  value.forEach((item, i) => {
    const identity = type === "set" || !isObject(item)
      ? item
      : Object.fromEntries(keys.map((k) => [k, item[k]]));
    const id = JSON.stringify(identity);
    if (seen.has(id)) {
      errors.push({ type: "FieldValueDuplicate", field: `${path}[${i}]`, value: identity });
    }
    seen.add(id);
  });
  return errors;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export type NameRule = "subdomain" | "label" | "pathSegment";

/** Validates metadata.name (and namespace) like ValidateObjectMeta with the type's name rule. */
export function validateName(name: string, rule: NameRule, field = "metadata.name"): FieldError[] {
  if (rule === "pathSegment") {
    if (name === "." || name === ".." || name.includes("/") || name.includes("%")) {
      return [{
        type: "FieldValueInvalid",
        field,
        value: name,
        detail: `may not contain '/' or '%', and may not be '.' or '..'`,
      }];
    }
    return [];
  }
  if (rule === "label") {
    if (name.length > 63 || !DNS1123_LABEL.test(name)) {
      return [{
        type: "FieldValueInvalid",
        field,
        value: name,
        detail:
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
      }];
    }
    return [];
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return [{
      type: "FieldValueInvalid",
      field,
      value: name,
      detail:
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
    }];
  }
  return [];
}

/** Label keys (optional DNS prefix + qualified name) and values, as ValidateLabels does. */
export function validateLabels(labels: unknown): FieldError[] {
  if (labels === undefined || labels === null) return [];
  if (!isObject(labels)) {
    return [{
      type: "FieldValueTypeInvalid",
      field: "metadata.labels",
      value: labels,
      detail: "must be a map of strings",
    }];
  }
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const slash = key.lastIndexOf("/");
    const prefix = slash >= 0 ? key.slice(0, slash) : "";
    const name = slash >= 0 ? key.slice(slash + 1) : key;
    if (
      (prefix && !DNS1123_SUBDOMAIN.test(prefix)) || name.length > 63 || !QUALIFIED_NAME.test(name)
    ) {
      errors.push({
        type: "FieldValueInvalid",
        field: "metadata.labels",
        value: key,
        detail:
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      });
    }
    if (typeof value !== "string" || value.length > 63 || !LABEL_VALUE.test(value)) {
      errors.push({
        type: "FieldValueInvalid",
        field: "metadata.labels",
        value,
        detail:
          "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      });
    }
  }
  return errors;
}
