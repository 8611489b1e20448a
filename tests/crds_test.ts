import assert from "node:assert/strict";
import { parse } from "yaml";
import { ResourceClient } from "../lib/kube/client.ts";
import { InvalidError } from "../lib/kube/errors.ts";
import type { KubeObject } from "../lib/kube/resource.ts";
import { NODE_IMAGES, NodeImageState, RELEASES } from "../lib/names.ts";
import { FakeApiServer } from "./fake_apiserver/mod.ts";

// A JSON schema node as CRDs write them; loose on purpose, the tests check the contents.
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  minimum?: number;
  format?: string;
  nullable?: boolean;
  default?: unknown;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
}

interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories?: string[];
    };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status?: Record<string, never> };
      additionalPrinterColumns?: {
        name: string;
        type: string;
        jsonPath: string;
        priority?: number;
      }[];
      schema: { openAPIV3Schema: Schema };
    }[];
  };
}

const root = new URL("../", import.meta.url);

async function loadYaml<T>(path: string): Promise<T> {
  return parse(await Deno.readTextFile(new URL(path, root))) as T;
}

const nodeImageCrd = await loadYaml<Crd>("crds/image.giantswarm.io_nodeimages.yaml");
const releaseCrd = await loadYaml<Crd>("crds/release.giantswarm.io_releases.yaml");

/**
 * The subset of apiserver validation these CRDs use: type, nullable, required, enum, pattern,
 * lengths, minItems, minimum, date-time format, and list-type=map key uniqueness. Returns
 * field paths with reasons, like the API server's causes.
 */
function validate(value: unknown, schema: Schema, path = ""): string[] {
  const at = path || "<root>";
  if (value === null) {
    return schema.nullable ? [] : [`${at}: must be of type ${schema.type}: "null"`];
  }
  const actual = Array.isArray(value)
    ? "array"
    : typeof value === "number"
    ? (Number.isInteger(value) ? "integer" : "number")
    : typeof value;
  const expected = schema.type;
  if (expected && !(expected === actual || (expected === "number" && actual === "integer"))) {
    return [`${at}: must be of type ${expected}: "${actual}"`];
  }
  const errors: string[] = [];
  if (schema.enum && !schema.enum.includes(value)) errors.push(`${at}: Unsupported value`);
  if (typeof value === "string") {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      errors.push(`${at}: should be at least ${schema.minLength} chars long`);
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      errors.push(`${at}: may not be more than ${schema.maxLength}`);
    }
    if (schema.pattern && !new RegExp(schema.pattern, "u").test(value)) {
      errors.push(`${at}: should match '${schema.pattern}'`);
    }
    if (schema.format === "date-time" && Number.isNaN(Date.parse(value))) {
      errors.push(`${at}: must be a date-time`);
    }
  }
  if (typeof value === "number" && schema.minimum !== undefined && value < schema.minimum) {
    errors.push(`${at}: should be greater than or equal to ${schema.minimum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      errors.push(`${at}: should have at least ${schema.minItems} items`);
    }
    value.forEach((item, i) => errors.push(...validate(item, schema.items ?? {}, `${path}[${i}]`)));
    if (schema["x-kubernetes-list-type"] === "map") {
      const keys = value.map((item) =>
        JSON.stringify(schema["x-kubernetes-list-map-keys"]!.map((k) => item?.[k]))
      );
      if (new Set(keys).size !== keys.length) errors.push(`${at}: Duplicate value`);
    }
  }
  if (typeof value === "object" && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (object[name] === undefined) {
        errors.push(`${path ? `${path}.` : ""}${name}: Required value`);
      }
    }
    for (const [key, item] of Object.entries(object)) {
      if (item === undefined) continue; // absent in JSON
      const property = schema.properties?.[key];
      if (property) errors.push(...validate(item, property, path ? `${path}.${key}` : key));
    }
  }
  return errors;
}

/** Every schema node, with its path, for structural checks. */
function* nodes(schema: Schema, path = ""): Generator<[string, Schema]> {
  yield [path, schema];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    yield* nodes(child, path ? `${path}.${key}` : key);
  }
  if (schema.items) yield* nodes(schema.items, `${path}[]`);
}

function schemaOf(crd: Crd): Schema {
  return crd.spec.versions[0].schema.openAPIV3Schema;
}

const nodeImageSchema = schemaOf(nodeImageCrd);
const releaseSchema = schemaOf(releaseCrd);

/** What the Go operator writes: spec plus a status with only `releases` and `state`. */
const goNodeImage = {
  apiVersion: "image.giantswarm.io/v1alpha1",
  kind: "NodeImage",
  metadata: {
    name: "capv-flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
    namespace: "giantswarm",
  },
  spec: { name: "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs", provider: "capv" },
  status: { releases: ["vsphere-30.0.0", "vsphere-30.1.0"], state: "Available" },
};

/** What this operator writes once both controllers ran. */
const newNodeImage = {
  ...goNodeImage,
  status: {
    releases: ["vsphere-30.0.0"],
    state: "Uploading",
    observedGeneration: 1,
    ready: "1/2",
    releaseCount: 1,
    conditions: [{
      type: "Ready",
      status: "False",
      reason: "Uploading",
      message: "1 of 2 locations available",
      lastTransitionTime: "2026-03-02T09:00:00Z",
      observedGeneration: 1,
    }],
    locations: [
      {
        name: "location1",
        state: "Available",
        reference: "/dc/vm/flatcar",
        bytesTotal: 10,
        bytesDone: 10,
      },
      {
        name: "location2",
        state: "Uploading",
        message: "",
        lastTransitionTime: "2026-03-02T09:00:00Z",
        startedAt: "2026-03-02T09:00:00Z",
        bytesTotal: 5_000_000_000,
        bytesDone: 1_000_000,
      },
    ],
  },
};

Deno.test("the NodeImage CRD has the names, scope and subresource of the Go operator's", () => {
  const { spec, metadata, apiVersion, kind } = nodeImageCrd;
  assert.equal(apiVersion, "apiextensions.k8s.io/v1");
  assert.equal(kind, "CustomResourceDefinition");
  assert.equal(metadata.name, "nodeimages.image.giantswarm.io");
  assert.equal(spec.group, NODE_IMAGES.group);
  assert.equal(spec.scope, "Namespaced");
  assert.deepEqual(
    { ...spec.names, categories: undefined },
    {
      kind: "NodeImage",
      listKind: "NodeImageList",
      plural: NODE_IMAGES.plural,
      singular: "nodeimage",
      shortNames: ["ni"],
      categories: undefined,
    },
  );
  assert.equal(spec.versions.length, 1);
  const [version] = spec.versions;
  assert.equal(version.name, NODE_IMAGES.version);
  assert.ok(version.served && version.storage);
  assert.deepEqual(version.subresources, { status: {} });
});

Deno.test("the NodeImage printer columns show provider, image, state, ready, releases and age", () => {
  const columns = nodeImageCrd.spec.versions[0].additionalPrinterColumns!.map((c) => [
    c.name,
    c.type,
    c.jsonPath,
  ]);
  assert.deepEqual(columns, [
    ["Provider", "string", ".spec.provider"],
    ["Image", "string", ".spec.name"],
    ["State", "string", ".status.state"],
    ["Ready", "string", ".status.ready"],
    ["Releases", "integer", ".status.releaseCount"],
    ["Age", "date", ".metadata.creationTimestamp"],
  ]);
  for (const [, , jsonPath] of columns) {
    const fieldPath = jsonPath.slice(1);
    if (fieldPath.startsWith("metadata.")) continue;
    const declared = [...nodes(nodeImageSchema)].some(([path]) => path === fieldPath);
    assert.ok(declared, `${jsonPath} is declared in the schema (else it is pruned)`);
  }
});

Deno.test("the NodeImage schema requires a non-empty spec and nothing in status", () => {
  const spec = nodeImageSchema.properties!.spec;
  assert.deepEqual(spec.required, ["name", "provider"]);
  assert.equal(spec.properties!.name.minLength, 1);
  assert.equal(spec.properties!.provider.minLength, 1);
  const status = nodeImageSchema.properties!.status;
  assert.equal(status.required, undefined, "no status field is required (compatibility, §11.10)");
  assert.equal(status.properties!.state.enum, undefined, "state stays an open string");
  assert.deepEqual(Object.keys(status.properties!).sort(), [
    "conditions",
    "locations",
    "observedGeneration",
    "ready",
    "releaseCount",
    "releases",
    "state",
  ]);
  assert.equal(status.properties!.observedGeneration.format, "int64");
});

Deno.test("NodeImage conditions follow metav1.Condition and locations are a map keyed by name", () => {
  const status = nodeImageSchema.properties!.status.properties!;
  const conditions = status.conditions;
  assert.equal(conditions["x-kubernetes-list-type"], "map");
  assert.deepEqual(conditions["x-kubernetes-list-map-keys"], ["type"]);
  assert.deepEqual(conditions.items!.required, [
    "type",
    "status",
    "reason",
    "message",
    "lastTransitionTime",
  ]);
  assert.deepEqual(conditions.items!.properties!.status.enum, ["True", "False", "Unknown"]);
  assert.equal(conditions.items!.properties!.lastTransitionTime.format, "date-time");

  const locations = status.locations;
  assert.equal(locations["x-kubernetes-list-type"], "map");
  assert.deepEqual(locations["x-kubernetes-list-map-keys"], ["name"]);
  assert.deepEqual(locations.items!.required, ["name"]);
  const item = locations.items!.properties!;
  for (const name of ["state", "message", "reference"]) assert.equal(item[name].type, "string");
  for (const name of ["lastTransitionTime", "startedAt"]) {
    assert.equal(item[name].format, "date-time");
  }
  for (const name of ["bytesTotal", "bytesDone"]) {
    assert.equal(item[name].type, "integer");
    assert.equal(item[name].format, "int64");
  }
});

Deno.test("both CRDs are structural: every node has a type and map-list keys are required", async (t) => {
  for (
    const [name, schema] of [["NodeImage", nodeImageSchema], ["Release", releaseSchema]] as const
  ) {
    await t.step(name, () => {
      for (const [path, node] of nodes(schema)) {
        assert.ok(node.type, `${name} ${path || "<root>"} has a type`);
        if (node.pattern) new RegExp(node.pattern, "u"); // throws when the pattern is not valid
        for (const key of node["x-kubernetes-list-map-keys"] ?? []) {
          assert.ok(
            node.items?.required?.includes(key),
            `${name} ${path}: map key ${key} required`,
          );
        }
      }
    });
  }
});

Deno.test("NodeImages validate: as the Go operator wrote them, as we write them, fresh", async (t) => {
  await t.step(
    "a Go-operator-made NodeImage",
    () => assert.deepEqual(validate(goNodeImage, nodeImageSchema), []),
  );
  await t.step("a NodeImage with every new status field", () => {
    assert.deepEqual(validate(newNodeImage, nodeImageSchema), []);
  });
  await t.step("a fresh NodeImage without status", () => {
    assert.deepEqual(validate({ ...goNodeImage, status: undefined }, nodeImageSchema), []);
  });
  await t.step("a status with only a state or only releases", () => {
    assert.deepEqual(validate({ ...goNodeImage, status: { state: "" } }, nodeImageSchema), []);
    assert.deepEqual(validate({ ...goNodeImage, status: { releases: [] } }, nodeImageSchema), []);
  });
  await t.step("every state name", () => {
    for (const state of Object.values(NodeImageState)) {
      assert.deepEqual(
        validate({ ...goNodeImage, status: { releases: [], state } }, nodeImageSchema),
        [],
      );
    }
  });
});

Deno.test("invalid NodeImages are rejected naming the field", async (t) => {
  const cases: [string, unknown, string][] = [
    ["an empty spec.name", { ...goNodeImage, spec: { name: "", provider: "capv" } }, "spec.name"],
    ["a missing spec.provider", { ...goNodeImage, spec: { name: "x" } }, "spec.provider"],
    ["a missing spec", { ...goNodeImage, spec: {} }, "spec.name"],
    [
      "releases as a string",
      { ...goNodeImage, status: { releases: "a", state: "" } },
      "status.releases",
    ],
    [
      "a condition without reason",
      {
        ...newNodeImage,
        status: { conditions: [{ ...newNodeImage.status.conditions[0], reason: undefined }] },
      },
      "status.conditions[0].reason",
    ],
    [
      "a condition status of yes",
      {
        ...newNodeImage,
        status: { conditions: [{ ...newNodeImage.status.conditions[0], status: "yes" }] },
      },
      "status.conditions[0].status",
    ],
    [
      "two locations with one name",
      { ...newNodeImage, status: { locations: [{ name: "a" }, { name: "a" }] } },
      "status.locations",
    ],
    [
      "negative bytesDone",
      { ...newNodeImage, status: { locations: [{ name: "a", bytesDone: -1 }] } },
      "status.locations[0].bytesDone",
    ],
    [
      "a location without name",
      { ...newNodeImage, status: { locations: [{ state: "Available" }] } },
      "status.locations[0].name",
    ],
  ];
  for (const [name, object, field] of cases) {
    await t.step(name, () => {
      const errors = validate(JSON.parse(JSON.stringify(object)), nodeImageSchema);
      assert.ok(errors.some((e) => e.startsWith(`${field}:`)), `errors name ${field}: ${errors}`);
    });
  }
});

Deno.test("the Release CRD has release-operator's names, scope, columns and shape", () => {
  const { spec, metadata } = releaseCrd;
  assert.equal(metadata.name, "releases.release.giantswarm.io");
  assert.equal(spec.group, RELEASES.group);
  assert.equal(spec.scope, "Cluster");
  assert.equal(spec.names.kind, "Release");
  assert.equal(spec.names.plural, RELEASES.plural);
  assert.deepEqual(spec.names.categories, ["common", "giantswarm"]);
  const [version] = spec.versions;
  assert.equal(version.name, RELEASES.version);
  assert.deepEqual(version.subresources, { status: {} });
  assert.deepEqual(
    version.additionalPrinterColumns!.map((c) => [c.name, c.jsonPath, c.priority ?? 0]),
    [
      ["Kubernetes version", '.spec.components[?(@.name=="kubernetes")].version', 0],
      ["Flatcar version", '.spec.components[?(@.name=="flatcar")].version', 0],
      ["Age", ".spec.date", 0],
      ["Release notes", ".metadata.annotations['giantswarm\\.io/release-notes']", 1],
    ],
  );
  const releaseSpec = releaseSchema.properties!.spec;
  assert.deepEqual(releaseSpec.required, ["apps", "components", "date", "state"]);
  assert.equal(releaseSpec.properties!.components.minItems, 1);
  assert.deepEqual(releaseSpec.properties!.state.enum, ["active", "deprecated", "wip", "preview"]);
  assert.equal(
    releaseSpec.properties!.components.items!.properties!.catalog.default,
    "control-plane-catalog",
  );
  assert.deepEqual(Object.keys(releaseSchema.properties!.status.properties!).sort(), [
    "inUse",
    "ready",
  ]);
});

Deno.test("the example Release validates and broken ones are rejected naming the field", async (t) => {
  const example = await loadYaml<Record<string, unknown>>(
    "tests/fixtures/release-vsphere-34.1.0.yaml",
  );
  await t.step(
    "the example release.yaml",
    () => assert.deepEqual(validate(example, releaseSchema), []),
  );
  const spec = example.spec as Record<string, unknown>;
  const components = spec.components as Record<string, unknown>[];
  const cases: [string, unknown, string][] = [
    ["no components", { ...example, spec: { ...spec, components: [] } }, "spec.components"],
    ["a v-prefixed version", {
      ...example,
      spec: { ...spec, components: [{ name: "kubernetes", version: "v1.30.4" }] },
    }, "spec.components[0].version"],
    ["an unknown state", { ...example, spec: { ...spec, state: "retired" } }, "spec.state"],
    ["no date", { ...example, spec: { ...spec, date: undefined } }, "spec.date"],
    ["a component without version", {
      ...example,
      spec: { ...spec, components: [{ ...components[0], version: undefined }] },
    }, "spec.components[0].version"],
  ];
  for (const [name, object, field] of cases) {
    await t.step(name, () => {
      const errors = validate(JSON.parse(JSON.stringify(object)), releaseSchema);
      assert.ok(errors.some((e) => e.startsWith(`${field}:`)), `errors name ${field}: ${errors}`);
    });
  }
  await t.step("a pre-release version and a null endOfLifeDate are fine", () => {
    const release = {
      ...example,
      spec: {
        ...spec,
        endOfLifeDate: null,
        components: [{ name: "kubernetes", version: "1.30.4-rc.1" }],
      },
    };
    assert.deepEqual(validate(release, releaseSchema), []);
  });
});

Deno.test("the fake API server serves both CRDs: valid objects are stored, invalid ones get 422", async (t) => {
  const server = await FakeApiServer.start({ crdDir: new URL("crds", root).pathname });
  const transport = server.transport();
  const nodeImages = new ResourceClient<KubeObject>(transport, NODE_IMAGES);
  const releases = new ResourceClient<KubeObject>(transport, RELEASES);
  const namespace = "default";
  try {
    await t.step("a NodeImage as the Go operator made it, status included", async () => {
      const { status, ...object } = structuredClone(goNodeImage);
      const created = await nodeImages.create({
        ...object,
        metadata: { ...object.metadata, namespace },
      });
      const updated = await nodeImages.updateStatus({ ...created, status });
      assert.deepEqual(updated.status, status);
      assert.deepEqual(updated.spec, goNodeImage.spec);
    });
    await t.step("every new status field is kept, not pruned", async () => {
      const current = await nodeImages.get(goNodeImage.metadata.name, namespace);
      const updated = await nodeImages.updateStatus({ ...current, status: newNodeImage.status });
      assert.deepEqual(updated.status, newNodeImage.status);
    });
    await t.step("the example Release", async () => {
      const example = await loadYaml<KubeObject>("tests/fixtures/release-vsphere-34.1.0.yaml");
      const created = await releases.create(example);
      assert.equal(created.metadata.name, "vsphere-34.1.0");
      const components = (created.spec as { components: { name: string; catalog?: string }[] })
        .components;
      assert.equal(components.find((c) => c.name === "flatcar")?.catalog, "control-plane-catalog");
    });
    const invalid: [string, Record<string, unknown>, string][] = [
      ["an empty spec.name", { name: "", provider: "capv" }, "spec.name"],
      ["a missing spec.provider", { name: "flatcar-stable-1.0.0" }, "spec.provider"],
    ];
    for (const [name, spec, field] of invalid) {
      await t.step(`a NodeImage with ${name} is rejected with 422 naming ${field}`, async () => {
        await assert.rejects(
          nodeImages.create({
            apiVersion: "image.giantswarm.io/v1alpha1",
            kind: "NodeImage",
            metadata: { name: "capv-broken", namespace },
            spec,
          }),
          (error: unknown) => {
            assert.ok(error instanceof InvalidError, `expected 422, got ${error}`);
            assert.equal(error.code, 422);
            const fields = error.status.details?.causes?.map((c) => c.field) ?? [];
            assert.ok(fields.includes(field), `causes name ${field}: ${JSON.stringify(fields)}`);
            assert.match(error.message, new RegExp(field.replace(".", "\\.")));
            return true;
          },
        );
      });
    }
  } finally {
    transport.close();
    await server.close();
  }
});
