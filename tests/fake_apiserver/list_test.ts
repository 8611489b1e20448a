import assert from "node:assert/strict";
import { call, createWidget, startServer, WIDGETS } from "./_testing.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { ApiFailure } from "./status.ts";

Deno.test("label selectors support =, ==, !=, in, notin, exists and !key", async (t) => {
  const labels = { app: "web", tier: "front" };
  const cases: [string, boolean][] = [
    ["app=web", true],
    ["app==web", true],
    ["app!=web", false],
    ["missing!=x", true],
    ["app in (web,api)", true],
    ["app notin (web)", false],
    ["missing notin (x)", true],
    ["tier", true],
    ["!tier", false],
    ["!missing", true],
    ["app=web,tier=back", false],
    ["", true],
  ];
  for (const [selector, expected] of cases) {
    await t.step(`"${selector}" → ${expected}`, () => {
      assert.equal(parseLabelSelector(selector).matches(labels), expected);
    });
  }
});

Deno.test("a malformed label selector is a 400", () => {
  assert.throws(() => parseLabelSelector("a in (b"), ApiFailure);
});

Deno.test("field selectors accept metadata.name and metadata.namespace and reject other fields with 400", () => {
  const object = { metadata: { name: "a", namespace: "default" } };
  assert.equal(parseFieldSelector("metadata.name=a", []).matches(object), true);
  assert.equal(parseFieldSelector("metadata.namespace!=default", []).matches(object), false);
  assert.throws(
    () => parseFieldSelector("spec.size=1", []),
    (e: ApiFailure) =>
      e.status.code === 400 && e.status.message === "field label not supported: spec.size",
  );
});

Deno.test("lists filter by label and field selectors over HTTP", async () => {
  await using server = await startServer();
  await createWidget(server, "a", { size: 1 }, { labels: { app: "x" } });
  await createWidget(server, "b", { size: 1 }, { labels: { app: "y" } });
  const byLabel = await call(
    server,
    "GET",
    `${WIDGETS}?labelSelector=${encodeURIComponent("app in (x)")}`,
  );
  assert.deepEqual(byLabel.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), [
    "a",
  ]);
  const byField = await call(server, "GET", `${WIDGETS}?fieldSelector=metadata.name%3Db`);
  assert.deepEqual(byField.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), [
    "b",
  ]);
  const bad = await call(server, "GET", `${WIDGETS}?fieldSelector=spec.size%3D1`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.reason, "BadRequest");
});

Deno.test("a list carries kind, apiVersion and the current resourceVersion", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  const list = await call(server, "GET", WIDGETS);
  assert.equal(list.body.kind, "WidgetList");
  assert.equal(list.body.apiVersion, "example.com/v1");
  assert.equal(list.body.metadata.resourceVersion, server.resourceVersion);
});

Deno.test("all-namespaces lists return objects of every namespace", async () => {
  await using server = await startServer();
  await call(server, "POST", "/api/v1/namespaces", { metadata: { name: "team" } });
  await createWidget(server, "a");
  await call(server, "POST", "/apis/example.com/v1/namespaces/team/widgets", {
    kind: "Widget",
    metadata: { name: "b" },
    spec: { size: 1 },
  });
  const all = await call(server, "GET", "/apis/example.com/v1/widgets");
  assert.deepEqual(
    all.body.items.map((i: { metadata: { namespace: string } }) => i.metadata.namespace),
    ["default", "team"],
  );
});

Deno.test("pagination serves one consistent snapshot across pages", async () => {
  await using server = await startServer();
  for (const name of ["a", "b", "c", "d", "e"]) await createWidget(server, name);
  const first = await call(server, "GET", `${WIDGETS}?limit=2`);
  assert.equal(first.body.items.length, 2);
  assert.equal(first.body.metadata.remainingItemCount, 3);
  await createWidget(server, "aa"); // must not appear in later pages
  const names = first.body.items.map((i: { metadata: { name: string } }) => i.metadata.name);
  let token = first.body.metadata.continue;
  while (token) {
    const page = await call(
      server,
      "GET",
      `${WIDGETS}?limit=2&continue=${encodeURIComponent(token)}`,
    );
    assert.equal(page.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
    names.push(...page.body.items.map((i: { metadata: { name: string } }) => i.metadata.name));
    token = page.body.metadata.continue;
  }
  assert.deepEqual(names, ["a", "b", "c", "d", "e"]);
});

Deno.test("a continue token from before a compaction answers 410 Expired", async () => {
  await using server = await startServer();
  for (const name of ["a", "b", "c"]) await createWidget(server, name);
  const first = await call(server, "GET", `${WIDGETS}?limit=1`);
  await createWidget(server, "d");
  server.faults.compact();
  const next = await call(
    server,
    "GET",
    `${WIDGETS}?limit=1&continue=${encodeURIComponent(first.body.metadata.continue)}`,
  );
  assert.equal(next.status, 410);
  assert.equal(next.body.reason, "Expired");
});

Deno.test("items of built-in lists omit kind and apiVersion, like typed lists", async () => {
  await using server = await startServer();
  const list = await call(server, "GET", "/api/v1/namespaces");
  assert.equal(list.body.kind, "NamespaceList");
  assert.equal(list.body.items[0].kind, undefined);
  assert.deepEqual(
    list.body.items.map((i: { metadata: { name: string } }) => i.metadata.name),
    ["default", "kube-node-lease", "kube-public", "kube-system"],
  );
});
