/**
 * vSphere pull mode (`pullFromURL`) through the image controller: vcsim behind the fake of
 * HttpNfcLeasePullFromUrls_Task (`tests/vsphere/fake_pull.ts`), the real S3 resolver over
 * s3rver. The fake plays ESXi: it checks the source files and thumbprint, pulls the member from
 * the URL we hand it and writes it to the lease's device URL, only once we kept the lease alive.
 *
 * Two sources: s3rver over plain http (the `0000` placeholder thumbprint), and the same bucket
 * behind an HTTPS front with the test PKI's certificate (its SHA-1, as govmomi formats it).
 */
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import type { ImageSource, ImageSpec } from "../../lib/image/provider.ts";
import type { ImageSourceResolver } from "../../lib/image/source.ts";
import type { ImageLayout } from "../../lib/provider_module.ts";
import { withCluster } from "../release/_cluster.ts";
import { defaultImageName } from "../support/builders.ts";
import type { S3rver } from "../support/s3rver.ts";
import type { TestPki } from "../support/tls.ts";
import { createImage, locationOf, runImageController, specName } from "../image/_harness.ts";
import { ImageBucket, imageBytes, s3Suite } from "../image/_s3.ts";
import { startFakePull } from "../vsphere/fake_pull.ts";
import {
  capvConfig,
  capvWiring,
  location,
  startSim,
  tagsOf,
  vmInfo,
  vsphereFilePki,
} from "./_vsphere.ts";

const NAME = defaultImageName("capv");
const IMAGE = specName(NAME);
const { pki, unavailable } = await vsphereFilePki();

/** The bucket's objects behind HTTPS with the PKI's server certificate. */
function httpsFront(endpoint: string, pki: TestPki) {
  return Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.serverCert,
    key: pki.serverKey,
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    const upstream = await fetch(endpoint + url.pathname + url.search, {
      headers: request.headers,
    });
    return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
  });
}

/** Hands out URLs on `origin` instead of the S3 endpoint. */
class RehostingResolver implements ImageSourceResolver {
  constructor(private readonly inner: ImageSourceResolver, private readonly origin: string) {}
  async resolve(image: ImageSpec, layout: ImageLayout, signal: AbortSignal): Promise<ImageSource> {
    const source = await this.inner.resolve(image, layout, signal);
    return {
      ...source,
      open: (o) => source.open(o),
      verified: () => source.verified?.() ?? [],
      url: async (ttl) => {
        const original = new URL(await source.url(ttl));
        return this.origin + original.pathname + original.search;
      },
    };
  }
}

async function pullCase(server: S3rver, pki: TestPki, https: boolean) {
  const bucket = await ImageBucket.create(server);
  const key = await bucket.putImage("capv", IMAGE, imageBytes("ova", 32 * 1024));
  const sim = await startSim(pki);
  const fake = startFakePull(sim.host, pki, { sourceCa: pki.caCert });
  const front = https ? httpsFront(server.endpoint, pki) : undefined;
  const base = bucket.resolver();
  const origin = front ? `https://127.0.0.1:${(front.addr as Deno.NetAddr).port}` : undefined;
  const resolver = origin ? new RehostingResolver(base, origin) : base;
  try {
    await withCluster(async (cluster) => {
      const config = {
        ...capvConfig(sim, pki, { locations: { "vc-a": location("DC0") }, pullFromURL: true }),
      };
      config.credentials = { ...config.credentials, vcenter: fake.host };
      const wiring = capvWiring(config, {
        provider: { progressIntervalMs: 50, pull: { sourceCa: pki.caCert } },
      });
      const run = await runImageController(cluster, { providers: wiring.providers, resolver });
      await createImage(cluster, NAME);
      const image = await cluster.waitFor("Available", async () => {
        const i = await cluster.image(NAME);
        return locationOf(i, "vc-a")?.state === "Available" && i;
      });
      const vm = await vmInfo(sim, `/DC0/vm/${IMAGE}`);
      assert.ok(vm?.template, "a template");
      assert.equal(locationOf(image, "vc-a")?.reference, vm.moref);
      assert.equal(await tagsOf(sim, `/DC0/vm/${IMAGE}`).then((t) => t.length), 4);

      assert.equal(fake.requests.length, 1);
      const [request] = fake.requests;
      assert.equal(request.files.length, 1);
      const [file] = request.files;
      assert.equal(file.memberName, "flatcar-disk1.vmdk");
      assert.equal(file.targetDeviceId, `/${IMAGE}/disk:0`);
      assert.equal(file.create, "false");
      assert.equal(new URL(file.url).pathname, `/${bucket.name}/${key}`);
      if (https) {
        assert.ok(file.url.startsWith(origin!), file.url);
        const der = new X509Certificate(pki.serverCert).raw;
        const sha1 = createHash("sha1").update(der).digest("hex").toUpperCase().match(/../g)!
          .join(":");
        assert.equal(file.sslThumbprint, sha1);
      } else {
        assert.equal(file.sslThumbprint, "0000");
      }
      assert.equal(fake.pulled.get("flatcar-disk1.vmdk"), 32 * 1024, "the host pulled the disk");
      assert.ok((fake.keepAlives.get(request.lease) ?? 0) >= 2, "the lease was kept alive");
      assert.equal(wiring.built.calls.get("HttpNfcLeaseComplete"), 1);
      await run.stop();
    });
  } finally {
    base.close();
    await fake.close();
    await front?.shutdown();
    await sim.stop();
  }
}

const suite = await s3Suite("vSphere pull mode against a fake of HttpNfcLeasePullFromUrls", {
  unavailable,
});

suite.test("an http source: the hosts pull the member with the 0000 placeholder thumbprint", (server) =>
  pullCase(server, pki!, false));

suite.test("an https source: the thumbprint is the SHA-1 of its certificate, colon-separated", (server) =>
  pullCase(server, pki!, true));
