/**
 * Validation of the built-in types the fake serves besides namespaces: Events (core v1 and
 * events.k8s.io/v1) and coordination.k8s.io/v1 Leases, following kube-apiserver's
 * `pkg/apis/core/validation/events.go` (`ValidateEventCreate`, `ValidateEventUpdate`,
 * `legacyValidateEvent`, `validateV1EventSeries`) and
 * `pkg/apis/coordination/validation/validation.go` (`ValidateLease`, `ValidateLeaseSpec`).
 *
 * Both event APIs share one storage, so objects arrive here in the stored core v1 shape and
 * field paths use the core names, as on a real server (an events.k8s.io/v1 `note` that is too
 * long is reported at `message`, a bad `regarding.namespace` at `involvedObject.namespace`).
 *
 * Guarantees, as a real server:
 * - Every Event passes the legacy rules, whatever API wrote it: without `eventTime` the Event's
 *   namespace must match `involvedObject.namespace` (an empty one only in `default`); with
 *   `eventTime`, an empty `involvedObject.namespace` is allowed only in `default` and
 *   `kube-system`, and `reportingController` (a qualified name), `reportingInstance`, `action`
 *   and `reason` (≤128 bytes each) are required and `message` is at most 1024 bytes.
 * - Writes through events.k8s.io/v1 add the strict rules: a DNS-subdomain name, `eventTime`,
 *   `type` Normal or Warning, `series` (count ≥ 2, lastObservedTime) and the deprecated fields
 *   unset on create; on update a changed `series` is re-validated and every other field is
 *   immutable. Writes through core v1 get the legacy rules only (backwards compatibility).
 * - A Lease's `spec.leaseDurationSeconds` must be > 0 and `spec.leaseTransitions` ≥ 0.
 *
 * Deviations: lengths are UTF-8 bytes like Go's `len`; times are compared and printed in UTC
 * (the server's local zone in a container); malformed timestamps are not rejected (a real server
 * fails to decode them with 400); Lease `strategy` and `preferredHolder` are kept as sent and
 * not validated (a real server drops them unless the CoordinatedLeaderElection gate is on).
 */
import type { KubeObject } from "../../lib/kube/resource.ts";
import type { ResourceDef } from "./resources.ts";
import type { FieldError } from "./status.ts";
import { validateName } from "./validation.ts";

const EVENTS = "/events";
const LEASES = "coordination.k8s.io/leases";

/** `ReportingInstanceLengthLimit`, `ActionLengthLimit`, `ReasonLengthLimit`. */
const FIELD_LIMIT = 128;
/** `NoteLengthLimit`. */
const NOTE_LIMIT = 1024;

const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_MESSAGE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

// deno-lint-ignore no-explicit-any
type Loose = any;

/**
 * Field errors for a create of a built-in object (in storage form) through `def`'s API;
 * empty for types without built-in rules.
 */
export function validateBuiltinCreate(def: ResourceDef, object: KubeObject): FieldError[] {
  if (def.storageKey === EVENTS) return validateEventCreate(object, def.group === "events.k8s.io");
  if (def.storageKey === LEASES) return validateLeaseSpec(object.spec);
  return [];
}

/** Field errors for an update of `existing` to `next` (both in storage form) through `def`. */
export function validateBuiltinUpdate(
  def: ResourceDef,
  next: KubeObject,
  existing: KubeObject,
): FieldError[] {
  if (def.storageKey === EVENTS) {
    return validateEventUpdate(next, existing, def.group === "events.k8s.io");
  }
  if (def.storageKey === LEASES) return validateLeaseSpec(next.spec);
  return [];
}

// ---- Events ----

function validateEventCreate(event: Loose, strict: boolean): FieldError[] {
  const errors = legacyValidateEvent(event);
  if (!strict) return errors;
  const name = String(event.metadata?.name ?? "");
  // The generic registry already checked the looser path-segment rule; add the
  // ValidateObjectMeta(NameIsDNSSubdomain) error only where that one passed, not twice.
  if (validateName(name, "pathSegment").length === 0) {
    errors.push(...validateName(name, "subdomain"));
  }
  errors.push(...validateV1EventSeries(event));
  if (isZeroTime(event.eventTime)) errors.push({ type: "FieldValueRequired", field: "eventTime" });
  if (event.type !== "Normal" && event.type !== "Warning") {
    errors.push(invalidEmpty("type", `has invalid value: ${event.type ?? ""}`));
  }
  if (!isZeroTime(event.firstTimestamp)) {
    errors.push(invalidEmpty("firstTimestamp", "needs to be unset"));
  }
  if (!isZeroTime(event.lastTimestamp)) {
    errors.push(invalidEmpty("lastTimestamp", "needs to be unset"));
  }
  if ((event.count ?? 0) !== 0) errors.push(invalidEmpty("count", "needs to be unset"));
  if (event.source?.component || event.source?.host) {
    errors.push(invalidEmpty("source", "needs to be unset"));
  }
  return errors;
}

function validateEventUpdate(next: Loose, old: Loose, strict: boolean): FieldError[] {
  const errors = legacyValidateEvent(next);
  if (!strict) return errors;
  if (!seriesEqual(next.series, old.series)) errors.push(...validateV1EventSeries(next));
  // The order, and `reason` twice, are ValidateEventUpdate's own.
  const immutable: [string, Field][] = [
    ["involvedObject", REFERENCE],
    ["reason", STRING],
    ["message", STRING],
    ["source", SOURCE],
    ["firstTimestamp", TIME],
    ["lastTimestamp", TIME],
    ["count", COUNT],
    ["reason", STRING],
    ["type", STRING],
    ["eventTime", TIME],
    ["action", STRING],
    ["related", RELATED],
    ["reportingController", STRING],
    ["reportingInstance", STRING],
  ];
  for (const [field, kind] of immutable) {
    const value = kind.normalize(next[field]);
    if (JSON.stringify(value) !== JSON.stringify(kind.normalize(old[field]))) {
      errors.push({
        type: "FieldValueInvalid",
        field,
        display: kind.display(value),
        detail: "field is immutable",
      });
    }
  }
  return errors;
}

function legacyValidateEvent(event: Loose): FieldError[] {
  const errors: FieldError[] = [];
  const namespace = String(event.metadata?.namespace ?? "");
  const involvedNamespace = String(event.involvedObject?.namespace ?? "");
  const mismatch: FieldError = {
    type: "FieldValueInvalid",
    field: "involvedObject.namespace",
    value: involvedNamespace,
    detail: "does not match event.namespace",
  };
  if (isZeroTime(event.eventTime)) {
    // An old-style Event: its namespace and the involved object's must agree.
    if (involvedNamespace === "") {
      if (namespace !== "" && namespace !== "default") errors.push(mismatch);
    } else if (namespace !== involvedNamespace) errors.push(mismatch);
  } else {
    if (involvedNamespace === "" && namespace !== "default" && namespace !== "kube-system") {
      errors.push(mismatch);
    }
    const controller = String(event.reportingComponent ?? "");
    if (controller === "") {
      errors.push({ type: "FieldValueRequired", field: "reportingController" });
    }
    for (const message of qualifiedNameErrors(controller)) {
      errors.push({
        type: "FieldValueInvalid",
        field: "reportingController",
        value: controller,
        detail: message,
      });
    }
    errors.push(...requiredWithLimit(event.reportingInstance, "reportingInstance", FIELD_LIMIT));
    errors.push(...requiredWithLimit(event.action, "action", FIELD_LIMIT));
    errors.push(...requiredWithLimit(event.reason, "reason", FIELD_LIMIT));
    if (byteLength(event.message) > NOTE_LIMIT) {
      errors.push(invalidEmpty("message", `can have at most ${NOTE_LIMIT} characters`));
    }
  }
  if (namespace.length > 253 || !DNS1123_SUBDOMAIN.test(namespace)) {
    errors.push({
      type: "FieldValueInvalid",
      field: "namespace",
      value: namespace,
      detail: namespace.length > 253 ? "must be no more than 253 characters" : SUBDOMAIN_MESSAGE,
    });
  }
  return errors;
}

function validateV1EventSeries(event: Loose): FieldError[] {
  const series = event.series;
  if (series === undefined || series === null) return [];
  const errors: FieldError[] = [];
  if (!(Number(series.count ?? 0) >= 2)) {
    errors.push(invalidEmpty("series.count", "should be at least 2"));
  }
  if (isZeroTime(series.lastObservedTime)) {
    errors.push({ type: "FieldValueRequired", field: "series.lastObservedTime" });
  }
  return errors;
}

function requiredWithLimit(value: unknown, field: string, limit: number): FieldError[] {
  const length = byteLength(value);
  if (length === 0) return [{ type: "FieldValueRequired", field }];
  if (length > limit) return [invalidEmpty(field, `can have at most ${limit} characters`)];
  return [];
}

/** `field.Invalid(path, "", detail)`, the shape events.go uses for most of its errors. */
function invalidEmpty(field: string, detail: string): FieldError {
  return { type: "FieldValueInvalid", field, value: "", detail };
}

/** `validation.IsQualifiedName`, messages included. */
function qualifiedNameErrors(value: string): string[] {
  const errors: string[] = [];
  const parts = value.split("/");
  if (parts.length > 2) {
    return [
      `a qualified name ${QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  const name = parts.length === 2 ? parts[1] : parts[0];
  if (parts.length === 2) {
    const prefix = parts[0];
    if (prefix === "") errors.push("prefix part must be non-empty");
    else {
      if (prefix.length > 253) errors.push("prefix part must be no more than 253 characters");
      if (!DNS1123_SUBDOMAIN.test(prefix)) errors.push(`prefix part ${SUBDOMAIN_MESSAGE}`);
    }
  }
  if (name === "") errors.push("name part must be non-empty");
  else if (name.length > 63) errors.push("name part must be no more than 63 characters");
  if (!QUALIFIED_NAME.test(name)) errors.push(`name part ${QUALIFIED_NAME_MESSAGE}`);
  return errors;
}

/** Go's `len(string)`: UTF-8 bytes. */
function byteLength(value: unknown): number {
  return typeof value === "string" ? new TextEncoder().encode(value).length : 0;
}

// ---- times (metav1.Time, metav1.MicroTime) ----

/** Nanoseconds since the epoch, or undefined for the zero time (absent, null or year 1). */
function timeNanos(value: unknown): bigint | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const match = /^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(value);
  const ms = Date.parse(match ? `${match[1]}${match[3]}` : value);
  if (Number.isNaN(ms)) return undefined;
  const fraction = BigInt((match?.[2] ?? "").padEnd(9, "0") || "0");
  const nanos = BigInt(ms) * 1_000_000n + fraction;
  return nanos === ZERO_TIME_NANOS ? undefined : nanos;
}

/** `0001-01-01T00:00:00Z`, Go's zero time, which serialises like any other. */
const ZERO_TIME_NANOS = BigInt(Date.parse("0001-01-01T00:00:00Z")) * 1_000_000n;

function isZeroTime(value: unknown): boolean {
  return timeNanos(value) === undefined;
}

/** Go's `time.Time.String()` in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`. */
function goTime(nanos: bigint | undefined): string {
  if (nanos === undefined) return "0001-01-01 00:00:00 +0000 UTC";
  const fraction = ((nanos % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n;
  const wholeSeconds = (nanos - fraction) / 1_000_000_000n;
  const seconds = new Date(Number(wholeSeconds) * 1000).toISOString().slice(0, 19)
    .replace("T", " ");
  const digits = fraction === 0n ? "" : `.${fraction.toString().padStart(9, "0")}`
    .replace(/0+$/, "");
  return `${seconds}${digits} +0000 UTC`;
}

// ---- immutable-field comparison and Go's %#v rendering of the values ----

interface Field {
  normalize(value: unknown): unknown;
  display(normalized: unknown): string;
}

const STRING: Field = {
  normalize: (v) => typeof v === "string" ? v : "",
  display: (v) => JSON.stringify(v),
};

const COUNT: Field = {
  normalize: (v) => typeof v === "number" ? v : 0,
  display: (v) => String(v),
};

const TIME: Field = {
  normalize: (v) => timeNanos(v)?.toString() ?? null,
  display: (v) => goTime(v === null ? undefined : BigInt(v as string)),
};

const REFERENCE_FIELDS: [string, string][] = [
  ["kind", "Kind"],
  ["namespace", "Namespace"],
  ["name", "Name"],
  ["uid", "UID"],
  ["apiVersion", "APIVersion"],
  ["resourceVersion", "ResourceVersion"],
  ["fieldPath", "FieldPath"],
];

function goStruct(type: string, fields: [string, string][], value: Record<string, string>) {
  return `${type}{${fields.map(([k, go]) => `${go}:${JSON.stringify(value[k])}`).join(", ")}}`;
}

function stringFields(value: unknown, fields: [string, string][]): Record<string, string> {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  return Object.fromEntries(
    fields.map(([k]) => [k, typeof v[k] === "string" ? v[k] as string : ""]),
  );
}

const REFERENCE: Field = {
  normalize: (v) => stringFields(v, REFERENCE_FIELDS),
  display: (v) => goStruct("core.ObjectReference", REFERENCE_FIELDS, v as Record<string, string>),
};

/** `related` is a pointer: nil prints as null. */
const RELATED: Field = {
  normalize: (v) => v === undefined || v === null ? null : stringFields(v, REFERENCE_FIELDS),
  display: (v) =>
    v === null
      ? "null"
      : goStruct("core.ObjectReference", REFERENCE_FIELDS, v as Record<string, string>),
};

const SOURCE_FIELDS: [string, string][] = [["component", "Component"], ["host", "Host"]];

const SOURCE: Field = {
  normalize: (v) => stringFields(v, SOURCE_FIELDS),
  display: (v) => goStruct("core.EventSource", SOURCE_FIELDS, v as Record<string, string>),
};

function seriesEqual(a: Loose, b: Loose): boolean {
  const shape = (s: Loose) =>
    s === undefined || s === null
      ? null
      : [s.count ?? 0, timeNanos(s.lastObservedTime)?.toString() ?? null];
  return JSON.stringify(shape(a)) === JSON.stringify(shape(b));
}

// ---- Leases ----

function validateLeaseSpec(spec: Loose): FieldError[] {
  const errors: FieldError[] = [];
  const duration = spec?.leaseDurationSeconds;
  if (typeof duration === "number" && duration <= 0) {
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.leaseDurationSeconds",
      value: duration,
      detail: "must be greater than 0",
    });
  }
  const transitions = spec?.leaseTransitions;
  if (typeof transitions === "number" && transitions < 0) {
    errors.push({
      type: "FieldValueInvalid",
      field: "spec.leaseTransitions",
      value: transitions,
      detail: "must be greater than or equal to 0",
    });
  }
  return errors;
}
