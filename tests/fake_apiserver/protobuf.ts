/**
 * Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), for
 * the built-in types this fake serves: Namespace, Lease, core/v1 Event and events.k8s.io/v1
 * Event.
 *
 * Why: client-go's typed clients send built-in types as protobuf by default (kubectl 1.32:
 * `kubectl create namespace` POSTs protobuf), and client-go falls back to JSON after a 415 only
 * for CBOR, never for protobuf. kube-apiserver accepts protobuf for every built-in type, so a
 * fake answering 415 breaks kubectl where the real server does not.
 *
 * The wire form: the 4 bytes `k8s\0`, then a `runtime.Unknown` message (typeMeta = 1, raw = 2,
 * contentEncoding = 3, contentType = 4) whose `raw` is the object's message. Field numbers come
 * from the types' published `generated.proto`. A decoded object is what the server's Go struct
 * would print as JSON: zero values of plain (non-pointer) fields are left out, as their
 * `omitempty` tags do; pointer fields (Lease spec, `deletionGracePeriodSeconds`) keep a zero;
 * `Time` keeps whole seconds (as metav1.Time's protobuf decoder does), `MicroTime` microseconds.
 *
 * Deviation: CRDs (apiextensions.k8s.io) are not decoded (415); responses are always JSON,
 * which every client accepts (client-go asks for "protobuf, then JSON").
 */
import { badRequest } from "./status.ts";

export const PROTOBUF = "application/vnd.kubernetes.protobuf";

type Scalar = "string" | "int" | "bool" | "bytes" | "time" | "microtime" | "fieldsV1";
interface Field {
  name: string;
  type: Scalar | Schema;
  repeated?: boolean;
  /** map<string,string> (entries are messages with key = 1, value = 2). */
  map?: boolean;
  /** A Go pointer: present-but-zero is kept. */
  pointer?: boolean;
}
type Schema = Record<number, Field>;

const OWNER_REFERENCE: Schema = {
  1: { name: "kind", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "uid", type: "string" },
  5: { name: "apiVersion", type: "string" },
  6: { name: "controller", type: "bool", pointer: true },
  7: { name: "blockOwnerDeletion", type: "bool", pointer: true },
};

const MANAGED_FIELDS_ENTRY: Schema = {
  1: { name: "manager", type: "string" },
  2: { name: "operation", type: "string" },
  3: { name: "apiVersion", type: "string" },
  4: { name: "time", type: "time" },
  6: { name: "fieldsType", type: "string" },
  7: { name: "fieldsV1", type: "fieldsV1" },
  8: { name: "subresource", type: "string" },
};

const OBJECT_META: Schema = {
  1: { name: "name", type: "string" },
  2: { name: "generateName", type: "string" },
  3: { name: "namespace", type: "string" },
  4: { name: "selfLink", type: "string" },
  5: { name: "uid", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  7: { name: "generation", type: "int" },
  8: { name: "creationTimestamp", type: "time" },
  9: { name: "deletionTimestamp", type: "time" },
  10: { name: "deletionGracePeriodSeconds", type: "int", pointer: true },
  11: { name: "labels", type: "string", map: true },
  12: { name: "annotations", type: "string", map: true },
  13: { name: "ownerReferences", type: OWNER_REFERENCE, repeated: true },
  14: { name: "finalizers", type: "string", repeated: true },
  17: { name: "managedFields", type: MANAGED_FIELDS_ENTRY, repeated: true },
};

const OBJECT_REFERENCE: Schema = {
  1: { name: "kind", type: "string" },
  2: { name: "namespace", type: "string" },
  3: { name: "name", type: "string" },
  4: { name: "uid", type: "string" },
  5: { name: "apiVersion", type: "string" },
  6: { name: "resourceVersion", type: "string" },
  7: { name: "fieldPath", type: "string" },
};

const EVENT_SOURCE: Schema = {
  1: { name: "component", type: "string" },
  2: { name: "host", type: "string" },
};

const EVENT_SERIES: Schema = {
  1: { name: "count", type: "int" },
  2: { name: "lastObservedTime", type: "microtime" },
};

const NAMESPACE: Schema = {
  1: { name: "metadata", type: OBJECT_META },
  2: { name: "spec", type: { 1: { name: "finalizers", type: "string", repeated: true } } },
  3: {
    name: "status",
    type: {
      1: { name: "phase", type: "string" },
      2: {
        name: "conditions",
        repeated: true,
        type: {
          1: { name: "type", type: "string" },
          2: { name: "status", type: "string" },
          4: { name: "lastTransitionTime", type: "time" },
          5: { name: "reason", type: "string" },
          6: { name: "message", type: "string" },
        },
      },
    },
  },
};

const LEASE: Schema = {
  1: { name: "metadata", type: OBJECT_META },
  2: {
    name: "spec",
    type: {
      1: { name: "holderIdentity", type: "string", pointer: true },
      2: { name: "leaseDurationSeconds", type: "int", pointer: true },
      3: { name: "acquireTime", type: "microtime", pointer: true },
      4: { name: "renewTime", type: "microtime", pointer: true },
      5: { name: "leaseTransitions", type: "int", pointer: true },
      6: { name: "strategy", type: "string", pointer: true },
      7: { name: "preferredHolder", type: "string", pointer: true },
    },
  },
};

const CORE_EVENT: Schema = {
  1: { name: "metadata", type: OBJECT_META },
  2: { name: "involvedObject", type: OBJECT_REFERENCE },
  3: { name: "reason", type: "string" },
  4: { name: "message", type: "string" },
  5: { name: "source", type: EVENT_SOURCE },
  6: { name: "firstTimestamp", type: "time" },
  7: { name: "lastTimestamp", type: "time" },
  8: { name: "count", type: "int" },
  9: { name: "type", type: "string" },
  10: { name: "eventTime", type: "microtime" },
  11: { name: "series", type: EVENT_SERIES, pointer: true },
  12: { name: "action", type: "string" },
  13: { name: "related", type: OBJECT_REFERENCE, pointer: true },
  14: { name: "reportingComponent", type: "string" },
  15: { name: "reportingInstance", type: "string" },
};

const EVENTS_V1_EVENT: Schema = {
  1: { name: "metadata", type: OBJECT_META },
  2: { name: "eventTime", type: "microtime" },
  3: { name: "series", type: EVENT_SERIES, pointer: true },
  4: { name: "reportingController", type: "string" },
  5: { name: "reportingInstance", type: "string" },
  6: { name: "action", type: "string" },
  7: { name: "reason", type: "string" },
  8: { name: "regarding", type: OBJECT_REFERENCE },
  9: { name: "related", type: OBJECT_REFERENCE, pointer: true },
  10: { name: "note", type: "string" },
  11: { name: "type", type: "string" },
  12: { name: "deprecatedSource", type: EVENT_SOURCE },
  13: { name: "deprecatedFirstTimestamp", type: "time" },
  14: { name: "deprecatedLastTimestamp", type: "time" },
  15: { name: "deprecatedCount", type: "int" },
};

/** Message schemas by `apiVersion/kind`. */
const SCHEMAS: Record<string, Schema> = {
  "v1/Namespace": NAMESPACE,
  "coordination.k8s.io/v1/Lease": LEASE,
  "v1/Event": CORE_EVENT,
  "events.k8s.io/v1/Event": EVENTS_V1_EVENT,
};

const UNKNOWN: Schema = {
  1: {
    name: "typeMeta",
    type: { 1: { name: "apiVersion", type: "string" }, 2: { name: "kind", type: "string" } },
  },
  2: { name: "raw", type: "bytes" },
  3: { name: "contentEncoding", type: "string" },
  4: { name: "contentType", type: "string" },
};

const MAGIC = [0x6b, 0x38, 0x73, 0x00]; // "k8s\0"

/** True when this fake can decode protobuf bodies of `apiVersion`/`kind`. */
export function protobufDecodable(apiVersion: string, kind: string): boolean {
  return `${apiVersion}/${kind}` in SCHEMAS;
}

/**
 * Decodes a protobuf request body into the object's JSON form; `expected` is the type the URL
 * names. Malformed bytes, or a body of another type, are a 400 as on the real server.
 */
export function decodeProtobuf(
  bytes: Uint8Array,
  expected: { apiVersion: string; kind: string },
): Record<string, unknown> {
  if (bytes.length < 4 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw badRequest(
      "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]",
    );
  }
  const envelope = decodeMessage(bytes.subarray(4), UNKNOWN, true);
  const typeMeta = (envelope.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const apiVersion = typeMeta.apiVersion || expected.apiVersion;
  const kind = typeMeta.kind || expected.kind;
  const schema = SCHEMAS[`${apiVersion}/${kind}`];
  if (!schema || apiVersion !== expected.apiVersion || kind !== expected.kind) {
    throw badRequest(
      `the object provided is unrecognized (must be of type ${expected.kind}): ${apiVersion}, Kind=${kind}`,
    );
  }
  const raw = (envelope.raw as Uint8Array | undefined) ?? new Uint8Array();
  return { apiVersion, kind, ...decodeMessage(raw, schema, false) };
}

/** One protobuf message as JSON. `keepAll` keeps zero values (the envelope). */
function decodeMessage(
  bytes: Uint8Array,
  schema: Schema,
  keepAll: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const reader = new Reader(bytes);
  while (!reader.done) {
    const key = reader.varint();
    const number = Number(key >> 3n);
    const wire = Number(key & 7n);
    const field = schema[number];
    if (!field) {
      reader.skip(wire); // unknown fields are ignored, as Go's decoder does
      continue;
    }
    const value = decodeValue(reader, wire, field);
    if (field.map) {
      const entry = value as { key?: string; value?: string };
      const map = (out[field.name] ??= {}) as Record<string, string>;
      map[entry.key ?? ""] = entry.value ?? "";
    } else if (field.repeated) {
      ((out[field.name] ??= []) as unknown[]).push(value);
    } else if (keepAll || field.pointer || !isZero(value)) {
      out[field.name] = value;
    } else {
      delete out[field.name];
    }
  }
  return out;
}

function decodeValue(reader: Reader, wire: number, field: Field): unknown {
  if (field.map) {
    const entry = { 1: { name: "key", type: "string" }, 2: { name: "value", type: "string" } };
    return decodeMessage(reader.bytes(wire), entry as Schema, true);
  }
  const type = field.type;
  if (typeof type === "object") return decodeMessage(reader.bytes(wire), type, false);
  switch (type) {
    case "string":
      return new TextDecoder().decode(reader.bytes(wire));
    case "bytes":
      return reader.bytes(wire).slice();
    case "int":
      return Number(BigInt.asIntN(64, reader.varintOf(wire)));
    case "bool":
      return reader.varintOf(wire) !== 0n;
    case "fieldsV1": {
      const raw = decodeMessage(reader.bytes(wire), { 1: { name: "Raw", type: "bytes" } }, true);
      const text = new TextDecoder().decode(
        (raw.Raw as Uint8Array | undefined) ?? new Uint8Array(),
      );
      return text ? JSON.parse(text) : {};
    }
    case "time":
    case "microtime": {
      const t = decodeMessage(reader.bytes(wire), {
        1: { name: "seconds", type: "int" },
        2: { name: "nanos", type: "int" },
      }, true) as { seconds?: number; nanos?: number };
      if (t.seconds === undefined && t.nanos === undefined) return undefined; // zero time
      const iso = new Date((t.seconds ?? 0) * 1000).toISOString().slice(0, 19);
      if (type === "time") return `${iso}Z`;
      const micros = String(Math.floor((t.nanos ?? 0) / 1000)).padStart(6, "0");
      return `${iso}.${micros}Z`;
    }
  }
}

function isZero(value: unknown): boolean {
  if (value === undefined || value === "" || value === 0 || value === false) return true;
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array) && Object.keys(value).length === 0;
}

class Reader {
  #at = 0;
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  get done(): boolean {
    return this.#at >= this.#bytes.length;
  }

  varint(): bigint {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.#at >= this.#bytes.length) throw truncated();
      const byte = this.#bytes[this.#at++];
      result |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result;
    }
    throw badRequest("unable to decode protobuf body: varint overflow");
  }

  varintOf(wire: number): bigint {
    if (wire !== 0) throw badRequest(`unable to decode protobuf body: wire type ${wire}, want 0`);
    return this.varint();
  }

  bytes(wire: number): Uint8Array {
    if (wire !== 2) throw badRequest(`unable to decode protobuf body: wire type ${wire}, want 2`);
    const length = Number(this.varint());
    if (this.#at + length > this.#bytes.length) throw truncated();
    const out = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.#at += 8;
        return;
      case 2:
        this.bytes(2);
        return;
      case 5:
        this.#at += 4;
        return;
      default:
        throw badRequest(`unable to decode protobuf body: unknown wire type ${wire}`);
    }
  }
}

function truncated() {
  return badRequest("unable to decode protobuf body: unexpected EOF");
}
