/**
 * The set of resource types currently served, looked up by URL segments. CRDs register here when
 * created (at start-up or through the CRD endpoint) and leave when their CRD is deleted.
 */
import {
  builtinResources,
  compareKubeVersions,
  type ResourceDef,
  resourceKey,
  type VersionDef,
} from "./resources.ts";

export interface ServedType {
  def: ResourceDef;
  version: VersionDef;
}

export class Catalog {
  readonly #defs = new Map<string, ResourceDef>();

  constructor() {
    for (const def of builtinResources()) this.#defs.set(resourceKey(def.group, def.plural), def);
  }

  /** Adds or replaces a type (a CRD update may change versions, columns, schema). */
  register(def: ResourceDef): void {
    this.#defs.set(resourceKey(def.group, def.plural), def);
  }

  unregister(group: string, plural: string): void {
    const def = this.#defs.get(resourceKey(group, plural));
    if (def && !def.builtin) this.#defs.delete(resourceKey(group, plural));
  }

  get(group: string, plural: string): ResourceDef | undefined {
    return this.#defs.get(resourceKey(group, plural));
  }

  /** The type served at `/apis/<group>/<version>/<plural>`, if that version is served. */
  find(group: string, version: string, plural: string): ServedType | undefined {
    const def = this.#defs.get(resourceKey(group, plural));
    const v = def?.versions.find((x) => x.name === version);
    return def && v ? { def, version: v } : undefined;
  }

  all(): ResourceDef[] {
    return [...this.#defs.values()];
  }

  /** Types sharing one storage bucket (core and events.k8s.io events). */
  sharingStorage(storageKey: string): ResourceDef[] {
    return this.all().filter((d) => d.storageKey === storageKey);
  }

  /** Non-core groups with their served versions, preferred (highest priority) first. */
  groups(): { name: string; versions: string[] }[] {
    const byGroup = new Map<string, Set<string>>();
    for (const def of this.#defs.values()) {
      if (!def.group) continue;
      const set = byGroup.get(def.group) ?? new Set();
      for (const v of def.versions) set.add(v.name);
      byGroup.set(def.group, set);
    }
    return [...byGroup.entries()]
      .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
      .map(([name, set]) => ({ name, versions: [...set].sort(compareKubeVersions) }));
  }

  /** Types served in one group/version. */
  inGroupVersion(group: string, version: string): ServedType[] {
    const out: ServedType[] = [];
    for (const def of this.#defs.values()) {
      if (def.group !== group) continue;
      const v = def.versions.find((x) => x.name === version);
      if (v) out.push({ def, version: v });
    }
    return out.sort((a, b) => a.def.plural < b.def.plural ? -1 : 1);
  }
}
