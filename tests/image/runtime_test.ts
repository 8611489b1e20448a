/** The image controller's runtime pieces on their own: provider registry, inventory cache, pool. */
import assert from "node:assert/strict";
import { Secret } from "../../lib/config/secret.ts";
import { InventoryCache } from "../../lib/image/inventory.ts";
import type { ImageSource } from "../../lib/image/provider.ts";
import { ProviderRegistry } from "../../lib/image/providers.ts";
import { TransferPool } from "../../lib/image/transfers.ts";
import { Readiness, renderReport } from "../../lib/server/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { FakeCatalog, type FakeProvider, validImageBytes } from "../support/fake_provider.ts";
import { catalogConfigs, catalogModule } from "../support/fake_module.ts";

function memorySource(bytes: Uint8Array): ImageSource {
  return {
    key: "capv/x/x.ova",
    format: "ova",
    size: bytes.length,
    url: () => Promise.resolve("http://example.invalid/x.ova"),
    open: () =>
      Promise.resolve(
        new ReadableStream({
          start(controller) {
            controller.enqueue(bytes);
            controller.close();
          },
        }),
      ),
  };
}

const IMAGE = { name: "flatcar-x", provider: "capv", objectKey: "ns/capv-flatcar-x" };

Deno.test("an unreachable provider is probed with backoff for ever, at the cap after retryCount", async () => {
  const clock = new FakeClock();
  const catalog = new FakeCatalog({ locations: ["a"] });
  catalog.unreachable = "connection refused";
  const registry = new ProviderRegistry({ initialBackoffMs: 5_000, retryCount: 3, clock });
  await registry.update(catalogConfigs(catalog));
  await clock.flush();
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    const before = clock.now();
    await clock.advanceToNextTimer();
    delays.push(clock.now() - before);
  }
  assert.deepEqual(delays, [5_000, 10_000, 20_000, 20_000, 20_000, 20_000]);
  assert.equal(registry.get("capv")?.status.phase, "unreachable");
  catalog.unreachable = undefined;
  await clock.advanceToNextTimer();
  assert.equal(registry.get("capv")?.status.phase, "ready");
  assert.equal(clock.pendingTimers().length, 0, "no periodic probing of a ready provider");
  await registry.close();
});

Deno.test("a rotated secret replaces the provider and closes the old one; an unchanged config keeps it", async () => {
  const catalog = new FakeCatalog({ locations: ["a"] });
  const made: FakeProvider[] = [];
  const module = catalogModule(catalog, (p) => made.push(p));
  const registry = new ProviderRegistry({
    initialBackoffMs: 10,
    retryCount: 1,
    clock: new FakeClock(),
  });
  await registry.update({ capv: module.configure({ user: "op", password: new Secret("one") }) });
  await registry.update({ capv: module.configure({ user: "op", password: new Secret("one") }) });
  assert.equal(made.length, 1, "same config, same provider");
  await registry.update({ capv: module.configure({ user: "op", password: new Secret("two") }) });
  assert.equal(made.length, 2);
  assert.equal(made[0].closed, true);
  assert.equal(registry.get("capv")?.provider, made[1]);
  await registry.update({});
  assert.equal(made[1].closed, true);
  assert.equal(registry.get("capv"), undefined);
  await registry.close();
});

Deno.test("/readyz lists each provider's state without failing for a down one", async () => {
  const clock = new FakeClock();
  const up = new FakeCatalog({ id: "capmox", locations: ["a"] });
  const down = new FakeCatalog({ locations: ["a"] });
  down.unreachable = "no route to host";
  const registry = new ProviderRegistry({ initialBackoffMs: 1_000, retryCount: 2, clock });
  const readiness = new Readiness();
  registry.attachReadiness(readiness);
  await registry.update(catalogConfigs(down, up));
  await clock.flush();
  const report = await readiness.run();
  assert.equal(report.ok, true);
  const body = renderReport(report, "readyz", false);
  assert.match(body, /\[\+\]provider-capv ok: unreachable: Cannot reach capv: no route to host/);
  assert.match(body, /\[\+\]provider-capmox ok\n/);
  await registry.close();
});

Deno.test("concurrent listings of one location share one platform call; invalidation forces a new one", async () => {
  const clock = new FakeClock();
  const catalog = new FakeCatalog({ locations: ["a", "b"] });
  const provider = catalog.connect();
  const cache = new InventoryCache({ resyncMs: 60_000, clock });
  await Promise.all([1, 2, 3].map(() => cache.get(provider, "a")));
  assert.equal(catalog.count("inventory", "a"), 1);
  await cache.get(provider, "a");
  assert.equal(catalog.count("inventory", "a"), 1, "fresh enough");
  cache.invalidate("capv", "a");
  await cache.get(provider, "a");
  assert.equal(catalog.count("inventory", "a"), 2);
  await clock.advance(60_000);
  await cache.get(provider, "a");
  assert.equal(catalog.count("inventory", "a"), 3, "re-listed after the resync period");
  await cache.get(provider, "a", { notBefore: clock.now() + 1 });
  assert.equal(catalog.count("inventory", "a"), 4, "a refresh wants a listing started later");
  assert.equal(catalog.count("inventory", "b"), 0);
  cache.close();
});

Deno.test("the pool runs at most N transfers, one per image and location, and cleans up a cancel", async () => {
  const clock = new FakeClock();
  const catalog = new FakeCatalog({ locations: ["a", "b", "c"], clock, bytesPerSecond: 1024 });
  const provider = catalog.connect();
  const settled: string[] = [];
  const pool = new TransferPool({
    maxConcurrent: 2,
    clock,
    onSettled: (key) => settled.push(key),
  });
  const source = memorySource(validImageBytes("ova", 8 * 1024));
  for (const location of ["a", "b", "c"]) {
    pool.start({
      objectKey: IMAGE.objectKey,
      location,
      image: IMAGE,
      provider,
      source,
      cleanupFirst: false,
    });
  }
  assert.throws(
    () =>
      pool.start({
        objectKey: IMAGE.objectKey,
        location: "a",
        image: IMAGE,
        provider,
        source,
        cleanupFirst: false,
      }),
    /already running/,
  );
  await clock.flush();
  assert.equal(pool.running, 2);
  assert.equal(pool.queued, 1);
  await clock.advance(2_000);
  assert.equal(catalog.partials().length, 2);
  await pool.cancel(IMAGE.objectKey);
  assert.deepEqual(catalog.partials(), []);
  assert.equal(pool.running, 0);
  assert.equal(pool.queued, 0);
  assert.equal(catalog.count("cleanup"), 2);
  assert.equal(pool.peakRunning, 2);
  assert.equal(settled.length, 2);
  await pool.shutdown();
});

/** A registry over `catalog` that records every client it makes, ready after `update`. */
async function rotatingRegistry(catalog: FakeCatalog, clock: FakeClock) {
  const made: FakeProvider[] = [];
  const module = catalogModule(catalog, (p) => made.push(p));
  const registry = new ProviderRegistry({ initialBackoffMs: 10, retryCount: 1, clock });
  await registry.update({ capv: module.configure({ user: "op", password: new Secret("one") }) });
  await clock.flush();
  assert.equal(registry.get("capv")?.status.phase, "ready");
  return { registry, made, module };
}

Deno.test("a credential rotation lets a running transfer finish on the old client, and closes it only then", async () => {
  const clock = new FakeClock();
  const catalog = new FakeCatalog({ locations: ["a"], clock, bytesPerSecond: 1024 });
  const { registry, made, module } = await rotatingRegistry(catalog, clock);
  const pool = new TransferPool({ clock });
  const old = registry.get("capv")!.provider!;
  pool.start({
    objectKey: IMAGE.objectKey,
    location: "a",
    image: IMAGE,
    provider: old,
    source: memorySource(validImageBytes("ova", 8 * 1024)),
    cleanupFirst: false,
    release: registry.acquire(old).release,
  });
  await clock.advance(2_000);
  assert.equal(catalog.partials().length, 1, "the transfer is half way");
  await registry.update({ capv: module.configure({ user: "op", password: new Secret("two") }) });
  assert.equal(made.length, 2);
  assert.equal(registry.get("capv")?.provider, made[1], "new work gets the new client");
  assert.equal(made[0].closed, false, "the old client stays open while its transfer runs");
  await clock.advance(10_000);
  await clock.flush();
  const transfer = pool.snapshot(IMAGE.objectKey).get("a");
  assert.equal(transfer?.state, "succeeded", transfer?.error ?? "no error");
  assert.equal(catalog.items("a").get(IMAGE.name)?.complete, true);
  assert.equal(made[0].closed, true, "closed once the transfer settled");
  assert.equal(made[1].closed, false);
  await pool.shutdown();
  await registry.close();
  assert.equal(made[1].closed, true);
});

Deno.test("a transfer cancelled after a credential rotation is still cleaned up through the old client", async () => {
  const clock = new FakeClock();
  const catalog = new FakeCatalog({ locations: ["a"], clock, bytesPerSecond: 1024 });
  const { registry, made, module } = await rotatingRegistry(catalog, clock);
  const pool = new TransferPool({ clock });
  const old = registry.get("capv")!.provider!;
  pool.start({
    objectKey: IMAGE.objectKey,
    location: "a",
    image: IMAGE,
    provider: old,
    source: memorySource(validImageBytes("ova", 8 * 1024)),
    cleanupFirst: false,
    release: registry.acquire(old).release,
  });
  await clock.advance(2_000);
  await registry.update({ capv: module.configure({ user: "op", password: new Secret("two") }) });
  await pool.cancel(IMAGE.objectKey);
  await clock.flush();
  assert.deepEqual(catalog.partials(), [], "the cleanup ran on the still-open old client");
  assert.equal(made[0].closed, true, "closed after the cleanup");
  await pool.shutdown();
  await registry.close();
});

Deno.test("two NodeImages naming the same image share one transfer, and one letting go does not stop it", async () => {
  const clock = new FakeClock();
  const catalog = new FakeCatalog({ locations: ["a"], clock, bytesPerSecond: 1024 });
  const provider = catalog.connect();
  const settled: string[] = [];
  const pool = new TransferPool({ clock, onSettled: (key) => settled.push(key) });
  const source = memorySource(validImageBytes("ova", 8 * 1024));
  const copy = { ...IMAGE, objectKey: "other/capv-flatcar-x" };
  pool.start({
    objectKey: IMAGE.objectKey,
    location: "a",
    image: IMAGE,
    provider,
    source,
    cleanupFirst: false,
  });
  // A race: the copy's reconcile planned before any snapshot showed A's transfer.
  const view = pool.start({
    objectKey: copy.objectKey,
    location: "a",
    image: copy,
    provider,
    source,
    cleanupFirst: true,
  });
  assert.equal(view.state, "running", "the copy observes A's transfer");
  const third = { ...IMAGE, objectKey: "third/capv-flatcar-x" };
  await clock.advance(2_000);
  assert.equal(pool.snapshot(third.objectKey, third).get("a")?.state, "running", "observed");
  await pool.cancel(IMAGE.objectKey);
  await pool.cancel(third.objectKey);
  assert.equal(pool.running, 1, "the copy still waits for it");
  await clock.advance(10_000);
  await clock.flush();
  assert.equal(pool.snapshot(copy.objectKey, copy).get("a")?.state, "succeeded");
  assert.equal(catalog.count("ensure", "a"), 1, "one ensure for the one catalog entry");
  assert.equal(catalog.count("cleanup", "a"), 0, "nobody cleaned up under the running upload");
  assert.equal(catalog.items("a").get(IMAGE.name)?.complete, true);
  assert.deepEqual(settled, [copy.objectKey]);
  pool.acknowledge(copy.objectKey, "a");
  assert.equal(pool.snapshot(copy.objectKey, copy).size, 0, "forgotten once reported");
  await pool.shutdown();
});
