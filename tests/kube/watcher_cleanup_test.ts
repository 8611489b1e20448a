/**
 * Ending a watcher — by abort or by leaving a `for await` loop — must cancel whatever request
 * is in flight. Deno's resource and op sanitizers (on by default) fail these tests if a
 * response body, connection or timer is left behind; the server additionally checks that the
 * client really hung up.
 */
import assert from "node:assert/strict";
import { ExponentialBackoff } from "../../lib/kube/backoff.ts";
import type { KubeObject } from "../../lib/kube/resource.ts";
import { watcher } from "../../lib/kube/watcher.ts";
import {
  listOf,
  ScriptedApiServer,
  status,
  testObject,
  WIDGETS,
} from "../support/scripted_apiserver.ts";

Deno.test("leaving a for-await loop closes the open watch connection", async () => {
  const server = await ScriptedApiServer.start();
  let clientHungUp!: () => void;
  const hungUp = new Promise<void>((resolve) => (clientHungUp = resolve));
  server
    .onList((_, res) => res.json(200, listOf([], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("a", "2"));
      await res.closed;
      clientHungUp();
    });
  try {
    const seen: string[] = [];
    for await (const event of watcher<KubeObject>(server.transport(), WIDGETS)) {
      seen.push(event.type);
      if (event.type === "Applied") break;
    }
    assert.deepEqual(seen, ["Restarted", "Applied"]);
    await within(hungUp, "the client to hang up");
  } finally {
    await server.close();
  }
});

Deno.test("aborting the signal while waiting for watch data ends the generator cleanly", async () => {
  const server = await ScriptedApiServer.start();
  const abort = new AbortController();
  server
    .onList((_, res) => res.json(200, listOf([], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      abort.abort(); // the client is now blocked reading a silent stream
      await res.closed;
    });
  try {
    const events = watcher<KubeObject>(server.transport(), WIDGETS, { signal: abort.signal });
    assert.equal((await events.next()).value?.type, "Restarted");
    const last = await events.next(); // must not hang: the abort ends it
    assert.equal(last.done, true);
  } finally {
    await server.close();
  }
});

Deno.test("aborting the signal during a list request ends the generator cleanly", async () => {
  const server = await ScriptedApiServer.start();
  const abort = new AbortController();
  server.onList(async (_, res) => {
    abort.abort();
    await res.closed;
  });
  try {
    const events = watcher<KubeObject>(server.transport(), WIDGETS, { signal: abort.signal });
    assert.equal((await events.next()).done, true);
  } finally {
    await server.close();
  }
});

Deno.test("aborting the signal during a backoff sleep ends the generator cleanly", async () => {
  const server = await ScriptedApiServer.start();
  const abort = new AbortController();
  server.onList((_, res) => res.json(500, status(500, "InternalError", "down")));
  try {
    const events = watcher<KubeObject>(server.transport(), WIDGETS, {
      signal: abort.signal,
      // A long sleep: the test would time out if abort did not cut it short.
      backoff: new ExponentialBackoff({ initialMs: 600_000, maxMs: 600_000, jitter: 0 }),
    });
    const first = await events.next();
    assert.equal(first.value?.type, "Error");
    const pending = events.next();
    abort.abort();
    assert.equal((await pending).done, true);
  } finally {
    await server.close();
  }
});

Deno.test("calling return() on the generator mid-stream releases the connection", async () => {
  const server = await ScriptedApiServer.start();
  let clientHungUp!: () => void;
  const hungUp = new Promise<void>((resolve) => (clientHungUp = resolve));
  server
    .onList((_, res) => res.json(200, listOf([testObject("a", "1")], "1")))
    .onWatch(async (_, res) => {
      await res.startStream();
      await res.event("ADDED", testObject("b", "2"));
      await res.closed;
      clientHungUp();
    });
  try {
    const events = watcher<KubeObject>(server.transport(), WIDGETS);
    assert.equal((await events.next()).value?.type, "Restarted");
    assert.equal((await events.next()).value?.type, "Applied");
    assert.equal((await events.return()).done, true);
    await within(hungUp, "the client to hang up");
  } finally {
    await server.close();
  }
});

/** Fails instead of hanging when `promise` does not settle within 10 s. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out waiting for ${what}`)), 10_000);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
