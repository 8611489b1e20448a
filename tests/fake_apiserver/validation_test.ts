import assert from "node:assert/strict";
import { call, createWidget, startServer, widget, WIDGETS } from "./_testing.ts";
import { applyDefaults, prune, validateSchema } from "./validation.ts";
import type { JsonSchema } from "./resources.ts";

const SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    spec: {
      type: "object",
      required: ["name"],
      properties: {
        name: { type: "string" },
        count: { type: "integer", default: 1 },
        ratio: { type: "number" },
        on: { type: "boolean" },
        mode: { type: "string", enum: ["a", "b"] },
        maybe: { type: "string", nullable: true },
        list: { type: "array", items: { type: "object", properties: { k: { type: "string" } } } },
        free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        map: { type: "object", additionalProperties: { type: "integer" } },
      },
    },
  },
};

Deno.test("schema validation reports types, required, enum and nullable with field paths", async (t) => {
  const cases: [string, unknown, string, string][] = [
    ["missing required", {}, "spec.name", "FieldValueRequired"],
    ["string expected", { name: 1 }, "spec.name", "FieldValueTypeInvalid"],
    ["integer expected", { name: "n", count: 1.5 }, "spec.count", "FieldValueTypeInvalid"],
    ["number expected", { name: "n", ratio: "x" }, "spec.ratio", "FieldValueTypeInvalid"],
    ["boolean expected", { name: "n", on: "yes" }, "spec.on", "FieldValueTypeInvalid"],
    ["enum", { name: "n", mode: "c" }, "spec.mode", "FieldValueNotSupported"],
    ["non-nullable null", { name: null }, "spec.name", "FieldValueTypeInvalid"],
    ["array items", { name: "n", list: [{ k: 1 }] }, "spec.list[0].k", "FieldValueTypeInvalid"],
    ["map values", { name: "n", map: { a: "x" } }, "spec.map.a", "FieldValueTypeInvalid"],
  ];
  for (const [label, spec, field, type] of cases) {
    await t.step(label, () => {
      const errors = validateSchema({ spec }, SCHEMA);
      assert.equal(errors.length, 1, JSON.stringify(errors));
      assert.equal(errors[0].field, field);
      assert.equal(errors[0].type, type);
    });
  }
  await t.step("nullable accepts null", () => {
    assert.deepEqual(validateSchema({ spec: { name: "n", maybe: null } }, SCHEMA), []);
  });
});

Deno.test("pruning drops undeclared fields but keeps preserve-unknown-fields subtrees", () => {
  const object = {
    apiVersion: "x/v1",
    kind: "X",
    metadata: { name: "n", bogus: 1 },
    spec: { name: "n", junk: true, free: { anything: [1] }, list: [{ k: "a", z: 1 }] },
    other: 1,
  };
  const pruned = prune(object, SCHEMA);
  assert.deepEqual(pruned.sort(), ["metadata.bogus", "other", "spec.junk", "spec.list[0].z"]);
  assert.deepEqual(object, {
    apiVersion: "x/v1",
    kind: "X",
    metadata: { name: "n" },
    spec: { name: "n", free: { anything: [1] }, list: [{ k: "a" }] },
  });
});

Deno.test("defaults fill absent fields", () => {
  const object = { spec: { name: "n" } };
  applyDefaults(object, SCHEMA);
  assert.deepEqual(object, { spec: { name: "n", count: 1 } });
});

Deno.test("an invalid custom resource is rejected with 422 Invalid and causes naming the fields", async () => {
  await using server = await startServer();
  const reply = await call(server, "POST", WIDGETS, widget("a", { size: "big", color: "green" }));
  assert.equal(reply.status, 422);
  assert.equal(reply.body.reason, "Invalid");
  assert.deepEqual(reply.body.details.causes.map((c: { field: string }) => c.field).sort(), [
    "spec.color",
    "spec.size",
  ]);
  assert.match(reply.body.message, /^Widget\.example\.com "a" is invalid: \[/);
  const missing = await call(server, "POST", WIDGETS, widget("b", {}));
  assert.equal(
    missing.body.message,
    'Widget.example.com "b" is invalid: spec.size: Required value',
  );
});

Deno.test("unknown fields are pruned with a warning, or rejected with fieldValidation=Strict", async () => {
  await using server = await startServer();
  const warned = await call(server, "POST", WIDGETS, widget("a", { size: 1, bogus: 2 }));
  assert.equal(warned.status, 201);
  assert.equal(warned.body.spec.bogus, undefined);
  assert.match(warned.headers.get("warning") ?? "", /unknown field \\"spec.bogus\\"/);
  const strict = await call(
    server,
    "POST",
    `${WIDGETS}?fieldValidation=Strict`,
    widget("b", { size: 1, bogus: 2 }),
  );
  assert.equal(strict.status, 400);
  assert.equal(strict.body.message, 'strict decoding error: unknown field "spec.bogus"');
});

Deno.test("updates are validated too", async () => {
  await using server = await startServer();
  const a = await createWidget(server, "a");
  const reply = await call(server, "PUT", `${WIDGETS}/a`, { ...a, spec: { size: -1 } });
  assert.equal(reply.status, 422);
  assert.equal(reply.body.details.causes[0].field, "spec.size");
});

Deno.test("list-type map and set reject duplicate entries", () => {
  const schema: JsonSchema = {
    type: "object",
    properties: {
      byName: {
        type: "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        items: { type: "object", properties: { name: { type: "string" }, v: { type: "integer" } } },
      },
      tags: { type: "array", "x-kubernetes-list-type": "set", items: { type: "string" } },
    },
  };
  const errors = validateSchema({
    byName: [{ name: "a", v: 1 }, { name: "a", v: 2 }],
    tags: ["x", "y", "x"],
  }, schema);
  assert.deepEqual(errors.map((e) => `${e.field} ${e.type}`), [
    "byName[1] FieldValueDuplicate",
    "tags[2] FieldValueDuplicate",
  ]);
});
