/**
 * The vCenter password (full of special characters), the session cookie and the NFC device
 * URLs (they carry the upload ticket) never reach logs, Events or status: the image controller
 * runs twice against vcsim, first with a wrong password (the provider is refused), then with
 * the right one (an import, a broken image that fails mid-way, a deletion), logging at debug.
 */
import assert from "node:assert/strict";
import { ResourceClient } from "../../lib/kube/client.ts";
import { EVENTS, type KubeEvent } from "../../lib/kube/events.ts";
import { Logger } from "../../lib/log.ts";
import { withCluster } from "../release/_cluster.ts";
import { defaultImageName, TEST_NAMESPACE } from "../support/builders.ts";
import { fakeVmdk, ova } from "../support/images.ts";
import type { S3rver } from "../support/s3rver.ts";
import type { TestPki } from "../support/tls.ts";
import { createImage, locationOf, runImageController, specName } from "../image/_harness.ts";
import { ImageBucket, imageBytes, s3Suite } from "../image/_s3.ts";
import { capvConfig, capvWiring, startSim, VC_PASSWORD, vsphereFilePki } from "./_vsphere.ts";

const GOOD = defaultImageName("capv");
const BROKEN = defaultImageName("capv", "4593.9.9");
const WRONG_PASSWORD = `Wr0ng:p@ss/<&>-vs-SECRET`;

const { pki, unavailable } = await vsphereFilePki();

async function captureEverything(server: S3rver, pki: TestPki): Promise<Record<string, string[]>> {
  const lines: string[] = [];
  const log = new Logger({ level: "debug", format: "json", sink: (line) => lines.push(line) });
  const bucket = await ImageBucket.create(server);
  const resolver = bucket.resolver();
  const sim = await startSim(pki);
  let captured: Record<string, string[]> = {};
  try {
    await bucket.putImage("capv", specName(GOOD), imageBytes("ova"));
    const broken = ova().withDisk(fakeVmdk(64 * 1024)).withCorruptedMember("flatcar-disk1.vmdk");
    await bucket.putImage("capv", specName(BROKEN), broken.build());
    await withCluster(async (cluster) => {
      const start = (password: string) =>
        runImageController(cluster, {
          ...capvWiring(capvConfig(sim, pki, { password }), { log }),
          resolver,
          log,
          timings: { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 },
        });
      const refused = await start(WRONG_PASSWORD);
      await createImage(cluster, GOOD);
      await cluster.waitFor("refused", async () => {
        const image = await cluster.image(GOOD);
        return /refused the login/.test(locationOf(image, "vc-a")?.message ?? "") && image;
      });
      await refused.stop();
      const good = await start(VC_PASSWORD);
      await cluster.waitFor("Available", async () => {
        const image = await cluster.image(GOOD);
        return image?.status?.state === "Available" && image;
      });
      await createImage(cluster, BROKEN);
      await cluster.waitFor("Error", async () => {
        const image = await cluster.image(BROKEN);
        return image?.status?.state === "Error" && image;
      });
      await cluster.nodeImages.delete(GOOD, TEST_NAMESPACE);
      await cluster.waitFor("deleted", async () => (await cluster.image(GOOD)) === undefined);
      await good.stop();
      const events = await new ResourceClient<KubeEvent>(cluster.transport, EVENTS).list();
      const images = await cluster.nodeImages.list();
      captured = {
        logs: lines,
        Events: events.items.map((e) => JSON.stringify(e)),
        NodeImages: images.items.map((i) => JSON.stringify(i)),
      };
    });
  } finally {
    resolver.close();
    await sim.stop();
  }
  return captured;
}

const suite = await s3Suite("vSphere secrets never reach logs, Events or status", { unavailable });

suite.test("errors flowed everywhere, and no password, session cookie or NFC URL did", async (server) => {
  const all = await captureEverything(server, pki!);
  for (const [where, texts] of Object.entries(all)) assert.ok(texts.length > 0, where);
  assert.ok(all.Events.some((e) => e.includes('"type":"Warning"')), "a Warning Event");
  assert.ok(all.NodeImages.some((i) => i.includes('"state":"Error"')), "an Error status");
  assert.ok(all.logs.some((l) => l.includes("refused the login")), "the refusal was logged");
  const found: string[] = [];
  for (const [where, texts] of Object.entries(all)) {
    for (
      const needle of [
        VC_PASSWORD,
        WRONG_PASSWORD,
        "vmware_soap_session",
        "vmware-api-session-id",
        "/nfc/",
      ]
    ) {
      const hit = texts.find((t) => t.includes(needle));
      if (hit) found.push(`${needle} in ${where}: ${hit.slice(0, 300)}`);
    }
  }
  assert.deepEqual(found, []);
});
