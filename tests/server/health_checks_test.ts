import assert from "node:assert/strict";
import { Readiness, renderReport } from "../../lib/server/health_checks.ts";

Deno.test("a report passes only when every check passes", async () => {
  const checks = new Readiness();
  let synced = false;
  checks.addCheck("informer-releases", () => ({ ok: synced, reason: "cache not synced" }));
  checks.addCheck("provider-capv", () => ({ ok: true }));
  assert.equal((await checks.run()).ok, false);
  synced = true;
  assert.equal((await checks.run()).ok, true);
});

Deno.test("a failing report lists each check with its reason, sorted by name", async () => {
  const checks = new Readiness();
  checks.addCheck("provider-capv", () => ({ ok: false, reason: "not reachable" }));
  checks.addCheck("informer-releases", () => ({ ok: true }));
  const text = renderReport(await checks.run(), "readyz", false);
  assert.equal(
    text,
    "[+]informer-releases ok\n[-]provider-capv failed: not reachable\nreadyz check failed\n",
  );
});

Deno.test("a passing report is a bare ok unless verbose is asked for", async () => {
  const checks = new Readiness();
  checks.addCheck("informer-releases", () => ({ ok: true }));
  const report = await checks.run();
  assert.equal(renderReport(report, "readyz", false), "ok");
  assert.equal(
    renderReport(report, "readyz", true),
    "[+]informer-releases ok\nreadyz check passed\n",
  );
});

Deno.test("a check that throws or rejects counts as failed with its message", async () => {
  const checks = new Readiness();
  checks.addCheck("sync", () => {
    throw new Error("informer crashed");
  });
  checks.addCheck("async", () => Promise.reject(new Error("timed out\nbadly")));
  const report = await checks.run();
  assert.equal(report.ok, false);
  assert.equal(
    renderReport(report, "readyz", false),
    "[-]async failed: timed out badly\n[-]sync failed: informer crashed\nreadyz check failed\n",
  );
});

Deno.test("excluded checks are skipped and unknown exclusions are reported", async () => {
  const checks = new Readiness();
  checks.addCheck("provider-capv", () => ({ ok: false, reason: "down" }));
  const report = await checks.run(["provider-capv", "nope"]);
  assert.equal(report.ok, true);
  assert.equal(
    renderReport(report, "readyz", true),
    '[+]provider-capv excluded: ok\nwarn: some health checks cannot be excluded: no matches for "nope"\nreadyz check passed\n',
  );
});

Deno.test("an empty registry reports a passing ping", async () => {
  const report = await new Readiness().run();
  assert.deepEqual(report.checks, [{ name: "ping", ok: true, excluded: false }]);
  assert.equal(report.ok, true);
});

Deno.test("duplicate and malformed check names are refused", () => {
  const checks = new Readiness();
  checks.addCheck("a", () => ({ ok: true }));
  assert.throws(() => checks.addCheck("a", () => ({ ok: true })), /"a"/);
  assert.throws(() => checks.addCheck("has space", () => ({ ok: true })), TypeError);
  assert.throws(() => checks.addCheck("a/b", () => ({ ok: true })), TypeError);
});

Deno.test("one check can be run alone by name", async () => {
  const checks = new Readiness();
  checks.addCheck("a", () => ({ ok: false, reason: "x" }));
  assert.deepEqual(await checks.runOne("a"), {
    name: "a",
    ok: false,
    excluded: false,
    reason: "x",
  });
  assert.equal(await checks.runOne("b"), undefined);
});
