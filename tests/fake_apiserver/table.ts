/**
 * Server-side printing: `meta.k8s.io/v1` Table responses for `kubectl get`, with a Name column
 * first, then the type's printer columns (CRDs: additionalPrinterColumns, or Age when none),
 * cells typed like the apiextensions table convertor (dates become ages such as `5m`).
 *
 * Also the Accept negotiation for Table / PartialObjectMetadata / JSON.
 * Deviation: JSONPath supports `.a.b`, `[n]`, `[*]`, `['key']` and `[?(@.k=="v")]` only.
 */
import type { KubeObject } from "../../lib/kube/resource.ts";
import type { PrinterColumn, VersionDef } from "./resources.ts";

export type Representation =
  | { as: "json" }
  | { as: "Table"; version: "v1" | "v1beta1" }
  | { as: "PartialObjectMetadata"; version: "v1" | "v1beta1" };

/**
 * Picks the first acceptable representation from an Accept header, or undefined when none is
 * (the caller answers 406 like the real server).
 */
export function negotiate(accept: string | null): Representation | undefined {
  if (!accept) return { as: "json" };
  for (const range of accept.split(",")) {
    const [type, ...paramParts] = range.split(";").map((s) => s.trim());
    const params = Object.fromEntries(paramParts.map((p) => p.split("=").map((s) => s.trim())));
    if (type !== "application/json" && type !== "*/*" && type !== "application/*") continue;
    if (!params.as) return { as: "json" };
    const version = params.v === "v1beta1" ? "v1beta1" : params.v === "v1" ? "v1" : undefined;
    if (params.g !== "meta.k8s.io" || !version) continue;
    if (params.as === "Table") return { as: "Table", version };
    if (params.as === "PartialObjectMetadata" || params.as === "PartialObjectMetadataList") {
      return { as: "PartialObjectMetadata", version };
    }
  }
  return undefined;
}

/** Evaluates a printer-column JSONPath; returns all results. */
export function evalJsonPath(root: unknown, path: string): unknown[] {
  let expr = path.trim();
  if (expr.startsWith("{") && expr.endsWith("}")) expr = expr.slice(1, -1);
  if (expr.startsWith("$")) expr = expr.slice(1);
  const tokens = expr.match(/\.[^.[\]]+|\[[^\]]*\]/g) ?? [];
  let nodes: unknown[] = [root];
  for (const token of tokens) {
    const next: unknown[] = [];
    for (const node of nodes) {
      if (node === null || typeof node !== "object") continue;
      const record = node as Record<string, unknown>;
      if (token.startsWith(".")) {
        const key = token.slice(1);
        if (key === "*") next.push(...Object.values(record));
        else if (key in record) next.push(record[key]);
      } else {
        const inner = token.slice(1, -1).trim();
        const filter = /^\?\(@\.([\w.-]+)\s*==\s*["']?([^"']*)["']?\)$/.exec(inner);
        if (inner === "*") next.push(...(Array.isArray(node) ? node : Object.values(record)));
        else if (filter && Array.isArray(node)) {
          for (const item of node) {
            const [v] = evalJsonPath(item, `.${filter[1]}`);
            if (v !== undefined && String(v) === filter[2]) next.push(item);
          }
        } else if (/^-?\d+$/.test(inner) && Array.isArray(node)) {
          const i = Number(inner);
          const item = node[i < 0 ? node.length + i : i];
          if (item !== undefined) next.push(item);
        } else {
          const key = inner.replace(/^['"]|['"]$/g, "");
          if (key in record) next.push(record[key]);
        }
      }
    }
    nodes = next;
  }
  return nodes;
}

/** duration.HumanDuration, as kubectl's AGE column shows it. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (days < 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (years < 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

const NAME_COLUMN = {
  name: "Name",
  type: "string",
  format: "name",
  description:
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
  priority: 0,
};

const AGE_DESCRIPTION =
  "CreationTimestamp is a timestamp representing the server time when this object was created.";

function columnsFor(version: VersionDef): PrinterColumn[] {
  if (version.printerColumns.length) return version.printerColumns;
  return [{
    name: "Age",
    type: "date",
    jsonPath: ".metadata.creationTimestamp",
    description: AGE_DESCRIPTION,
  }];
}

function cell(column: PrinterColumn, object: KubeObject, now: number): unknown {
  const raw = column.value
    ? column.value(object as Record<string, unknown>)
    : evalJsonPath(object, column.jsonPath)[0];
  if (raw === undefined || raw === null) return null;
  switch (column.type) {
    case "date": {
      const t = Date.parse(String(raw));
      return Number.isNaN(t) ? "<unknown>" : humanDuration(now - t);
    }
    case "integer":
      return typeof raw === "number" ? Math.trunc(raw) : raw;
    case "string":
      return typeof raw === "string" ? raw : JSON.stringify(raw);
    default:
      return raw;
  }
}

/** Metadata-only form of an object (`PartialObjectMetadata`). */
export function partialMetadata(object: KubeObject, version = "v1"): KubeObject {
  return {
    kind: "PartialObjectMetadata",
    apiVersion: `meta.k8s.io/${version}`,
    metadata: object.metadata,
  };
}

export type IncludeObject = "None" | "Metadata" | "Object";

/** Builds a Table of `objects`; `withColumns` false omits column definitions (watch events). */
export function toTable(
  version: VersionDef,
  objects: KubeObject[],
  options: {
    now: number;
    tableVersion: "v1" | "v1beta1";
    includeObject?: IncludeObject;
    listMeta?: Record<string, unknown>;
    withColumns?: boolean;
  },
): Record<string, unknown> {
  const columns = columnsFor(version);
  const include = options.includeObject ?? "Metadata";
  return {
    kind: "Table",
    apiVersion: `meta.k8s.io/${options.tableVersion}`,
    metadata: options.listMeta ?? {},
    columnDefinitions: options.withColumns === false ? [] : [
      NAME_COLUMN,
      ...columns.map((c) => ({
        name: c.name,
        type: c.type,
        format: c.format ?? "",
        description: c.description ?? "",
        priority: c.priority ?? 0,
      })),
    ],
    rows: objects.map((object) => ({
      cells: [object.metadata.name, ...columns.map((c) => cell(c, object, options.now))],
      object: include === "None"
        ? undefined
        : include === "Object"
        ? object
        : partialMetadata(object, options.tableVersion),
    })),
  };
}
