/**
 * Secrets never reach logs, Events or status (issue 5 item 9), end to end: the image controller
 * with the real Proxmox client (a distinctive token secret) and the real S3 resolver with static
 * credentials (a distinctive secret key), run three times against the same cluster so that
 * errors flow everywhere:
 *
 * 1. a wrong Proxmox token: the provider is refused (401) and its locations go to Error;
 * 2. wrong S3 keys: every source lookup is refused (403) and the locations say so;
 * 3. everything right: one image is imported through presigned URLs, another one's bytes are
 *    broken (the failed download's task log lands in the status), and the first is deleted.
 *
 * Everything the operator let out is captured once: every log line (debug level), every Event
 * and NodeImage in the API server, every request path and body it sent there, and each run's
 * verbose `/readyz` body. The cases search it.
 */
import assert from "node:assert/strict";
import { ResourceClient } from "../../lib/kube/client.ts";
import { EVENTS, type KubeEvent } from "../../lib/kube/events.ts";
import { Logger } from "../../lib/log.ts";
import { renderReport } from "../../lib/server/mod.ts";
import { type TestCluster, withCluster } from "../release/_cluster.ts";
import { defaultImageName, TEST_NAMESPACE } from "../support/builders.ts";
import type { S3rver } from "../support/s3rver.ts";
import type { TestPki } from "../support/tls.ts";
import {
  createImage,
  type ImageRun,
  locationOf,
  runImageController,
  specName,
} from "../image/_harness.ts";
import { ImageBucket, imageBytes, s3Suite } from "../image/_s3.ts";
import {
  capmoxConfig,
  capmoxWiring,
  filePki,
  LOCATION_NAMES,
  startFakeProxmox,
} from "./_proxmox.ts";

/** The token secret the fake Proxmox accepts. */
const PVE_SECRET = "pve-7f3a9c1e-b64d-4e0a-9d55-SECRET-TOKEN";
/** A token secret it refuses (a mistyped secret is still a secret). */
const WRONG_PVE_SECRET = "pve-5b2d8e4f-0c1a-47d3-8e66-WRONG-TOKEN";
/** The S3 secret key used with s3rver's access key id (s3rver does not check SigV4). */
const S3_SECRET = "s3-1d7e0b3a-wJalrXUtnFEMI-K7MDENG-SECRET";
/** Sent with an access key id s3rver does not know, so it is refused. */
const WRONG_S3_SECRET = "s3-9c4e1a7b-bPxRfiCYEXAMPLEKEY-WRONG";
const SECRETS = [PVE_SECRET, WRONG_PVE_SECRET, S3_SECRET, WRONG_S3_SECRET];

const GOOD = defaultImageName("capmox");
const BROKEN = defaultImageName("capmox", "4593.9.9");

/** What the operator let out, by where it went. */
type Captured = Record<string, string[]>;

/** Runs the three processes and captures everything they let out. */
async function captureEverything(server: S3rver, pki: TestPki): Promise<Captured> {
  let captured: Captured = {};
  await withCluster(async (cluster) => {
    const lines: string[] = [];
    const log = new Logger({ level: "debug", format: "json", sink: (line) => lines.push(line) });
    const bucket = await ImageBucket.create(server);
    const fake = await startFakeProxmox(pki, {
      tokens: [{ user: "root@pam", tokenId: "ido", secret: PVE_SECRET }],
    });
    const sent: string[] = [];
    const runs: ImageRun[] = [];
    const resolvers: { close(): void }[] = [];
    const start = async (pveSecret: string, s3: { secret: string; keyId?: string }) => {
      const resolver = bucket.resolver({
        credentials: ImageBucket.credentials(s3.secret, s3.keyId),
      });
      resolvers.push(resolver);
      const run = await runImageController(cluster, {
        ...capmoxWiring(capmoxConfig(fake, pki, pveSecret), log),
        resolver,
        log,
        timings: { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 },
      });
      runs.push(run);
      return run;
    };
    /** Stops a run, keeping what only it knows: its requests and its /readyz body. */
    const finish = async (run: ImageRun) => {
      sent.push(renderReport(await run.readiness.run(), "readyz", true));
      sent.push(...run.transport.requests.map((r) => `${r.path} ${JSON.stringify(r.body ?? "")}`));
      await run.stop();
    };
    try {
      await bucket.putImage("capmox", specName(GOOD), imageBytes("qcow2"));
      await bucket.putImage("capmox", specName(BROKEN), new TextEncoder().encode("garbage\n"));

      const refused = await start(WRONG_PVE_SECRET, { secret: S3_SECRET });
      await createImage(cluster, GOOD);
      await waitForMessages(cluster, GOOD, /^provider capmox not reachable: .*401/);
      await finish(refused);

      const denied = await start(PVE_SECRET, { secret: WRONG_S3_SECRET, keyId: "AKIAWRONGKEYID" });
      await waitForMessages(cluster, GOOD, /^cannot read source: S3 HEAD .*403/);
      await finish(denied);

      const good = await start(PVE_SECRET, { secret: S3_SECRET });
      const available = await cluster.waitFor("Available", async () => {
        const image = await cluster.image(GOOD);
        return image?.status?.state === "Available" && image;
      });
      assert.equal(available.status?.ready, "2/2");
      const download = fake.requests.find((r) => r.route.endsWith("/download-url"));
      assert.match(download?.params.url ?? "", /X-Amz-Signature=/, "the node got a presigned URL");
      await createImage(cluster, BROKEN);
      await cluster.waitFor("the broken image in Error", async () => {
        const image = await cluster.image(BROKEN);
        return image?.status?.state === "Error" && image;
      });
      await cluster.nodeImages.delete(GOOD, TEST_NAMESPACE);
      await cluster.waitFor("deleted", async () => (await cluster.image(GOOD)) === undefined);
      await finish(good);

      const events = await new ResourceClient<KubeEvent>(cluster.transport, EVENTS).list();
      const images = await cluster.nodeImages.list();
      captured = {
        logs: lines,
        Events: events.items.map((e) => JSON.stringify(e)),
        NodeImages: images.items.map((i) => JSON.stringify(i)),
        "API requests and /readyz": sent,
      };
    } finally {
      for (const run of runs) await run.stop();
      for (const resolver of resolvers) resolver.close();
      await fake.close();
    }
  });
  return captured;
}

function waitForMessages(cluster: TestCluster, name: string, pattern: RegExp) {
  return cluster.waitFor(`every location matching ${pattern}`, async () => {
    const image = await cluster.image(name);
    return LOCATION_NAMES.every((l) => pattern.test(locationOf(image, l)?.message ?? "")) &&
      image;
  });
}

/** Every place `needle` appears, with the start of the text it was found in. */
function occurrences(captured: Captured, needles: string[]): string[] {
  const found: string[] = [];
  for (const [where, texts] of Object.entries(captured)) {
    for (const needle of needles) {
      const hit = texts.find((t) => t.includes(needle));
      if (hit) found.push(`${needle} in ${where}: ${hit.slice(0, 400)}`);
    }
  }
  return found;
}

const { pki, unavailable } = await filePki();
const suite = await s3Suite("secrets never reach logs, Events or status", { unavailable });
let capture: Promise<Captured> | undefined;
const captured = (server: S3rver) => capture ??= captureEverything(server, pki!);

suite.test("errors reached logs, Events and status, so the search below means something", async (server) => {
  const all = await captured(server);
  for (const [where, texts] of Object.entries(all)) assert.ok(texts.length > 0, where);
  assert.ok(all.Events.some((e) => e.includes('"type":"Warning"')), "a Warning Event");
  assert.ok(all.logs.some((l) => /"level":"(warn|error)"/.test(l)), "warnings logged");
  assert.ok(all.NodeImages.some((i) => i.includes('"state":"Error"')), "an Error status");
});

suite.test("no Proxmox token secret or S3 secret key appears anywhere", async (server) => {
  const all = await captured(server);
  assert.deepEqual(occurrences(all, [...SECRETS, "PVEAPIToken"]), []);
});

suite.test("no presigned S3 URL (a bearer credential for the object) appears anywhere", async (server) => {
  const all = await captured(server);
  assert.deepEqual(occurrences(all, ["X-Amz-Signature"]), []);
});
