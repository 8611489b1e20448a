/**
 * Memory bench (issue 13): the real `main.ts` process, run as the pod runs it, and its resident
 * memory read from `/proc/<pid>/status` (VmRSS, and VmHWM for the peak), beside a Deno hello
 * world's measured in the same run.
 *
 * Set-up, all on 127.0.0.1: the fake API server over HTTPS; the operator in-cluster style (a
 * service-account directory with `token`, `ca.crt` and `namespace`, KUBERNETES_SERVICE_HOST/PORT,
 * no kubeconfig anywhere); every provider configured through a values.yaml: the fake Proxmox,
 * the fake VCD, vcsim (vSphere, when it can be built here), S3 on s3rver. The operator runs with
 * the V8 flags of the Containerfile (`BENCH_MEMORY_V8_FLAGS` overrides them, for trying others)
 * and its ENTRYPOINT's `deno run` flags besides permissions (`BENCH_MEMORY_DENO_FLAGS`,
 * space-separated, overrides them).
 *
 * Phases, each one figure:
 * 1. idle: `/readyz` passes, then 15 s of nothing to do;
 * 2. transfers: four 2 GiB transfers at once (`BENCH_MEMORY_MIB` sets the size): a capvcd image
 *    pushed through the operator into two VCD catalogs (S3 → operator → VCD) and a capmox image
 *    that two Proxmox nodes pull from S3 themselves; the figure is the process's peak (VmHWM,
 *    reset before them);
 * 3. cached: 10,000 NodeImages and 2,000 Releases created, each handled once by the
 *    controllers, then 15 s quiet. They belong to a provider this operator is not configured for
 *    (`aws`), so no transfer starts: this phase measures the caches.
 *
 * `BENCH_MEMORY_NODEIMAGES` and `BENCH_MEMORY_RELEASES` change the counts of phase 3.
 * `BENCH_MEMORY_IDLE_ONLY=1` stops after the idle figure (for trying flags).
 * `BENCH_MEMORY_INSPECT=1` runs the operator with its inspector open and prints a summary of a
 * heap snapshot at idle and once the objects are cached (snapshots kept in `.tmp/`); the README
 * is then left as it is.
 *
 * Prints the table and writes it into README.md's "Memory" section, with the machine it ran on.
 */
import { ResourceClient } from "../lib/kube/client.ts";
import { loadKubeConfig } from "../lib/kube/config.ts";
import type { KubeTransport } from "../lib/kube/transport.ts";
import { NAMESPACES } from "../lib/kube/resource.ts";
import { NODE_IMAGES, RELEASES } from "../lib/names.ts";
import type { NodeImage, Release } from "../lib/release/objects.ts";
import { s3KeyFor } from "../lib/release/derive.ts";
import { proxmox } from "../providers/proxmox/mod.ts";
import { vcd } from "../providers/vcd/mod.ts";
import { FakeApiServer } from "../tests/fake_apiserver/mod.ts";
import { FakeProxmox } from "../tests/proxmox/fake_proxmox/mod.ts";
import { startFakeVcd } from "../tests/e2e/_vcd.ts";
import { ORG as VCD_ORG, PASSWORD as VCD_PASSWORD, USER as VCD_USER } from "../tests/e2e/_vcd.ts";
import { startSim } from "../tests/e2e/_vsphere.ts";
import { type S3rver, s3rverUnavailable, startS3rver } from "../tests/support/s3rver.ts";
import { opensslAvailable, opensslMissing, type TestPki, testPki } from "../tests/support/tls.ts";
import { type Vcsim, vcsimUnavailable } from "../tests/support/vcsim.ts";
import { type CgroupPhase, type MemoryCgroup, memoryCgroup, uncachedCopy } from "./_cgroup.ts";
import { containerDenoFlags, containerV8Flags, forEachLimited, line } from "./_support.ts";
import { putOva } from "./vcd_upload.ts";
import { freePort } from "../tests/support/free_port.ts";
import { summariseHeapSnapshot, takeHeapSnapshot } from "./_heap_snapshot.ts";

const MIB = 1024 * 1024;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const HELLO = new URL("./_hello.ts", import.meta.url).pathname;
const README = new URL("../README.md", import.meta.url).pathname;
const CRDS = new URL("../crds", import.meta.url).pathname;
const NAMESPACE = "giantswarm";
const BUCKET = "node-images";
const SETTLE_MS = 15_000;
const NODE_IMAGE_COUNT = Number(Deno.env.get("BENCH_MEMORY_NODEIMAGES") ?? 10_000);
const RELEASE_COUNT = Number(Deno.env.get("BENCH_MEMORY_RELEASES") ?? 2_000);
// How long a phase may take (`BENCH_MEMORY_DEADLINE_MIN`): under a tight limit the operator
// may thrash rather than finish.
const DEADLINE_MS = Number(Deno.env.get("BENCH_MEMORY_DEADLINE_MIN") ?? 15) * 60_000;

/** One row of the table. */
interface Figure {
  label: string;
  /** RSS (VmRSS, or VmHWM for a peak); none when the operator was killed in the phase. */
  bytes?: number;
  /** The cgroup's figures for the phase, when the operator ran in one. */
  cgroup?: CgroupPhase;
  note: string;
  /** The phase the operator ended in. */
  ended?: Ended;
}

interface Ended {
  oomKilled: boolean;
  text: string;
}

export async function benchMemory(): Promise<void> {
  const transferMib = Number(Deno.env.get("BENCH_MEMORY_MIB") ?? 2048);
  const v8Flags = Deno.env.get("BENCH_MEMORY_V8_FLAGS") ?? containerV8Flags();
  // The Containerfile's runtime flags; BENCH_MEMORY_DENO_FLAGS (space-separated) for trying others.
  const denoFlags = Deno.env.get("BENCH_MEMORY_DENO_FLAGS")?.split(" ").filter(Boolean) ??
    containerDenoFlags();
  console.log(
    `memory: the main.ts process in-cluster with every provider configured ` +
      `(V8 flags: ${v8Flags || "none"}; deno run flags: ${denoFlags.join(" ") || "none"})`,
  );
  if (!opensslAvailable()) return line("skipped", opensslMissing);
  const s3Missing = await s3rverUnavailable();
  if (s3Missing) return line("skipped", s3Missing);

  const hello = await helloWorldRss(v8Flags, denoFlags);
  line("Deno hello world", mib(hello));

  const limitMib = Number(Deno.env.get("BENCH_MEMORY_LIMIT_MIB") ?? 128);
  // BENCH_MEMORY_INSPECT=1: a heap snapshot's summary at idle and once the objects are cached.
  const inspect = Deno.env.get("BENCH_MEMORY_INSPECT") ? freePort() : undefined;
  const pki = await testPki();
  const stack = new Stack();
  try {
    const cgroup = await memoryCgroup(limitMib * MIB);
    if (typeof cgroup === "string") line("cgroup", `not measured: ${cgroup}`);
    else {
      stack.add(cgroup, (c) => c.remove());
      line(
        "cgroup",
        `${cgroup.version}, limit ${
          limitMib ? `${limitMib} MiB` : "none"
        } (the operator runs in it)`,
      );
    }
    const meter = typeof cgroup === "string" ? undefined : cgroup;
    const api = stack.add(
      await FakeApiServer.start({
        crdDir: CRDS,
        tls: { cert: pki.serverCert, key: pki.serverKey },
      }),
      (s) => s.close(),
    );
    const dir = stack.add(
      await Deno.makeTempDir({ prefix: "ido-memory-" }),
      (d) => Deno.remove(d, { recursive: true }),
    );
    const transport = stack.add(await benchTransport(api.url, pki, dir), (t) => t.close());
    await new ResourceClient(transport, NAMESPACES).create({ metadata: { name: NAMESPACE } });
    const s3 = stack.add(await startS3rver(), (s) => s.stop());
    await s3.createBucket(BUCKET);
    const pve = stack.add(
      await FakeProxmox.start({
        nodes: ["pve1", "pve2"],
        tls: { cert: pki.serverCert, key: pki.serverKey },
      }),
      (f) => f.close(),
    );
    const vcdFake = stack.add(
      await startFakeVcd(pki, { timings: { descriptorDelayMs: 5, importDelayMs: 5 } }),
      (f) => f.close(),
    );
    const vcsimMissing = await vcsimUnavailable();
    const sim = vcsimMissing ? undefined : stack.add(await startSim(pki), (s) => s.stop());

    const values = `${dir}/values.yaml`;
    await Deno.writeTextFile(values, valuesYaml(s3, pve, vcdFake.url, sim, pki));
    const serviceAccount = `${dir}/serviceaccount`;
    await Deno.mkdir(serviceAccount);
    await Deno.writeTextFile(`${serviceAccount}/token`, "bench-service-account-token\n");
    await Deno.writeTextFile(`${serviceAccount}/ca.crt`, pki.caCert);
    await Deno.writeTextFile(`${serviceAccount}/namespace`, NAMESPACE);

    // In a cgroup, the operator runs a copy of Deno whose pages it faults in (and is charged
    // for) itself, as a fresh pod does.
    const executable = meter ? await uncachedCopy(Deno.execPath(), dir) : Deno.execPath();
    const figures: Figure[] = [
      { label: "Deno hello world (same run, same flags)", bytes: hello, note: "baseline" },
    ];
    // The phase running now, for the table's row if the operator is killed in it.
    let current = "idle in-cluster, every provider configured";
    let phase = meter?.phase();
    const operator = stack.add(
      startOperator({
        port: new URL(api.url).port,
        serviceAccount,
        values,
        home: dir,
        v8Flags,
        executable,
        cgroup: meter,
        inspect,
        denoFlags,
      }),
      (o) => o.stop(),
    );
    // How the operator ended if it did not survive every phase.
    let ended: Ended | undefined;
    try {
      await operator.ready();
      const idle = await settle(operator.pid);
      line("idle (ready, nothing to do)", `${mib(idle)} (${ratio(idle, hello)})`);
      line("  of which", await composition(operator));
      figures.push({ label: current, bytes: idle, cgroup: phase?.end(), note: ratio(idle, hello) });
      if (inspect) await printHeapSummary(inspect, "idle");
      // For trying V8 flags quickly: BENCH_MEMORY_IDLE_ONLY=1 stops here, README untouched.
      if (Deno.env.get("BENCH_MEMORY_IDLE_ONLY")) {
        if (Deno.env.get("BENCH_MEMORY_HEAP")) {
          console.log(await operator.heap());
          console.log(Deno.readTextFileSync(`/proc/${operator.pid}/smaps_rollup`));
          await Deno.copyFile(`/proc/${operator.pid}/smaps`, ".tmp/smaps.txt");
        }
        return;
      }

      const image = await putTransferObjects(s3, transferMib * MIB);
      current = `four concurrent ${transferMib / 1024} GiB transfers (2 push, 2 pull), peak`;
      // The transfers' own peak: "5" resets VmHWM to the current RSS (proc(5), clear_refs).
      await Deno.writeTextFile(`/proc/${operator.pid}/clear_refs`, "5");
      phase = meter?.phase();
      const before = status(operator.pid).rss;
      const started = performance.now();
      await transfers(transport, image, operator);
      const seconds = (performance.now() - started) / 1000;
      const peak = status(operator.pid).hwm;
      line(
        `four concurrent ${transferMib} MiB transfers, peak`,
        `${mib(peak)} (+${mib(peak - before)} over ${mib(before)} before; ${seconds.toFixed(0)} s)`,
      );
      figures.push({
        label: current,
        bytes: peak,
        cgroup: phase?.end(),
        note: `VmHWM; +${mib(peak - before)} over the RSS before them; ${seconds.toFixed(0)} s`,
      });

      current = `peak while ${(NODE_IMAGE_COUNT + RELEASE_COUNT).toLocaleString("en")} ` +
        `objects arrive and are reconciled`;
      await Deno.writeTextFile(`/proc/${operator.pid}/clear_refs`, "5");
      phase = meter?.phase();
      await seedCache(transport);
      // The watch events of the last creates arrive a moment after them.
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      await waitFor("the work queues to drain", () => {
        operator.alive();
        return queuesEmpty(operator);
      });
      const arrival = status(operator.pid).hwm;
      line("peak while they arrive and are reconciled", mib(arrival));
      figures.push({
        label: current,
        bytes: arrival,
        cgroup: phase?.end(),
        note: "VmHWM; one status write and one Event per NodeImage",
      });

      current = `${NODE_IMAGE_COUNT.toLocaleString("en")} NodeImages + ` +
        `${RELEASE_COUNT.toLocaleString("en")} Releases cached`;
      phase = meter?.phase();
      const cached = await settle(operator.pid);
      line(current, `${mib(cached)} (+${mib(cached - idle)} over idle)`);
      line("  of which", await composition(operator));
      if (inspect) await printHeapSummary(inspect, "cached");
      figures.push({
        label: current,
        bytes: cached,
        cgroup: phase?.end(),
        note: `+${mib(cached - idle)} over idle`,
      });
    } catch (error) {
      const lastPhase = phase?.end();
      const exit = await operator.exitStatus(5_000);
      if (!exit && !(error instanceof TimedOut && lastPhase)) throw error;
      // Killed (by the cgroup's OOM killer, or crashed): the table says so and in which phase.
      const oomKilled = (meter?.oomKills() ?? 0) > 0;
      const how = exit ? `${exit.signal ?? `exit code ${exit.code}`}` : "";
      // The end of its log says why it stopped (a lost lease when it thrashed, for one).
      if (exit) console.error((error as Error).message);
      const reread = lastPhase ? `; ${mib(lastPhase.refaulted)} of file pages read again` : "";
      ended = oomKilled
        ? { oomKilled, text: `killed by the cgroup's OOM killer (${how}${reread})` }
        : exit
        ? { oomKilled, text: `exited (${how}${reread}), not by the OOM killer` }
        : {
          oomKilled,
          text: `did not finish in ${DEADLINE_MS / 60_000} min (${
            mib(lastPhase!.refaulted)
          } of file pages read again)`,
        };
      line(`operator ${ended.text} during`, current);
      figures.push({ label: current, cgroup: lastPhase, note: `**${ended.text}**`, ended });
    }

    if (vcsimMissing) line("note", `vSphere not configured: ${vcsimMissing}`);
    // The inspector itself costs memory: figures taken with it are not the operator's.
    if (inspect) return line("README.md", "not updated (BENCH_MEMORY_INSPECT)");
    await writeReadme(figures, v8Flags, denoFlags, vcsimMissing, meter, ended);
    line("README.md", "Memory section updated");
  } finally {
    await stack.close();
    await pki.remove();
  }
}

/** The bench's own client: the fake's certificate is signed by the PKI's CA, not self-signed. */
async function benchTransport(url: string, pki: TestPki, dir: string) {
  const kubeconfig = `${dir}/bench.kubeconfig`;
  await Deno.writeTextFile(
    kubeconfig,
    JSON.stringify({
      clusters: [{
        name: "fake",
        cluster: { server: url, "certificate-authority": pki.caCertPath },
      }],
      users: [{ name: "bench", user: { token: "bench" } }],
      contexts: [{ name: "fake", context: { cluster: "fake", user: "bench" } }],
      "current-context": "fake",
    }),
  );
  return loadKubeConfig({ kubeconfig }).transport;
}

function valuesYaml(
  s3: S3rver,
  pve: FakeProxmox,
  vcdUrl: string,
  sim: Vcsim | undefined,
  pki: TestPki,
): string {
  const ca = (indent: string) =>
    `|\n${pki.caCert.trim().split("\n").map((l) => `${indent}${l}`).join("\n")}`;
  const lines = [
    "s3:",
    `  bucket: ${BUCKET}`,
    "  region: us-east-1",
    "  http: true",
    `  endpoint: ${JSON.stringify(s3.endpoint)}`,
    "  forcePathStyle: true",
    "imageRetentionPeriod: 720h",
    "proxmox:",
    "  credentials:",
    `    url: ${JSON.stringify(pve.host)}`,
    "    user: root",
    "    realm: pam",
    "    tokenId: ido",
    "    secret: fake-secret",
    `    caCert: ${ca("      ")}`,
    "  locations:",
    "    pve-a: {node: pve1, storagePool: local-lvm, importStorage: local, bridge: vmbr0}",
    "    pve-b: {node: pve2, storagePool: local-lvm, importStorage: local, bridge: vmbr0}",
    "vcd:",
    "  credentials:",
    `    url: ${JSON.stringify(`${vcdUrl}/api`)}`,
    `    username: ${JSON.stringify(VCD_USER)}`,
    `    password: ${JSON.stringify(VCD_PASSWORD)}`,
    `    org: ${JSON.stringify(VCD_ORG)}`,
    `    caCert: ${ca("      ")}`,
    "  locations:",
    "    vcd-a: {vdc: vdc-a, catalog: catalog-a, hardwareVersion: 19}",
    "    vcd-b: {vdc: vdc-b, catalog: catalog-b, hardwareVersion: 19}",
  ];
  if (sim) {
    lines.push(
      "vsphere:",
      "  credentials:",
      `    vcenter: ${JSON.stringify(sim.host)}`,
      `    username: ${JSON.stringify(sim.username)}`,
      `    password: ${JSON.stringify(sim.password)}`,
      `    caCert: ${ca("      ")}`,
      "  locations:",
      "    vc-a: {datacenter: DC0, datastore: LocalDS_0, folder: /DC0/vm, cluster: DC0_C0}",
    );
  }
  return lines.join("\n") + "\n";
}

interface OperatorProcess {
  pid: number;
  /** Throws, with the end of its log, once the process has exited. */
  alive(): void;
  /** How it ended, if it does within `waitMs`. */
  exitStatus(waitMs: number): Promise<Deno.CommandStatus | undefined>;
  /** Its /metrics text. */
  metrics(): Promise<string>;
  /** The heap figures of its /metrics (a diagnostic). */
  heap(): Promise<string>;
  ready(): Promise<void>;
  stop(): Promise<void>;
}

function startOperator(options: {
  port: string;
  serviceAccount: string;
  values: string;
  home: string;
  v8Flags: string;
  /** The Deno binary to run it with. */
  executable: string;
  /** Runs it in this cgroup from exec, as a container runtime does. */
  cgroup?: MemoryCgroup;
  /** Opens its inspector on this port (for heap snapshots). */
  inspect?: number;
  /** `deno run` flags besides permissions (the Containerfile's). */
  denoFlags: string[];
}): OperatorProcess {
  const health = freePort();
  const metrics = freePort();
  const argv = [
    options.executable,
    "run",
    "--allow-all",
    ...(options.inspect ? [`--inspect=127.0.0.1:${options.inspect}`] : []),
    ...options.denoFlags,
    ...(options.v8Flags ? [`--v8-flags=${options.v8Flags}`] : []),
    MAIN,
    `--config=${options.values}`,
    `--service-account-dir=${options.serviceAccount}`,
    "--leader-elect",
    `--health-probe-bind-address=127.0.0.1:${health}`,
    `--metrics-bind-address=127.0.0.1:${metrics}`,
    // The bench reads the work queues' depths from /metrics over plain HTTP.
    "--metrics-secure=false",
    "--log-level=warn",
  ];
  const { command, args } = options.cgroup?.wrap(argv) ?? { command: argv[0], args: argv.slice(1) };
  const child = new Deno.Command(command, {
    args,
    // In-cluster only: no KUBECONFIG, a HOME without .kube/config.
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: options.home,
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: options.port,
      NO_COLOR: "1",
      ...mallocEnv(),
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Keep the last lines of its log for a failure message.
  const tail: string[] = [];
  (async () => {
    for await (
      const text of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      tail.push(...text.split("\n").filter(Boolean));
      tail.splice(0, Math.max(0, tail.length - 20));
    }
  })().catch(() => {});
  let exited = false;
  child.status.then(() => exited = true);
  return {
    // The cgroup's wrapper execs the operator: same pid.
    pid: child.pid,
    alive() {
      if (exited) throw new Error(`The operator exited:\n${tail.join("\n")}`);
    },
    async exitStatus(waitMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), waitMs);
      });
      try {
        return await Promise.race([child.status, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async metrics() {
      return await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
    },
    async heap() {
      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      return text.split("\n").filter((l) => /^nodejs_(heap|external)/.test(l)).join("\n");
    },
    async ready() {
      await waitFor("the operator's /readyz", async () => {
        if (exited) throw new Error(`The operator exited:\n${tail.join("\n")}`);
        try {
          const response = await fetch(`http://127.0.0.1:${health}/readyz`);
          await response.body?.cancel();
          return response.status === 200;
        } catch {
          return false;
        }
      });
    },
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
    },
  };
}

/** glibc malloc tuning given to the bench (MALLOC_*), passed on to try it. */
function mallocEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) => name.startsWith("MALLOC_")),
  );
}

/** The largest groups of a heap snapshot of the operator (taking it collects garbage first). */
async function printHeapSummary(port: number, phase: string): Promise<void> {
  const text = await takeHeapSnapshot(port);
  await Deno.writeTextFile(`.tmp/heap-${phase}.heapsnapshot`, text);
  console.log(
    `heap snapshot (${phase}): ${mib(text.length)} written to .tmp/heap-${phase}.heapsnapshot`,
  );
  for (const group of summariseHeapSnapshot(text)) {
    console.log(
      `  ${mib(group.bytes).padStart(10)} ${
        String(group.count).padStart(8)
      }  ${group.type} ${group.name}`,
    );
  }
}

/** RSS of a hello world with the same V8 and `deno run` flags, read like the operator's. */
async function helloWorldRss(v8Flags: string, denoFlags: string[]): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...denoFlags, ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []), HELLO],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    return status(child.pid).rss;
  } finally {
    child.kill("SIGTERM");
    await child.stdout.cancel().catch(() => {});
    await child.status;
  }
}

/**
 * What the RSS is made of: anonymous and file-backed pages (`/proc/<pid>/status`), and the JS heap
 * V8 has committed and uses (the operator's own `/metrics`).
 */
async function composition(operator: OperatorProcess): Promise<string> {
  const { anonymous, file } = status(operator.pid);
  const metrics = await operator.metrics();
  const gauge = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1] ?? 0);
  return `anonymous ${mib(anonymous)}, file ${mib(file)}; JS heap ` +
    `${mib(gauge("nodejs_heap_size_used_bytes"))} used of ` +
    `${mib(gauge("nodejs_heap_size_total_bytes"))}`;
}

/** Waits `SETTLE_MS`, then returns the RSS (what the kernel charges the pod for now). */
async function settle(pid: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  return status(pid).rss;
}

function status(pid: number): { rss: number; hwm: number; anonymous: number; file: number } {
  const text = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (field: string) => {
    const value = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1];
    // A zombie has no memory figures left.
    if (value === undefined) throw new Error(`process ${pid} has no ${field}: it has exited`);
    return Number(value) * 1024;
  };
  return {
    rss: kib("VmRSS"),
    hwm: kib("VmHWM"),
    anonymous: kib("RssAnon"),
    file: kib("RssFile"),
  };
}

/** Releases and NodeImages of the `aws` provider, which this operator does not serve. */
async function seedCache(transport: KubeTransport): Promise<void> {
  const releases = new ResourceClient<Release>(transport, RELEASES);
  const images = new ResourceClient<NodeImage>(transport, NODE_IMAGES);
  const indexes = Array.from({ length: Math.max(NODE_IMAGE_COUNT, RELEASE_COUNT) }, (_, i) => i);
  await forEachLimited(indexes.slice(0, NODE_IMAGE_COUNT), 16, async (i) => {
    await images.create({
      apiVersion: "image.giantswarm.io/v1alpha1",
      kind: "NodeImage",
      metadata: { name: `aws-${imageName(i)}`, namespace: NAMESPACE },
      spec: { name: imageName(i), provider: "aws" },
    });
  });
  await forEachLimited(indexes.slice(0, RELEASE_COUNT), 16, async (i) => {
    await releases.create({
      apiVersion: "release.giantswarm.io/v1alpha1",
      kind: "Release",
      metadata: { name: `aws-${Math.floor(i / 100) + 1}.${i % 100}.0` },
      spec: {
        apps: [],
        components: [
          { name: "cluster-aws", version: "1.0.0" },
          { name: "flatcar", version: `4000.${i % 100}.0` },
          { name: "kubernetes", version: `1.${30 + Math.floor(i / 100) % 5}.${i % 100}` },
          { name: "os-tooling", version: "1.26.0" },
        ],
        date: "2026-03-02T09:00:00Z",
        state: "active",
      },
    } as Release);
  });
}

/** A distinct image name per index, shaped like the real ones. */
function imageName(i: number): string {
  return `flatcar-stable-${4000 + Math.floor(i / 100)}.${i % 100}.0-kube-1.35.${i % 10}-` +
    `tooling-1.26.0-gs`;
}

/**
 * The controllers have nothing left to do: the operator's own work queues are empty (read from
 * its /metrics: listing 12,000 objects from the fake each time would compete with the
 * operator for the fake's time).
 */
async function queuesEmpty(operator: OperatorProcess): Promise<boolean> {
  const depths = [...(await operator.metrics()).matchAll(/^workqueue_depth\{[^}]*\} (\d+)$/gm)];
  return depths.length > 0 && depths.every(([, depth]) => depth === "0");
}

/**
 * Two images, each at two locations: 4 transfers, the operator's default limit. The capvcd OVA
 * streams through the operator; the Proxmox nodes fetch the qcow2 from S3 themselves.
 */
async function transfers(
  transport: KubeTransport,
  name: string,
  operator: OperatorProcess,
): Promise<void> {
  // A NodeImage is distributed only while a Release uses it: the release controller creates
  // both from these Releases (flatcar 4593.2.3, kubernetes 1.35.6, os-tooling 1.32.1 → `name`).
  const releases = new ResourceClient<Release>(transport, RELEASES);
  for (const prefix of ["cloud-director", "proxmox"]) {
    await releases.create({
      apiVersion: "release.giantswarm.io/v1alpha1",
      kind: "Release",
      metadata: { name: `${prefix}-35.0.0` },
      spec: {
        apps: [],
        components: [
          { name: `cluster-${prefix}`, version: "1.0.0" },
          { name: "flatcar", version: "4593.2.3" },
          { name: "kubernetes", version: "1.35.6" },
          { name: "os-tooling", version: "1.32.1" },
        ],
        date: "2026-03-02T09:00:00Z",
        state: "active",
      },
    } as Release);
  }
  const images = new ResourceClient<NodeImage>(transport, NODE_IMAGES);
  await waitFor("both images Available at every location", async () => {
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    operator.alive();
    const states = await Promise.all(
      [vcd.id, proxmox.id].map((provider) =>
        images.get(`${provider}-${name}`, NAMESPACE).then((i) => i.status?.state, () => undefined)
      ),
    );
    return states.every((state) => state === "Available");
  });
}

/** The image's OVA (for VCD) and qcow2 (for Proxmox) in the bucket; returns its name. */
async function putTransferObjects(s3: S3rver, bytes: number): Promise<string> {
  const name = "flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs";
  await putOva(s3, BUCKET, s3KeyFor(name, vcd.layout), bytes);
  await putQcow2(s3, s3KeyFor(name, proxmox.layout), bytes);
  return name;
}

/** A qcow2 of `bytes`: the magic, then one random MiB repeated, streamed. */
async function putQcow2(s3: S3rver, key: string, bytes: number): Promise<void> {
  const block = new Uint8Array(MIB);
  for (let at = 0; at < MIB; at += 65_536) crypto.getRandomValues(block.subarray(at, at + 65_536));
  block.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const n = Math.min(MIB, bytes - sent);
      controller.enqueue(block.slice(0, n));
      sent += n;
    },
  }, { highWaterMark: 0 });
  await s3.put(BUCKET, key, body, bytes);
}

class TimedOut extends Error {}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
      if ((error as Error).message.startsWith("The operator exited")) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  throw new TimedOut(`Timed out waiting for ${what}`, { cause: last });
}

/** The table, between markers in README.md's "Memory" section, with the machine it ran on. */
async function writeReadme(
  figures: Figure[],
  v8Flags: string,
  denoFlags: string[],
  vcsimMissing: string | undefined,
  cgroup: MemoryCgroup | undefined,
  ended: Ended | undefined,
): Promise<void> {
  const memTotal = /^MemTotal:\s+(\d+) kB/m.exec(await Deno.readTextFile("/proc/meminfo"))?.[1];
  const machine = `${navigator.hardwareConcurrency} CPUs (nproc), ` +
    `${(Number(memTotal) / 1024 / 1024).toFixed(1)} GiB memory, shared with other work; ` +
    `Deno ${Deno.version.deno}; ${new Date().toISOString().slice(0, 10)}`;
  const cells = (f: Figure) => {
    const rss = f.bytes === undefined ? "—" : mib(f.bytes);
    if (!cgroup) return [f.label, rss, f.note];
    const c = f.cgroup;
    return [
      f.label,
      rss,
      c ? mib(c.peak) : "—",
      c && !f.ended ? mib(c.workingSet) : "—",
      c ? mib(c.maxWorkingSet) : "—",
      c ? (c.oomKills || f.ended?.oomKilled ? "**yes**" : "no") : "—",
      c ? mib(c.refaulted) : "—",
      f.note,
    ];
  };
  const header = cgroup
    ? ["figure", "RSS", "cgroup peak", "working set", "working set max", "OOM kill", "refaults", ""]
    : ["figure", "RSS", ""];
  const align = cgroup
    ? ["---", "---:", "---:", "---:", "---:", "---", "---:", "---"]
    : ["---", "---:", "---"];
  const row = (values: string[]) => `| ${values.join(" | ")} |`;
  const limit = cgroup?.limit ? `${cgroup.limit / MIB} MiB` : "no";
  const verdict = !cgroup
    ? ""
    : ended?.oomKilled
    ? ` With ${limit} limit the operator was **OOM-killed** in the phase marked above: ` +
      "the limit does not fit."
    : ended && cgroup.limit
    ? ` With ${limit} limit the operator ${ended.text} in the phase marked above: ` +
      "the limit does not fit."
    : ended
    ? ` The operator ${ended.text} in the phase marked above.`
    : cgroup.limit
    ? ` The operator survived every phase with ${limit} limit.`
    : "";
  const cgroupText = cgroup
    ? `The operator ran in a ${cgroup.version} memory cgroup with ${limit} limit (` +
      "`BENCH_MEMORY_LIMIT_MIB`; 0: none): cgroup peak is its usage's peak in the phase " +
      "(page cache included), working set is usage − inactive file pages at the end of the " +
      "phase (what `kubectl top` shows and eviction uses), working set max the highest sampled " +
      "every 200 ms in the phase, refaults the file pages (mostly Deno's code) read again after " +
      "the limit pushed them out (thrashing). It runs a copy of the Deno binary written around the page " +
      "cache, so that it faults in, and is charged for, the binary's pages as a fresh pod does." +
      verdict + " "
    : "";
  const table = [
    row(header),
    row(align),
    ...figures.map((f) => row(cells(f))),
    "",
    cgroupText +
    `Measured by \`deno task bench memory\` on ${machine}; V8 flags \`${v8Flags || "none"}\`;` +
    ` \`deno run\` flags besides permissions \`${denoFlags.join(" ") || "none"}\`.` +
    (vcsimMissing ? ` vSphere was not configured in this run (${vcsimMissing}).` : ""),
  ].join("\n");
  const readme = await Deno.readTextFile(README);
  const start = "<!-- memory-bench:start -->";
  const end = "<!-- memory-bench:end -->";
  const from = readme.indexOf(start);
  const to = readme.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md has no ${start} … ${end} block`);
  await Deno.writeTextFile(
    README,
    `${readme.slice(0, from + start.length)}\n${table}\n${readme.slice(to)}`,
  );
}

/** Closes what was opened, last first. */
class Stack {
  readonly #closers: (() => Promise<void> | void)[] = [];
  add<T>(value: T, close: (value: T) => Promise<unknown> | unknown): T {
    this.#closers.push(async () => void await close(value));
    return value;
  }
  async close(): Promise<void> {
    for (const close of this.#closers.reverse()) {
      try {
        await close();
      } catch (error) {
        console.error(`cleanup: ${(error as Error).message}`);
      }
    }
  }
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

function ratio(value: number, baseline: number): string {
  return `${(value / baseline).toFixed(2)}× the hello world`;
}
