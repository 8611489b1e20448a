import assert from "node:assert/strict";
import { call, createWidget, startServer, WatchReader, WIDGETS } from "./_testing.ts";

Deno.test("failNext answers the next matching requests with the given Status, then recovers", async (t) => {
  await using server = await startServer();
  await createWidget(server, "a");
  await t.step("500 on list, twice", async () => {
    server.faults.failNext({ verb: "list", resource: "widgets" }, { code: 500 }, 2);
    assert.equal((await call(server, "GET", `${WIDGETS}/a`)).status, 200, "get does not match");
    for (let i = 0; i < 2; i++) {
      const reply = await call(server, "GET", WIDGETS);
      assert.equal(reply.status, 500);
      assert.equal(reply.body.kind, "Status");
      assert.equal(reply.body.reason, "InternalError");
    }
    assert.equal((await call(server, "GET", WIDGETS)).status, 200);
  });
  await t.step("429 with Retry-After", async () => {
    server.faults.failNext({ verb: "get" }, { code: 429, retryAfterSeconds: 3 });
    const reply = await call(server, "GET", `${WIDGETS}/a`);
    assert.equal(reply.status, 429);
    assert.equal(reply.headers.get("retry-after"), "3");
    assert.equal(reply.body.details.retryAfterSeconds, 3);
    assert.equal(reply.body.reason, "TooManyRequests");
  });
  await t.step("410 on list", async () => {
    server.faults.failNext({ verb: "list" }, { code: 410 });
    const reply = await call(server, "GET", WIDGETS);
    assert.equal(reply.status, 410);
    assert.equal(reply.body.reason, "Expired");
  });
  await t.step("409 on the status subresource only", async () => {
    server.faults.failNext({ verb: "patch", subresource: "status" }, {
      code: 409,
      message: "busy",
    });
    const merge = { "content-type": "application/merge-patch+json" };
    const main = await call(server, "PATCH", `${WIDGETS}/a`, { spec: { size: 2 } }, merge);
    assert.equal(main.status, 200);
    const status = await call(server, "PATCH", `${WIDGETS}/a/status`, { status: {} }, merge);
    assert.equal(status.status, 409);
    assert.equal(status.body.message, "busy");
  });
  await t.step("reset clears pending failures", async () => {
    server.faults.failNext({}, { code: 503 });
    server.faults.reset();
    assert.equal((await call(server, "GET", WIDGETS)).status, 200);
  });
});

Deno.test("dropWatches tears watch connections down without a clean end", async () => {
  await using server = await startServer();
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${server.resourceVersion}`,
  );
  server.faults.dropWatches();
  await assert.rejects(() => watch.next());
  assert.equal(server.openWatches, 0);
});

Deno.test("closeWatches ends watch streams cleanly", async () => {
  await using server = await startServer();
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${server.resourceVersion}`,
  );
  server.faults.closeWatches();
  assert.equal(await watch.next(), "end");
});

Deno.test("compact makes every earlier resourceVersion answer 410 while the current one still works", async () => {
  await using server = await startServer();
  const a = await createWidget(server, "a");
  await createWidget(server, "b");
  server.faults.compact();
  await using old = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${a.metadata.resourceVersion}`,
  );
  const e = await old.next();
  assert.ok(e !== "end" && e.type === "ERROR" && e.object.code === 410);
  await using current = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${server.resourceVersion}`,
  );
  await createWidget(server, "c");
  const live = await current.next();
  assert.ok(live !== "end" && live.object.metadata.name === "c");
});

Deno.test("an injected watch failure can arrive inside the stream as an ERROR event", async () => {
  await using server = await startServer();
  server.faults.failNext({ verb: "watch" }, { code: 410, inStream: true } as never);
  await using watch = await WatchReader.open(server, `${WIDGETS}?watch=true&resourceVersion=1`);
  assert.equal(watch.response.status, 200);
  const e = await watch.next();
  assert.ok(e !== "end" && e.type === "ERROR" && e.object.code === 410);
});

Deno.test("latency holds requests back until it is lifted for later ones", async () => {
  await using server = await startServer();
  server.faults.setLatency(60_000);
  const controller = new AbortController();
  let slowDone = false;
  const slow = fetch(`${server.url}${WIDGETS}`, { signal: controller.signal })
    .then(async (r) => {
      await r.body?.cancel();
      slowDone = true;
    })
    .catch(() => {});
  // Wait until the slow request is inside the server, then lift the latency.
  while (server.stats.total === 0) await new Promise((r) => setTimeout(r, 1));
  server.faults.setLatency(0);
  assert.equal((await call(server, "GET", WIDGETS)).status, 200);
  assert.equal(slowDone, false, "the delayed request is still waiting");
  controller.abort();
  await slow;
});

Deno.test("restart keeps state and port, and drops open watches", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  const port = server.port;
  await using watch = await WatchReader.open(
    server,
    `${WIDGETS}?watch=true&resourceVersion=${server.resourceVersion}`,
  );
  await server.restart();
  await assert.rejects(() => watch.next());
  assert.equal(server.port, port);
  assert.equal((await call(server, "GET", `${WIDGETS}/a`)).status, 200);
});

Deno.test("a required bearer token turns anonymous requests away with 401", async () => {
  await using server = await startServer({ token: "s3cret" });
  const anonymous = await call(server, "GET", WIDGETS);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.reason, "Unauthorized");
  const authorized = await call(server, "GET", WIDGETS, undefined, {
    authorization: "Bearer s3cret",
  });
  assert.equal(authorized.status, 200);
  assert.match(server.kubeconfigYaml({ token: "s3cret" }), /token: s3cret/);
});

Deno.test("failEvery fails one matching request in each period, among the given verbs, until reset", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  server.faults.failEvery({ verbs: ["patch", "delete"] }, { code: 409 }, 2);
  const merge = { "content-type": "application/merge-patch+json" };
  const codes: number[] = [];
  for (let i = 0; i < 4; i++) {
    codes.push((await call(server, "PATCH", `${WIDGETS}/a`, { spec: { size: i } }, merge)).status);
    assert.equal((await call(server, "GET", `${WIDGETS}/a`)).status, 200, "reads do not match");
  }
  assert.deepEqual(codes, [409, 200, 409, 200]);
  server.faults.reset();
  assert.equal(
    (await call(server, "PATCH", `${WIDGETS}/a`, { spec: { size: 9 } }, merge)).status,
    200,
  );
});

Deno.test("pause refuses connections with the state kept; resume serves it again on the same port", async () => {
  await using server = await startServer();
  await createWidget(server, "a");
  const seen: string[] = [];
  const unsubscribe = server.onCommit((event) =>
    seen.push(`${event.type} ${event.object.metadata.name}`)
  );
  const port = server.port;
  await server.pause();
  await assert.rejects(() => call(server, "GET", WIDGETS));
  await server.resume();
  assert.equal(server.port, port);
  assert.equal((await call(server, "GET", `${WIDGETS}/a`)).status, 200);
  await createWidget(server, "b");
  unsubscribe();
  await createWidget(server, "c");
  assert.deepEqual(seen, ["ADDED b"]);
});
