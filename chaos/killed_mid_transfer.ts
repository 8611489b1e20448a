/**
 * The operator process killed mid-transfer, then started again: SIGKILL (nothing can clean up:
 * the new process must find and remove the partial artefacts, and finish the images once), or
 * SIGTERM (the process must cancel its transfers, remove what they left and exit 0 within the
 * grace period, before the new one starts).
 *
 * Platform: the fake Proxmox, with tasks slowed so that transfers are under way when the signal
 * comes. (The fake VCD and vcsim variants are not written yet; see the README.)
 */
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import { type ChaosCase, type Figures, retryApi, sleep, withEnv } from "./_case.ts";
import { converge, proxmoxCheck } from "./_check.ts";
import { type ChaosEnv, flatcarVersion, proxmoxRelease } from "./_env.ts";
import { startProcess, waitReady } from "./_operator.ts";

interface Params {
  images: number;
}

const SLOW_TASKS = { download: 3000, qmcreate: 800, qmconfig: 800, qmtemplate: 500 };

function downloads(env: ChaosEnv): number {
  return env.proxmox.requests.filter((r) => r.route.endsWith("/download-url")).length;
}

/** Non-template VMs and import files: what a transfer leaves while it runs. */
function partials(env: ChaosEnv): string[] {
  return [
    ...[...env.proxmox.cluster.vms.values()].filter((vm) => vm.config.template !== "1")
      .map((vm) => `VM ${vm.node}/${vm.vmid}`),
    ...env.proxmox.cluster.allFiles().map((f) => `file ${f}`),
  ];
}

function killCase(signal: "SIGKILL" | "SIGTERM"): ChaosCase<Params> {
  return {
    name: signal === "SIGKILL" ? "sigkill-mid-transfer-proxmox" : "sigterm-mid-transfer",
    summary: `the operator process gets ${signal} while transfers run, then starts again`,
    defaults: { images: 3 },
    run: (p) =>
      withEnv({ taskDurationMs: SLOW_TASKS }, async (env, operators) => {
        const check = { platforms: [proxmoxCheck(env)], operators };
        const first = startProcess(env, ["--max-concurrent-transfers=8"], "first");
        operators.push(first);
        await waitReady(first);
        for (let i = 0; i < p.images; i++) {
          const release = proxmoxRelease(`proxmox-1.${i}.0`, flatcarVersion(i));
          await retryApi(() => env.releases.create(release), AlreadyExistsError);
        }
        // Mid-transfer: downloads asked for and something partial on the platform.
        const deadline = Date.now() + 60_000;
        while (!(downloads(env) > 0 && partials(env).length > 0)) {
          if (Date.now() > deadline) throw new Error("no transfer got under way");
          await sleep(50);
        }
        await sleep(1000);
        const figures: Figures = { "partial artefacts at the signal": partials(env).length };
        const stopAt = performance.now();
        first.kill(signal);
        const code = await first.exited;
        figures["exit code"] = code;
        figures["stop (s)"] = Math.round((performance.now() - stopAt) / 100) / 10;
        if (signal === "SIGTERM") {
          if (code !== 0) throw new Error(`SIGTERM: exit code ${code}, expected 0`);
          // Tasks already started on the platform finish there; give them their time.
          await sleep(4000);
          const left = partials(env);
          figures["left after SIGTERM"] = left.length;
          if (left.length) throw new Error(`SIGTERM left partial artefacts: ${left.join(", ")}`);
        }
        const before = downloads(env);
        const second = startProcess(env, ["--max-concurrent-transfers=8"], "second");
        operators.push(second);
        const restartAt = performance.now();
        await waitReady(second);
        await converge(env, { ...check, deadlineMs: 180_000 });
        figures["converged after restart (s)"] = Math.round((performance.now() - restartAt) / 100) / 10;
        figures["downloads before the signal"] = before;
        figures["downloads after restart"] = downloads(env) - before;
        return figures;
      }),
  };
}

export const sigkillMidTransfer = killCase("SIGKILL");
export const sigtermMidTransfer = killCase("SIGTERM");
