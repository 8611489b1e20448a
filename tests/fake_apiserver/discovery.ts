/**
 * Legacy (unaggregated) discovery: `/api`, `/api/v1`, `/apis`, `/apis/<group>`,
 * `/apis/<group>/<version>`, and `/version`.
 *
 * kubectl ≥ 1.26 asks for aggregated discovery (`as=APIGroupDiscoveryList`) first and
 * `application/json` last; we answer the legacy form as `application/json`, which is what a
 * server without aggregated discovery does, and clients fall back. A request accepting only
 * the aggregated form gets 406, like any server that cannot produce it.
 */
import type { Catalog, ServedType } from "./catalog.ts";

export const SERVER_VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-fake",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2024-12-11T00:00:00Z",
  goVersion: "go1.23.4",
  compiler: "gc",
  platform: "linux/amd64",
};

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export function coreVersions(serverAddress: string) {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupEntry(name: string, versions: string[]) {
  const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: list, preferredVersion: list[0] };
}

export function groupList(catalog: Catalog) {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: catalog.groups().map((g) => groupEntry(g.name, g.versions)),
  };
}

export function group(catalog: Catalog, name: string) {
  const found = catalog.groups().find((g) => g.name === name);
  if (!found) return undefined;
  return { kind: "APIGroup", apiVersion: "v1", ...groupEntry(found.name, found.versions) };
}

function resourceEntries({ def, version }: ServedType) {
  const main = {
    name: def.plural,
    singularName: def.singular,
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: VERBS,
    ...(def.shortNames.length ? { shortNames: def.shortNames } : {}),
    ...(def.categories.length ? { categories: def.categories } : {}),
    storageVersionHash: btoa(`${def.group}/${def.plural}`).slice(0, 11),
  };
  if (!version.statusSubresource) return [main];
  return [main, {
    name: `${def.plural}/status`,
    singularName: "",
    namespaced: def.namespaced,
    kind: def.kind,
    verbs: ["get", "patch", "update"],
  }];
}

/** APIResourceList for one group/version, or undefined when nothing is served there. */
export function resourceList(catalog: Catalog, groupName: string, version: string) {
  const types = catalog.inGroupVersion(groupName, version);
  if (!types.length) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: groupName ? `${groupName}/${version}` : version,
    resources: types.flatMap(resourceEntries),
  };
}

/** True when the Accept header allows plain JSON (or says nothing). */
export function acceptsPlainJson(accept: string | null): boolean {
  if (!accept) return true;
  return accept.split(",").some((range) => {
    const [type, ...params] = range.split(";").map((s) => s.trim());
    const plain = !params.some((p) => p.startsWith("as=") || p.startsWith("g="));
    return plain && ["application/json", "*/*", "application/*"].includes(type);
  });
}
