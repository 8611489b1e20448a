import { startS3rver } from "./tests/support/s3rver.ts";
import { startVcsim } from "./tests/support/vcsim.ts";
import { createVsphereProvider } from "./providers/vsphere/mod.ts";
import { S3Resolver } from "./providers/s3/resolver.ts";
import { Secret } from "./lib/config/secret.ts";
import { Logger } from "./lib/log.ts";
import { ova, fakeVmdk } from "./tests/support/images.ts";
const s3 = await startS3rver();
const sim = await startVcsim({});
await s3.createBucket("bkt");
const size = Number(Deno.args[0]);
await s3.put("bkt", "capv/x/x.ova", ova().withDisk(fakeVmdk(size)).build());
const resolver = new S3Resolver({ bucket: "bkt", region: "us-east-1", http: true, timeoutMs: 60000, endpoint: s3.endpoint, forcePathStyle: true });
const p = createVsphereProvider({ pullFromURL: false, credentials: { vcenter: sim.host, username: "user", password: new Secret("pass"), insecure: true },
  locations: { a: { datacenter: "DC0", datastore: "LocalDS_0", folder: "/DC0/vm", cluster: "DC0_C0", resourcepool: "", host: "", network: "", imagesuffix: "" } } },
  { logger: new Logger({ level: "debug", format: "text" }), onSoapCall: (m) => console.log("soap", m) });
const s = AbortSignal.timeout(30000);
try {
  const src = await resolver.resolve({ name: "x", provider: "capv", objectKey: "a/b" }, { directory: "capv", format: "ova" }, s);
  (src as any).key = "capv/x/x.ova";
  const r = await p.ensure({ name: "x", provider: "capv", objectKey: "a/b" }, "a", src, { bytes: (d) => console.log("bytes", d), reference: () => {}, phase: (x) => console.log(x) }, s);
  console.log(r);
} catch (e) { console.log("ERR", e); } finally { await p.close(); resolver.close(); await sim.stop(); await s3.stop(); }
