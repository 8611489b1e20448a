/** The informer: watcher → store → handlers, with counters, against the scripted server. */
import assert from "node:assert/strict";
import { Logger } from "../../lib/log.ts";
import { ExponentialBackoff } from "../../lib/kube/backoff.ts";
import { Informer, type InformerOptions } from "../../lib/kube/informer.ts";
import type { KubeObject } from "../../lib/kube/resource.ts";
import type { Change } from "../../lib/kube/store.ts";
import {
  listOf,
  ScriptedApiServer,
  status,
  testObject,
  WIDGETS,
} from "../support/scripted_apiserver.ts";

function informerFor(server: ScriptedApiServer, options: InformerOptions = {}) {
  return new Informer<KubeObject>(server.transport(), WIDGETS, {
    backoff: new ExponentialBackoff({ initialMs: 10, maxMs: 100 }),
    inactivityTimeoutMs: 5_000,
    ...options,
  });
}

/** Polls `condition` until it holds; fails after 15 s rather than hanging. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 15_000) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("handlers run after the store applied the change and see the new state", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("MODIFIED", testObject("a", "2"));
      await res.event("DELETED", testObject("a", "3"));
      await res.closed;
    });
  const informer = informerFor(server);
  const seen: string[] = [];
  informer.onChange((change) => {
    const cached = informer.store.get("default/a")?.metadata.resourceVersion ?? "gone";
    seen.push(`${change.type}@${change.object.metadata.resourceVersion} store=${cached}`);
  });
  const abort = new AbortController();
  const running = informer.run(abort.signal);
  try {
    await eventually(() => seen.length === 3, "three changes");
    assert.deepEqual(seen, ["added@1 store=1", "updated@2 store=2", "deleted@3 store=gone"]);
  } finally {
    abort.abort();
    await running;
    await server.close();
  }
});

Deno.test("a throwing handler is logged and neither stops the informer nor other handlers", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.closed;
    });
  const lines: string[] = [];
  const informer = informerFor(server, { log: new Logger({ sink: (l) => lines.push(l) }) });
  const received: Change<KubeObject>[] = [];
  informer.onChange(() => {
    throw new Error("handler bug");
  });
  informer.onChange((change) => received.push(change));
  const abort = new AbortController();
  const running = informer.run(abort.signal);
  try {
    await eventually(() => received.length === 2, "both changes at the second handler");
    const logged = lines.map((l) => JSON.parse(l)).filter((r) => r.msg === "change handler failed");
    assert.equal(logged.length, 2);
    assert.equal(logged[0].error, "handler bug");
    assert.equal(logged[0].object, "default/a");
  } finally {
    abort.abort();
    await running;
    await server.close();
  }
});

Deno.test("an unsubscribed handler receives no further changes", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.closed;
    });
  const informer = informerFor(server);
  const first: string[] = [];
  const all: string[] = [];
  const unsubscribe = informer.onChange((c) => {
    first.push(c.object.metadata.name!);
    unsubscribe();
  });
  informer.onChange((c) => all.push(c.object.metadata.name!));
  const abort = new AbortController();
  const running = informer.run(abort.signal);
  try {
    await eventually(() => all.length === 2, "two changes");
    assert.deepEqual(first, ["a"]);
  } finally {
    abort.abort();
    await running;
    await server.close();
  }
});

Deno.test("waitForSync resolves once the initial list is in the store", async () => {
  const server = await ScriptedApiServer.start();
  server.onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")));
  const informer = informerFor(server);
  const abort = new AbortController();
  assert.equal(informer.hasSynced(), false);
  const running = informer.run(abort.signal);
  try {
    await informer.waitForSync(AbortSignal.timeout(15_000));
    assert.equal(informer.hasSynced(), true);
    assert.deepEqual(informer.store.keys(), ["default/a"]);
    await informer.waitForSync(); // already synced: resolves at once
  } finally {
    abort.abort();
    await running;
    await server.close();
  }
});

Deno.test("waitForSync rejects with the signal's reason when it aborts before the sync", async () => {
  const server = await ScriptedApiServer.start();
  const informer = informerFor(server);
  const abort = new AbortController();
  const waiting = informer.waitForSync(abort.signal);
  abort.abort(new Error("shutting down"));
  await assert.rejects(waiting, /shutting down/);
  await server.close();
});

Deno.test("run keeps going through API errors and resolves when its signal aborts", async () => {
  const server = await ScriptedApiServer.start(); // every list answers 500: nothing scripted
  const informer = informerFor(server);
  const abort = new AbortController();
  const running = informer.run(abort.signal);
  try {
    await eventually(() => informer.errors >= 3, "three failed lists");
    assert.equal(informer.hasSynced(), false);
    await assert.rejects(informer.run(abort.signal), /twice at once/);
  } finally {
    abort.abort();
    await running; // resolves, never rejects
    await server.close();
  }
});

Deno.test("counters record errors, relists and watch restarts", async () => {
  const server = await ScriptedApiServer.start();
  server
    .onList((_, res) => res.json(500, status(500, "InternalError", "down")))
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.end();
    })
    .onWatch((_, res) => res.json(410, status(410, "Expired", "too old")))
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "5")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("c", "6"));
      await res.closed;
    });
  const informer = informerFor(server);
  const abort = new AbortController();
  const running = informer.run(abort.signal);
  try {
    await eventually(() => informer.store.get("default/c") !== undefined, "c to arrive");
    // The 500 and the 410 that answered a watch before any event (backed off like client-go,
    // so a server answering every watch with 410 cannot get back-to-back relists).
    assert.equal(informer.errors, 2);
    assert.equal(informer.relists, 1);
    assert.equal(informer.watchRestarts, 1); // the 410 answer never started a watch
    assert.equal(typeof informer.lastEventAt, "number");
    assert.deepEqual(informer.store.keys().sort(), ["default/a", "default/c"]);
  } finally {
    abort.abort();
    await running;
    await server.close();
  }
});
