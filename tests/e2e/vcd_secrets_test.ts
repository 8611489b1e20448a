/**
 * VCD credentials never reach logs, Events or status, end to end: the image controller with the
 * real VCD client against the fake VCD, run four times against the same cluster so that errors
 * flow everywhere:
 *
 * 1. a wrong password: every login is refused (401) and the locations go to Error;
 * 2. a wrong API token: the refresh-token grant is refused (400);
 * 3. the right password: one image is uploaded, another one's bytes are broken (the failed
 *    upload's message lands in the status), and the first is deleted;
 * 4. the right API token: an image is uploaded.
 *
 * Everything the operator let out is captured once: every log line (debug level), every Event
 * and NodeImage in the API server, every request path and body it sent there, and each run's
 * verbose `/readyz` body. The cases search it for the password, the API token, their Basic and
 * form encodings, and every session token the fake handed out.
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
import type { FakeVcd } from "../vcd/fake_vcd/mod.ts";
import { filePki } from "./_proxmox.ts";
import {
  API_TOKEN,
  capvcdConfig,
  capvcdWiring,
  LOCATION_NAMES,
  ORG,
  PASSWORD,
  startFakeVcd,
  USER,
} from "./_vcd.ts";

const WRONG_PASSWORD = "vcd-wrong-9Qk2:@/Pass";
const WRONG_TOKEN = "vcd-api-token-WRONG-77c1e0";

const GOOD = defaultImageName("capvcd");
const BROKEN = defaultImageName("capvcd", "4593.9.9");
const VIA_TOKEN = defaultImageName("capvcd", "4593.8.8");

type Captured = Record<string, string[]>;

function basic(password: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(`${USER}@${ORG}:${password}`)));
}

async function captureEverything(
  server: S3rver,
  pki: TestPki,
): Promise<{ captured: Captured; fake: FakeVcd }> {
  let captured: Captured = {};
  const fake = await startFakeVcd(pki);
  await withCluster(async (cluster) => {
    const lines: string[] = [];
    const log = new Logger({ level: "debug", format: "json", sink: (line) => lines.push(line) });
    const bucket = await ImageBucket.create(server);
    const resolver = bucket.resolver();
    const sent: string[] = [];
    const runs: ImageRun[] = [];
    const start = async (credentials: { password?: string; refreshToken?: string }) => {
      const run = await runImageController(cluster, {
        ...capvcdWiring(capvcdConfig(fake, pki, credentials), log),
        resolver,
        log,
        timings: { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 },
      });
      runs.push(run);
      return run;
    };
    const finish = async (run: ImageRun) => {
      sent.push(renderReport(await run.readiness.run(), "readyz", true));
      sent.push(...run.transport.requests.map((r) => `${r.path} ${JSON.stringify(r.body ?? "")}`));
      await run.stop();
    };
    try {
      await bucket.putImage("capvcd", specName(GOOD), imageBytes("ova", 20_000));
      await bucket.putImage("capvcd", specName(BROKEN), new TextEncoder().encode("garbage\n"));
      await bucket.putImage("capvcd", specName(VIA_TOKEN), imageBytes("ova", 9_000, 4));

      const refused = await start({ password: WRONG_PASSWORD });
      await createImage(cluster, GOOD);
      await waitForMessages(cluster, GOOD, /^provider capvcd not reachable: .*401/);
      await finish(refused);

      const badToken = await start({ refreshToken: WRONG_TOKEN });
      await waitForMessages(cluster, GOOD, /^provider capvcd not reachable: .*API token.*400/);
      await finish(badToken);

      const good = await start({ password: PASSWORD });
      await waitForState(cluster, GOOD, "Available");
      await createImage(cluster, BROKEN);
      await waitForState(cluster, BROKEN, "Error");
      await cluster.nodeImages.delete(GOOD, TEST_NAMESPACE);
      await cluster.waitFor("deleted", async () => (await cluster.image(GOOD)) === undefined);
      await finish(good);

      const viaToken = await start({ refreshToken: API_TOKEN });
      await createImage(cluster, VIA_TOKEN);
      await waitForState(cluster, VIA_TOKEN, "Available");
      await finish(viaToken);

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
      resolver.close();
    }
  });
  await fake.close();
  return { captured, fake };
}

function waitForMessages(cluster: TestCluster, name: string, pattern: RegExp) {
  return cluster.waitFor(`every location matching ${pattern}`, async () => {
    const image = await cluster.image(name);
    return LOCATION_NAMES.every((l) => pattern.test(locationOf(image, l)?.message ?? "")) &&
      image;
  });
}

function waitForState(cluster: TestCluster, name: string, state: string) {
  return cluster.waitFor(`${name} ${state}`, async () => {
    const image = await cluster.image(name);
    return image?.status?.state === state && image;
  });
}

function occurrences(captured: Captured, needles: readonly string[]): string[] {
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
const suite = await s3Suite("VCD credentials never reach logs, Events or status", { unavailable });
let capture: Promise<{ captured: Captured; fake: FakeVcd }> | undefined;
const captured = (server: S3rver) => capture ??= captureEverything(server, pki!);

suite.test("errors reached logs, Events and status, so the search below means something", async (server) => {
  const { captured: all } = await captured(server);
  for (const [where, texts] of Object.entries(all)) assert.ok(texts.length > 0, where);
  assert.ok(all.Events.some((e) => e.includes('"type":"Warning"')), "a Warning Event");
  assert.ok(all.logs.some((l) => /"level":"(warn|error)"/.test(l)), "warnings logged");
  assert.ok(all.NodeImages.some((i) => i.includes('"state":"Error"')), "an Error status");
  assert.ok(all.NodeImages.some((i) => i.includes('"state":"Available"')), "a success too");
});

suite.test("no password or API token appears anywhere, encoded or not", async (server) => {
  const { captured: all } = await captured(server);
  const secrets = [PASSWORD, WRONG_PASSWORD, API_TOKEN, WRONG_TOKEN];
  const encodings = secrets.flatMap((
    s,
  ) => [encodeURIComponent(s), new URLSearchParams({ s }).toString().slice(2)]);
  const basics = [basic(PASSWORD), basic(WRONG_PASSWORD)];
  assert.deepEqual(occurrences(all, [...secrets, ...encodings, ...basics, "Basic "]), []);
});

suite.test("no session token VCD handed out appears anywhere", async (server) => {
  const { captured: all, fake } = await captured(server);
  assert.ok(fake.tokensIssued.length >= 2, "sessions were opened");
  assert.deepEqual(occurrences(all, fake.tokensIssued), []);
});
