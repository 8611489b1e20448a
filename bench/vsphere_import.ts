/**
 * vSphere bench (`deno task bench vsphere`): a 2 GiB OVA (`BENCH_VSPHERE_MIB`) from a local S3
 * server (s3rver) into vcsim, push mode, in its own process with the Containerfile's V8 flags; and
 * as the baseline, in the same run, `curl GET | curl POST` of the same disk member (a byte range
 * of the same object) to a device URL of a lease made the same way. Also: SOAP calls per import,
 * and inventory calls per resync for 300 images in each of 3 locations. Figures, no pass/fail.
 *
 * vcsim discards NFC bytes after hashing them, so the sink is cheap; both sides share the 2
 * cores with s3rver (Node) and vcsim.
 */
import { Secret } from "../lib/config/secret.ts";
import { s3KeyFor } from "../lib/release/derive.ts";
import { createVsphereProvider, vsphere } from "../providers/vsphere/mod.ts";
import { createImportSpec } from "../providers/vsphere/import_spec.ts";
import { importVApp, leaseAbort, waitReady } from "../providers/vsphere/lease.ts";
import { resolveLocation } from "../providers/vsphere/locations.ts";
import { clusterHosts, pickHost } from "../providers/vsphere/locations.ts";
import { withHost } from "../providers/vsphere/nfc.ts";
import { destroyVm } from "../providers/vsphere/vm_ops.ts";
import { listFolderVms } from "../providers/vsphere/inventory.ts";
import { findByInventoryPath } from "../providers/vsphere/soap/properties.ts";
import { realClock } from "../lib/clock.ts";
import { startS3rver } from "../tests/support/s3rver.ts";
import { startVcsim } from "../tests/support/vcsim.ts";
import { ovfDescriptor } from "../tests/support/images.ts";
import { containerV8Flags, line, mib } from "./_support.ts";

const MIB = 1024 * 1024;
const IMAGE = "flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs";

export async function benchVsphereImport(): Promise<void> {
  const size = Number(Deno.env.get("BENCH_VSPHERE_MIB") ?? 2048) * MIB;
  console.log(`vsphere: a ${size / MIB} MiB OVA from s3rver into vcsim (push mode)`);
  const s3 = await startS3rver();
  const sim = await startVcsim({ password: "bench-p@ss" });
  try {
    await s3.createBucket("bench");
    const key = s3KeyFor(IMAGE, vsphere.layout);
    const ova = ovaLayout(size);
    await s3.put("bench", key, ova.stream(), ova.total);
    const url = `${s3.endpoint}/bench/${key}`;

    const baseline = await curlPipe(sim, url, ova.diskOffset, size);
    line(
      "curl GET | curl POST (baseline)",
      `${rate(size, baseline.ms)} (${Math.round(baseline.ms)} ms)`,
    );

    const run = await importRun(s3.endpoint, sim, IMAGE);
    line(
      "operator import, push mode",
      `${rate(run.bytes, run.ms)} (${Math.round(run.ms)} ms), ${
        (baseline.ms / run.ms).toFixed(2)
      }× the curl pipe`,
    );
    line("operator peak RSS (VmHWM)", `${mib(run.peak)} (before the import ${mib(run.rssBefore)})`);
    const total = Object.values(run.perImport).reduce((a, b) => a + b, 0);
    line(
      "SOAP calls per import",
      `${total}: ${Object.entries(run.perImport).map(([m, n]) => `${m} ${n}`).join(", ")}`,
    );
    line(
      "SOAP calls to connect and probe",
      Object.entries(run.setup).map(([m, n]) => `${m} ${n}`).join(", "),
    );
    line("verified", run.verified.join(", "));
  } finally {
    await sim.stop();
    await s3.stop();
  }
  await inventoryCalls();
}

/** An OVA of ovf + disk of `size` bytes (1 MiB pattern), streamed without holding it. */
function ovaLayout(size: number) {
  const enc = new TextEncoder();
  const ovf = enc.encode(ovfDescriptor("flatcar-disk1.vmdk", size));
  const pad = (n: number) => (512 - (n % 512)) % 512;
  const header = (name: string, n: number) => {
    const block = new Uint8Array(512);
    const put = (text: string, at: number) => block.set(enc.encode(text), at);
    put(name, 0);
    put("0000644\0", 100);
    put(n.toString(8).padStart(11, "0") + "\0", 124);
    put("00000000000\0", 136);
    put("        ", 148);
    put("0", 156);
    put("ustar\u000000", 257);
    let sum = 0;
    for (const b of block) sum += b;
    put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
    return block;
  };
  const head = [header("flatcar.ovf", ovf.byteLength), ovf, new Uint8Array(pad(ovf.byteLength))];
  const headBytes = head.reduce((n, p) => n + p.byteLength, 0);
  const diskOffset = headBytes + 512;
  const total = diskOffset + size + pad(size) + 1024;
  const block = new Uint8Array(MIB);
  crypto.getRandomValues(block.subarray(0, 65536));
  for (let i = 65536; i < MIB; i += 65536) block.copyWithin(i, 0, 65536);
  block.set(enc.encode("KDMV"), 0);
  return {
    total,
    diskOffset,
    stream(): ReadableStream<Uint8Array> {
      const parts: (Uint8Array | number)[] = [
        ...head,
        header("flatcar-disk1.vmdk", size),
        size,
        new Uint8Array(pad(size) + 1024),
      ];
      return new ReadableStream({
        pull(controller) {
          const next = parts[0];
          if (next === undefined) return controller.close();
          if (typeof next === "number") {
            const n = Math.min(next, MIB);
            controller.enqueue(block.slice(0, n));
            if (next - n === 0) parts.shift();
            else parts[0] = next - n;
            return;
          }
          parts.shift();
          controller.enqueue(next);
        },
      });
    },
  };
}

/** A lease made as the provider makes one, then curl GET (the disk's byte range) | curl POST. */
async function curlPipe(
  sim: Awaited<ReturnType<typeof startVcsim>>,
  url: string,
  offset: number,
  size: number,
) {
  const provider = createVsphereProvider({
    pullFromURL: false,
    credentials: {
      vcenter: sim.host,
      username: sim.username,
      password: new Secret(sim.password),
      insecure: true,
    },
    locations: {},
  });
  const client = provider.client;
  const signal = AbortSignal.timeout(30 * 60_000);
  const location = await resolveLocation(client, "bench", {
    datacenter: "DC0",
    datastore: "LocalDS_0",
    folder: "/DC0/vm",
    cluster: "DC0_C0",
    resourcepool: "",
    host: "",
    network: "",
    imagesuffix: "",
  }, signal);
  const host = pickHost(await clusterHosts(client, location, signal), location);
  const spec = await createImportSpec(client, {
    ovf: ovfDescriptor("flatcar-disk1.vmdk", size),
    entityName: "curl-baseline",
    pool: location.pool,
    datastore: location.datastore,
    host: host.ref,
    annotation: "bench",
  }, signal);
  const lease = await importVApp(client, {
    pool: location.pool,
    spec: spec.spec,
    folder: location.folder,
    host: host.ref,
  }, signal);
  const info = await waitReady(client, lease, { clock: realClock, deadlineMs: 60_000 }, signal);
  const device = withHost(info.deviceUrls[0].url, sim.host);
  const started = performance.now();
  const pipe = new Deno.Command("bash", {
    args: [
      "-c",
      `set -o pipefail; curl -sSf -r ${offset}-${
        offset + size - 1
      } "$1" | curl -sSfk -X POST -T - ` +
      `-H "Content-Type: application/x-vnd.vmware-streamVmdk" -H "Content-Length: ${size}" ` +
      `-H "Cookie: ${client.cookie}" "$2"`,
      "pipe",
      url,
      device,
    ],
    stdout: "null",
    stderr: "piped",
  });
  const out = await pipe.output();
  const ms = performance.now() - started;
  if (!out.success) throw new Error(`curl pipe failed: ${new TextDecoder().decode(out.stderr)}`);
  await leaseAbort(client, lease, signal).catch(() => {});
  await destroyVm(client, info.entity, { clock: realClock, deadlineMs: 60_000 }, signal);
  await provider.close();
  return { ms };
}

interface RunFigures {
  bytes: number;
  ms: number;
  rssBefore: number;
  peak: number;
  setup: Record<string, number>;
  perImport: Record<string, number>;
  verified: string[];
}

async function importRun(
  endpoint: string,
  sim: Awaited<ReturnType<typeof startVcsim>>,
  image: string,
): Promise<RunFigures> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      `--v8-flags=${containerV8Flags()}`,
      new URL("./_vsphere_import_run.ts", import.meta.url).pathname,
      endpoint,
      "bench",
      sim.host,
      sim.username,
      sim.password,
      image,
    ],
    stdout: "piped",
    stderr: Deno.env.get("BENCH_DEBUG") ? "inherit" : "piped",
  }).output();
  if (!output.success) {
    const stderr = output.stderr ? new TextDecoder().decode(output.stderr) : "";
    throw new Error(stderr.trim().split("\n").slice(-5).join(" ") || "import run failed");
  }
  return JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
}

/** Inventory of 3 locations (3 datacenters) holding 300 VMs each: SOAP calls per resync. */
async function inventoryCalls(): Promise<void> {
  // vcsim's -vm N puts N VMs in each resource pool: 150 in the cluster's and 150 in the
  // standalone host's, all in the datacenter's VM folder (templates or not, one listing).
  const sim = await startVcsimWithVms();
  try {
    const calls: Record<string, number> = {};
    const locations = Object.fromEntries([0, 1, 2].map((i) => [`dc${i}`, {
      datacenter: `DC${i}`,
      datastore: "LocalDS_0",
      folder: `/DC${i}/vm`,
      cluster: `DC${i}_C0`,
      resourcepool: "",
      host: "",
      network: "",
      imagesuffix: "",
    }]));
    const provider = createVsphereProvider({
      pullFromURL: false,
      credentials: {
        vcenter: sim.host,
        username: sim.username,
        password: new Secret(sim.password),
        insecure: true,
      },
      locations,
    }, { onSoapCall: (m) => (calls[m] = (calls[m] ?? 0) + 1) });
    const signal = AbortSignal.timeout(120_000);
    await provider.probe(signal);
    for (const key of Object.keys(calls)) delete calls[key];
    const started = performance.now();
    for (const name of Object.keys(locations)) await provider.inventory(name, signal);
    const ms = performance.now() - started;
    const counted = { ...calls };
    let vms = 0;
    for (const i of [0, 1, 2]) {
      const folder = await findByInventoryPath(provider.client, `DC${i}/vm`, signal);
      vms += (await listFolderVms(provider.client, folder!, signal)).length;
    }
    line(
      "inventory calls per resync, 3 locations",
      `${Object.entries(counted).map(([m, n]) => `${m} ${n}`).join(", ")} in ${
        Math.round(ms)
      } ms ` +
        `for ${vms} VMs (the Go operator: one finder lookup per image and location)`,
    );
    await provider.close();
  } finally {
    await sim.stop();
  }
}

async function startVcsimWithVms() {
  return await startVcsim({ datacenters: 3, vms: 150, startTimeoutMs: 300_000 });
}

function rate(bytes: number, ms: number): string {
  return `${((bytes / ms) * 1000 / 1e6).toFixed(0)} MB/s`;
}
