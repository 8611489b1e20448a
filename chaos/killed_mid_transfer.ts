/**
 * The operator process killed mid-transfer, then started again: SIGKILL (nothing can clean up:
 * the new process must find and remove the partial artefacts, and finish the images once), or
 * SIGTERM (the process must cancel its transfers, remove what they left and exit 0 within the
 * grace period, before the new one starts).
 *
 * Platforms: the fake Proxmox (tasks slowed), the fake VCD (imports slowed), and vcsim, which
 * imports as fast as it is fed: there the OVAs are large and S3 is reached through a proxy that
 * slows the bytes it sends back, and the signal waits until a NodeImage reports bytes uploaded.
 */
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import type { Release } from "../lib/release/objects.ts";
import type { FakeVcd } from "../tests/vcd/fake_vcd/mod.ts";
import { type ChaosCase, type Figures, retryApi, sleep, withEnv } from "./_case.ts";
import { converge, type PlatformCheck, proxmoxCheck } from "./_check.ts";
import { type ChaosEnv, flatcarVersion, NAMESPACE, proxmoxRelease } from "./_env.ts";
import { startProcess, waitReady } from "./_operator.ts";
import { addFakeVcd, vcdCheck, vcdRelease } from "./_vcd.ts";
import type { LocationStatus } from "../lib/image/status.ts";
import type { Vcsim } from "../tests/support/vcsim.ts";
import { type SlowProxy, startSlowProxy } from "./_slow_proxy.ts";
import { addVcsim, VSPHERE_LOCATIONS, vsphereCheck, vsphereRelease } from "./_vsphere.ts";

interface Params {
  images: number;
}

const SLOW_TASKS = { download: 3000, qmcreate: 800, qmconfig: 800, qmtemplate: 500 };

/** What a case needs from the platform under test. */
interface Platform {
  name: string;
  setUp(env: ChaosEnv): Promise<PlatformCheck>;
  release(i: number): Release;
  /** Transfers started so far (or what stands for them, named by `transfersLabel`). */
  transfers(env: ChaosEnv): number;
  transfersLabel?: string;
  /** What transfers leave while they run. */
  partials(env: ChaosEnv): string[] | Promise<string[]>;
  /** Whether a transfer is far enough along for the signal; default: one started. */
  underWay?(env: ChaosEnv): Promise<boolean>;
  /** Figures of the platform's own, taken at the signal. */
  figuresAtSignal?(): Figures;
  /** Called once the old process is gone, before the new one starts. */
  afterSignal?(): void;
}

const proxmox: Platform = {
  name: "proxmox",
  setUp: (env) => Promise.resolve(proxmoxCheck(env)),
  release: (i) => proxmoxRelease(`proxmox-1.${i}.0`, flatcarVersion(i)),
  transfers: (env) => env.proxmox.requests.filter((r) => r.route.endsWith("/download-url")).length,
  partials: (env) => [
    ...[...env.proxmox.cluster.vms.values()].filter((vm) => vm.config.template !== "1")
      .map((vm) => `VM ${vm.node}/${vm.vmid}`),
    ...env.proxmox.cluster.allFiles().map((f) => `file ${f}`),
  ],
};

function vcd(): Platform {
  let fake: FakeVcd;
  return {
    name: "vcd",
    setUp: async (env) => {
      fake = await addFakeVcd(env, { timings: { importDelayMs: 3000 } });
      return vcdCheck(fake);
    },
    release: (i) => vcdRelease(`cloud-director-1.${i}.0`, flatcarVersion(i)),
    transfers: () =>
      fake.requests.filter((r) => r.method === "POST" && /action\/upload/.test(r.path)).length,
    partials: () => fake.templates().filter((t) => t.status !== 8).map((t) => `template ${t.name}`),
  };
}

/** Disk size of each OVA, and the rate each S3 connection gets until the signal. */
const VSPHERE_DISK_BYTES = 24 * 1024 * 1024;
const VSPHERE_S3_BYTES_PER_SECOND = 1024 * 1024;

function vsphere(): Platform {
  let sim: Vcsim;
  let proxy: SlowProxy;
  let reportedBytes = 0;
  return {
    name: "vsphere",
    setUp: async (env) => {
      sim = await addVcsim(env, 3, VSPHERE_DISK_BYTES);
      proxy = startSlowProxy(env.s3.endpoint, {
        bytesPerSecond: VSPHERE_S3_BYTES_PER_SECOND,
        countRequests: /^GET \S+\.ova[? ]/,
      });
      env.onClose(() => proxy.close());
      const s3 = env.values().s3 as Record<string, unknown>;
      env.extraValues.s3 = { ...s3, endpoint: proxy.endpoint };
      await env.writeValues();
      return vsphereCheck(sim);
    },
    release: (i) => vsphereRelease(`vsphere-1.${i}.0`, flatcarVersion(i)),
    // vcsim keeps no request log: count the OVA reads instead (an import reads it twice, the
    // descriptor first, then the disk).
    transfers: () => proxy.matchingRequests,
    transfersLabel: "OVA reads from S3",
    partials: async () => {
      const partial: string[] = [];
      for (const dc of Object.values(VSPHERE_LOCATIONS)) {
        const out = await sim.govc("find", `/${dc}/vm`, "-type", "m", "-config.template", "false");
        for (const path of out.split("\n").filter(Boolean)) {
          // vcsim's own inventory VMs (DC0_H0_VM0, …) are not ours.
          if (!/\/DC\d+_[HC]\d+_VM\d+$/.test(path)) partial.push(`VM ${path}`);
        }
      }
      return partial;
    },
    // The status shows bytes only after a progress requeue: then the import is surely mid-way.
    underWay: async (env) => {
      const images = (await env.nodeImages.list({ namespace: NAMESPACE } as never)).items;
      const uploading = images.flatMap((image) =>
        ((image.status?.locations ?? []) as LocationStatus[]).filter((l) => l.state === "Uploading")
      );
      reportedBytes = uploading.reduce((sum, l) => sum + (l.bytesDone ?? 0), 0);
      return uploading.some((l) => (l.bytesDone ?? 0) > 0);
    },
    figuresAtSignal: () => ({
      "MiB reported uploaded at the signal": Math.round(reportedBytes / 1024 / 1024 * 10) / 10,
    }),
    // The new process need not wait for the slow S3: the fault was the kill.
    afterSignal: () => void (proxy.bytesPerSecond = Infinity),
  };
}

function killCase(signal: "SIGKILL" | "SIGTERM", platform: Platform): ChaosCase<Params> {
  return {
    name: signal === "SIGKILL"
      ? `sigkill-mid-transfer-${platform.name}`
      : `sigterm-mid-transfer-${platform.name}`,
    summary:
      `the operator process gets ${signal} while ${platform.name} transfers run, then starts again`,
    defaults: { images: 3 },
    run: (p) =>
      withEnv({ taskDurationMs: SLOW_TASKS }, async (env, operators) => {
        const platformCheck = await platform.setUp(env);
        const check = { platforms: [proxmoxCheck(env), platformCheck], operators };
        const first = startProcess(env, ["--max-concurrent-transfers=8"], "first");
        operators.push(first);
        await waitReady(first);
        for (let i = 0; i < p.images; i++) {
          const release = platform.release(i);
          await retryApi(() => env.releases.create(release), AlreadyExistsError);
        }
        // Mid-transfer: transfers started and something partial on the platform.
        const deadline = Date.now() + 60_000;
        const underWay = platform.underWay ?? (() => Promise.resolve(true));
        while (
          !(platform.transfers(env) > 0 && (await platform.partials(env)).length > 0 &&
            await underWay(env))
        ) {
          if (Date.now() > deadline) throw new Error("no transfer got under way");
          await sleep(50);
        }
        await sleep(500);
        const partials = await platform.partials(env);
        const figures: Figures = {
          "partial artefacts at the signal": partials.length,
          ...platform.figuresAtSignal?.(),
        };
        const stopAt = performance.now();
        first.kill(signal);
        const code = await first.exited;
        figures["exit code"] = code;
        figures["stop (s)"] = Math.round((performance.now() - stopAt) / 100) / 10;
        if (signal === "SIGKILL") {
          // Nothing could clean up: what was partial at the signal must still be there.
          const left = await platform.partials(env);
          figures["partial artefacts after the kill"] = left.length;
          if (!left.length) throw new Error("SIGKILL: no partial artefact left to clean up");
        }
        platform.afterSignal?.();
        if (signal === "SIGTERM") {
          if (code !== 0) throw new Error(`SIGTERM: exit code ${code}, expected 0`);
          // Tasks already started on the platform finish there; give them their time.
          await sleep(4000);
          const left = await platform.partials(env);
          figures["left after SIGTERM"] = left.length;
          if (left.length) throw new Error(`SIGTERM left partial artefacts: ${left.join(", ")}`);
        }
        const before = platform.transfers(env);
        const second = startProcess(env, ["--max-concurrent-transfers=8"], "second");
        operators.push(second);
        const restartAt = performance.now();
        await waitReady(second);
        await converge(env, { ...check, deadlineMs: 180_000 });
        figures["converged after restart (s)"] = Math.round((performance.now() - restartAt) / 100) /
          10;
        const label = platform.transfersLabel ?? "transfers";
        figures[`${label} before the signal`] = before;
        figures[`${label} after restart`] = platform.transfers(env) - before;
        return figures;
      }),
  };
}

export const sigkillMidTransferProxmox = killCase("SIGKILL", proxmox);
export const sigkillMidTransferVcd = killCase("SIGKILL", vcd());
export const sigkillMidTransferVsphere = killCase("SIGKILL", vsphere());
export const sigtermMidTransferProxmox = killCase("SIGTERM", proxmox);
export const sigtermMidTransferVsphere = killCase("SIGTERM", vsphere());
