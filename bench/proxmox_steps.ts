/**
 * Proxmox provider figures against the fake Proxmox (HTTPS on 127.0.0.1, task durations 0, so
 * what remains is the operator's own overhead plus loopback round trips):
 * - create latency per step (median and max over several creates), with requests per create;
 * - platform calls per resync for 300 images × 3 locations, next to the Go operator's count
 *   (one cluster-wide listing per image and location).
 * Plain printed lines, no pass/fail.
 */
import { PROXMOX_VM_DEFAULTS, type ProxmoxConfig } from "../providers/proxmox/config.ts";
import { Secret } from "../lib/config/secret.ts";
import type { ImageSource, TransferProgress } from "../lib/image/provider.ts";
import { createProxmoxProvider } from "../providers/proxmox/mod.ts";
import { DEFAULT_TOKEN, FakeProxmox } from "../tests/proxmox/fake_proxmox/mod.ts";
import { opensslAvailable, testPki } from "../tests/support/tls.ts";

const CREATES = 20;
const IMAGES = 300;
const NODES = ["pve1", "pve2", "pve3"];

export async function benchProxmoxSteps(): Promise<void> {
  console.log("proxmox: create steps and resync calls against the fake Proxmox");
  if (!opensslAvailable()) {
    console.log("proxmox: skipped (the openssl CLI is needed for the fake's certificate)");
    return;
  }
  const pki = await testPki();
  const fake = await FakeProxmox.start({
    nodes: NODES,
    tls: { cert: pki.serverCert, key: pki.serverKey },
    taskDurationMs: 0,
  });
  const qcow2 = new Uint8Array(64 * 1024);
  qcow2.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
  const files = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response(qcow2.slice()),
  );
  const durations = new Map<string, number[]>();
  const started = new Map<string, number>();
  const provider = createProxmoxProvider(benchConfig(fake.host, pki.caCert), {
    // A 5 ms poll instead of the production 2 s first delay, so polling does not hide overhead.
    taskDelaysMs: [5],
    onStep: (step, event) => {
      if (event === "start") started.set(step, performance.now());
      else {
        const list = durations.get(step) ?? [];
        list.push(performance.now() - started.get(step)!);
        durations.set(step, list);
      }
    },
  });
  const signal = new AbortController().signal;
  try {
    const totals: number[] = [];
    const before = fake.requests.length;
    for (let i = 0; i < CREATES; i++) {
      const name = `flatcar-stable-4459.2.${i}-kube-1.34.5-tooling-1.27.0-gs`;
      const t0 = performance.now();
      await provider.ensure(
        { name, provider: "capmox", objectKey: `giantswarm/capmox-${name}` },
        "loc1",
        source(`http://127.0.0.1:${files.addr.port}/${name}.qcow2`, qcow2.length),
        silentProgress,
        signal,
      );
      totals.push(performance.now() - t0);
    }
    const perCreate = (fake.requests.length - before) / CREATES;
    const polls = fake.requests.slice(before).filter((r) => r.route.endsWith("/status")).length /
      CREATES;
    console.log(`proxmox create: ${CREATES} creates, task durations 0, poll delay 5 ms`);
    for (const [step, list] of durations) {
      console.log(
        `proxmox create step ${step.padEnd(20)} median ${ms(median(list))}  max ${ms(max(list))}`,
      );
    }
    console.log(
      `proxmox create total                 median ${ms(median(totals))}  max ${ms(max(totals))}`,
    );
    console.log(
      `proxmox create requests per create: ${perCreate} (task status polls: ${polls})`,
    );

    // 300 templates on each of the three nodes, plus as many foreign VMs to filter out.
    fake.cluster.vms.clear();
    let vmid = 1000;
    for (const node of NODES) {
      for (let i = 0; i < IMAGES; i++) {
        const name = `flatcar-stable-4459.2.${i}-kube-1.34.5-tooling-1.27.0-gs`;
        fake.cluster.addVm({ vmid: vmid++, node, name, template: true });
        fake.cluster.addVm({ vmid: vmid++, node, name: `workload-${i}` });
      }
    }
    const resyncProvider = createProxmoxProvider(benchConfig(fake.host, pki.caCert));
    try {
      const start = fake.requests.length;
      const t0 = performance.now();
      const inventories = await Promise.all(
        resyncProvider.locations().map((loc) => resyncProvider.inventory(loc, signal)),
      );
      const elapsed = performance.now() - t0;
      const found = inventories.reduce((n, inv) => n + inv.items.size, 0);
      console.log(
        `proxmox resync ${IMAGES} images x ${NODES.length} locations ` +
          `(${fake.cluster.vms.size} VMs in the cluster): ${fake.requests.length - start} ` +
          `platform call(s), ${found} templates found, ${ms(elapsed)}`,
      );
      console.log(
        `proxmox resync Go operator baseline: ${IMAGES * NODES.length} calls ` +
          `(one /cluster/resources per image and location)`,
      );
    } finally {
      await resyncProvider.close();
    }
  } finally {
    await provider.close();
    await files.shutdown();
    await fake.close();
    await pki.remove();
  }
}

/** Three locations, one per node, authenticated with the fake's default token. */
function benchConfig(host: string, caCert: string): ProxmoxConfig {
  return {
    credentials: {
      url: host,
      user: "root",
      realm: "pam",
      tokenId: DEFAULT_TOKEN.tokenId,
      secret: new Secret(DEFAULT_TOKEN.secret),
      insecure: false,
      caCert,
    },
    locations: Object.fromEntries(NODES.map((node, i) => [`loc${i + 1}`, {
      node,
      storagePool: "local-lvm",
      importStorage: "local",
      bridge: "vmbr0",
      vm: { ...PROXMOX_VM_DEFAULTS },
    }])),
  };
}

const silentProgress: TransferProgress = { bytes() {}, reference() {}, phase() {} };

function source(url: string, size: number): ImageSource {
  return {
    key: url,
    format: "qcow2",
    size,
    url: () => Promise.resolve(url),
    open: () => Promise.reject(new Error("not streamed")),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function max(values: number[]): number {
  return values.reduce((m, v) => Math.max(m, v), 0);
}

function ms(value: number): string {
  return `${value.toFixed(2)} ms`.padStart(10);
}

if (import.meta.main) await benchProxmoxSteps();
