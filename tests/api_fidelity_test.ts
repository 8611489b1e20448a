/**
 * API semantics the operator relies on, asserted identically against the fake API server and a
 * real kube-apiserver (`[fake]` / `[real]`). Where the two disagreed, the fake was fixed, or the
 * difference is written at the top of the fake's file concerned.
 *
 * Each case works on its own objects (unique names or labels), so the real server can be shared
 * by the file's cases.
 */
import assert from "node:assert/strict";
import { GADGET_CRD, WIDGET_CRD } from "./fake_apiserver/_testing.ts";
import {
  acquireServer,
  type Json,
  type Reply,
  serverTest,
  type TestApiServer,
} from "./support/api_servers.ts";

const NS = "default";
const WIDGETS = `/apis/example.com/v1/namespaces/${NS}/widgets`;
const GADGETS = "/apis/example.com/v1/gadgets";
const MERGE = { "content-type": "application/merge-patch+json" };
const JSON_PATCH = { "content-type": "application/json-patch+json" };

let unique = 0;
/** A name no other case (or earlier run against the same server) uses. */
function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${++unique}`;
}

function widget(name: string, spec: Json = { size: 1 }, metadata: Json = {}): Json {
  return { apiVersion: "example.com/v1", kind: "Widget", metadata: { name, ...metadata }, spec };
}

/** Runs a case on a server with the Widget and Gadget CRDs. */
function fidelity(name: string, fn: (server: TestApiServer) => Promise<void>): void {
  serverTest(name, async () => {
    const server = await acquireServer({ extraCrds: [WIDGET_CRD, GADGET_CRD] });
    try {
      await fn(server);
    } finally {
      await server.release();
    }
  });
}

async function ok(reply: Promise<Reply>, status = 200): Promise<Json> {
  const r = await reply;
  assert.equal(r.status, status, JSON.stringify(r.body));
  return r.body;
}

async function create(server: TestApiServer, body: Json, path = WIDGETS): Promise<Json> {
  return await ok(server.request("POST", path, { body }), 201);
}

async function mergePatch(server: TestApiServer, path: string, body: Json): Promise<Json> {
  return await ok(server.request("PATCH", path, { body, headers: MERGE }));
}

/** The causes' `field: reason` pairs, sorted and without duplicates. */
function causes(status: Json): string[] {
  const list = (status.details?.causes ?? []) as { field?: string; reason?: string }[];
  return [...new Set(list.map((c) => `${c.field}: ${c.reason}`))].sort();
}

interface WatchEvent {
  type: string;
  object: Json;
}

/** Newline-delimited watch events from a streaming response, read with a deadline. */
class WatchStream {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(response: Response) {
    assert.equal(response.status, 200);
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Opens a watch; a 429 (a watch cache still filling after a restart) is retried. */
  static async open(server: TestApiServer, query: string): Promise<WatchStream> {
    for (let attempt = 1;; attempt++) {
      const response = await server.fetch(`${WIDGETS}?watch=true&${query}`, {
        headers: { accept: "application/json" },
      });
      if (response.status !== 429 || attempt === 60) return new WatchStream(response);
      await response.body?.cancel();
      await pause(500);
    }
  }

  /** The next event, or "end" when the server ends the stream. Fails after 30 s. */
  async next(): Promise<WatchEvent | "end"> {
    const deadline = Date.now() + 30_000;
    while (true) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        if (line.trim()) return JSON.parse(line);
        continue;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("no watch event within 30 s")),
          Math.max(0, deadline - Date.now()),
        );
      });
      try {
        const { value, done } = await Promise.race([this.#reader.read(), timeout]);
        if (done) return "end";
        this.#buffer += value;
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** The next `count` events that are not bookmarks. */
  async take(count: number): Promise<WatchEvent[]> {
    const events: WatchEvent[] = [];
    while (events.length < count) {
      const event = await this.next();
      if (event === "end") throw new Error(`watch ended after ${events.length} events`);
      if (event.type !== "BOOKMARK") events.push(event);
    }
    return events;
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

const summary = (e: WatchEvent) => `${e.type} ${e.object.metadata?.name} ${e.object.spec?.size}`;

fidelity(
  "a watch from a resourceVersion replays later changes in order, then live ones",
  async (server) => {
    const name = uniqueName("replay");
    const created = await create(server, widget(name, { size: 1 }));
    const rv = created.metadata.resourceVersion;
    await mergePatch(server, `${WIDGETS}/${name}`, { spec: { size: 2 } });
    await mergePatch(server, `${WIDGETS}/${name}`, { spec: { size: 3 } });
    const watch = await WatchStream.open(
      server,
      `resourceVersion=${rv}&fieldSelector=metadata.name%3D${name}`,
    );
    try {
      const replayed = await watch.take(2);
      assert.deepEqual(replayed.map(summary), [`MODIFIED ${name} 2`, `MODIFIED ${name} 3`]);
      const [a, b] = replayed.map((e) => Number(e.object.metadata.resourceVersion));
      assert.ok(Number(rv) < a && a < b, "resourceVersions increase along the stream");
      await mergePatch(server, `${WIDGETS}/${name}`, { spec: { size: 4 } });
      assert.deepEqual((await watch.take(1)).map(summary), [`MODIFIED ${name} 4`]);
    } finally {
      await watch.close();
    }
    // Without a resourceVersion the watch starts with the current state as ADDED.
    const fresh = await WatchStream.open(server, `fieldSelector=metadata.name%3D${name}`);
    try {
      assert.deepEqual((await fresh.take(1)).map(summary), [`ADDED ${name} 4`]);
    } finally {
      await fresh.close();
    }
  },
);

fidelity(
  "sendInitialEvents ends the initial ADDED burst with an initial-events-end bookmark",
  async (server) => {
    const set = uniqueName("initial");
    for (const i of [1, 2]) {
      await create(server, widget(`${set}-${i}`, { size: i }, { labels: { set } }));
    }
    const listed = await ok(server.request("GET", `${WIDGETS}?labelSelector=set%3D${set}`));
    const watch = await WatchStream.open(
      server,
      `labelSelector=set%3D${set}&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`,
    );
    try {
      const added = [await watch.next(), await watch.next()] as WatchEvent[];
      assert.deepEqual(
        added.map(summary).sort(),
        [`ADDED ${set}-1 1`, `ADDED ${set}-2 2`],
      );
      const bookmark = await watch.next() as WatchEvent;
      assert.equal(bookmark.type, "BOOKMARK");
      assert.equal(bookmark.object.kind, "Widget");
      assert.equal(bookmark.object.apiVersion, "example.com/v1");
      assert.deepEqual(bookmark.object.metadata.annotations, {
        "k8s.io/initial-events-end": "true",
      });
      assert.ok(
        Number(bookmark.object.metadata.resourceVersion) >= Number(listed.metadata.resourceVersion),
      );
      assert.equal(bookmark.object.spec, undefined, "a bookmark carries no object data");
    } finally {
      await watch.close();
    }
    // Without resourceVersionMatch=NotOlderThan the request is refused (not streamed).
    const refused = await server.fetch(`${WIDGETS}?watch=true&sendInitialEvents=true`, {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(refused.status, 422);
    assert.deepEqual(causes(await refused.json()), ["resourceVersionMatch: FieldValueForbidden"]);
  },
);

fidelity("after compaction old continue tokens and watches get 410 Expired", async (server) => {
  const set = uniqueName("compact");
  for (const i of [1, 2, 3]) {
    await create(server, widget(`${set}-${i}`, undefined, { labels: { set } }));
  }
  const page = await ok(server.request("GET", `${WIDGETS}?labelSelector=set%3D${set}&limit=1`));
  const before = page.metadata.resourceVersion;
  assert.ok(page.metadata.continue);
  await mergePatch(server, `${WIDGETS}/${set}-1`, { spec: { size: 5 } });
  await server.compact();

  const watch = await WatchStream.open(server, `resourceVersion=${before}`);
  try {
    const error = await watch.next() as WatchEvent;
    assert.equal(error.type, "ERROR");
    assert.equal(error.object.code, 410);
    assert.equal(error.object.reason, "Expired");
    assert.match(
      error.object.message,
      new RegExp(`^too old resource version: ${before} \\(\\d+\\)$`),
    );
  } finally {
    await watch.close();
  }

  // The real server drops its list snapshots when it notices the compaction (it polls).
  const deadline = Date.now() + 60_000;
  let next: Reply;
  do {
    next = await server.request(
      "GET",
      `${WIDGETS}?labelSelector=set%3D${set}&limit=1&continue=${
        encodeURIComponent(page.metadata.continue)
      }`,
    );
  } while (next.status === 200 && Date.now() < deadline && await pause(250));
  assert.equal(next.status, 410, JSON.stringify(next.body));
  assert.equal(next.body.reason, "Expired");
  assert.match(next.body.message, /^The provided continue parameter is too old/);
});

function pause(ms: number): Promise<true> {
  return new Promise((resolve) => setTimeout(() => resolve(true), ms));
}

fidelity(
  "an update with a stale resourceVersion is a 409 Conflict; one without any is refused",
  async (server) => {
    const name = uniqueName("stale");
    const created = await create(server, widget(name));
    await ok(
      server.request("PUT", `${WIDGETS}/${name}`, { body: { ...created, spec: { size: 2 } } }),
    );
    const stale = await server.request("PUT", `${WIDGETS}/${name}`, {
      body: { ...created, spec: { size: 3 } },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, "Conflict");
    assert.equal(
      stale.body.message,
      `Operation cannot be fulfilled on widgets.example.com "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
    assert.deepEqual(stale.body.details, { name, group: "example.com", kind: "widgets" });
    // A stale resourceVersion in a merge patch is a precondition too.
    const patched = await server.request("PATCH", `${WIDGETS}/${name}`, {
      body: { metadata: { resourceVersion: created.metadata.resourceVersion }, spec: { size: 4 } },
      headers: MERGE,
    });
    assert.equal(patched.status, 409);

    const { resourceVersion: _, ...withoutVersion } = created.metadata;
    const blind = await server.request("PUT", `${WIDGETS}/${name}`, {
      body: { ...created, metadata: withoutVersion, spec: { size: 5 } },
    });
    assert.equal(blind.status, 422);
    assert.equal(
      blind.body.message,
      `widgets.example.com "${name}" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update`,
    );
    assert.deepEqual(causes(blind.body), ["metadata.resourceVersion: FieldValueInvalid"]);
    assert.equal((await ok(server.request("GET", `${WIDGETS}/${name}`))).spec.size, 2);
  },
);

fidelity("a JSON patch whose test op fails changes nothing and is a 422", async (server) => {
  const name = uniqueName("jsontest");
  await create(server, widget(name, { size: 1 }, { finalizers: ["example.com/a"] }));
  const failed = await server.request("PATCH", `${WIDGETS}/${name}`, {
    body: [
      { op: "test", path: "/metadata/finalizers", value: ["example.com/other"] },
      { op: "replace", path: "/metadata/finalizers", value: [] },
    ],
    headers: JSON_PATCH,
  });
  assert.equal(failed.status, 422);
  assert.equal(failed.body.reason, "Invalid");
  const stored = await ok(server.request("GET", `${WIDGETS}/${name}`));
  assert.deepEqual(stored.metadata.finalizers, ["example.com/a"]);
  const passed = await ok(server.request("PATCH", `${WIDGETS}/${name}`, {
    body: [
      { op: "test", path: "/metadata/finalizers", value: ["example.com/a"] },
      { op: "replace", path: "/metadata/finalizers", value: [] },
    ],
    headers: JSON_PATCH,
  }));
  assert.equal(passed.metadata.finalizers, undefined);
});

fidelity(
  "status subresource: the main resource ignores status, /status ignores all but status",
  async (server) => {
    const name = uniqueName("status");
    const created = await create(server, widget(name, { size: 1 }, { labels: { a: "1" } }));
    const main = await ok(server.request("PUT", `${WIDGETS}/${name}`, {
      body: { ...created, spec: { size: 2 }, status: { phase: "Ignored" } },
    }));
    assert.equal(main.status, undefined);
    assert.equal(main.spec.size, 2);
    assert.equal(main.metadata.generation, 2);

    const status = await ok(server.request("PUT", `${WIDGETS}/${name}/status`, {
      body: {
        ...main,
        metadata: { ...main.metadata, labels: { a: "2" }, finalizers: ["example.com/f"] },
        spec: { size: 9 },
        status: { phase: "Ready" },
      },
    }));
    assert.deepEqual(status.status, { phase: "Ready" });
    assert.equal(status.spec.size, 2);
    assert.deepEqual(status.metadata.labels, { a: "1" });
    assert.equal(status.metadata.finalizers, undefined);
    assert.equal(status.metadata.generation, 2, "status writes never bump generation");

    const merged = await mergePatch(server, `${WIDGETS}/${name}/status`, {
      spec: { size: 7 },
      status: { phase: "Done" },
    });
    assert.deepEqual([merged.spec.size, merged.status.phase, merged.metadata.generation], [
      2,
      "Done",
      2,
    ]);
  },
);

fidelity(
  "generation: bumped by spec changes only; without a status subresource by status too",
  async (server) => {
    const name = uniqueName("gen");
    await create(server, widget(name));
    const path = `${WIDGETS}/${name}`;
    assert.equal(
      (await mergePatch(server, path, { metadata: { labels: { x: "y" } } })).metadata.generation,
      1,
    );
    assert.equal(
      (await mergePatch(server, path, { metadata: { annotations: { x: "y" } } })).metadata
        .generation,
      1,
    );
    assert.equal((await mergePatch(server, path, { spec: { size: 2 } })).metadata.generation, 2);
    assert.equal((await mergePatch(server, path, { spec: { size: 2 } })).metadata.generation, 2);

    const gadget = uniqueName("gadget");
    const gpath = `${GADGETS}/${gadget}`;
    await create(server, {
      apiVersion: "example.com/v1",
      kind: "Gadget",
      metadata: { name: gadget },
      spec: { a: 1 },
    }, GADGETS);
    assert.equal((await mergePatch(server, gpath, { status: { b: 1 } })).metadata.generation, 2);
    assert.equal(
      (await mergePatch(server, gpath, { metadata: { labels: { x: "y" } } })).metadata.generation,
      2,
    );
    assert.equal((await mergePatch(server, gpath, { other: 1 })).metadata.generation, 3);
    await ok(server.request("DELETE", gpath));
  },
);

fidelity(
  "finalizers: delete sets deletionTimestamp, no new finalizer may be added, the last removal deletes",
  async (server) => {
    const name = uniqueName("final");
    const path = `${WIDGETS}/${name}`;
    const created = await create(
      server,
      widget(name, { size: 1 }, { finalizers: ["example.com/a"] }),
    );
    const watch = await WatchStream.open(
      server,
      `resourceVersion=${created.metadata.resourceVersion}&fieldSelector=metadata.name%3D${name}`,
    );
    try {
      const deleting = await ok(server.request("DELETE", path));
      assert.ok(deleting.metadata.deletionTimestamp);
      assert.equal(deleting.metadata.deletionGracePeriodSeconds, 0);
      assert.equal(deleting.metadata.generation, 2, "setting deletionTimestamp bumps generation");
      const again = await ok(server.request("DELETE", path));
      assert.equal(again.metadata.deletionTimestamp, deleting.metadata.deletionTimestamp);
      assert.equal(again.metadata.generation, 2);

      const added = await server.request("PATCH", path, {
        body: { metadata: { finalizers: ["example.com/a", "example.com/b"] } },
        headers: MERGE,
      });
      assert.equal(added.status, 422);
      assert.deepEqual(causes(added.body), ["metadata.finalizers: FieldValueForbidden"]);
      assert.match(
        added.body.message,
        /no new finalizers can be added if the object is being deleted/,
      );

      const edited = await mergePatch(server, path, { spec: { size: 3 } });
      assert.equal(edited.spec.size, 3, "a deleting object can still change");
      const last = await mergePatch(server, path, { metadata: { finalizers: null } });
      assert.equal(last.metadata.finalizers, undefined);
      assert.equal((await server.request("GET", path)).status, 404);
      // deletionTimestamp set, spec changed, then gone: removing the last finalizer of a
      // deleting object deletes it in that write (the repeated DELETE changed nothing). The
      // DELETED event shows the object as last stored, finalizer included.
      const events = await watch.take(3);
      assert.deepEqual(events.map((e) => e.type), ["MODIFIED", "MODIFIED", "DELETED"]);
      assert.deepEqual(events[2].object.metadata.finalizers, ["example.com/a"]);
      assert.equal(events[2].object.spec.size, 3);
    } finally {
      await watch.close();
    }
  },
);

fidelity(
  "CRD schema violations are a 422 Invalid with one cause per field path",
  async (server) => {
    const name = uniqueName("schema");
    const bad = await server.request("POST", WIDGETS, {
      body: widget(name, { size: "big", color: "green", tags: ["a", 1] }),
    });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.reason, "Invalid");
    assert.deepEqual(bad.body.details.name, name);
    assert.deepEqual(bad.body.details.kind, "Widget");
    assert.deepEqual(causes(bad.body), [
      "spec.color: FieldValueNotSupported",
      "spec.size: FieldValueTypeInvalid",
      "spec.tags[1]: FieldValueTypeInvalid",
    ]);
    // kube-apiserver's order of the errors varies from request to request (Go map order).
    for (
      const part of [
        'spec.color: Unsupported value: "green": supported values: "red", "blue"',
        'spec.size: Invalid value: "string": spec.size in body must be of type integer: "string"',
        'spec.tags[1]: Invalid value: "integer": spec.tags[1] in body must be of type string: "integer"',
      ]
    ) assert.ok(bad.body.message.includes(part), `${bad.body.message} lacks ${part}`);
    assert.match(bad.body.message, new RegExp(`^Widget\\.example\\.com "${name}" is invalid: \\[`));
    const missing = await server.request("POST", WIDGETS, { body: widget(name, {}) });
    assert.equal(missing.status, 422);
    assert.deepEqual(causes(missing.body), ["spec.size: FieldValueRequired"]);
    const negative = await server.request("POST", WIDGETS, { body: widget(name, { size: -1 }) });
    assert.equal(
      negative.body.details.causes[0].message,
      "Invalid value: -1: spec.size in body should be greater than or equal to 0",
    );
    // An update is checked the same way.
    const created = await create(server, widget(name));
    const update = await server.request("PUT", `${WIDGETS}/${name}`, {
      body: { ...created, spec: { size: -2 } },
    });
    assert.equal(update.status, 422);
    assert.deepEqual(causes(update.body), ["spec.size: FieldValueInvalid"]);
  },
);

fidelity("label and field selectors", async (server) => {
  const set = uniqueName("sel");
  const objects: [string, Record<string, string>][] = [
    ["a", { set, tier: "web", env: "prod" }],
    ["b", { set, tier: "db", env: "prod" }],
    ["c", { set, tier: "web" }],
  ];
  for (const [n, labels] of objects) {
    await create(server, widget(`${set}-${n}`, undefined, { labels }));
  }
  const names = async (query: string) =>
    ((await ok(server.request("GET", `${WIDGETS}?${query}`))).items as Json[])
      .map((o) => o.metadata.name.slice(set.length + 1)).sort().join(",");
  const sel = (s: string) => `labelSelector=${encodeURIComponent(`set=${set},${s}`)}`;
  assert.equal(await names(sel("tier=web")), "a,c");
  assert.equal(await names(sel("tier!=web")), "b");
  assert.equal(await names(sel("tier in (db,cache)")), "b");
  assert.equal(await names(sel("tier notin (db)")), "a,c");
  assert.equal(await names(sel("env")), "a,b");
  assert.equal(await names(sel("!env")), "c");
  assert.equal(
    await names(`labelSelector=set%3D${set}&fieldSelector=metadata.name%3D${set}-b`),
    "b",
  );
  assert.equal(
    await names(`labelSelector=set%3D${set}&fieldSelector=metadata.name!%3D${set}-b`),
    "a,c",
  );
  const unsupported = await server.request("GET", `${WIDGETS}?fieldSelector=spec.size%3D1`);
  assert.equal(unsupported.status, 400);
  assert.equal(unsupported.body.reason, "BadRequest");
  assert.equal(unsupported.body.message, "field label not supported: spec.size");
  const malformed = await server.request(
    "GET",
    `${WIDGETS}?labelSelector=${encodeURIComponent("tier in web")}`,
  );
  assert.equal(malformed.status, 400);
});

fidelity(
  "pagination: limit and continue return every object once at one resourceVersion",
  async (server) => {
    const set = uniqueName("page");
    for (const i of [1, 2, 3, 4, 5]) {
      await create(
        server,
        widget(`${set}-${i}`, undefined, { labels: { set } }),
      );
    }
    const seen: string[] = [];
    const versions = new Set<string>();
    let token = "";
    let pages = 0;
    do {
      const page = await ok(server.request(
        "GET",
        `${WIDGETS}?labelSelector=set%3D${set}&limit=2${
          token ? `&continue=${encodeURIComponent(token)}` : ""
        }`,
      ));
      pages++;
      seen.push(...page.items.map((o: Json) => o.metadata.name));
      versions.add(page.metadata.resourceVersion);
      if (pages === 1) {
        // A change between pages is not seen: the pages show the first page's snapshot.
        await create(server, widget(`${set}-0`, undefined, { labels: { set } }));
      }
      token = page.metadata.continue;
      assert.equal(typeof token, "string", "custom resource lists always carry continue");
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, [1, 2, 3, 4, 5].map((i) => `${set}-${i}`));
    assert.equal(versions.size, 1);

    // remainingItemCount is only reported without selectors.
    const first = await ok(server.request("GET", `${WIDGETS}?limit=1`));
    assert.equal(typeof first.metadata.remainingItemCount, "number");
    const filtered = await ok(
      server.request("GET", `${WIDGETS}?labelSelector=set%3D${set}&limit=1`),
    );
    assert.equal(filtered.metadata.remainingItemCount, undefined);
    // A continue token applies the selector of the request that carries it.
    const other = await ok(server.request(
      "GET",
      `${WIDGETS}?labelSelector=set%3Dnone&limit=1&continue=${
        encodeURIComponent(filtered.metadata.continue)
      }`,
    ));
    assert.deepEqual(other.items, []);
  },
);

fidelity("Events are validated like kube-apiserver validates them", async (server) => {
  const name = uniqueName("ev");
  const regarding = { kind: "Widget", apiVersion: "example.com/v1", name: "w", namespace: NS };
  const eventsV1 = `/apis/events.k8s.io/v1/namespaces/${NS}/events`;
  const now = new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
  const valid = {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: { name },
    eventTime: now,
    reportingController: "example.com/test",
    reportingInstance: "test-1",
    action: "Testing",
    reason: "Tested",
    regarding,
    note: "a note",
    type: "Normal",
  };
  const missing = await server.request("POST", eventsV1, {
    body: { ...valid, reportingController: undefined, type: "Odd" },
  });
  assert.equal(missing.status, 422);
  assert.deepEqual(causes(missing.body), [
    "reportingController: FieldValueInvalid",
    "reportingController: FieldValueRequired",
    "type: FieldValueInvalid",
  ]);
  const created = await create(server, valid, eventsV1);
  const changed = await server.request("PUT", `${eventsV1}/${name}`, {
    body: { ...created, note: "another note" },
  });
  assert.equal(changed.status, 422);
  // The events.k8s.io view of an immutable field is reported under its core name.
  assert.deepEqual(causes(changed.body), ["message: FieldValueInvalid"]);

  const core = await server.request("POST", `/api/v1/namespaces/${NS}/events`, {
    body: {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${name}-core` },
      involvedObject: { ...regarding, namespace: "elsewhere" },
      reason: "Tested",
      message: "m",
      type: "Normal",
    },
  });
  assert.equal(core.status, 422);
  assert.deepEqual(causes(core.body), ["involvedObject.namespace: FieldValueInvalid"]);
});

fidelity("Leases are validated like kube-apiserver validates them", async (server) => {
  const name = uniqueName("lease");
  const leases = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
  const bad = await server.request("POST", leases, {
    body: {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name },
      spec: { holderIdentity: "a", leaseDurationSeconds: 0, leaseTransitions: -1 },
    },
  });
  assert.equal(bad.status, 422);
  assert.deepEqual(causes(bad.body), [
    "spec.leaseDurationSeconds: FieldValueInvalid",
    "spec.leaseTransitions: FieldValueInvalid",
  ]);
  const lease = await create(server, {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name },
    spec: {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: "2026-01-02T03:04:05.123456Z",
      renewTime: "2026-01-02T03:04:05.123456Z",
      leaseTransitions: 0,
    },
  }, leases);
  assert.equal(lease.spec.renewTime, "2026-01-02T03:04:05.123456Z", "MicroTime keeps microseconds");
  await ok(server.request("DELETE", `${leases}/${name}`));
});
