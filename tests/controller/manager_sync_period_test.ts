/**
 * The manager's sync period (controller-runtime's SyncPeriod, `--sync-period`): every informer
 * relists on that period and every object is reconciled again, changed or not.
 */
import assert from "node:assert/strict";
import { Controller } from "../../lib/controller/controller.ts";
import { Manager } from "../../lib/controller/manager.ts";
import { done } from "../../lib/controller/result.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { listOf, ScriptedApiServer, testObject, WIDGETS } from "../support/scripted_apiserver.ts";

Deno.test("with a sync period every object is reconciled again each period, changed or not", async () => {
  const clock = new FakeClock();
  const server = await ScriptedApiServer.start();
  const listed = listOf([testObject("a", "1"), testObject("b", "2")], "2");
  server.onList((_, res) => res.json(200, listed)).onList((_, res) => res.json(200, listed));
  const manager = new Manager({ transport: server.transport(), clock, syncPeriodMs: 3_600_000 });
  // No inactivity deadline within the clock step: only the sync period may end the watch.
  const informer = manager.informer(WIDGETS, { inactivityTimeoutMs: 100 * 3_600_000 });
  const reconciled: string[] = [];
  const controller = new Controller({
    name: "widgets",
    reconcile: (key) => {
      reconciled.push(key);
      return Promise.resolve(done());
    },
    watches: [{ informer }],
    clock,
  });
  manager.addController(controller);
  const stop = new AbortController();
  const informers = manager.runInformers(stop.signal);
  const controllers = manager.runControllers(stop.signal);
  const until = async (what: string, condition: () => boolean) => {
    for (let waited = 0; !condition(); waited += 10) {
      if (waited > 15_000) throw new Error(`Timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  try {
    await until("the first reconciles", () => reconciled.length === 2);
    await until("the watch", () => server.requestsOf("watch").length === 1);
    await clock.advance(3_960_001); // one hour plus its largest jitter
    await until("the periodic reconciles", () => reconciled.length === 4);
    assert.deepEqual(reconciled.sort(), ["default/a", "default/a", "default/b", "default/b"]);
    assert.equal(server.requestsOf("list").length, 2);
  } finally {
    stop.abort();
    await Promise.all([informers, controllers]);
    await server.close();
  }
});
