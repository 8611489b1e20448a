/**
 * vSphere through the image controller, end to end: the fake API server with `crds/`, the real
 * provider registry with the real vSphere client against vcsim (two datacenters, one location
 * in each, HTTPS verified through `credentials.caCert`, a password full of special characters),
 * and the real S3 resolver over s3rver holding OVAs at the Go operator's keys. What vCenter
 * holds is read through govc.
 *
 * The Go operator's five scenarios (import, delete, idempotency, missing, broken bytes) for
 * both locations, then: imagesuffix, the host pick, an explicit host outside the cluster, a
 * missing folder, wrong credentials, a same-named VM of somebody else, a failure during the
 * upload, and a session that expires in the middle of an import.
 */
import assert from "node:assert/strict";
import { NODE_IMAGE_FINALIZER } from "../../lib/names.ts";
import type { NodeImage } from "../../lib/release/objects.ts";
import type { ImageSource, ImageSpec } from "../../lib/image/provider.ts";
import type { ImageSourceResolver } from "../../lib/image/source.ts";
import type { ImageLayout } from "../../lib/provider_module.ts";
import { Logger } from "../../lib/log.ts";
import { ANNOTATION_MARKER, type VsphereLocation } from "../../providers/vsphere/mod.ts";
import { type TestCluster, withCluster } from "../release/_cluster.ts";
import { defaultImageName } from "../support/builders.ts";
import { fakeVmdk, ova } from "../support/images.ts";
import type { S3rver } from "../support/s3rver.ts";
import type { TestPki } from "../support/tls.ts";
import type { Vcsim } from "../support/vcsim.ts";
import {
  createImage,
  type ImageRun,
  locationOf,
  runImageController,
  specName,
  TEST_NAMESPACE,
} from "../image/_harness.ts";
import { ImageBucket, imageBytes, s3Suite } from "../image/_s3.ts";
import {
  type Built,
  capvConfig,
  capvWiring,
  location,
  LOCATIONS,
  startSim,
  tagsOf,
  vmInfo,
  vmsIn,
  vsphereFilePki,
} from "./_vsphere.ts";

const NAME = defaultImageName("capv");
const IMAGE = specName(NAME);

const { pki, unavailable } = await vsphereFilePki();

interface StartOptions {
  locations?: Record<string, VsphereLocation>;
  password?: string;
  resolver?: ImageSourceResolver;
  inventoryResyncMs?: number;
  retry?: boolean;
  log?: Logger;
  progressIntervalMs?: number;
}

interface Setup {
  cluster: TestCluster;
  sim: Vcsim;
  bucket: ImageBucket;
  start(options?: StartOptions): Promise<ImageRun & { built: Built }>;
}

async function withSetup(
  server: S3rver,
  pki: TestPki,
  fn: (setup: Setup) => Promise<void>,
): Promise<void> {
  const bucket = await ImageBucket.create(server);
  const resolver = bucket.resolver();
  const sim = await startSim(pki);
  try {
    await withCluster(async (cluster) => {
      const start = async (options: StartOptions = {}) => {
        const wiring = capvWiring(
          capvConfig(sim, pki, { locations: options.locations, password: options.password }),
          {
            log: options.log,
            provider: options.progressIntervalMs
              ? { progressIntervalMs: options.progressIntervalMs }
              : undefined,
          },
        );
        const run = await runImageController(cluster, {
          providers: wiring.providers,
          resolver: options.resolver ?? resolver,
          log: options.log,
          inventoryResyncMs: options.inventoryResyncMs,
          timings: options.retry === false
            ? { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 }
            : undefined,
        });
        return Object.assign(run, { built: wiring.built });
      };
      await fn({ cluster, sim, bucket, start });
    });
  } finally {
    resolver.close();
    await sim.stop();
  }
}

function whenEveryLocation(
  cluster: TestCluster,
  state: string,
  names = Object.keys(LOCATIONS),
): () => Promise<NodeImage | false> {
  return async () => {
    const image = await cluster.image(NAME);
    return image !== undefined && names.every((l) => locationOf(image, l)?.state === state) &&
      image;
  };
}

const suite = await s3Suite("vSphere through the image controller, end to end", { unavailable });

suite.test("import: the OVA becomes a tagged template in each datacenter and the locations Available", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, imageBytes("ova", 64 * 1024));
    const run = await start();
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    assert.equal(image.status?.state, "Available");
    assert.equal(image.status?.ready, "2/2");
    const warnings = (await cluster.eventsAbout(NAME)).filter((e) => e.type === "Warning");
    assert.deepEqual(warnings.map((e) => e.note), [], "no warnings");
    for (const [name, loc] of Object.entries(LOCATIONS)) {
      const vm = await vmInfo(sim, `${loc.folder}/${IMAGE}`);
      assert.ok(vm?.template, `${name}: a template in ${loc.folder}`);
      assert.equal(locationOf(image, name)?.reference, vm.moref);
      assert.ok(vm.annotation?.startsWith(ANNOTATION_MARKER), String(vm.annotation));
      assert.match(locationOf(image, name)?.message ?? "", /manifest sha256 of 2 files ok/);
      assert.deepEqual(await tagsOf(sim, `${loc.folder}/${IMAGE}`), [
        "1.32.1",
        "1.35.6",
        "4593.2.3",
        "stable",
      ]);
      assert.deepEqual(await vmsIn(sim, loc.folder), [IMAGE]);
    }
    const categories = await sim.govcJson<{ name: string; cardinality: string }[]>(
      "tags.category.ls",
    );
    assert.deepEqual(
      categories.map((c) => `${c.name}:${c.cardinality}`).sort(),
      ["flatcar:SINGLE", "kubernetes:SINGLE", "os-tooling:SINGLE", "release-channel:SINGLE"],
    );
    assert.ok(image.metadata.finalizers?.includes(NODE_IMAGE_FINALIZER));
    await run.stop();
  }));

suite.test("delete: each template goes, then the finalizer, then the NodeImage", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, imageBytes("ova"));
    const run = await start();
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    await cluster.nodeImages.delete(NAME, TEST_NAMESPACE);
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    for (const loc of Object.values(LOCATIONS)) {
      assert.deepEqual(await vmsIn(sim, loc.folder), [], loc.folder);
    }
    assert.equal(run.built.calls.get("Destroy_Task"), 2);
    await run.stop();
  }));

suite.test("idempotency: later resyncs keep the same morefs, list once per location and import nothing", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, imageBytes("ova"));
    const run = await start({ inventoryResyncMs: 100 });
    await createImage(cluster, NAME);
    const first = await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    const before = new Map(run.built.calls);
    const listings = () => run.built.calls.get("RetrievePropertiesEx") ?? 0;
    await cluster.waitFor(
      "several resyncs",
      () => listings() >= (before.get("RetrievePropertiesEx") ?? 0) + 4,
    );
    const again = await cluster.image(NAME);
    assert.equal(again?.status?.state, "Available");
    for (const [name, loc] of Object.entries(LOCATIONS)) {
      assert.equal(locationOf(again, name)?.reference, locationOf(first, name)?.reference);
      assert.equal(
        (await vmInfo(sim, `${loc.folder}/${IMAGE}`))?.moref,
        locationOf(first, name)?.reference,
      );
    }
    const after = run.built.calls;
    for (const method of ["ImportVApp", "CreateImportSpec", "Destroy_Task", "FindChild"]) {
      assert.equal(after.get(method) ?? 0, before.get(method) ?? 0, `no ${method} after Available`);
    }
    // Steady state costs property retrievals only: one per location per resync.
    const others = [...after].filter(([m]) => m !== "RetrievePropertiesEx")
      .map(([m, n]) => [m, n - (before.get(m) ?? 0)]).filter(([, n]) => n !== 0);
    assert.deepEqual(others, []);
    await run.stop();
  }));

suite.test("missing source: each location is Missing and vCenter gets no import", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, start }) => {
    const run = await start();
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Missing", whenEveryLocation(cluster, "Missing"));
    assert.equal(image.status?.state, "Missing");
    for (const [name, loc] of Object.entries(LOCATIONS)) {
      assert.match(locationOf(image, name)?.message ?? "", /not found at .*\(HTTP 404\)/);
      assert.deepEqual(await vmsIn(sim, loc.folder), []);
    }
    assert.equal(run.built.calls.get("ImportVApp") ?? 0, 0);
    await run.stop();
  }));

suite.test("broken source: bytes that are not an OVA give Error and leave nothing in vCenter", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, new TextEncoder().encode("not an ova\n".repeat(100)));
    const run = await start({ retry: false });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error"));
    assert.equal(image.status?.state, "Error");
    for (const [name, loc] of Object.entries(LOCATIONS)) {
      assert.match(locationOf(image, name)?.message ?? "", /not a tar archive|Malformed OVA/);
      assert.deepEqual(await vmsIn(sim, loc.folder), []);
    }
    assert.equal(run.built.calls.get("ImportVApp") ?? 0, 0);
    await run.stop();
  }));

suite.test("imagesuffix: created, listed and deleted as <name>-<suffix>", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, imageBytes("ova"));
    const locations = { "vc-a": location("DC0", { imagesuffix: "ido" }) };
    const run = await start({ locations, inventoryResyncMs: 100 });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor(
      "Available",
      whenEveryLocation(cluster, "Available", ["vc-a"]),
    );
    const vm = await vmInfo(sim, `/DC0/vm/${IMAGE}-ido`);
    assert.ok(vm?.template);
    assert.equal(locationOf(image, "vc-a")?.reference, vm.moref);
    assert.deepEqual(await vmsIn(sim, "/DC0/vm"), [`${IMAGE}-ido`]);
    // Resyncs find it under the suffixed name: no second import (the Go operator re-imported).
    const listings = run.built.calls.get("RetrievePropertiesEx") ?? 0;
    await cluster.waitFor(
      "resyncs",
      () => (run.built.calls.get("RetrievePropertiesEx") ?? 0) >= listings + 3,
    );
    assert.equal(run.built.calls.get("ImportVApp"), 1);
    await cluster.nodeImages.delete(NAME, TEST_NAMESPACE);
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    assert.deepEqual(await vmsIn(sim, "/DC0/vm"), [], "the suffixed template was deleted");
    await run.stop();
  }));

suite.test("host pick: a host in maintenance and a disconnected one are avoided", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, imageBytes("ova"));
    await sim.govc("host.maintenance.enter", "/DC0/host/DC0_C0/DC0_C0_H0");
    await sim.govc("host.disconnect", "/DC0/host/DC0_C0/DC0_C0_H1");
    const h2 =
      (await sim.govc("find", "-i", "/DC0/host/DC0_C0", "-type", "h", "-name", "DC0_C0_H2"))
        .split(":").pop();
    const run = await start({ locations: { "vc-a": location("DC0") } });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available", ["vc-a"]));
    assert.equal((await vmInfo(sim, `/DC0/vm/${IMAGE}`))?.host, h2);
    await run.stop();
  }));

suite.test("an explicit host outside the cluster, or a missing folder, is an Error naming it; other locations work", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, imageBytes("ova"));
    const locations = {
      "wrong-host": location("DC0", { host: "DC0_H0" }),
      "no-folder": location("DC0", { folder: "/DC0/vm/nowhere" }),
      "vc-b": location("DC1"),
    };
    const run = await start({ locations, retry: false });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("settled", async () => {
      const i = await cluster.image(NAME);
      return locationOf(i, "vc-b")?.state === "Available" &&
        locationOf(i, "wrong-host")?.state === "Error" &&
        locationOf(i, "no-folder")?.state === "Error" && i;
    });
    assert.match(
      locationOf(image, "wrong-host")?.message ?? "",
      /host "DC0_H0" is not a host of cluster "DC0_C0" \(its hosts: DC0_C0_H0, DC0_C0_H1, DC0_C0_H2\)/,
    );
    assert.match(
      locationOf(image, "no-folder")?.message ?? "",
      /folder "\/DC0\/vm\/nowhere" not found \(inventory path DC0\/vm\/nowhere\)/,
    );
    assert.deepEqual(await vmsIn(sim, "/DC0/vm"), []);
    assert.ok((await vmInfo(sim, `/DC1/vm/${IMAGE}`))?.template);
    await run.stop();
  }));

suite.test("wrong credentials: the provider is unreachable with vCenter's reason, without the password", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, imageBytes("ova"));
    const wrong = "Wr0ng&<pass>";
    const run = await start({ password: wrong });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error"));
    for (const name of Object.keys(LOCATIONS)) {
      const message = locationOf(image, name)?.message ?? "";
      assert.match(message, /provider capv not reachable: .*refused the login of "user"/);
      assert.ok(!message.includes(wrong), message);
    }
    assert.equal(run.registry.get("capv")?.status.phase, "unreachable");
    assert.deepEqual(await vmsIn(sim, "/DC0/vm"), []);
    await run.stop();
  }));

suite.test("duplicate name: a same-named VM of somebody else is an Error and is left alone", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, imageBytes("ova"));
    await sim.govc(
      "vm.create",
      "-dc",
      "DC0",
      "-on=false",
      "-net",
      "DC0_DVPG0",
      "-folder",
      "/DC0/vm",
      "-pool",
      "/DC0/host/DC0_C0/Resources",
      IMAGE,
    );
    const theirs = await vmInfo(sim, `/DC0/vm/${IMAGE}`);
    const run = await start({ locations: { "vc-a": location("DC0") }, retry: false });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error", ["vc-a"]));
    assert.match(
      locationOf(image, "vc-a")?.message ?? "",
      /a VM named ".*" that is not a template and not made by this operator exists in DC0\/vm/,
    );
    assert.deepEqual(await vmInfo(sim, `/DC0/vm/${IMAGE}`), theirs, "untouched");
    assert.equal(run.built.calls.get("Destroy_Task") ?? 0, 0);
    await cluster.nodeImages.delete(NAME, TEST_NAMESPACE);
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    assert.deepEqual(await vmInfo(sim, `/DC0/vm/${IMAGE}`), theirs, "not deleted either");
    await run.stop();
  }));

suite.test("failure during the upload: the lease is aborted and the half-made VM destroyed", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    // The disk does not match the manifest: the check fails at the disk's last chunk, mid-upload.
    const tampered = ova().withDisk(fakeVmdk(256 * 1024)).withCorruptedMember("flatcar-disk1.vmdk")
      .build();
    await bucket.putImage("capv", IMAGE, tampered);
    const run = await start({ locations: { "vc-a": location("DC0") }, retry: false });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error", ["vc-a"]));
    assert.match(
      locationOf(image, "vc-a")?.message ?? "",
      /Manifest mismatch .*flatcar-disk1\.vmdk/,
    );
    assert.equal(run.built.calls.get("ImportVApp"), 1, "the upload had begun");
    assert.equal(run.built.calls.get("HttpNfcLeaseAbort"), 1);
    assert.equal(run.built.calls.get("HttpNfcLeaseComplete") ?? 0, 0);
    assert.deepEqual(await vmsIn(sim, "/DC0/vm"), [], "no half-made VM");
    await run.stop();
  }));

/** A resolver whose sources hold their second stream (the transfer) until `release`. */
class GatedResolver implements ImageSourceResolver {
  #opened = 0;
  held?: () => void;
  readonly #gate: Promise<void>;
  release!: () => void;

  constructor(private readonly inner: ImageSourceResolver) {
    this.#gate = new Promise((resolve) => (this.release = resolve));
  }

  async resolve(image: ImageSpec, layout: ImageLayout, signal: AbortSignal): Promise<ImageSource> {
    const source = await this.inner.resolve(image, layout, signal);
    return {
      ...source,
      url: (ttl) => source.url(ttl),
      verified: () => source.verified?.() ?? [],
      open: async (options) => {
        if (++this.#opened === 2) {
          this.held?.();
          await this.#gate;
        }
        return source.open(options);
      },
    };
  }
}

suite.test("session expiry in the middle of an import: logged in again, the import retried, one template", (server) =>
  withSetup(server, pki!, async ({ cluster, sim, bucket, start }) => {
    await bucket.putImage("capv", IMAGE, imageBytes("ova"));
    await sim.govc("option.set", "config.vmacore.soap.sessionTimeout", "1s");
    const lines: string[] = [];
    const log = new Logger({ level: "debug", sink: (line) => lines.push(line) });
    const gated = new GatedResolver(bucket.resolver());
    const held = new Promise<void>((resolve) => (gated.held = resolve));
    // No lease update while held, so nothing keeps the session alive.
    const run = await start({
      locations: { "vc-a": location("DC0") },
      resolver: gated,
      log,
      progressIntervalMs: 600_000,
    });
    await createImage(cluster, NAME);
    await held;
    // vcsim drops idle sessions: wait until ours (the only non-govc one) is gone.
    await cluster.waitFor("our session expired", async () => {
      const sessions = await sim.govcJson<
        { currentSession?: unknown; sessionList?: { userAgent: string }[] }
      >(
        "session.ls",
      );
      return !(sessions.sessionList ?? []).some((s) => !s.userAgent.includes("govc"));
    });
    gated.release();
    const image = await cluster.waitFor(
      "Available",
      whenEveryLocation(cluster, "Available", ["vc-a"]),
    );
    const vm = await vmInfo(sim, `/DC0/vm/${IMAGE}`);
    assert.ok(vm?.template);
    assert.equal(locationOf(image, "vc-a")?.reference, vm.moref);
    assert.deepEqual(await vmsIn(sim, "/DC0/vm"), [IMAGE], "exactly one VM: no half-made one left");
    assert.ok(run.built.providers[0].client.logins >= 2, "logged in again");
    assert.ok(lines.some((l) => l.includes("vCenter session expired; logging in again")));
    await run.stop();
  }));
