/**
 * Two replicas with leader election; the leader is SIGKILLed while its transfers run. The
 * standby must never transfer while the other leads (no double transfer), must take over within
 * the lease duration (15 s, client-go's default, as the Deployment runs it) as client-go counts
 * it, and must finish the images: one template per image and node, nothing partial.
 *
 * client-go's (and our) lease runs from when the standby *observed* the last renewal, which is
 * up to one acquire-loop wait (2 s plus up to 1.2 × 2 s of jitter) after it happened, and it tries
 * again only every retry period: from the kill, takeover can take the lease duration plus two
 * such waits (23.8 s). A second of slack covers the metric polling.
 */
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import { ResourceClient } from "../lib/kube/client.ts";
import type { Lease } from "../lib/kube/leader_election.ts";
import { LEASES } from "../lib/kube/resource.ts";
import { LEADER_ELECTION_ID } from "../lib/names.ts";
import { type ChaosCase, type Figures, retryApi, round, sleep, withEnv } from "./_case.ts";
import { converge, proxmoxCheck } from "./_check.ts";
import { type ChaosEnv, flatcarVersion, proxmoxRelease, PVE_LOCATIONS } from "./_env.ts";
import { metricSum, type OperatorProcess, startProcess, waitReady } from "./_operator.ts";

interface Params {
  images: number;
}

const LEASE_MS = 15_000;
const RETRY_MS = 2_000;
const TAKEOVER_BOUND_MS = LEASE_MS + 2 * RETRY_MS * 2.2 + 1_000;

function downloads(env: ChaosEnv): number {
  return env.proxmox.requests.filter((r) => r.route.endsWith("/download-url")).length;
}

async function leads(operator: OperatorProcess): Promise<boolean> {
  return await metricSum(operator, "leader_election_master_status") === 1;
}

export const leaderFailover: ChaosCase<Params> = {
  name: "leader-failover",
  summary: "two replicas; the leader is SIGKILLed mid-transfer and the standby takes over",
  defaults: { images: 3 },
  run: (p) =>
    withEnv(
      { taskDurationMs: { download: 3000, qmcreate: 800, qmconfig: 800 } },
      async (env, operators) => {
        const args = [
          "--leader-elect",
          "--leader-election-namespace=default",
          "--max-concurrent-transfers=8",
        ];
        const replicas = [
          startProcess(env, args, "replica-a"),
          startProcess(env, args, "replica-b"),
        ];
        operators.push(...replicas);
        // Readiness does not wait for leadership: both become ready, one leads.
        await Promise.all(replicas.map((r) => waitReady(r)));
        const leases = new ResourceClient<Lease>(env.transport, LEASES);
        let leader: OperatorProcess | undefined;
        const deadline = Date.now() + 60_000;
        while (!leader) {
          if (Date.now() > deadline) throw new Error("no replica became leader");
          for (const r of replicas) if (await leads(r)) leader = r;
          await sleep(100);
        }
        const standby = replicas.find((r) => r !== leader)!;
        for (let i = 0; i < p.images; i++) {
          const release = proxmoxRelease(`proxmox-1.${i}.0`, flatcarVersion(i));
          await retryApi(() => env.releases.create(release), AlreadyExistsError);
        }
        const pairs = p.images * Object.keys(PVE_LOCATIONS).length;
        while (downloads(env) < pairs) {
          if (Date.now() > deadline) throw new Error("the transfers did not start");
          await sleep(50);
        }
        await sleep(1000);
        const figures: Figures = { "downloads while both ran": downloads(env) };
        if (downloads(env) > pairs) {
          throw new Error(`double transfer: ${downloads(env)} downloads for ${pairs} locations`);
        }
        const holderBefore = (await leases.get(LEADER_ELECTION_ID, "default")).spec?.holderIdentity;
        const killedAt = performance.now();
        leader.kill("SIGKILL");
        await leader.exited;
        while (!(await leads(standby))) {
          if (performance.now() - killedAt > 60_000) throw new Error("the standby never took over");
          await sleep(100);
        }
        const takeoverMs = performance.now() - killedAt;
        const holderAfter = (await leases.get(LEADER_ELECTION_ID, "default")).spec?.holderIdentity;
        figures["takeover (s)"] = round(takeoverMs / 1000);
        figures["lease duration (s)"] = LEASE_MS / 1000;
        if (holderAfter === holderBefore) throw new Error("the Lease still names the dead leader");
        if (takeoverMs > TAKEOVER_BOUND_MS) {
          throw new Error(
            `takeover took ${round(takeoverMs / 1000)} s; the lease (${
              LEASE_MS / 1000
            } s) allows ` +
              `${TAKEOVER_BOUND_MS / 1000} s`,
          );
        }
        const since = performance.now();
        await converge(env, {
          platforms: [proxmoxCheck(env)],
          operators: [standby],
          deadlineMs: 180_000,
        });
        figures["converged after takeover (s)"] = round((performance.now() - since) / 1000);
        figures["downloads after takeover"] = downloads(env) - pairs;
        return figures;
      },
    ),
};
