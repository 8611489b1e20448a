/**
 * Issue 15 defect 1, end to end: a platform whose errors quote URLs with user info and signed
 * queries (as Proxmox task logs and vCenter faults do) never gets them into NodeImage status,
 * conditions, Events or log lines; the rest of the message stays readable.
 */
import assert from "node:assert/strict";
import { Logger } from "../../lib/log.ts";
import { withCluster } from "../release/_cluster.ts";
import { defaultImageName } from "../support/builders.ts";
import { FakeCatalog } from "../support/fake_provider.ts";
import { createImage, locationOf, runImageController, specName } from "../image/_harness.ts";
import { ImageBucket, imageBytes, s3Suite } from "../image/_s3.ts";

const SECRET = "pa55-in-a-url";
const NAME = defaultImageName("capv");
const suite = await s3Suite("URLs in platform errors are redacted in status, Events and logs");

suite.test("listing and upload failures quoting URLs", async (server) => {
  const bucket = await ImageBucket.create(server);
  const resolver = bucket.resolver();
  const lines: string[] = [];
  try {
    await withCluster(async (cluster) => {
      await bucket.putImage("capv", specName(NAME), imageBytes("ova"));
      const catalog = new FakeCatalog({ locations: ["dc-a", "dc-b"] });
      catalog.failNext(
        "inventory",
        `GET https://admin:${SECRET}@vc.example.com/sdk refused`,
        { location: "dc-a", count: Infinity },
      );
      catalog.failNext(
        "ensure",
        `download https://b.s3.example.com/x.ova?X-Amz-Signature=${SECRET} failed`,
        { location: "dc-b", count: Infinity },
      );
      const run = await runImageController(cluster, {
        catalogs: [catalog],
        resolver,
        log: new Logger({ level: "debug", sink: (line) => lines.push(line) }),
        timings: { failureBackoffMs: 60_000, maxFailureBackoffMs: 60_000 },
      });
      try {
        await createImage(cluster, NAME);
        const image = await cluster.waitFor("both locations in Error", async () => {
          const image = await cluster.image(NAME);
          return locationOf(image, "dc-a")?.state === "Error" &&
            locationOf(image, "dc-b")?.state === "Error" && image;
        });
        assert.match(
          locationOf(image, "dc-a")?.message ?? "",
          /https:\/\/<userinfo redacted>@vc\.example\.com\/sdk refused/,
        );
        assert.match(locationOf(image, "dc-b")?.message ?? "", /x\.ova\?<query redacted> failed/);
        const events = await cluster.waitFor("a Warning Event", async () => {
          const events = await cluster.eventsAbout(image.metadata.name!);
          return events.some((e) => e.type === "Warning") && events;
        });
        const seen = [JSON.stringify(image.status), JSON.stringify(events), ...lines];
        for (const text of seen) assert.ok(!text.includes(SECRET), text);
      } finally {
        await run.stop();
      }
    });
  } finally {
    resolver.close();
  }
});
