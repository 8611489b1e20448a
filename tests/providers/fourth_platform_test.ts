/**
 * Adding a platform is one module: a fourth platform defined only in this test, with its own
 * values.yaml section, Release prefix, image layout and flag, is handed to `main` next to the
 * shipped modules and carries a Release through to an Available NodeImage in both its
 * locations, with no change outside this file.
 */
import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { ResourceClient } from "../../lib/kube/client.ts";
import { NODE_IMAGES, RELEASES } from "../../lib/names.ts";
import type { NodeImage, Release } from "../../lib/release/objects.ts";
import { s3KeyFor } from "../../lib/release/derive.ts";
import { PROVIDER_MODULES } from "../../providers/mod.ts";
import { defineProvider, type ProviderModule } from "../../providers/types.ts";
import { type Decoder, field, join, type Secret, type YamlObject } from "../../lib/config/mod.ts";
import { FakeApiServer } from "../fake_apiserver/mod.ts";
import { ImageBucket, imageBytes } from "../image/_s3.ts";
import { release } from "../support/builders.ts";
import { FakeCatalog } from "../support/fake_provider.ts";
import { s3rverUnavailable, startS3rver } from "../support/s3rver.ts";
import { eventually } from "../support/until.ts";

const CRDS = new URL("../../crds", import.meta.url).pathname;
const unavailable = await s3rverUnavailable();

/** The fourth platform's own config schema. */
interface LabConfig {
  zone: string;
  credentials: { token: Secret };
  locations: Record<string, { rack: string }>;
}

function parseLocations(parent: YamlObject, key: string, d: Decoder, path: string) {
  return Object.fromEntries(
    d.entries(parent, key, path).map(([name, raw]) => [
      name,
      { rack: d.requiredString(raw, "rack", join(join(path, key), name)) },
    ]),
  );
}

/** A platform "lab" serving Releases named `lab-X.Y.Z` from `catalog`. */
function labModule(catalog: FakeCatalog, seen: LabConfig[]): ProviderModule<LabConfig> {
  return defineProvider<LabConfig>({
    id: "caplab",
    platform: "Lab Cloud",
    releasePrefixes: ["lab"],
    section: "lab",
    layout: { directory: "caplab", format: "qcow2" },
    flags: { enable: "enable-lab", credentials: "lab-credentials", locations: "lab-locations" },
    extraFlags: [{
      name: "lab-zone",
      kind: "string",
      usage: "Zone of the lab cloud",
      check: (value) => /^[a-z0-9-]+$/.test(String(value)) ? undefined : "expected a zone name",
      apply: (config, value) => ({ ...config, zone: String(value) }),
    }],
    files: { credentials: "/home/.lab/credentials", locations: "/home/.lab/locations" },
    parseSection: (section, d, path) => ({
      zone: d.optionalString(section, "zone", path, "default"),
      credentials: {
        token: d.requiredSecret(
          d.object(field(section, "credentials"), join(path, "credentials")) ?? {},
          "token",
          join(path, "credentials"),
        ),
      },
      locations: parseLocations(section, "locations", d, path),
    }),
    withCredentials: (config, root, d) => ({
      ...config,
      credentials: { token: d.requiredSecret(d.object(root, "") ?? {}, "token", "") },
    }),
    withLocations: (config, root, d) => ({
      ...config,
      locations: parseLocations({ "": root }, "", d, ""),
    }),
    locationNames: (config) => Object.keys(config.locations),
    create: (config) => {
      seen.push(config);
      return catalog.connect();
    },
  });
}

Deno.test({
  name: "a platform defined only in a test serves its Releases through the whole operator",
  ignore: unavailable !== undefined,
  async fn() {
    const s3 = await startS3rver();
    const server = await FakeApiServer.start({ crdDir: CRDS });
    const dir = await Deno.makeTempDir();
    const stop = new AbortController();
    let exit: Promise<number> | undefined;
    try {
      const catalog = new FakeCatalog({
        id: "caplab",
        format: "qcow2",
        locations: ["rack-a", "rack-b"],
      });
      const seen: LabConfig[] = [];
      const lab = labModule(catalog, seen);

      const bucket = await ImageBucket.create(s3);
      const r = release("lab-1.0.0").build() as Release;
      const imageName = "flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs";
      const key = s3KeyFor(imageName, lab.layout);
      assert.equal(key, `caplab/${imageName}/flatcar-stable-4593.2.3-kube-v1.35.6.qcow2`);
      await s3.put(bucket.name, key, imageBytes("qcow2"));

      const s3Section = bucket.config();
      await Deno.writeTextFile(
        `${dir}/values.yaml`,
        [
          "s3:",
          `  bucket: ${s3Section.bucket}`,
          `  region: ${s3Section.region}`,
          "  http: true",
          `  endpoint: ${s3Section.endpoint}`,
          "  forcePathStyle: true",
          "lab:",
          "  credentials: {token: lab-token}",
          "  locations:",
          "    rack-a: {rack: a1}",
          "    rack-b: {rack: b7}",
        ].join("\n"),
      );
      await server.writeKubeconfig(`${dir}/kubeconfig`);

      exit = main([
        `--kubeconfig=${dir}/kubeconfig`,
        `--config=${dir}/values.yaml`,
        "--namespace=default",
        "--lab-zone=eu-2",
        "--health-probe-bind-address=0",
        "--log-level=error",
      ], { modules: [...PROVIDER_MODULES, lab], signal: stop.signal });

      const transport = server.transport();
      await new ResourceClient<Release>(transport, RELEASES).create(r);
      const images = new ResourceClient<NodeImage>(transport, NODE_IMAGES);
      const name = `caplab-${imageName}`;
      const available = await eventually(`${name} Available`, async () => {
        const image = await images.get(name, "default").catch(() => undefined);
        return image?.status?.state === "Available" ? image : undefined;
      }, 30_000);
      assert.deepEqual(available.spec, { name: imageName, provider: "caplab" });
      assert.deepEqual(available.status?.releases, ["lab-1.0.0"]);
      const locations = (available.status?.locations ?? []) as { name: string; state: string }[];
      assert.deepEqual(
        locations.map((l) => `${l.name} ${l.state}`).sort(),
        ["rack-a Available", "rack-b Available"],
      );
      for (const location of ["rack-a", "rack-b"]) {
        assert.equal(catalog.items(location).get(imageName)?.complete, true, location);
      }
      // The module's own section and flag reached its client, typed.
      assert.equal(seen.at(-1)?.zone, "eu-2");
      assert.equal(seen.at(-1)?.credentials.token.reveal(), "lab-token");
      assert.deepEqual(seen.at(-1)?.locations, {
        "rack-a": { rack: "a1" },
        "rack-b": { rack: "b7" },
      });
      transport.close();
    } finally {
      stop.abort();
      const code = await exit;
      await server.close();
      await s3.stop();
      await Deno.remove(dir, { recursive: true });
      if (exit) assert.equal(code, 0, "the operator stopped cleanly");
    }
  },
});
