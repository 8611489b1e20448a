/**
 * One vSphere import in its own process, for `deno task bench vsphere`: the real S3 resolver
 * (s3rver) and the real vSphere provider (vcsim), push mode. Prints one JSON line: bytes read,
 * wall ms, SOAP calls by method, RSS before and the kernel's peak RSS (VmHWM) of this process.
 *
 * Args: <s3 endpoint> <bucket> <vcenter host:port> <user> <password> <image name>
 */
import { Secret } from "../lib/config/secret.ts";
import { S3Resolver } from "../providers/s3/resolver.ts";
import { createVsphereProvider, vsphere } from "../providers/vsphere/mod.ts";

const [endpoint, bucket, vcenter, username, password, image] = Deno.args;

function kib(field: string): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
    Deno.readTextFileSync("/proc/self/status"),
  );
  return Number(match?.[1] ?? 0) * 1024;
}

const resolver = new S3Resolver({
  bucket,
  region: "us-east-1",
  http: true,
  timeoutMs: 60_000,
  endpoint,
  forcePathStyle: true,
});
const calls: Record<string, number> = {};
const provider = createVsphereProvider({
  pullFromURL: false,
  credentials: { vcenter, username, password: new Secret(password), insecure: true },
  locations: {
    bench: {
      datacenter: "DC0",
      datastore: "LocalDS_0",
      folder: "/DC0/vm",
      cluster: "DC0_C0",
      resourcepool: "",
      host: "",
      network: "",
      imagesuffix: "",
    },
  },
}, {
  onSoapCall: (m) => {
    calls[m] = (calls[m] ?? 0) + 1;
    if (Deno.env.get("BENCH_DEBUG")) console.error("soap", m);
  },
});
const signal = AbortSignal.timeout(30 * 60_000);
const spec = { name: image, provider: "capv", objectKey: "bench/x" };
await provider.probe(signal);
const setup = { ...calls };
const source = await resolver.resolve(spec, vsphere.layout, signal);
const rssBefore = kib("VmRSS");
const started = performance.now();
let read = 0;
const result = await provider.ensure(spec, "bench", source, {
  bytes: (done) => (read = done),
  reference: () => {},
  phase: (p) => Deno.env.get("BENCH_DEBUG") && console.error("phase", p),
}, signal);
const ms = performance.now() - started;
const perImport = Object.fromEntries(
  Object.entries(calls).map(([m, n]) => [m, n - (setup[m] ?? 0)]).filter(([, n]) => n !== 0),
);
await provider.close();
resolver.close();
console.log(JSON.stringify({
  bytes: read,
  ms,
  rssBefore,
  peak: kib("VmHWM"),
  setup,
  perImport,
  verified: result.verified,
}));
// The S3 SDK's pooled sockets can outlive close(); the figures are out, so leave now.
Deno.exit(0);
