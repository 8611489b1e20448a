/**
 * Enough OpenAPI for kubectl:
 * - `/openapi/v3` root index and one document per group/version, with the PATCH/PUT/POST
 *   operations tagged `x-kubernetes-group-version-kind` and a `fieldValidation` parameter, so
 *   kubectl ≥ 1.27 uses server-side field validation; PATCH request bodies list exactly the
 *   patch types we accept, so `kubectl apply` picks merge patch for CRs (no strategic merge).
 * - `/openapi/v2`: an empty document (protobuf or JSON). Old kubectl (Debian's 1.20) validates
 *   client-side from it; with no definitions it skips validation, as for a schemaless type.
 * Deviation: built-in types get no schemas; v2 has no paths (no `kubectl explain`).
 */
import type { Catalog, ServedType } from "./catalog.ts";
import { SERVER_VERSION } from "./discovery.ts";
import { JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH } from "./registry.ts";

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

function hash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).toUpperCase().padStart(8, "0");
}

/** All group/versions served, as `api/v1` / `apis/<group>/<version>`. */
function allGroupVersions(catalog: Catalog): { group: string; version: string }[] {
  const out = [{ group: "", version: "v1" }];
  for (const g of catalog.groups()) {
    for (const version of g.versions) out.push({ group: g.name, version });
  }
  return out;
}

export function v3Root(catalog: Catalog) {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const { group, version } of allGroupVersions(catalog)) {
    const path = gvPath(group, version);
    const doc = JSON.stringify(v3Document(catalog, group, version));
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash(doc)}` };
  }
  return { paths };
}

function schemaName({ def, version }: ServedType): string {
  const reversed = (def.group || "core").split(".").reverse().join(".");
  return `${reversed}.${version.name}.${def.kind}`;
}

function operations(served: ServedType, object: boolean) {
  const { def, version } = served;
  const gvk = { group: def.group, version: version.name, kind: def.kind };
  const ref = { $ref: `#/components/schemas/${schemaName(served)}` };
  const body = (types: string[]) => ({
    required: true,
    content: Object.fromEntries(types.map((t) => [t, { schema: ref }])),
  });
  const param = (name: string) => ({ name, in: "query", schema: { type: "string" } });
  const writeParams = [param("dryRun"), param("fieldManager"), param("fieldValidation")];
  const ok = { "200": { description: "OK", content: { "application/json": { schema: ref } } } };
  const op = (action: string, extra: Record<string, unknown> = {}) => ({
    operationId: `${action}${def.kind}`,
    responses: ok,
    "x-kubernetes-action": action,
    "x-kubernetes-group-version-kind": gvk,
    ...extra,
  });
  if (!object) {
    return {
      get: op("list"),
      post: op("post", { parameters: writeParams, requestBody: body(["application/json"]) }),
      delete: op("deletecollection"),
    };
  }
  const patchTypes = def.builtin
    ? [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH]
    : [JSON_PATCH, MERGE_PATCH];
  return {
    get: op("get"),
    put: op("put", { parameters: writeParams, requestBody: body(["application/json"]) }),
    patch: op("patch", {
      parameters: [...writeParams, param("force")],
      requestBody: body(patchTypes),
    }),
    delete: op("delete"),
  };
}

export function v3Document(catalog: Catalog, group: string, version: string) {
  const paths: Record<string, unknown> = {};
  const schemas: Record<string, unknown> = {};
  for (const served of catalog.inGroupVersion(group, version)) {
    const { def } = served;
    const prefix = `/${gvPath(group, version)}${def.namespaced ? "/namespaces/{namespace}" : ""}`;
    paths[`${prefix}/${def.plural}`] = operations(served, false);
    paths[`${prefix}/${def.plural}/{name}`] = operations(served, true);
    if (served.version.statusSubresource) {
      paths[`${prefix}/${def.plural}/{name}/status`] = operations(served, true);
    }
    schemas[schemaName(served)] = {
      ...(served.version.schema ??
        { type: "object", "x-kubernetes-preserve-unknown-fields": true }),
      "x-kubernetes-group-version-kind": [{ group, version, kind: def.kind }],
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: SERVER_VERSION.gitVersion },
    paths,
    components: { schemas },
  };
}

/** What clients ask for, and (Go's mime parser rejects the `@`) what kube-openapi answers. */
export const V2_PROTOBUF_ACCEPT = /com\.github\.proto-openapi\.spec\.v2[@.]v1\.0\+protobuf/;
export const V2_PROTOBUF_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/** An OpenAPI v2 document with no paths or definitions: `swagger: "2.0"` (field 1). */
export function v2Empty(protobuf: boolean): Uint8Array | Record<string, unknown> {
  if (protobuf) return new Uint8Array([0x0a, 0x03, 0x32, 0x2e, 0x30]);
  return {
    swagger: "2.0",
    info: { title: "Kubernetes", version: SERVER_VERSION.gitVersion },
    paths: {},
    definitions: {},
  };
}
