import assert from "node:assert/strict";
import { call, type Json, type Reply, startServer } from "./_testing.ts";

const NEW_EVENTS = "/apis/events.k8s.io/v1/namespaces/default/events";
const CORE_EVENTS = "/api/v1/namespaces/default/events";
const LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
const MERGE = { "content-type": "application/merge-patch+json" };

/** A complete events.k8s.io/v1 Event, as our recorder writes one. */
function newEvent(name: string, overrides: Json = {}): Json {
  return {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name },
    eventTime: "2024-05-01T10:00:00.123456Z",
    reportingController: "example.com/widget-controller",
    reportingInstance: "host_1234",
    action: "Reconcile",
    reason: "Synced",
    regarding: { apiVersion: "example.com/v1", kind: "Widget", namespace: "default", name: "a" },
    note: "all good",
    type: "Normal",
    ...overrides,
  };
}

/** Asserts a 422 whose causes include exactly this one for `field` (and none other there). */
function assertCause(reply: Reply, field: string, reason: string, message: string): void {
  assert.equal(reply.status, 422, JSON.stringify(reply.body));
  assert.equal(reply.body.reason, "Invalid");
  const causes = reply.body.details.causes.filter((c: Json) => c.field === field);
  assert.deepEqual(causes, [{ field, reason, message }], JSON.stringify(reply.body.details));
}

Deno.test("a complete events.k8s.io/v1 Event is accepted and a cluster-scoped regarding may sit in default", async () => {
  await using server = await startServer();
  assert.equal((await call(server, "POST", NEW_EVENTS, newEvent("ok"))).status, 201);
  const clusterScoped = newEvent("node", { regarding: { kind: "Node", name: "n1" } });
  assert.equal((await call(server, "POST", NEW_EVENTS, clusterScoped)).status, 201);
  const series = newEvent("series", {
    series: { count: 2, lastObservedTime: "2024-05-01T10:01:00.000000Z" },
  });
  assert.equal((await call(server, "POST", NEW_EVENTS, series)).status, 201);
});

Deno.test("events.k8s.io/v1 creates breaking one rule are rejected at the real field path", async (t) => {
  await using server = await startServer();
  const invalid = (detail: string) => `Invalid value: "": ${detail}`;
  const cases: [string, Json, string, string, string][] = [
    ["no eventTime", { eventTime: undefined }, "eventTime", "FieldValueRequired", "Required value"],
    [
      "reportingController not a qualified name",
      { reportingController: "widget controller" },
      "reportingController",
      "FieldValueInvalid",
      `Invalid value: "widget controller": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    ],
    [
      "no reportingInstance",
      { reportingInstance: "" },
      "reportingInstance",
      "FieldValueRequired",
      "Required value",
    ],
    [
      "reportingInstance over 128 bytes",
      { reportingInstance: "i".repeat(129) },
      "reportingInstance",
      "FieldValueInvalid",
      invalid("can have at most 128 characters"),
    ],
    ["no action", { action: undefined }, "action", "FieldValueRequired", "Required value"],
    [
      "action over 128 bytes",
      { action: "a".repeat(129) },
      "action",
      "FieldValueInvalid",
      invalid("can have at most 128 characters"),
    ],
    ["no reason", { reason: "" }, "reason", "FieldValueRequired", "Required value"],
    [
      "reason over 128 bytes in fewer characters",
      { reason: "é".repeat(65) },
      "reason",
      "FieldValueInvalid",
      invalid("can have at most 128 characters"),
    ],
    [
      "note over 1 KiB (reported at the core name)",
      { note: "é".repeat(513) },
      "message",
      "FieldValueInvalid",
      invalid("can have at most 1024 characters"),
    ],
    [
      "type neither Normal nor Warning",
      { type: "Info" },
      "type",
      "FieldValueInvalid",
      invalid("has invalid value: Info"),
    ],
    [
      "series count below 2",
      { series: { count: 1, lastObservedTime: "2024-05-01T10:01:00.000000Z" } },
      "series.count",
      "FieldValueInvalid",
      invalid("should be at least 2"),
    ],
    [
      "series without lastObservedTime",
      { series: { count: 2 } },
      "series.lastObservedTime",
      "FieldValueRequired",
      "Required value",
    ],
    [
      "namespaced-looking regarding without a namespace outside default and kube-system",
      { metadata: { name: "x", namespace: "kube-public" }, regarding: { kind: "Pod", name: "p" } },
      "involvedObject.namespace",
      "FieldValueInvalid",
      `Invalid value: "": does not match event.namespace`,
    ],
    [
      "deprecatedCount set",
      { deprecatedCount: 3 },
      "count",
      "FieldValueInvalid",
      invalid("needs to be unset"),
    ],
    [
      "deprecatedSource set",
      { deprecatedSource: { component: "kubelet" } },
      "source",
      "FieldValueInvalid",
      invalid("needs to be unset"),
    ],
    [
      "deprecatedFirstTimestamp set",
      { deprecatedFirstTimestamp: "2024-05-01T10:00:00Z" },
      "firstTimestamp",
      "FieldValueInvalid",
      invalid("needs to be unset"),
    ],
    [
      "name that is no DNS subdomain",
      { metadata: { name: "Upper.Case" } },
      "metadata.name",
      "FieldValueInvalid",
      `Invalid value: "Upper.Case": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
  ];
  for (const [name, overrides, field, reason, message] of cases) {
    await t.step(name, async () => {
      const body = newEvent("e", overrides);
      const namespace = body.metadata.namespace ?? "default";
      const path = `/apis/events.k8s.io/v1/namespaces/${namespace}/events`;
      assertCause(await call(server, "POST", path, body), field, reason, message);
    });
  }
  await t.step("an empty reportingController is required and no qualified name", async () => {
    const reply = await call(
      server,
      "POST",
      NEW_EVENTS,
      newEvent("e", { reportingController: "" }),
    );
    assert.equal(reply.status, 422);
    const messages = reply.body.details.causes
      .filter((c: Json) => c.field === "reportingController").map((c: Json) => c.message);
    assert.deepEqual(messages.slice(0, 2), [
      "Required value",
      `Invalid value: "": name part must be non-empty`,
    ]);
  });
  assert.equal(
    (await call(server, "GET", `${NEW_EVENTS}?limit=500`)).body.items.length,
    0,
    "no rejected Event was stored",
  );
});

Deno.test("an Event's regarding may name another namespace once eventTime is set, as the real rules allow", async () => {
  await using server = await startServer();
  const body = newEvent("cross", {
    regarding: { kind: "Pod", namespace: "kube-system", name: "p" },
  });
  assert.equal((await call(server, "POST", NEW_EVENTS, body)).status, 201);
});

Deno.test("core v1 Events get only the legacy rules", async (t) => {
  await using server = await startServer();
  await t.step("an old-style Event without eventTime, action or reporter is accepted", async () => {
    const reply = await call(server, "POST", CORE_EVENTS, {
      metadata: { name: "Old_Style" },
      involvedObject: { kind: "Pod", name: "p", namespace: "default" },
      reason: "",
      message: "x".repeat(2000),
      type: "Odd",
      count: 4,
      source: { component: "kubelet" },
    });
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
  });
  await t.step("without eventTime the namespaces must match", async () => {
    const reply = await call(server, "POST", CORE_EVENTS, {
      metadata: { name: "mismatch" },
      involvedObject: { kind: "Pod", name: "p", namespace: "kube-system" },
    });
    assertCause(
      reply,
      "involvedObject.namespace",
      "FieldValueInvalid",
      `Invalid value: "kube-system": does not match event.namespace`,
    );
  });
  await t.step("with eventTime the reporting fields become required", async () => {
    const reply = await call(server, "POST", CORE_EVENTS, {
      metadata: { name: "half-new" },
      eventTime: "2024-05-01T10:00:00.000000Z",
      involvedObject: { kind: "Pod", name: "p", namespace: "default" },
      reason: "Synced",
      reportingComponent: "widget-controller",
      reportingInstance: "host",
    });
    assertCause(reply, "action", "FieldValueRequired", "Required value");
  });
});

Deno.test("events.k8s.io/v1 updates may extend the series but change nothing else", async (t) => {
  await using server = await startServer();
  assert.equal((await call(server, "POST", NEW_EVENTS, newEvent("u"))).status, 201);
  const patch = (body: Json) => call(server, "PATCH", `${NEW_EVENTS}/u`, body, MERGE);

  await t.step("a series with count 2 and lastObservedTime is accepted", async () => {
    const reply = await patch({
      series: { count: 2, lastObservedTime: "2024-05-01T10:02:00.000000Z" },
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.series.count, 2);
  });
  await t.step("a changed series with count 1 is rejected", async () => {
    const reply = await patch({ series: { count: 1 } });
    assertCause(
      reply,
      "series.count",
      "FieldValueInvalid",
      `Invalid value: "": should be at least 2`,
    );
  });
  await t.step("a changed note is immutable", async () => {
    assertCause(
      await patch({ note: "changed" }),
      "message",
      "FieldValueInvalid",
      `Invalid value: "changed": field is immutable`,
    );
  });
  await t.step("a changed regarding is immutable and printed as Go prints it", async () => {
    assertCause(
      await patch({ regarding: { name: "b" } }),
      "involvedObject",
      "FieldValueInvalid",
      `Invalid value: core.ObjectReference{Kind:"Widget", Namespace:"default", Name:"b", UID:"", APIVersion:"example.com/v1", ResourceVersion:"", FieldPath:""}: field is immutable`,
    );
  });
  await t.step("a changed eventTime is immutable and printed as a Go time", async () => {
    assertCause(
      await patch({ eventTime: "2024-05-01T11:00:00.500000Z" }),
      "eventTime",
      "FieldValueInvalid",
      "Invalid value: 2024-05-01 11:00:00.5 +0000 UTC: field is immutable",
    );
  });
  await t.step("a changed reason is reported twice, as ValidateEventUpdate does", async () => {
    const reply = await patch({ reason: "Other" });
    assert.equal(reply.status, 422);
    const fields = reply.body.details.causes.map((c: Json) => c.field);
    assert.deepEqual(fields, ["reason", "reason"]);
  });
  await t.step("the same change through core v1 is accepted (legacy rules only)", async () => {
    const reply = await call(
      server,
      "PATCH",
      `${CORE_EVENTS}/u`,
      { message: "changed" },
      MERGE,
    );
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    assert.equal(reply.body.message, "changed");
  });
});

Deno.test("a Lease needs a positive leaseDurationSeconds and non-negative leaseTransitions", async (t) => {
  await using server = await startServer();
  const lease = (name: string, spec: Json) => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name },
    spec,
  });
  await t.step("a lease with duration 1 and no holder (a released one) is accepted", async () => {
    const reply = await call(
      server,
      "POST",
      LEASES,
      lease("held", { holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 0 }),
    );
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
  });
  await t.step("leaseDurationSeconds 0 is rejected on create", async () => {
    assertCause(
      await call(server, "POST", LEASES, lease("zero", { leaseDurationSeconds: 0 })),
      "spec.leaseDurationSeconds",
      "FieldValueInvalid",
      "Invalid value: 0: must be greater than 0",
    );
  });
  await t.step("a negative leaseDurationSeconds is rejected on update", async () => {
    assertCause(
      await call(server, "PATCH", `${LEASES}/held`, { spec: { leaseDurationSeconds: -5 } }, MERGE),
      "spec.leaseDurationSeconds",
      "FieldValueInvalid",
      "Invalid value: -5: must be greater than 0",
    );
  });
  await t.step("negative leaseTransitions are rejected", async () => {
    assertCause(
      await call(server, "POST", LEASES, lease("neg", { leaseTransitions: -1 })),
      "spec.leaseTransitions",
      "FieldValueInvalid",
      "Invalid value: -1: must be greater than or equal to 0",
    );
  });
});
