/**
 * Object lifecycle: create, update, patch, delete, with the generic registry's rules
 * (k8s.io/apiserver/pkg/registry/generic/registry/store.go and the CR strategy).
 *
 * Guarantees, as a real server:
 * - create: uid, creationTimestamp, generateName suffix, generation 1 (CRs/CRDs), the namespace
 *   from the path (mismatch → 400) and it must exist (404) and not be terminating (403);
 *   status is dropped when the status subresource is on; AlreadyExists 409.
 * - update/patch: resourceVersion precondition → 409; CRs need a resourceVersion on PUT (422);
 *   the main endpoint keeps the stored status and `/status` changes only status; generation
 *   bumps only when content outside metadata (and status, with the subresource) changes; a
 *   no-op write commits nothing and keeps the resourceVersion.
 * - delete: finalizers → deletionTimestamp + deletionGracePeriodSeconds 0 (+ generation bump),
 *   removal once the last finalizer goes; repeat deletes are no-ops; uid/resourceVersion
 *   preconditions → 409; no new finalizers while deleting (422).
 * Deviations: no managedFields (dropped from requests; kube-apiserver records them on every
 * write); a refused new finalizer is one cause (kube-apiserver 1.36 lists the same cause twice);
 * no garbage collector, so ownerReferences
 * and propagationPolicy have no effect; deleting a namespace deletes its content at once (objects
 * with finalizers wait for them) and the namespace goes when it is empty — the namespace
 * controller's work done synchronously; server-side apply is not implemented (415).
 */
import type { KubeObject } from "../../lib/kube/resource.ts";

const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";
import { validateBuiltinCreate, validateBuiltinUpdate } from "./builtin_validation.ts";
import type { Catalog } from "./catalog.ts";
import { decode, encode, timestamp } from "./codec.ts";
import {
  decodeJsonPatch,
  jsonEqual,
  jsonPatch,
  mergePatch,
  PatchDecodeError,
  PatchError,
  strategicMergePatchObject,
} from "./patch.ts";
import { crdToResource, InvalidCrdError, type ResourceDef, type VersionDef } from "./resources.ts";
import {
  alreadyExists,
  ApiFailure,
  badRequest,
  conflict,
  type FieldError,
  forbidden,
  internalError,
  invalid,
  notFound,
  OPTIMISTIC_LOCK_MESSAGE,
  pathNotFound,
  unsupportedMediaType,
} from "./status.ts";
import type { EventType, ObjectStore } from "./store.ts";
import {
  applyDefaults,
  prune,
  validateLabels,
  validateName,
  validateSchema,
} from "./validation.ts";

/** Which object (or collection) a request addresses. */
export interface Target {
  def: ResourceDef;
  version: VersionDef;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export type FieldValidation = "Ignore" | "Warn" | "Strict";

export interface WriteOptions {
  dryRun?: boolean;
  fieldValidation?: FieldValidation;
}

export interface WriteResult {
  code: number;
  body: unknown;
  warnings: string[];
}

export const MERGE_PATCH = "application/merge-patch+json";
export const JSON_PATCH = "application/json-patch+json";
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";
export const APPLY_PATCH = "application/apply-patch+yaml";

const NAMESPACES = "/namespaces";
const CRDS = "apiextensions.k8s.io/customresourcedefinitions";
const PROTECTED_NAMESPACES = ["default", "kube-system", "kube-public"];
const GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function clone<T>(value: T): T {
  return structuredClone(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Content that drives metadata.generation: everything but metadata (and status, if split). */
function specContent(object: KubeObject, withoutStatus: boolean): Record<string, unknown> {
  const { metadata: _m, apiVersion: _a, kind: _k, ...rest } = object;
  if (withoutStatus) delete rest.status;
  return rest;
}

export class Registry {
  readonly #store: ObjectStore;
  readonly #catalog: Catalog;
  readonly #now: () => number;

  constructor(store: ObjectStore, catalog: Catalog, now: () => number) {
    this.#store = store;
    this.#catalog = catalog;
    this.#now = now;
  }

  /** Reads one object in the target's version; 404 Status when absent. */
  get(t: Target): KubeObject {
    const stored = this.#store.get(t.def.storageKey, t.namespace, t.name!);
    if (!stored) throw notFound(t.def, t.name!);
    return encode(t.def, t.version.name, stored);
  }

  create(t: Target, body: unknown, options: WriteOptions = {}): WriteResult {
    const { def } = t;
    if (t.subresource) throw pathNotFound();
    const object = this.#decodeBody(t, body);
    const meta = object.metadata;
    if (def.namespaced) {
      if (meta.namespace && meta.namespace !== t.namespace) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      meta.namespace = t.namespace;
    } else delete meta.namespace;
    if (meta.resourceVersion) {
      throw internalError("resourceVersion should not be set on objects to be created");
    }
    if (!meta.name) {
      if (!meta.generateName) {
        throw invalid(def.kind, def.group, "", [{
          type: "FieldValueRequired",
          field: "metadata.name",
          detail: "name or generateName is required",
        }]);
      }
      meta.name = meta.generateName + randomSuffix();
    }
    if (def.namespaced) this.#checkNamespaceOpen(t.namespace!, def, meta.name);
    const now = timestamp(this.#now());
    meta.uid = crypto.randomUUID();
    meta.creationTimestamp = now;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    delete (meta as Record<string, unknown>).selfLink;
    if (def.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    if (t.version.statusSubresource && !def.builtin) delete object.status;
    if (def.storageKey === NAMESPACES) {
      object.spec = { finalizers: ["kubernetes"], ...(object.spec as object ?? {}) };
      object.status = { phase: "Active" };
      // As kube-apiserver (since 1.22): every namespace carries its name as a label.
      meta.labels = { ...meta.labels, [NAMESPACE_NAME_LABEL]: meta.name! };
    }
    const warnings = this.#admit(t, object, options);
    if (def.storageKey === CRDS) this.#prepareCrd(object, now);
    if (this.#store.get(def.storageKey, meta.namespace, meta.name)) {
      throw alreadyExists(def, meta.name);
    }
    const saved = this.#commit("ADDED", def, object, undefined, options);
    return { code: 201, body: encode(def, t.version.name, saved), warnings };
  }

  update(t: Target, body: unknown, options: WriteOptions = {}): WriteResult {
    const { def } = t;
    this.#checkSubresource(t);
    const candidate = this.#decodeBody(t, body);
    const existing = this.#store.get(def.storageKey, t.namespace, t.name!);
    if (!existing) {
      // Core events allow create-on-update; CRs, namespaces and leases do not.
      if (def.storageKey === "/events" && !t.subresource) {
        return this.create({ ...t, name: undefined }, body, options);
      }
      throw notFound(def, t.name!);
    }
    const rv = candidate.metadata.resourceVersion;
    if (!rv && !def.builtin) {
      // kube-apiserver names the resource here (widgets.example.com), not the kind.
      throw invalid(def.plural, def.group, t.name!, [{
        type: "FieldValueInvalid",
        field: "metadata.resourceVersion",
        display: "0",
        detail: "must be specified for an update",
      }]);
    }
    return this.#applyUpdate(t, existing, candidate, options);
  }

  patch(t: Target, contentType: string, body: unknown, options: WriteOptions = {}): WriteResult {
    const { def } = t;
    this.#checkSubresource(t);
    const type = contentType.split(";")[0].trim().toLowerCase();
    const accepted = def.builtin
      ? [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH]
      : [JSON_PATCH, MERGE_PATCH];
    if (!accepted.includes(type)) throw unsupportedMediaType(type, accepted);
    const existing = this.#store.get(def.storageKey, t.namespace, t.name!);
    if (!existing) throw notFound(def, t.name!);
    const current = encode(def, t.version.name, existing);
    let patched: unknown;
    try {
      if (type === JSON_PATCH) patched = jsonPatch(current, decodeJsonPatch(body));
      else if (type === MERGE_PATCH) patched = mergePatch(current, body);
      else patched = strategicMergePatchObject(current, body);
    } catch (error) {
      if (error instanceof PatchDecodeError) throw badRequest(error.message);
      if (error instanceof PatchError) {
        // The apiserver wraps patch application errors in NewGenericServerResponse(422, ...),
        // which keeps only the generic message.
        throw new ApiFailure({
          message: "the server rejected our request due to an error in our request",
          reason: "Invalid",
          details: {},
          code: 422,
        });
      }
      throw error;
    }
    const candidate = this.#decodeBody(t, patched);
    // A patch that does not carry a resourceVersion is unconditional.
    candidate.metadata.resourceVersion ||= existing.metadata.resourceVersion;
    return this.#applyUpdate(t, existing, candidate, options);
  }

  delete(t: Target, body: unknown, options: WriteOptions = {}): WriteResult {
    const { def } = t;
    if (t.subresource) throw pathNotFound();
    const existing = this.#store.get(def.storageKey, t.namespace, t.name!);
    if (!existing) throw notFound(def, t.name!);
    const preconditions = isObject(body) && isObject(body.preconditions) ? body.preconditions : {};
    const meta = existing.metadata;
    if (preconditions.uid && preconditions.uid !== meta.uid) {
      throw conflict(
        def,
        t.name!,
        `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${meta.uid}`,
      );
    }
    if (preconditions.resourceVersion && preconditions.resourceVersion !== meta.resourceVersion) {
      throw conflict(
        def,
        t.name!,
        `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion}`,
      );
    }
    if (def.storageKey === NAMESPACES && PROTECTED_NAMESPACES.includes(t.name!)) {
      throw forbidden(
        `namespaces "${t.name}" is forbidden: this namespace may not be deleted`,
        def,
        t.name,
      );
    }
    const pending = (meta.finalizers?.length ?? 0) > 0 || def.storageKey === NAMESPACES;
    if (!pending) {
      const removed = this.#commit("DELETED", def, clone(existing), existing, options);
      return { code: 200, body: this.#deletedBody(t, removed), warnings: [] };
    }
    if (meta.deletionTimestamp) {
      return { code: 200, body: encode(def, t.version.name, existing), warnings: [] };
    }
    const marked = clone(existing);
    if (def.tracksGeneration && (marked.metadata.generation ?? 0) > 0) {
      marked.metadata.generation! += 1;
    }
    marked.metadata.deletionTimestamp = timestamp(this.#now());
    marked.metadata.deletionGracePeriodSeconds = 0;
    if (def.storageKey === NAMESPACES) {
      marked.status = { ...marked.status as object, phase: "Terminating" };
    }
    const saved = this.#commit("MODIFIED", def, marked, existing, options);
    if (def.storageKey === NAMESPACES && !options.dryRun) {
      this.#emptyNamespace(saved.metadata.name!);
      const after = this.#store.get(NAMESPACES, undefined, saved.metadata.name!);
      if (!after) return { code: 200, body: encode(def, t.version.name, saved), warnings: [] };
      return { code: 200, body: encode(def, t.version.name, after), warnings: [] };
    }
    return { code: 200, body: encode(def, t.version.name, saved), warnings: [] };
  }

  /** Creates an object directly in storage form (server start-up: namespaces, CRDs). */
  seed(t: Target, body: KubeObject): KubeObject {
    return this.create(t, body).body as KubeObject;
  }

  // ---- internals ----

  #checkSubresource(t: Target): void {
    if (t.subresource && !(t.subresource === "status" && t.version.statusSubresource)) {
      throw pathNotFound();
    }
  }

  #decodeBody(t: Target, body: unknown): KubeObject {
    if (!isObject(body)) {
      throw badRequest("the object provided is unrecognized (must be of type object)");
    }
    const object = clone(body) as KubeObject;
    const apiVersion = t.def.group ? `${t.def.group}/${t.version.name}` : t.version.name;
    if (object.kind !== undefined && object.kind !== t.def.kind) {
      throw badRequest(
        `the object provided is unrecognized (must be of type ${t.def.kind}): couldn't get version/kind; json parse error: kind ${object.kind} does not match ${t.def.kind}`,
      );
    }
    if (object.apiVersion !== undefined && object.apiVersion !== apiVersion) {
      const group = String(object.apiVersion).includes("/")
        ? String(object.apiVersion).split("/")[0]
        : "";
      if (group !== t.def.group) {
        throw badRequest(
          `the API version in the data (${object.apiVersion}) does not match the expected API version (${apiVersion})`,
        );
      }
    }
    if (!isObject(object.metadata)) object.metadata = {};
    return decode(t.def, t.version.name, object);
  }

  #checkNamespaceOpen(namespace: string, def: ResourceDef, name: string): void {
    const ns = this.#store.get(NAMESPACES, undefined, namespace);
    if (!ns) throw notFound({ group: "", plural: "namespaces" }, namespace);
    if (ns.metadata.deletionTimestamp) {
      throw forbidden(
        `${
          def.group ? `${def.plural}.${def.group}` : def.plural
        } "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        def,
        name,
      );
    }
  }

  /**
   * Name/label validation, then the built-in types' own rules (builtin_validation.ts) or, for
   * CRs, prune → default → schema validation. `existing` is set for updates.
   */
  #admit(t: Target, object: KubeObject, options: WriteOptions, existing?: KubeObject): string[] {
    const { def } = t;
    const meta = object.metadata;
    const errors: FieldError[] = [
      ...validateName(
        meta.name!,
        def.storageKey === NAMESPACES
          ? "label"
          : def.storageKey === "/events"
          ? "pathSegment"
          : "subdomain",
      ),
      ...validateLabels(meta.labels),
    ];
    if (def.builtin) {
      errors.push(
        ...(existing
          ? validateBuiltinUpdate(def, object, existing)
          : validateBuiltinCreate(def, object)),
      );
    }
    let warnings: string[] = [];
    if (!def.builtin && t.version.schema) {
      const pruned = prune(object, t.version.schema);
      if (pruned.length && options.fieldValidation === "Strict") {
        throw badRequest(
          `strict decoding error: ${pruned.map((p) => `unknown field "${p}"`).join(", ")}`,
        );
      }
      if (options.fieldValidation !== "Ignore") {
        warnings = pruned.map((p) => `unknown field "${p}"`);
      }
      applyDefaults(object, t.version.schema);
      errors.push(...validateSchema(object, t.version.schema));
    }
    if (def.storageKey === CRDS) {
      try {
        const crd = crdToResource(object);
        const taken = this.#catalog.get(crd.group, crd.plural);
        if (taken?.builtin) {
          errors.push({
            type: "FieldValueInvalid",
            field: "spec.names.plural",
            value: crd.plural,
            detail: "is already served by a built-in type",
          });
        }
      } catch (error) {
        if (!(error instanceof InvalidCrdError)) throw error;
        errors.push({
          type: "FieldValueInvalid",
          field: error.field,
          value: "",
          detail: error.detail,
        });
      }
    }
    if (errors.length) throw invalid(def.kind, def.group, meta.name ?? "", errors);
    return warnings;
  }

  #applyUpdate(
    t: Target,
    existing: KubeObject,
    candidate: KubeObject,
    options: WriteOptions,
  ): WriteResult {
    const { def } = t;
    const old = existing.metadata;
    const meta = candidate.metadata;
    if (meta.name !== undefined && meta.name !== t.name) {
      throw badRequest(
        `the name of the object (${meta.name}) does not match the name on the URL (${t.name})`,
      );
    }
    if (def.namespaced && meta.namespace && meta.namespace !== t.namespace) {
      throw badRequest(
        "the namespace of the provided object does not match the namespace sent on the request",
      );
    }
    if (meta.resourceVersion && meta.resourceVersion !== old.resourceVersion) {
      throw conflict(def, t.name!, OPTIMISTIC_LOCK_MESSAGE);
    }
    let next: KubeObject;
    if (t.subresource === "status") {
      // Only status changes through /status; everything else comes from the stored object.
      next = clone(existing);
      if ("status" in candidate) next.status = candidate.status;
      else delete next.status;
    } else {
      next = candidate;
      if (t.version.statusSubresource) {
        if ("status" in existing) next.status = clone(existing.status);
        else delete next.status;
      }
    }
    const m = next.metadata;
    m.name = t.name;
    if (def.namespaced) m.namespace = t.namespace;
    else delete m.namespace;
    m.resourceVersion = old.resourceVersion;
    if (def.tracksGeneration) m.generation = old.generation;
    else delete m.generation;
    m.creationTimestamp = old.creationTimestamp;
    if (!m.uid) m.uid = old.uid;
    if (old.deletionTimestamp) m.deletionTimestamp = old.deletionTimestamp;
    if (
      old.deletionGracePeriodSeconds !== undefined && m.deletionGracePeriodSeconds === undefined
    ) {
      m.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
    }
    delete m.managedFields;
    delete (m as Record<string, unknown>).selfLink;
    if (def.storageKey === NAMESPACES) {
      m.labels = { ...m.labels, [NAMESPACE_NAME_LABEL]: old.name! };
    }
    const errors: FieldError[] = [];
    if (m.uid !== old.uid) {
      errors.push({
        type: "FieldValueInvalid",
        field: "metadata.uid",
        value: m.uid,
        detail: "field is immutable",
      });
    }
    if (!old.deletionTimestamp && m.deletionTimestamp) {
      errors.push({
        type: "FieldValueInvalid",
        field: "metadata.deletionTimestamp",
        value: m.deletionTimestamp,
        detail: "field is immutable; may only be changed via deletion",
      });
    }
    if (old.deletionTimestamp) {
      const added = (m.finalizers ?? []).filter((f) => !(old.finalizers ?? []).includes(f));
      if (added.length) {
        errors.push({
          type: "FieldValueForbidden",
          field: "metadata.finalizers",
          detail:
            `no new finalizers can be added if the object is being deleted, found new finalizers []string{${
              added.map((f) => JSON.stringify(f)).join(", ")
            }}`,
        });
      }
    }
    if (errors.length) throw invalid(def.kind, def.group, t.name!, errors);
    if (m.finalizers && m.finalizers.length === 0) delete m.finalizers;
    const warnings = this.#admit(t, next, options, existing);
    if (
      def.tracksGeneration &&
      !jsonEqual(
        specContent(next, t.version.statusSubresource),
        specContent(existing, t.version.statusSubresource),
      )
    ) {
      m.generation = (old.generation ?? 0) + 1;
    }
    if (jsonEqual(next, existing)) {
      // Real servers skip writes that change nothing: no new resourceVersion, no event.
      return { code: 200, body: encode(def, t.version.name, existing), warnings };
    }
    const finished = old.deletionTimestamp && !(m.finalizers?.length) &&
      !(def.storageKey === NAMESPACES &&
        (next.spec as { finalizers?: string[] })?.finalizers?.length);
    if (finished && !options.dryRun) {
      // As kube-apiserver: the key is deleted without writing the update first, so the DELETED
      // event shows the object as last stored (finalizers included); the reply shows the update.
      const gone = this.#commit("DELETED", def, clone(existing), existing, options);
      next.metadata.resourceVersion = gone.metadata.resourceVersion;
      return { code: 200, body: encode(def, t.version.name, next), warnings };
    }
    const saved = this.#commit(finished ? "DELETED" : "MODIFIED", def, next, existing, options);
    return { code: 200, body: encode(def, t.version.name, saved), warnings };
  }

  #commit(
    type: EventType,
    def: ResourceDef,
    object: KubeObject,
    previous: KubeObject | undefined,
    options: WriteOptions,
  ): KubeObject {
    if (options.dryRun) {
      if (type === "ADDED") delete object.metadata.resourceVersion;
      return object;
    }
    const saved = this.#store.commit(type, def.storageKey, object, previous);
    if (def.storageKey === CRDS) this.#crdChanged(type, saved);
    if (type === "DELETED" && def.namespaced) this.#maybeFinishNamespace(saved.metadata.namespace!);
    return saved;
  }

  #deletedBody(t: Target, removed: KubeObject): unknown {
    if (t.def.returnsDeletedObject) return encode(t.def, t.version.name, removed);
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: {
        name: removed.metadata.name,
        group: t.def.group || undefined,
        kind: t.def.plural,
        uid: removed.metadata.uid,
      },
    };
  }

  #prepareCrd(object: KubeObject, now: string): void {
    const spec = object.spec as { names: unknown; versions: { name: string; storage: boolean }[] };
    const condition = (type: string, reason: string, message: string) => ({
      type,
      status: "True",
      lastTransitionTime: now,
      reason,
      message,
    });
    object.status = {
      conditions: [
        condition("NamesAccepted", "NoConflicts", "no conflicts found"),
        condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
      ],
      acceptedNames: spec.names,
      storedVersions: spec.versions.filter((v) => v.storage).map((v) => v.name),
    };
  }

  /** Keeps the served types in step with CRD objects. */
  #crdChanged(type: EventType, crd: KubeObject): void {
    const def = crdToResource(crd);
    if (type !== "DELETED") {
      this.#catalog.register(def);
      return;
    }
    this.#catalog.unregister(def.group, def.plural);
    for (const object of this.#store.list(def.storageKey)) {
      this.#store.commit("DELETED", def.storageKey, clone(object), object);
    }
  }

  /** The namespace controller's job: delete everything in a terminating namespace. */
  #emptyNamespace(namespace: string): void {
    const seen = new Set<string>();
    for (const def of this.#catalog.all()) {
      if (!def.namespaced || seen.has(def.storageKey)) continue;
      seen.add(def.storageKey);
      for (const object of this.#store.list(def.storageKey, namespace)) {
        this.delete({ def, version: def.versions[0], namespace, name: object.metadata.name }, {});
      }
    }
    this.#maybeFinishNamespace(namespace);
  }

  #maybeFinishNamespace(namespace: string): void {
    const ns = this.#store.get(NAMESPACES, undefined, namespace);
    if (!ns?.metadata.deletionTimestamp) return;
    const storageKeys = new Set(
      this.#catalog.all().filter((d) => d.namespaced).map((d) => d.storageKey),
    );
    for (const key of storageKeys) if (this.#store.count(key, namespace) > 0) return;
    const def = this.#catalog.get("", "namespaces")!;
    const specFinalizers = (ns.spec as { finalizers?: string[] } | undefined)?.finalizers ?? [];
    if (specFinalizers.length === 0) return; // already finalized; waits for metadata.finalizers
    const next = clone(ns);
    next.spec = { ...next.spec as object, finalizers: [] };
    const done = !(next.metadata.finalizers?.length);
    this.#store.commit(done ? "DELETED" : "MODIFIED", def.storageKey, next, ns);
  }
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return [...bytes].map((b) => GENERATE_ALPHABET[b % GENERATE_ALPHABET.length]).join("");
}
