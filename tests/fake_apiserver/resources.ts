/**
 * The resource types the fake serves: built-ins (namespaces, both event APIs, leases, CRDs,
 * ServiceAccounts and RBAC's four types, for the reviews in access_review.ts) and
 * one definition per CustomResourceDefinition it is given.
 *
 * Deviations: built-in types carry no schema; Events and Leases get kube-apiserver's own
 * validation in code (builtin_validation.ts), namespaces and CRDs little beyond names; the
 * events.k8s.io/v1 view shares storage with core v1 events and converts field names like a real
 * server, but only the fields listed in events.ts.
 */

/** A subset of an openAPIV3Schema node, enough for structural validation and pruning. */
export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  required?: string[];
  enum?: unknown[];
  nullable?: boolean;
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  description?: string;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
}

export interface PrinterColumn {
  name: string;
  type: string;
  format?: string;
  description?: string;
  priority?: number;
  jsonPath: string;
  /** Built-in columns computed in code rather than by JSONPath (events' "Object"). */
  value?: (object: Record<string, unknown>) => unknown;
}

export interface VersionDef {
  name: string;
  schema?: JsonSchema;
  statusSubresource: boolean;
  printerColumns: PrinterColumn[];
}

export interface ResourceDef {
  group: string;
  plural: string;
  singular: string;
  kind: string;
  listKind: string;
  shortNames: string[];
  categories: string[];
  namespaced: boolean;
  /** Served versions, in the CRD's order. */
  versions: VersionDef[];
  /** Built-in types accept strategic merge patch and unconditional updates. */
  builtin: boolean;
  /** CRs and CRDs track metadata.generation; the built-ins served here do not. */
  tracksGeneration: boolean;
  /** DELETE answers the object itself instead of a Success Status (namespaces do). */
  returnsDeletedObject: boolean;
  /** Field labels accepted by fieldSelector besides metadata.name/metadata.namespace. */
  extraFieldLabels: string[];
  /** Storage key shared by several APIs (core and events.k8s.io events). */
  storageKey: string;
}

export function resourceKey(group: string, plural: string): string {
  return `${group}/${plural}`;
}

export function versionOf(def: ResourceDef, version: string): VersionDef | undefined {
  return def.versions.find((v) => v.name === version);
}

const AGE: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

function builtin(
  partial: Partial<ResourceDef> & Pick<ResourceDef, "group" | "plural" | "kind" | "namespaced">,
  version: Partial<VersionDef> & { name: string },
): ResourceDef {
  return {
    singular: partial.kind.toLowerCase(),
    listKind: `${partial.kind}List`,
    shortNames: [],
    categories: [],
    builtin: true,
    tracksGeneration: false,
    returnsDeletedObject: false,
    extraFieldLabels: [],
    storageKey: resourceKey(partial.group, partial.plural),
    versions: [{ statusSubresource: false, printerColumns: [], ...version }],
    ...partial,
  };
}

const EVENT_COLUMNS: PrinterColumn[] = [
  // A date column renders as an age, which is what the real "Last Seen" cell shows.
  { name: "Last Seen", type: "date", jsonPath: ".lastTimestamp" },
  { name: "Type", type: "string", jsonPath: ".type" },
  { name: "Reason", type: "string", jsonPath: ".reason" },
  {
    name: "Object",
    type: "string",
    jsonPath: ".involvedObject.name",
    value: (o) => {
      const ref = (o.involvedObject ?? o.regarding ?? {}) as { kind?: string; name?: string };
      return `${String(ref.kind ?? "").toLowerCase()}/${ref.name ?? ""}`;
    },
  },
  { name: "Message", type: "string", jsonPath: ".message" },
];

/** The built-in types, fresh objects per server. */
export function builtinResources(): ResourceDef[] {
  return [
    builtin({
      group: "",
      plural: "namespaces",
      kind: "Namespace",
      namespaced: false,
      shortNames: ["ns"],
      returnsDeletedObject: true,
      extraFieldLabels: ["status.phase"],
    }, {
      name: "v1",
      statusSubresource: true,
      printerColumns: [{ name: "Status", type: "string", jsonPath: ".status.phase" }, AGE],
    }),
    builtin({
      group: "",
      plural: "events",
      kind: "Event",
      namespaced: true,
      shortNames: ["ev"],
      extraFieldLabels: [
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
      ],
    }, { name: "v1", printerColumns: EVENT_COLUMNS }),
    builtin({
      group: "events.k8s.io",
      plural: "events",
      kind: "Event",
      namespaced: true,
      shortNames: ["ev"],
      storageKey: resourceKey("", "events"),
    }, { name: "v1", printerColumns: EVENT_COLUMNS }),
    builtin({
      group: "coordination.k8s.io",
      plural: "leases",
      kind: "Lease",
      namespaced: true,
    }, {
      name: "v1",
      printerColumns: [{ name: "Holder", type: "string", jsonPath: ".spec.holderIdentity" }, AGE],
    }),
    builtin({
      group: "",
      plural: "serviceaccounts",
      kind: "ServiceAccount",
      namespaced: true,
      shortNames: ["sa"],
    }, { name: "v1", printerColumns: [AGE] }),
    // Stored as given; access_review.ts reads them to answer SubjectAccessReviews.
    ...[
      ["roles", "Role", true],
      ["rolebindings", "RoleBinding", true],
      ["clusterroles", "ClusterRole", false],
      ["clusterrolebindings", "ClusterRoleBinding", false],
    ].map(([plural, kind, namespaced]) =>
      builtin({
        group: "rbac.authorization.k8s.io",
        plural: plural as string,
        kind: kind as string,
        namespaced: namespaced as boolean,
      }, { name: "v1", printerColumns: [AGE] })
    ),
    builtin({
      group: "apiextensions.k8s.io",
      plural: "customresourcedefinitions",
      kind: "CustomResourceDefinition",
      namespaced: false,
      shortNames: ["crd", "crds"],
      categories: ["api-extensions"],
      tracksGeneration: true,
    }, {
      name: "v1",
      statusSubresource: true,
      printerColumns: [{
        name: "Created At",
        type: "date",
        jsonPath: ".metadata.creationTimestamp",
      }],
    }),
  ];
}

/** Thrown when a CRD object cannot be served; the message names the CRD and the field. */
export class InvalidCrdError extends Error {
  override name = "InvalidCrdError";
  constructor(readonly field: string, readonly detail: string, crdName: string) {
    super(`Cannot serve CustomResourceDefinition "${crdName}": ${field}: ${detail}`);
  }
}

// deno-lint-ignore no-explicit-any
type Loose = any;

/** Builds the served definition of an apiextensions.k8s.io/v1 CustomResourceDefinition. */
export function crdToResource(crd: unknown): ResourceDef {
  const c = crd as Loose;
  const crdName = String(c?.metadata?.name ?? "");
  const fail = (field: string, detail: string) => new InvalidCrdError(field, detail, crdName);
  if (c?.kind !== "CustomResourceDefinition") {
    throw fail("kind", "must be CustomResourceDefinition");
  }
  const spec = c.spec ?? {};
  const names = spec.names ?? {};
  if (!spec.group) throw fail("spec.group", "Required value");
  if (!names.plural) throw fail("spec.names.plural", "Required value");
  if (!names.kind) throw fail("spec.names.kind", "Required value");
  if (crdName !== `${names.plural}.${spec.group}`) {
    throw fail("metadata.name", `must be spec.names.plural+"."+spec.group`);
  }
  if (spec.scope !== "Namespaced" && spec.scope !== "Cluster") {
    throw fail("spec.scope", `Unsupported value: ${JSON.stringify(spec.scope)}`);
  }
  const versions: Loose[] = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0) {
    throw fail("spec.versions", "must have exactly one version marked as storage version");
  }
  if (versions.filter((v) => v.storage).length !== 1) {
    throw fail("spec.versions", "must have exactly one version marked as storage version");
  }
  return {
    group: spec.group,
    plural: names.plural,
    singular: names.singular || names.kind.toLowerCase(),
    kind: names.kind,
    listKind: names.listKind || `${names.kind}List`,
    shortNames: names.shortNames ?? [],
    categories: names.categories ?? [],
    namespaced: spec.scope === "Namespaced",
    versions: versions.filter((v) => v.served).map((v) => ({
      name: v.name,
      schema: v.schema?.openAPIV3Schema,
      statusSubresource: Boolean(v.subresources && "status" in v.subresources),
      printerColumns: (v.additionalPrinterColumns ?? []).map((col: Loose) => ({
        name: col.name,
        type: col.type,
        format: col.format,
        description: col.description,
        priority: col.priority ?? 0,
        jsonPath: col.jsonPath,
      })),
    })),
    builtin: false,
    tracksGeneration: true,
    returnsDeletedObject: false,
    extraFieldLabels: [],
    storageKey: resourceKey(spec.group, names.plural),
  };
}

/**
 * Kubernetes version priority (v1 > v1beta2 > v1beta1 > v1alpha1 > other strings), used to
 * pick a group's preferred version like the real discovery does.
 */
export function compareKubeVersions(a: string, b: string): number {
  const rank = (v: string): [number, number, number, string] => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0, v];
    const stage = m[2] === undefined ? 0 : m[2] === "beta" ? 1 : 2;
    return [stage, -Number(m[1]), -Number(m[3] ?? 0), v];
  };
  const ra = rank(a), rb = rank(b);
  for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
  return ra[3] < rb[3] ? -1 : ra[3] > rb[3] ? 1 : 0;
}
