/**
 * VMware Cloud Director through the image controller, end to end: the fake API server with
 * `crds/`, the real provider registry with the real VCD client against the fake VCD (two
 * locations: two VDCs, two catalogs, one with a named storage profile), and the real S3
 * resolver over s3rver holding OVAs at the Go operator's keys. The provider streams each OVA
 * from S3 into the fake, which hashes what it receives.
 *
 * The Go operator's five scenarios (import, delete, idempotency, missing, broken bytes) for each
 * location, then what the Go operator got wrong or never had: the hardware version patched
 * whatever the OVF's namespace prefix (and left alone with 0), a session that expires in the
 * middle of an upload, an API-token login, ranged PUTs of a piece size that divides nothing,
 * members out of order, a corrupted disk behind a late manifest, an upload broken half-way, a
 * failed template left in the catalog, and a wrong password next to a healthy provider.
 */
import assert from "node:assert/strict";
import { Logger } from "../../lib/log.ts";
import { NODE_IMAGE_FINALIZER } from "../../lib/names.ts";
import type { NodeImage } from "../../lib/release/objects.ts";
import { type TestCluster, withCluster } from "../release/_cluster.ts";
import type { FakeVcd } from "../vcd/fake_vcd/mod.ts";
import { FAILED, RESOLVED } from "../vcd/fake_vcd/mod.ts";
import { defaultImageName } from "../support/builders.ts";
import { FakeCatalog } from "../support/fake_provider.ts";
import {
  digestHex,
  fakeVmdk,
  ova,
  ovfDescriptor,
  tarArchive,
  type TarMember,
} from "../support/images.ts";
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
import { type CountingResolver, ImageBucket, s3Suite } from "../image/_s3.ts";
import type { VcdLocation, VcdProviderOptions } from "../../providers/vcd/mod.ts";
import { filePki } from "./_proxmox.ts";
import {
  API_TOKEN,
  capvcdConfig,
  capvcdWiring,
  CATALOG_OF,
  LOCATION_NAMES,
  LOCATIONS,
  PIECE_BYTES,
  requestsTo,
  startFakeVcd,
  templateIn,
  templatesOf,
} from "./_vcd.ts";

const NAME = defaultImageName("capvcd");
const IMAGE = specName(NAME);
/** Not a multiple of the piece size, nor of 512, nor of the held-back tail. */
const DISK_BYTES = 100_003;
const encoder = new TextEncoder();

const { pki, unavailable } = await filePki();

interface StartOptions {
  log?: Logger;
  inventoryResyncMs?: number;
  retry?: boolean;
  password?: string;
  refreshToken?: string;
  locations?: Record<string, VcdLocation>;
  provider?: VcdProviderOptions;
  catalogs?: FakeCatalog[];
}

interface Setup {
  cluster: TestCluster;
  fake: FakeVcd;
  bucket: ImageBucket;
  resolver: CountingResolver;
  start(options?: StartOptions): Promise<ImageRun>;
}

async function withSetup(
  server: S3rver,
  pki: TestPki,
  fn: (setup: Setup) => Promise<void>,
): Promise<void> {
  const bucket = await ImageBucket.create(server);
  const resolver = bucket.resolver();
  const fake = await startFakeVcd(pki);
  try {
    await withCluster(async (cluster) => {
      const start = (options: StartOptions = {}) =>
        runImageController(cluster, {
          ...capvcdWiring(
            capvcdConfig(fake, pki, {
              password: options.password,
              refreshToken: options.refreshToken,
              locations: options.locations,
            }),
            options.log,
            options.provider,
          ),
          catalogs: options.catalogs,
          resolver,
          log: options.log,
          inventoryResyncMs: options.inventoryResyncMs,
          // Failed cases look at one attempt; retrying would only add identical uploads.
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
  name = NAME,
): () => Promise<NodeImage | false> {
  return async () => {
    const image = await cluster.image(name);
    return image !== undefined &&
      LOCATION_NAMES.every((l) => locationOf(image, l)?.state === state) && image;
  };
}

/** A valid OVA with a disk of `DISK_BYTES` (seeded), and the disk. */
function goodOva(seed = 1): { bytes: Uint8Array; disk: Uint8Array } {
  const disk = fakeVmdk(DISK_BYTES, seed);
  return { bytes: ova().withDisk(disk).build(), disk };
}

/** `Content-Range` of every PUT to a disk transfer URL, as [start, end, total]. */
function diskRanges(fake: FakeVcd, templateId: string): [number, number, number][] {
  const template = fake.state.templates.get(templateId);
  const ids = new Set(
    template?.files.filter((f) => f.name !== "descriptor.ovf").map((f) => f.transferId),
  );
  return fake.requests
    .filter((r) => r.method === "PUT" && r.status === 200 && ids.has(r.path.split("/")[2]))
    .map((r) =>
      r.contentRange!.replace("bytes ", "").split(/[-/]/).map(Number) as [number, number, number]
    );
}

/** A tar with the given members in the given order, and a SHA256 manifest listing `listed`. */
function customOva(members: TarMember[], manifestAfter: string, listed: TarMember[]): Uint8Array {
  const manifest: TarMember = {
    name: "flatcar.mf",
    data: encoder.encode(
      listed.map((m) => `SHA256(${m.name})= ${digestHex("sha256", m.data)}`).join("\n") + "\n",
    ),
  };
  const at = members.findIndex((m) => m.name === manifestAfter);
  return tarArchive([...members.slice(0, at + 1), manifest, ...members.slice(at + 1)]);
}

const suite = await s3Suite("VMware Cloud Director through the image controller, end to end", {
  unavailable,
});

suite.test("import: the OVA streams into each location's catalog as a resolved template with its versions as metadata", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    const { bytes, disk } = goodOva();
    await bucket.putImage("capvcd", IMAGE, bytes);
    const run = await start();
    await createImage(cluster, NAME, { releases: ["cloud-director-1.2.0"] });
    const image = await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    assert.equal(image.status?.state, "Available");
    assert.equal(image.status?.ready, "2/2");
    assert.ok(image.metadata.finalizers?.includes(NODE_IMAGE_FINALIZER));
    for (const location of LOCATION_NAMES) {
      const template = templateIn(fake, CATALOG_OF[location], IMAGE);
      assert.ok(template, `${location}: a template in ${CATALOG_OF[location]}`);
      assert.equal(template.status, RESOLVED);
      assert.equal(locationOf(image, location)?.reference, fake.world.hrefs.template(template));
      assert.match(locationOf(image, location)?.message ?? "", /manifest sha256 of 2 files ok/);
      assert.deepEqual(template.hardware, ["vmx-19"], "the descriptor VCD got asks for vmx-19");
      const file = template.files.find((f) => f.name === "flatcar-disk1.vmdk");
      assert.equal(file?.sha256, digestHex("sha256", disk), "VCD received the disk unchanged");
      assert.deepEqual(Object.fromEntries(template.metadata), {
        flatcar: "4593.2.3",
        kubernetes: "1.35.6",
        "os-tooling": "1.32.1",
        "release-channel": "stable",
      });
      assert.match(template.description, /^Node image flatcar-stable-4593\.2\.3/);
      // Member sizes are not multiples of the piece size: every PUT is at most one piece,
      // and together they cover the disk once, in order.
      const ranges = diskRanges(fake, template.id);
      let next = 0;
      for (const [from, to, total] of ranges) {
        assert.equal(from, next, `${location}: contiguous ranges`);
        assert.ok(to - from + 1 <= PIECE_BYTES, `${location}: ${from}-${to} within a piece`);
        assert.equal(total, DISK_BYTES);
        next = to + 1;
      }
      assert.equal(next, DISK_BYTES, `${location}: the whole disk`);
    }
    // Each location's template lives in its own VDC, vcd-b on its named storage profile.
    const org = fake.state.orgs[0];
    const placed = LOCATION_NAMES.map((l) => {
      const template = templateIn(fake, CATALOG_OF[l], IMAGE)!;
      const vdc = org.vdcs.find((v) => v.id === template.vdcId)!;
      return `${vdc.name}/${vdc.profiles.find((p) => p.id === template.storageProfileId)!.name}`;
    });
    assert.deepEqual(placed, ["vdc-a/standard", "vdc-b/fast"]);
    assert.deepEqual(templatesOf(fake), [
      `catalog-a/${IMAGE} ${RESOLVED}`,
      `catalog-b/${IMAGE} ${RESOLVED}`,
    ]);
    await run.stop();
  }));

suite.test("delete: each template goes, then the finalizer, then the NodeImage", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capvcd", IMAGE, goodOva().bytes);
    const run = await start();
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    await cluster.nodeImages.delete(NAME, TEST_NAMESPACE);
    await cluster.waitFor("NodeImage gone", async () => (await cluster.image(NAME)) === undefined);
    assert.deepEqual(templatesOf(fake), []);
    assert.equal(requestsTo(fake, "DELETE", /^\/api\/vAppTemplate\//), 2);
    for (const catalog of Object.values(CATALOG_OF)) {
      assert.equal(fake.state.catalog("giantswarm", catalog).items.size, 0, catalog);
    }
    await run.stop();
  }));

suite.test("idempotency: later resyncs list each catalog once and upload nothing", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capvcd", IMAGE, goodOva().bytes);
    const run = await start({ inventoryResyncMs: 100 });
    await createImage(cluster, NAME);
    const first = await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    const before = templatesOf(fake);
    const writes = () => fake.requests.filter((r) => r.method !== "GET").length;
    const writesBefore = writes();
    const listings = () =>
      fake.requests.filter((r) => r.path === "/api/query" && r.query.includes("type=vAppTemplate"));
    const listed = listings().length;
    await cluster.waitFor("two more resyncs", () => listings().length >= listed + 4);
    const again = await cluster.image(NAME);
    assert.equal(again?.status?.state, "Available");
    assert.deepEqual(templatesOf(fake), before, "the same templates, nothing new");
    for (const location of LOCATION_NAMES) {
      assert.equal(locationOf(again, location)?.reference, locationOf(first, location)?.reference);
      assert.equal(
        locationOf(again, location)?.lastTransitionTime,
        locationOf(first, location)?.lastTransitionTime,
      );
    }
    assert.equal(writes(), writesBefore, "no upload, delete or change after Available");
    assert.equal(requestsTo(fake, "POST", /\/action\/upload$/), 2);
    // One query per catalog (each filtered by its name), never one per image.
    const catalogs = listings().slice(listed).map((r) =>
      /catalogName%3D%3D([^&]+)/.exec(r.query)?.[1] ?? r.query
    );
    assert.ok(catalogs.every((c) => c === "catalog-a" || c === "catalog-b"), catalogs.join(" "));
    await run.stop();
  }));

suite.test("missing source: each location is Missing and VCD gets no write", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, start }) => {
    const run = await start();
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Missing", whenEveryLocation(cluster, "Missing"));
    assert.equal(image.status?.state, "Missing");
    for (const location of LOCATION_NAMES) {
      assert.match(locationOf(image, location)?.message ?? "", /not found at .*\(HTTP 404\)/);
    }
    assert.deepEqual(templatesOf(fake), []);
    assert.equal(
      fake.requests.filter((r) => r.method !== "GET" && !r.path.includes("sessions")).length,
      0,
    );
    await run.stop();
  }));

suite.test("broken source: bytes that are not an OVA give Error and create nothing", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capvcd", IMAGE, encoder.encode("not an archive\n".repeat(200)));
    const run = await start({ retry: false });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error"));
    for (const location of LOCATION_NAMES) {
      const message = locationOf(image, location)?.message ?? "";
      assert.match(message, /step "read descriptor" failed: .*not a tar archive/, message);
      assert.match(message, /nothing was created/);
    }
    assert.deepEqual(templatesOf(fake), []);
    assert.equal(requestsTo(fake, "POST", /\/action\/upload$/), 0);
    await run.stop();
  }));

suite.test("hardware version: patched under any namespace prefix, left byte for byte with 0", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    const disk = fakeVmdk(DISK_BYTES, 7);
    const descriptor = ovfDescriptor("flatcar-disk1.vmdk", DISK_BYTES)
      .replace('xmlns:vssd="', 'xmlns:cim="')
      .replaceAll("vssd:", "cim:");
    assert.ok(!descriptor.includes("vssd"), "no vssd prefix left in the fixture");
    const ovf = { name: "flatcar.ovf", data: encoder.encode(descriptor) };
    const vmdk = { name: "flatcar-disk1.vmdk", data: disk };
    await bucket.putImage("capvcd", IMAGE, customOva([ovf, vmdk], "flatcar.ovf", [ovf, vmdk]));
    const run = await start({
      locations: {
        "vcd-a": LOCATIONS["vcd-a"],
        "vcd-b": { ...LOCATIONS["vcd-b"], hardwareVersion: 0 },
      },
    });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    const patched = templateIn(fake, "catalog-a", IMAGE)!;
    assert.deepEqual(patched.hardware, ["vmx-19"]);
    assert.ok(
      patched.descriptor?.includes("<cim:VirtualSystemType>vmx-19</cim:VirtualSystemType>"),
      "the element keeps its prefix",
    );
    assert.equal(
      patched.descriptor,
      descriptor.replace(">vmx-09<", ">vmx-19<"),
      "nothing else in the descriptor changed",
    );
    const untouched = templateIn(fake, "catalog-b", IMAGE)!;
    assert.deepEqual(untouched.hardware, ["vmx-09"]);
    assert.equal(untouched.descriptor, descriptor, "hardwareVersion 0 sends the OVF as it is");
    await run.stop();
  }));

suite.test("a session that expires in the middle of an upload is replaced and the upload finishes", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    const { bytes, disk } = goodOva(3);
    await bucket.putImage("capvcd", IMAGE, bytes);
    let expired = 0;
    fake.onTransfer = ({ start }) => {
      // Halfway through each disk: every session VCD has handed out stops working.
      if (start > 0 && start < DISK_BYTES / 2 && start + PIECE_BYTES >= DISK_BYTES / 2) {
        fake.expireSessions();
        expired++;
      }
    };
    const run = await start({ retry: false });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    assert.ok(expired >= 1, "sessions were expired mid-upload");
    const refused = fake.requests.filter((r) => r.path.startsWith("/api/") && r.status === 401);
    assert.ok(refused.length >= 1, "an API call was refused with 401 after the expiry");
    assert.ok(fake.logins > 1, `logged in again (${fake.logins} sessions)`);
    for (const location of LOCATION_NAMES) {
      const template = templateIn(fake, CATALOG_OF[location], IMAGE)!;
      const file = template.files.find((f) => f.name === "flatcar-disk1.vmdk");
      assert.equal(file?.sha256, digestHex("sha256", disk), location);
    }
    await run.stop();
  }));

suite.test("an API token logs in through the refresh-token grant instead of a password", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capvcd", IMAGE, goodOva().bytes);
    const run = await start({ refreshToken: API_TOKEN });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    assert.ok(requestsTo(fake, "POST", /^\/oauth\/tenant\/giantswarm\/token$/) >= 1);
    assert.equal(
      requestsTo(fake, "POST", /^\/cloudapi\/1\.0\.0\/sessions/),
      0,
      "no password login",
    );
    assert.equal(templatesOf(fake).length, 2);
    await run.stop();
  }));

suite.test("members out of order: a chunk before the descriptor and chunks reversed are re-read by range", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    const disk = fakeVmdk(DISK_BYTES, 11);
    const chunk = 40_000;
    const descriptor = ovfDescriptor("flatcar-disk1.vmdk", DISK_BYTES).replace(
      'ovf:size="',
      `ovf:chunkSize="${chunk}" ovf:size="`,
    );
    const parts = [0, 1, 2].map((i) => ({
      name: `flatcar-disk1.vmdk.00000000${i}`,
      data: disk.subarray(i * chunk, Math.min((i + 1) * chunk, DISK_BYTES)),
    }));
    const ovf = { name: "flatcar.ovf", data: encoder.encode(descriptor) };
    // Chunk 2 before the descriptor, then the descriptor, manifest, chunk 1, chunk 0.
    const bytes = customOva([parts[2], ovf, parts[1], parts[0]], "flatcar.ovf", [ovf, ...parts]);
    await bucket.putImage("capvcd", IMAGE, bytes);
    const run = await start({ retry: false });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    for (const location of LOCATION_NAMES) {
      const template = templateIn(fake, CATALOG_OF[location], IMAGE)!;
      const file = template.files.find((f) => f.name === "flatcar-disk1.vmdk");
      assert.equal(file?.sha256, digestHex("sha256", disk), `${location}: chunks in order`);
    }
    await run.stop();
  }));

suite.test("a corrupted disk behind a late manifest fails before VCD holds the whole disk", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    const disk = fakeVmdk(DISK_BYTES, 5);
    const bytes = ova().withDisk(disk).withManifestLast().withCorruptedMember("flatcar-disk1.vmdk")
      .build();
    await bucket.putImage("capvcd", IMAGE, bytes);
    const run = await start({ retry: false });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error"));
    for (const location of LOCATION_NAMES) {
      const message = locationOf(image, location)?.message ?? "";
      assert.match(message, /Manifest mismatch .*flatcar-disk1\.vmdk/, message);
      assert.match(message, /the catalog item was removed/, message);
    }
    assert.deepEqual(templatesOf(fake), []);
    // The held-back tail was never sent: no PUT reached the disk's last byte.
    const ends = fake.requests.filter((r) => r.contentRange)
      .map((r) => Number(/-(\d+)\//.exec(r.contentRange!)![1]));
    assert.ok(ends.length > 0, "the disk was streamed");
    assert.ok(Math.max(...ends) < DISK_BYTES - 1, `last byte sent: ${Math.max(...ends)}`);
    await run.stop();
  }));

suite.test("an upload broken half-way leaves nothing in the catalog", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capvcd", IMAGE, goodOva().bytes);
    // Every disk PUT breaks after 3000 bytes: the client resumes from what VCD stored until
    // it gives up on the file.
    fake.failTransfers({ afterBytes: 3_000, times: 1_000 });
    const run = await start({ retry: false });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error"));
    for (const location of LOCATION_NAMES) {
      const message = locationOf(image, location)?.message ?? "";
      // Pass 1 marks the file for a retry; the retries from S3 ranges exhaust the budget.
      assert.match(
        message,
        /step "upload held-back bytes" failed: Uploading "flatcar-disk1\.vmdk" failed 4 times/,
        message,
      );
      assert.match(message, /INTERNAL_SERVER_ERROR/, message);
      assert.match(message, /the catalog item was removed/, message);
    }
    assert.deepEqual(templatesOf(fake), []);
    for (const catalog of Object.values(CATALOG_OF)) {
      assert.equal(fake.state.catalog("giantswarm", catalog).items.size, 0, catalog);
    }
    // Each retry started where VCD had stopped storing.
    const ranges = fake.requests.filter((r) => r.contentRange).map((r) => r.status);
    assert.ok(!ranges.includes(416), "no PUT started anywhere but at the last byte stored");
    await run.stop();
  }));

suite.test("a failed template left in the catalog is removed and replaced", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capvcd", IMAGE, goodOva().bytes);
    const org = fake.state.orgs[0];
    const catalog = org.catalogs.find((c) => c.name === "catalog-a")!;
    const vdc = org.vdcs[0];
    const leftover = fake.world.createTemplate(org, catalog, vdc, vdc.profiles[0], {
      name: IMAGE,
      description: "an upload that failed before",
      ownerName: "someone",
    });
    fake.world.failUpload(leftover, {
      majorErrorCode: 500,
      minorErrorCode: "INTERNAL_SERVER_ERROR",
      message: "[500:TIMEDOUT] The upload session timed out",
    });
    assert.equal(leftover.status, FAILED);
    const run = await start();
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    assert.equal(fake.state.templates.has(leftover.id), false, "the failed template is gone");
    const templates = fake.templates("catalog-a");
    assert.equal(templates.length, 1);
    assert.equal(templates[0].status, RESOLVED);
    await run.stop();
  }));

suite.test("a wrong password puts every VCD location in Error; another provider carries on", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capvcd", IMAGE, goodOva().bytes);
    const capvName = defaultImageName("capv");
    await bucket.putImage("capv", specName(capvName), goodOva(9).bytes);
    const other = new FakeCatalog({ locations: ["dc1"] });
    const run = await start({ password: "not-the-password", retry: false, catalogs: [other] });
    await createImage(cluster, NAME);
    await createImage(cluster, capvName);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error"));
    for (const location of LOCATION_NAMES) {
      const message = locationOf(image, location)?.message ?? "";
      assert.match(message, /provider capvcd not reachable: .*401/, message);
      assert.match(message, /image-operator.*giantswarm/, message);
    }
    const healthy = await cluster.waitFor("the capv image Available", async () => {
      const found = await cluster.image(capvName);
      return found?.status?.state === "Available" && found;
    });
    assert.equal(locationOf(healthy, "dc1")?.state, "Available");
    assert.deepEqual(templatesOf(fake), []);
    assert.equal(
      fake.requests.filter((r) => r.path.startsWith("/api/") && r.path !== "/api/versions").length,
      0,
    );
    await run.stop();
  }));

suite.test("a metadata failure is a logged warning: the template is kept and Available", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capvcd", IMAGE, goodOva().bytes);
    fake.failMetadata(2);
    const lines: string[] = [];
    const log = new Logger({ level: "info", format: "json", sink: (line) => lines.push(line) });
    const run = await start({ log, retry: false });
    await createImage(cluster, NAME);
    await cluster.waitFor("Available", whenEveryLocation(cluster, "Available"));
    for (const location of LOCATION_NAMES) {
      const template = templateIn(fake, CATALOG_OF[location], IMAGE)!;
      assert.equal(template.status, RESOLVED);
      assert.equal(template.metadata.size, 0, "the merge task failed");
    }
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) =>
      l.level === "warn" && /version metadata failed/.test(l.msg)
    );
    assert.equal(warnings.length, 2, lines.join("\n"));
    assert.match(warnings[0].error, /INTERNAL_SERVER_ERROR.*injected failure/);
    await run.stop();
  }));

suite.test("an import VCD fails is an Error naming VCD's task error; the item is removed", (server) =>
  withSetup(server, pki!, async ({ cluster, fake, bucket, start }) => {
    await bucket.putImage("capvcd", IMAGE, goodOva().bytes);
    fake.failNextImport("Unable to parse the disk: not a streamOptimized VMDK");
    fake.failNextImport("Unable to parse the disk: not a streamOptimized VMDK");
    const run = await start({ retry: false });
    await createImage(cluster, NAME);
    const image = await cluster.waitFor("Error", whenEveryLocation(cluster, "Error"));
    for (const location of LOCATION_NAMES) {
      const message = locationOf(image, location)?.message ?? "";
      assert.match(
        message,
        /step "wait for import" failed: VCD task vdcUploadOvfContents ended error/,
        message,
      );
      assert.match(message, /not a streamOptimized VMDK; the catalog item was removed/, message);
    }
    assert.deepEqual(templatesOf(fake), []);
    await run.stop();
  }));
