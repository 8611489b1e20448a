/**
 * A Release never registers into a NodeImage that is being deleted. The whole operator runs
 * here (release controller, garbage collector and image controller) against the fake API
 * server, a fake platform and s3rver: the platform goes away while an image is being deleted,
 * the Release using it is deleted and created again, then the platform returns.
 */
import assert from "node:assert/strict";
import { NODE_IMAGE_FINALIZER } from "../../lib/names.ts";
import { defaultImageName, release, TEST_NAMESPACE } from "../support/builders.ts";
import { FakeCatalog } from "../support/fake_provider.ts";
import { runImageController, specName } from "../image/_harness.ts";
import { ImageBucket, imageBytes, s3Suite } from "../image/_s3.ts";
import { withCluster } from "./_cluster.ts";

const R = "vsphere-35.0.0";
const IMAGE = defaultImageName("capv");

const suite = await s3Suite(
  "a terminating NodeImage never gains a Release, with s3rver as the source",
);

suite.test("a Release created again while its NodeImage is stuck terminating waits, then registers into a new one", async (server) => {
  const bucket = await ImageBucket.create(server);
  const resolver = bucket.resolver();
  try {
    await withCluster(async (cluster) => {
      await bucket.putImage("capv", specName(IMAGE), imageBytes("ova"));
      const catalog = new FakeCatalog({ locations: ["dc-a"] });
      // What listed the image each time the platform removed it.
      const removedWhileListing: string[][] = [];
      catalog.beforeRemove = async () => {
        const image = await cluster.image(IMAGE);
        removedWhileListing.push([...image?.status?.releases ?? []]);
      };
      const images = await runImageController(cluster, { catalogs: [catalog], resolver });
      cluster.run({ retentionMs: 0 });
      try {
        await cluster.releases.create(release(R).build());
        const first = await cluster.waitFor("the image to be Available", async () => {
          const image = await cluster.image(IMAGE);
          return image?.status?.state === "Available" && image;
        });

        // The platform goes away; the Release is deleted, so the unused image is deleted and
        // stays terminating: the image controller cannot remove it from the platform.
        catalog.unreachable = "connection refused";
        await cluster.releases.delete(R);
        await cluster.waitFor("the Release to be gone", async () => !await cluster.release(R));
        const dying = await cluster.waitFor("the image to be terminating", async () => {
          const image = await cluster.image(IMAGE);
          return image?.metadata.deletionTimestamp !== undefined && image;
        });
        assert.equal(dying.metadata.uid, first.metadata.uid);
        assert.ok(dying.metadata.finalizers?.includes(NODE_IMAGE_FINALIZER));

        // The Release comes back while the old image is still terminating.
        await cluster.releases.create(release(R).build());
        const warning = await cluster.waitFor(
          "a Warning on the Release naming why",
          async () =>
            (await cluster.eventsAbout(R)).find((e) =>
              e.type === "Warning" && e.reason === "NodeImageTerminating"
            ),
        );
        assert.match(warning.note, new RegExp(`${TEST_NAMESPACE}/${IMAGE}`));
        assert.match(warning.note, /being deleted/);
        const still = await cluster.image(IMAGE);
        assert.equal(still?.metadata.uid, first.metadata.uid, "the old image is still there");
        assert.deepEqual(still?.status?.releases ?? [], [], "and the Release is not in it");

        // The platform returns: the old image goes, a new one is made for the Release.
        catalog.unreachable = undefined;
        const fresh = await cluster.waitFor(
          "a new NodeImage listing the Release, Available",
          async () => {
            const image = await cluster.image(IMAGE);
            return image && image.metadata.uid !== first.metadata.uid &&
              image.status?.releases?.includes(R) && image.status?.state === "Available" &&
              image;
          },
        );
        assert.deepEqual(fresh.status?.releases, [R]);
        assert.deepEqual(removedWhileListing, [[]], "removed once, while no Release listed it");
        assert.equal(catalog.items("dc-a").get(specName(IMAGE))?.complete, true);
        // The old image got its Release at creation (NodeImageCreated), never added later.
        const addedToOld = (await cluster.eventsAbout(IMAGE)).filter((e) =>
          e.reason === "ReleaseAdded" && e.regarding?.uid === first.metadata.uid
        );
        assert.deepEqual(addedToOld, [], "no Release was added to the terminating image");
      } finally {
        await images.stop();
      }
    });
  } finally {
    resolver.close();
  }
});
