import assert from "node:assert/strict";
import { ResourceClient } from "../../lib/kube/client.ts";
import { EventRecorder, EVENTS, type KubeEvent } from "../../lib/kube/events.ts";
import { CORE_EVENTS, type KubeObject } from "../../lib/kube/resource.ts";
import type { KubeRequest, KubeTransport } from "../../lib/kube/transport.ts";
import { FakeApiServer } from "../fake_apiserver/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";

/**
 * A recording stand-in for the API server's events.k8s.io endpoints: create, merge patch of
 * `series`, 404 for unknown Events, 409 AlreadyExists for taken names, injectable failures.
 */
class EventsStub implements KubeTransport {
  readonly server = "http://stub";
  readonly events = new Map<string, KubeEvent>();
  readonly requests: KubeRequest[] = [];
  /** Status codes to answer the next requests with, in order. */
  failNext: number[] = [];

  fetch(request: KubeRequest): Promise<Response> {
    this.requests.push(request);
    const fail = this.failNext.shift();
    if (fail) return Promise.resolve(status(fail, "injected"));
    const m = request.path.match(
      /^\/apis\/events\.k8s\.io\/v1\/namespaces\/([^/]+)\/events(?:\/([^/]+))?$/,
    );
    if (!m) return Promise.resolve(status(404, "no such path"));
    const [, namespace, name] = m;
    if (request.method === "POST") {
      const event = structuredClone(request.body) as KubeEvent;
      assert.equal(event.metadata.namespace, namespace);
      const key = `${namespace}/${event.metadata.name}`;
      if (this.events.has(key)) return Promise.resolve(status(409, "exists", "AlreadyExists"));
      this.events.set(key, event);
      return Promise.resolve(Response.json(event, { status: 201 }));
    }
    if (request.method === "PATCH") {
      assert.equal(request.contentType, "application/merge-patch+json");
      const event = this.events.get(`${namespace}/${decodeURIComponent(name)}`);
      if (!event) return Promise.resolve(status(404, "not found", "NotFound"));
      Object.assign(event, request.body);
      return Promise.resolve(Response.json(event));
    }
    return Promise.resolve(status(405, "method"));
  }

  get all(): KubeEvent[] {
    return [...this.events.values()];
  }
}

function status(code: number, message: string, reason = ""): Response {
  return Response.json({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    message,
    reason,
    code,
  }, {
    status: code,
  });
}

function release(name: string, namespace?: string): KubeObject {
  return {
    apiVersion: "release.giantswarm.io/v1alpha1",
    kind: "Release",
    metadata: { name, namespace, uid: `uid-${name}`, resourceVersion: "7" },
  };
}

function setup(options: { maxCachedEvents?: number } = {}) {
  const stub = new EventsStub();
  const clock = new FakeClock();
  const recorder = new EventRecorder({
    transport: stub,
    reportingInstance: "host_1234",
    clock,
    ...options,
  });
  return { stub, clock, recorder };
}

Deno.test("an event is written as events.k8s.io/v1 about the involved object", async () => {
  const { stub, clock, recorder } = setup();
  await recorder.event(
    release("r1", "org-a"),
    "Warning",
    "UploadFailed",
    "datastore full",
    "Upload",
  );
  assert.equal(stub.all.length, 1);
  const event = stub.all[0];
  assert.equal(event.apiVersion, "events.k8s.io/v1");
  assert.equal(event.kind, "Event");
  assert.equal(event.metadata.namespace, "org-a");
  assert.match(event.metadata.name!, /^r1\.[0-9a-f]+$/);
  assert.equal(event.type, "Warning");
  assert.equal(event.reason, "UploadFailed");
  assert.equal(event.action, "Upload");
  assert.equal(event.note, "datastore full");
  assert.equal(event.reportingController, "image-distribution-operator");
  assert.equal(event.reportingInstance, "host_1234");
  assert.equal(event.eventTime, new Date(clock.now()).toISOString().replace("Z", "000Z"));
  assert.match(event.eventTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.deepEqual(event.regarding, {
    apiVersion: "release.giantswarm.io/v1alpha1",
    kind: "Release",
    namespace: "org-a",
    name: "r1",
    uid: "uid-r1",
    resourceVersion: "7",
  });
  assert.equal(event.series, undefined);
});

Deno.test("events about cluster-scoped objects go to the default namespace", async () => {
  const { stub, recorder } = setup();
  await recorder.event(release("cluster-wide"), "Normal", "Created", "ok");
  assert.equal(stub.all[0].metadata.namespace, "default");
  assert.equal(stub.all[0].regarding.namespace, undefined);
});

Deno.test("the action defaults to the reason because the API requires one", async () => {
  const { stub, recorder } = setup();
  await recorder.event(release("r1", "ns"), "Normal", "Uploaded", "done");
  assert.equal(stub.all[0].action, "Uploaded");
});

/** Requests by method, to tell creates from series patches. */
function writes(stub: EventsStub): { creates: number; patches: number } {
  return {
    creates: stub.requests.filter((r) => r.method === "POST").length,
    patches: stub.requests.filter((r) => r.method === "PATCH").length,
  };
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "000Z");
}

Deno.test("the first repeat within the window patches the series onto the event", async () => {
  const { stub, clock, recorder } = setup();
  const object = release("r1", "ns");
  await recorder.event(object, "Warning", "UploadFailed", "datastore full");
  await clock.advance(60_000);
  const second = clock.now();
  await recorder.event(object, "Warning", "UploadFailed", "datastore full");
  assert.deepEqual(writes(stub), { creates: 1, patches: 1 });
  assert.equal(stub.all.length, 1);
  assert.deepEqual(stub.all[0].series, { count: 2, lastObservedTime: microTime(second) });
});

Deno.test("later repeats within 30 minutes of the last write are counted but not written", async () => {
  const { stub, clock, recorder } = setup();
  const object = release("r1", "ns");
  await recorder.event(object, "Warning", "UploadFailed", "datastore full");
  await clock.advance(60_000);
  await recorder.event(object, "Warning", "UploadFailed", "datastore full"); // written: count 2
  // Every 5 minutes (inside the 6-minute window) until just before the 30-minute heartbeat.
  for (let i = 0; i < 5; i++) {
    await clock.advance(5 * 60_000);
    await recorder.event(object, "Warning", "UploadFailed", "datastore full");
  }
  assert.deepEqual(writes(stub), { creates: 1, patches: 1 });
  assert.equal(stub.all[0].series?.count, 2);
});

Deno.test("a series is written again 30 minutes after its last write, with every repeat counted", async () => {
  const { stub, clock, recorder } = setup();
  const object = release("r1", "ns");
  await recorder.event(object, "Warning", "UploadFailed", "datastore full");
  await clock.advance(60_000);
  await recorder.event(object, "Warning", "UploadFailed", "datastore full"); // count 2, written
  for (let i = 0; i < 6; i++) {
    await clock.advance(5 * 60_000); // the sixth lands exactly 30 minutes after the last write
    await recorder.event(object, "Warning", "UploadFailed", "datastore full");
  }
  const heartbeat = clock.now();
  assert.deepEqual(writes(stub), { creates: 1, patches: 2 });
  assert.deepEqual(stub.all[0].series, { count: 8, lastObservedTime: microTime(heartbeat) });

  // The next write waits for another 30 minutes from this one.
  await clock.advance(5 * 60_000);
  await recorder.event(object, "Warning", "UploadFailed", "datastore full");
  assert.deepEqual(writes(stub), { creates: 1, patches: 2 });
});

Deno.test("different messages for the same object and reason are different events", async () => {
  const { stub, clock, recorder } = setup();
  const object = release("r1", "ns");
  await recorder.event(object, "Normal", "ReleaseAdded", "Release a added");
  await clock.advance(1_000);
  await recorder.event(object, "Normal", "ReleaseAdded", "Release b added");
  await clock.advance(1_000);
  await recorder.event(object, "Normal", "ReleaseAdded", "Release a added"); // first repeat of a
  assert.deepEqual(writes(stub), { creates: 2, patches: 1 });
  const byNote = new Map(stub.all.map((e) => [e.note, e]));
  assert.equal(byNote.get("Release a added")?.series?.count, 2);
  assert.equal(byNote.get("Release b added")?.series, undefined);
});

Deno.test("a different message, reason, type or object makes a new event", async () => {
  const { stub, recorder } = setup();
  await recorder.event(release("r1", "ns"), "Warning", "UploadFailed", "datastore full");
  await recorder.event(release("r1", "ns"), "Warning", "UploadFailed", "network down");
  await recorder.event(release("r1", "ns"), "Warning", "DownloadFailed", "network down");
  await recorder.event(release("r1", "ns"), "Normal", "DownloadFailed", "network down");
  await recorder.event(release("r2", "ns"), "Normal", "DownloadFailed", "network down");
  assert.equal(stub.all.length, 5);
  assert.ok(stub.all.every((e) => e.series === undefined));
});

Deno.test("a repeat after the window starts a new event", async () => {
  const { stub, clock, recorder } = setup();
  await recorder.event(release("r1", "ns"), "Normal", "Synced", "ok");
  await clock.advance(6 * 60_000 + 1);
  await recorder.event(release("r1", "ns"), "Normal", "Synced", "ok");
  assert.equal(stub.all.length, 2);
});

Deno.test("a burst of identical events yields one create and one patch with the whole count", async () => {
  const { stub, recorder } = setup();
  const object = release("r1", "ns");
  await Promise.all(
    Array.from({ length: 5 }, () => recorder.event(object, "Warning", "Failed", "boom")),
  );
  assert.deepEqual(writes(stub), { creates: 1, patches: 1 });
  assert.equal(stub.all.length, 1);
  assert.equal(stub.all[0].series?.count, 5);
});

Deno.test("a series whose event vanished is written as a new event with its count", async () => {
  const { stub, recorder } = setup();
  const object = release("r1", "ns");
  await recorder.event(object, "Warning", "Failed", "boom");
  stub.events.clear(); // the API server's event TTL expired
  await recorder.event(object, "Warning", "Failed", "boom");
  assert.equal(stub.all.length, 1);
  assert.equal(stub.all[0].series?.count, 2);
  assert.equal(stub.all[0].note, "boom");
});

Deno.test("API errors are logged and dropped, never thrown", async () => {
  const lines: string[] = [];
  const { Logger } = await import("../../lib/log.ts");
  const stub = new EventsStub();
  const recorder = new EventRecorder({
    transport: stub,
    reportingInstance: "me",
    log: new Logger({ sink: (line) => lines.push(line) }),
  });
  stub.failNext = [500];
  await recorder.event(release("r1", "ns"), "Warning", "Failed", "boom");
  assert.equal(stub.all.length, 0);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /Cannot record event/);

  const broken: KubeTransport = {
    server: "x",
    fetch: () => Promise.reject(new TypeError("connection refused")),
  };
  await new EventRecorder({ transport: broken, reportingInstance: "me" })
    .event(release("r1", "ns"), "Normal", "Ok", "fine");
});

Deno.test("a name collision is retried once under a fresh name", async () => {
  const { stub, recorder } = setup();
  const original = stub.fetch.bind(stub);
  const attempted: string[] = [];
  stub.fetch = (request) => {
    if (request.method !== "POST") return original(request);
    attempted.push((request.body as KubeEvent).metadata.name!);
    return attempted.length === 1
      ? Promise.resolve(status(409, "exists", "AlreadyExists"))
      : original(request);
  };
  await recorder.event(release("r1", "ns"), "Normal", "Ok", "fine");
  assert.equal(attempted.length, 2);
  assert.notEqual(attempted[0], attempted[1]);
  assert.deepEqual(stub.all.map((e) => e.metadata.name), [attempted[1]]);
});

Deno.test("messages longer than 1024 bytes are truncated on a character boundary", async () => {
  const { stub, recorder } = setup();
  await recorder.event(release("r1", "ns"), "Warning", "Failed", "é".repeat(600)); // 1200 bytes
  const note = stub.all[0].note;
  assert.ok(new TextEncoder().encode(note).length <= 1024);
  assert.equal(note, "é".repeat(512));
});

Deno.test("unsupported event types are dropped without a request", async () => {
  const { stub, recorder } = setup();
  await recorder.event(release("r1", "ns"), "Error" as "Normal", "Failed", "boom");
  assert.equal(stub.requests.length, 0);
});

Deno.test("the de-duplication cache is bounded and forgets the least recently used", async () => {
  const { stub, recorder } = setup({ maxCachedEvents: 2 });
  await recorder.event(release("a", "ns"), "Normal", "R", "m");
  await recorder.event(release("b", "ns"), "Normal", "R", "m");
  await recorder.event(release("a", "ns"), "Normal", "R", "m"); // a is now most recent
  await recorder.event(release("c", "ns"), "Normal", "R", "m"); // evicts b
  await recorder.event(release("a", "ns"), "Normal", "R", "m"); // still cached: no create
  await recorder.event(release("b", "ns"), "Normal", "R", "m"); // forgotten: a new event
  const posts = stub.requests.filter((r) => r.method === "POST").map((r) =>
    (r.body as KubeEvent).regarding.name
  );
  assert.deepEqual(posts, ["a", "b", "c", "b"]);
});

Deno.test("against the API server repeats become one event with a series, visible as core v1 too", async () => {
  const server = await FakeApiServer.start();
  const transport = server.transport();
  try {
    const clock = new FakeClock();
    const recorder = new EventRecorder({ transport, reportingInstance: "host_1", clock });
    const object = release("r1", "default");
    await recorder.event(object, "Warning", "UploadFailed", "datastore full", "Upload");
    await clock.advance(30_000);
    await recorder.event(object, "Warning", "UploadFailed", "datastore full", "Upload");
    await recorder.event(release("cluster-wide"), "Normal", "Created", "ok");

    const events = await new ResourceClient<KubeEvent>(transport, EVENTS).list({
      namespace: "default",
    });
    assert.equal(events.items.length, 2);
    const upload = events.items.find((e) => e.reason === "UploadFailed")!;
    assert.equal(upload.series?.count, 2);
    assert.equal(upload.note, "datastore full");
    assert.equal(upload.regarding.name, "r1");
    assert.ok(upload.metadata.uid, "created by the server");

    const core = await new ResourceClient(transport, CORE_EVENTS).list({ namespace: "default" });
    const coreUpload = core.items.find((e) => e.reason === "UploadFailed")!;
    assert.equal(coreUpload.message, "datastore full");
    assert.equal((coreUpload.involvedObject as { name: string }).name, "r1");
  } finally {
    transport.close();
    await server.close();
  }
});

Deno.test("against the API server a failed write is dropped and later events still go through", async () => {
  const server = await FakeApiServer.start();
  const transport = server.transport();
  try {
    const recorder = new EventRecorder({ transport, reportingInstance: "host_1" });
    server.faults.failNext({ verb: "create", resource: "events" }, { code: 500 });
    await recorder.event(release("r1", "default"), "Normal", "First", "dropped");
    await recorder.event(release("r1", "default"), "Normal", "Second", "kept");
    const events = await new ResourceClient<KubeEvent>(transport, EVENTS).list({
      namespace: "default",
    });
    assert.deepEqual(events.items.map((e) => e.reason), ["Second"]);
  } finally {
    transport.close();
    await server.close();
  }
});

Deno.test("against the API server a long non-ASCII instance and reason are cut to 128 bytes, not characters", async () => {
  const server = await FakeApiServer.start();
  const transport = server.transport();
  try {
    // 100 characters of 2 bytes each: 200 bytes, over the server's 128-byte limit.
    const long = "é".repeat(100);
    const recorder = new EventRecorder({ transport, reportingInstance: long });
    await recorder.event(release("r1", "default"), "Normal", long, "accepted");
    const events = await new ResourceClient<KubeEvent>(transport, EVENTS).list({
      namespace: "default",
    });
    assert.equal(events.items.length, 1, "the server accepted the event");
    const [event] = events.items;
    assert.equal(new TextEncoder().encode(event.reason ?? "").length, 128);
    assert.equal(event.reason, "é".repeat(64));
    assert.equal(new TextEncoder().encode(event.reportingInstance ?? "").length, 128);
  } finally {
    transport.close();
    await server.close();
  }
});
