/**
 * The operator process killed mid-transfer, then started again: SIGKILL (nothing can clean up:
 * the new process must find and remove the partial artefacts, and finish the images once), or
 * SIGTERM (the process must cancel its transfers, remove what they left and exit 0 within the
 * grace period, before the new one starts).
 *
 * Platforms: the fake Proxmox (tasks slowed) and the fake VCD (imports slowed), so that
 * transfers are under way when the signal comes. (The vcsim variant is not written yet.)
 */
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import type { Release } from "../lib/release/objects.ts";
import type { FakeVcd } from "../tests/vcd/fake_vcd/mod.ts";
import { type ChaosCase, type Figures, retryApi, sleep, withEnv } from "./_case.ts";
import { converge, type PlatformCheck, proxmoxCheck } from "./_check.ts";
import { type ChaosEnv, flatcarVersion, proxmoxRelease } from "./_env.ts";
import { startProcess, waitReady } from "./_operator.ts";
import { addFakeVcd, vcdCheck, vcdRelease } from "./_vcd.ts";

interface Params {
  images: number;
}

const SLOW_TASKS = { download: 3000, qmcreate: 800, qmconfig: 800, qmtemplate: 500 };

/** What a case needs from the platform under test. */
interface Platform {
  name: string;
  setUp(env: ChaosEnv): Promise<PlatformCheck>;
  release(i: number): Release;
  /** Transfers started so far. */
  transfers(env: ChaosEnv): number;
  /** What transfers leave while they run. */
  partials(env: ChaosEnv): string[];
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
        while (!(platform.transfers(env) > 0 && platform.partials(env).length > 0)) {
          if (Date.now() > deadline) throw new Error("no transfer got under way");
          await sleep(50);
        }
        await sleep(500);
        const figures: Figures = {
          "partial artefacts at the signal": platform.partials(env).length,
        };
        const stopAt = performance.now();
        first.kill(signal);
        const code = await first.exited;
        figures["exit code"] = code;
        figures["stop (s)"] = Math.round((performance.now() - stopAt) / 100) / 10;
        if (signal === "SIGTERM") {
          if (code !== 0) throw new Error(`SIGTERM: exit code ${code}, expected 0`);
          // Tasks already started on the platform finish there; give them their time.
          await sleep(4000);
          const left = platform.partials(env);
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
        figures["transfers before the signal"] = before;
        figures["transfers after restart"] = platform.transfers(env) - before;
        return figures;
      }),
  };
}

export const sigkillMidTransferProxmox = killCase("SIGKILL", proxmox);
export const sigkillMidTransferVcd = killCase("SIGKILL", vcd());
export const sigtermMidTransferProxmox = killCase("SIGTERM", proxmox);
