/**
 * Proxmox through the image controller, end to end: the fake API server with `crds/`, the real
 * provider registry with the real Proxmox client against the fake Proxmox (two locations on two
 * nodes), and the real S3 resolver over s3rver holding qcow2 images at the Go operator's keys.
 * The fake's download-url fetches the public S3 URL itself, as a Proxmox node does.
 *
 * The Go operator's five scenarios (import, delete, idempotency, missing, broken bytes) are
 * asserted for each location, plus a same-named VM that is not a template, and a sidecar digest
 * that Proxmox checks.
 */
import assert from "node:assert/strict";
import { NODE_IMAGE_FINALIZER } from "../../lib/names.ts";
import type { NodeImage } from "../../lib/release/objects.ts";
import { type TestCluster, withCluster } from "../release/_cluster.ts";
import type { FakeProxmox } from "../proxmox/fake_proxmox/mod.ts";
import { defaultImageName } from "../support/builders.ts";
import type { S3rver } from "../support/s3rver.ts";
import type { TestPki } from "../support/tls.ts";
import {
  createImage,
  type ImageRun,
  locationOf,
  runImageController,
  specName,
  TEST_NAMESPACE,
} from "../image/_harness.ts";
import {
  type CountingResolver,
  digestHex,
  ImageBucket,
  imageBytes,
  s3Suite,
} from "../image/_s3.ts";
import {
  capmoxConfig,
  capmoxWiring,
  filePki,
  LOCATION_NAMES,
  NODE_OF,
  requestsTo,
  startFakeProxmox,
  vmsOf,
} from "./_proxmox.ts";

const NAME = defaultImageName("capmox");
const IMAGE = specName(NAME);
/** The import file of one location: `<image>_<location>.qcow2`. */
const importFile = (location: string) => `${IMAGE}_${location}.qcow2`;

const { pki, unavailable } = await filePki();

interface Setup {
  cluster: TestCluster;
  fake: FakeProxmox;
  bucket: ImageBucket;
  resolver: CountingResolver;
  /** Starts the image controller with capmox configured for the fake. */
  start(options?: { inventoryResyncMs?: number; retry?: boolean }): Promise<ImageRun>;
}

async function withSetup(
  server: S3rver,
  pki: TestPki,
  fn: (setup: Setup) => Promise<void>,
): Promise<void> {
  const bucket = await ImageBucket.create(server);
  const resolver = bucket.resolver();
  const fake = await startFakeProxmox(pki);
  try {
    await withCluster(async (cluster) => {
      const start = (options: { inventoryResyncMs?: number; retry?: boolean } = {}) =>
        runImageController(cluster, {
          ...capmoxWiring(capmoxConfig(fake, pki)),
          resolver,
          inventoryResyncMs: options.inventoryResyncMs,
          // Failed cases look at one attempt; retrying would only add identical downloads.
          timings: options.retry === false
            ? { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 }
            : undefined,
        });
      await fn({ cluster, fake, bucket, resolver, start });
    });
  } finally {
    resolver.close();
    await fake.close();
  }
}

function whenEveryLocation(
  cluster: TestCluster,
  state: string,
): () => Promise<NodeImage | false> {
  return async () => {
    const image = await cluster.image(NAME);
    return image !== undefined &&
      LOCATION_NAMES.every((l) => locationOf(image, l)?.state === state) && image;
  };
}

/** The template named IMAGE on `node`, as the fake holds it. */
function templateOn(fake: FakeProxmox, node: string) {
  return [...fake.cluster.vms.values()].find((vm) =>
    vm.node === node && vm.config.name === IMAGE && vm.config.template === "1"
  );
}

const suite = await s3Suite("Proxmox through the image controller, end to end", { unavailable });

suite.test("import: the qcow2 becomes a template on each location's node and the location Available", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    const key = await bucket.putImage("capmox", IMAGE, imageBytes("qcow2"));
    const run = await start();
    await createImage(cluster, NAME, { releases: ["proxmox-0.9.0"] });
    const image = await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    assert.equal(image.status?.state, "Available");
    assert.equal(image.status?.ready, "2/2");
    for (const location of LOCATION_NAMES) {
      const template = templateOn(fake, NODE_OF[location]);
      assert.ok(template, `${location}: a template on ${NODE_OF[location]}`);
      assert.equal(locationOf(image, location)?.reference, `${template.node}/${template.vmid}`);
      assert.match(template.config.tags ?? "", /flatcar_4593\.2\.3;kubernetes_1\.35\.6/);
    }
    assert.equal(vmsOf(fake).length, 2, vmsOf(fake).join(", "));
    assert.deepEqual(fake.cluster.allFiles(), [], "import files deleted");
    const urls = fake.requests.filter((r) => r.route.endsWith("/download-url"))
      .map((r) => r.params.url);
    assert.deepEqual(urls, [0, 1].map(() => `${server.endpoint}/${bucket.name}/${key}`));
    assert.ok(image.metadata.finalizers?.includes(NODE_IMAGE_FINALIZER));
    await run.stop();
  }));

suite.test("delete: each template goes, then the finalizer, then the NodeImage", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capmox", IMAGE, imageBytes("qcow2"));
    const run = await start();
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    const destroysBefore = requestsTo(fake, "DELETE /nodes/{node}/qemu/{vmid}");
    await cluster.nodeImages.delete(NAME, TEST_NAMESPACE);
    // The API server deletes the object only once the finalizer is gone.
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    for (const location of LOCATION_NAMES) {
      assert.equal(templateOn(fake, NODE_OF[location]), undefined, location);
    }
    assert.deepEqual(vmsOf(fake), []);
    assert.deepEqual(fake.cluster.allFiles(), []);
    assert.equal(requestsTo(fake, "DELETE /nodes/{node}/qemu/{vmid}") - destroysBefore, 2);
    await run.stop();
  }));

suite.test("idempotency: later passes keep the same VMIDs and create nothing", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capmox", IMAGE, imageBytes("qcow2"));
    const run = await start({ inventoryResyncMs: 100 });
    await createImage(cluster, NAME);
    const first = await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    const vms = vmsOf(fake);
    // Counted from here: two concurrent creates may legitimately race for one VMID and retry.
    const writes = () => fake.requests.filter((r) => r.method !== "GET").length;
    const writesBefore = writes();
    const listings = requestsTo(fake, "GET /cluster/resources");
    await cluster.waitFor(
      "two more resyncs",
      () => requestsTo(fake, "GET /cluster/resources") >= listings + 2,
    );
    const again = await cluster.image(NAME);
    assert.equal(again?.status?.state, "Available");
    assert.deepEqual(vmsOf(fake), vms, "same VMIDs, nothing new");
    for (const location of LOCATION_NAMES) {
      assert.equal(locationOf(again, location)?.reference, locationOf(first, location)?.reference);
      assert.equal(
        locationOf(again, location)?.lastTransitionTime,
        locationOf(first, location)?.lastTransitionTime,
      );
    }
    assert.equal(writes(), writesBefore, "no download, create or change after Available");
    assert.equal(requestsTo(fake, "POST /nodes/{node}/storage/{storage}/download-url"), 2);
    await run.stop();
  }));

suite.test("missing source: each location is Missing and Proxmox is asked for nothing", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, start }) => {
    const run = await start();
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Missing", whenEveryLocation(cluster, "Missing"));
    assert.equal(image.status?.state, "Missing");
    for (const location of LOCATION_NAMES) {
      assert.match(locationOf(image, location)?.message ?? "", /not found at .*\(HTTP 404\)/);
    }
    assert.deepEqual(vmsOf(fake), []);
    assert.equal(fake.requests.filter((r) => r.method !== "GET").length, 0, "no writes");
    await run.stop();
  }));

suite.test("broken source: bytes that are not a qcow2 give Error and leave nothing on either node", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capmox", IMAGE, new TextEncoder().encode("not a disk\n".repeat(64)));
    const run = await start({ retry: false });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error"));
    assert.equal(image.status?.state, "Error");
    for (const location of LOCATION_NAMES) {
      const message = locationOf(image, location)?.message ?? "";
      assert.match(message, /download/, location);
      assert.ok(
        message.includes(`'${importFile(location)}' is not a valid qcow2 image`),
        message,
      );
    }
    assert.deepEqual(vmsOf(fake), []);
    assert.deepEqual(fake.cluster.allFiles(), []);
    await run.stop();
  }));

suite.test("a same-named VM that is not a template is neither counted, changed nor removed", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capmox", IMAGE, imageBytes("qcow2"));
    const theirs = fake.cluster.addVm({ vmid: 4242, node: "pve1", name: IMAGE, tags: "prod" });
    const before = structuredClone(theirs.config);
    const run = await start();
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    const ours = templateOn(fake, "pve1");
    assert.ok(ours && ours.vmid !== 4242, "a template of our own was made next to it");
    assert.equal(locationOf(image, "pve-a")?.reference, `pve1/${ours.vmid}`);
    await cluster.nodeImages.delete(NAME, TEST_NAMESPACE);
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    assert.deepEqual(vmsOf(fake), [`pve1/4242 ${IMAGE}`], "only their VM remains");
    assert.deepEqual(fake.cluster.vms.get(4242)?.config, before, "untouched");
    await run.stop();
  }));

suite.test("a sidecar digest is handed to download-url; a wrong one is an Error naming both", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    const bytes = imageBytes("qcow2");
    const key = await bucket.putImage("capmox", IMAGE, bytes);
    const claimed = digestHex("sha256", imageBytes("qcow2", 8192));
    await bucket.putSidecar(key, claimed);
    const run = await start({ retry: false });
    await createImage(cluster, NAME);
    const failed = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error"));
    for (const location of LOCATION_NAMES) {
      const message = locationOf(failed, location)?.message ?? "";
      assert.ok(message.includes(claimed), `${location}: the sidecar's digest in "${message}"`);
      assert.ok(message.includes(digestHex("sha256", bytes)), `${location}: "${message}"`);
    }
    assert.deepEqual(vmsOf(fake), []);
    assert.deepEqual(fake.cluster.allFiles(), []);
    await run.stop();

    // The right digest: Proxmox checks it, and the status says so.
    await bucket.putSidecar(key, digestHex("sha256", bytes));
    const second = await start();
    const image = await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    for (const location of LOCATION_NAMES) {
      assert.match(
        locationOf(image, location)?.message ?? "",
        new RegExp(`sha256 checked by Proxmox download-url on ${NODE_OF[location]}`),
      );
    }
    const download = fake.requests.findLast((r) => r.route.endsWith("/download-url"));
    assert.equal(download?.params.checksum, digestHex("sha256", bytes));
    assert.equal(download?.params["checksum-algorithm"], "sha256");
    await second.stop();
  }));
