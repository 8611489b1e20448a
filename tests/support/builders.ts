/**
 * Small chainable fixture builders for Releases and NodeImages.
 *
 * Defaults are valid against the faithful Release CRD in `crds/` (apps, date, state and semver
 * component versions are required), and the default components are those of the real
 * `vsphere-35.0.0` (flatcar 4593.2.3, kubernetes 1.35.6, os-tooling 1.32.1).
 *
 * @example
 * ```ts
 * const r = release("vsphere-35.0.0").withFlatcar("4593.2.4").build();
 * const ni = nodeImage("capv-flatcar-…-gs").withReleases("vsphere-35.0.0").withState("Available").build();
 * ```
 */
import { LAST_USED_ANNOTATION, NODE_IMAGES, RELEASES } from "../../lib/names.ts";
import { apiVersionOf } from "../../lib/kube/resource.ts";
import type { NodeImage, Release } from "../../lib/release/objects.ts";

/** Namespace NodeImages are built in unless `inNamespace` says otherwise. */
export const TEST_NAMESPACE = "giantswarm";

/** Builds a Release. Each `with…` returns the same builder. */
export class ReleaseBuilder {
  readonly #object: Release;

  constructor(name: string) {
    this.#object = {
      apiVersion: apiVersionOf(RELEASES),
      kind: RELEASES.kind,
      metadata: { name },
      spec: {
        apps: [],
        components: [
          { name: "cluster-vsphere", version: "6.6.0" },
          { name: "flatcar", version: "4593.2.3" },
          { name: "kubernetes", version: "1.35.6" },
          { name: "os-tooling", version: "1.32.1" },
        ],
        date: "2026-03-02T09:00:00Z",
        state: "active",
      },
    };
  }

  withFlatcar(version: string): this {
    return this.withComponent("flatcar", version);
  }

  withKubernetes(version: string): this {
    return this.withComponent("kubernetes", version);
  }

  withTooling(version: string): this {
    return this.withComponent("os-tooling", version);
  }

  /** Sets (or adds) a component's version. */
  withComponent(name: string, version: string): this {
    const components = this.#object.spec!.components!;
    const found = components.find((c) => c.name === name);
    if (found) found.version = version;
    else components.push({ name, version });
    return this;
  }

  /** Adds one more entry for `name` (after any there is), as a hand-edited Release might. */
  withDuplicateComponent(name: string, version: string): this {
    this.#object.spec!.components!.push({ name, version });
    return this;
  }

  withoutComponent(name: string): this {
    const spec = this.#object.spec!;
    spec.components = spec.components!.filter((c) => c.name !== name);
    return this;
  }

  withAnnotation(key: string, value: string): this {
    this.#object.metadata.annotations = { ...this.#object.metadata.annotations, [key]: value };
    return this;
  }

  withLabel(key: string, value: string): this {
    this.#object.metadata.labels = { ...this.#object.metadata.labels, [key]: value };
    return this;
  }

  withFinalizers(...finalizers: string[]): this {
    this.#object.metadata.finalizers = [...finalizers];
    return this;
  }

  /** Sets any `spec` field, e.g. one the CRD gained after the Go SDK was written. */
  withSpecField(key: string, value: unknown): this {
    this.#object.spec![key] = value;
    return this;
  }

  build(): Release {
    return structuredClone(this.#object);
  }
}

/** Builds a NodeImage. Each `with…` returns the same builder. */
export class NodeImageBuilder {
  readonly #object: NodeImage;

  constructor(name: string) {
    const dash = name.indexOf("-");
    this.#object = {
      apiVersion: apiVersionOf(NODE_IMAGES),
      kind: NODE_IMAGES.kind,
      metadata: { name, namespace: TEST_NAMESPACE },
      spec: { name: name.slice(dash + 1), provider: name.slice(0, dash) },
    };
  }

  inNamespace(namespace: string): this {
    this.#object.metadata.namespace = namespace;
    return this;
  }

  withReleases(...releases: string[]): this {
    this.#status().releases = [...releases];
    return this;
  }

  withState(state: string): this {
    this.#status().state = state;
    return this;
  }

  withLastUsed(value: string): this {
    this.#object.metadata.annotations = {
      ...this.#object.metadata.annotations,
      [LAST_USED_ANNOTATION]: value,
    };
    return this;
  }

  withDeletionTimestamp(value = "2025-01-01T00:00:00Z"): this {
    this.#object.metadata.deletionTimestamp = value;
    return this;
  }

  withFinalizers(...finalizers: string[]): this {
    this.#object.metadata.finalizers = [...finalizers];
    return this;
  }

  /** uid and resourceVersion, as a read from the API server would carry them. */
  withVersion(uid: string, resourceVersion: string): this {
    this.#object.metadata.uid = uid;
    this.#object.metadata.resourceVersion = resourceVersion;
    return this;
  }

  /** The object with its status (for plans and caches). */
  build(): NodeImage {
    return structuredClone(this.#object);
  }

  /** The object without status (what a create sends); the status goes in a second write. */
  buildForCreate(): NodeImage {
    const { status: _status, ...rest } = structuredClone(this.#object);
    return rest as NodeImage;
  }

  #status() {
    return this.#object.status ??= {};
  }
}

/** `release("vsphere-35.0.0").withFlatcar("4593.2.3").build()` */
export function release(name: string): ReleaseBuilder {
  return new ReleaseBuilder(name);
}

/** `nodeImage("capv-flatcar-…-gs").withReleases("vsphere-35.0.0").build()` */
export function nodeImage(name: string): NodeImageBuilder {
  return new NodeImageBuilder(name);
}

/** The NodeImage name the default `release()` components give, for a provider id. */
export function defaultImageName(providerId: string, flatcar = "4593.2.3"): string {
  return `${providerId}-flatcar-stable-${flatcar}-kube-1.35.6-tooling-1.32.1-gs`;
}
