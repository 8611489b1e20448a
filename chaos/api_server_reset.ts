/**
 * The API server restarted with its state reset (an etcd restore without --bump-revision):
 * Releases and NodeImages made after the snapshot are gone and the resourceVersion goes back,
 * so the operator's watches are ahead of the server. It must notice, relist, and see what is
 * created afterwards; an image whose NodeImage was lost and is wanted again is adopted from the
 * catalog, not uploaded twice. Templates of lost NodeImages stay (nothing tells us about them).
 */
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import { baseline, type ChaosCase, retryApi, settle, withOperator } from "./_case.ts";
import { converge, proxmoxCheck } from "./_check.ts";
import { flatcarVersion, proxmoxRelease } from "./_env.ts";

interface Params {
  releases: number;
  /** `--sync-period` in minutes; 0 leaves the default (10h). */
  syncPeriodMinutes: number;
}

export const apiServerReset: ChaosCase<Params> = {
  name: "api-server-reset",
  summary: "API server restarted with its state reset to an earlier snapshot",
  defaults: { releases: 20, syncPeriodMinutes: 0 },
  // Not in the test suite: it fails (see README, Fault catalogue).
  run: (p) =>
    withOperator({
      args: p.syncPeriodMinutes ? [`--sync-period=${p.syncPeriodMinutes}m`] : [],
    }, async (running) => {
      const { env } = running;
      running.check = { ...running.check, platforms: [proxmoxCheck(env, { allowOrphans: true })] };
      const make = async (series: number, flatcar: (i: number) => number) => {
        for (let i = 0; i < p.releases; i++) {
          const release = proxmoxRelease(`proxmox-${series}.${i}.0`, flatcarVersion(flatcar(i)));
          await retryApi(() => env.releases.create(release), AlreadyExistsError);
        }
      };
      await make(1, (i) => i % 2);
      await converge(env, running.check);
      const snapshot = env.api.snapshot();
      await make(2, (i) => 2 + (i % 2));
      await converge(env, running.check);
      const b = await baseline(running);
      const uploadsBefore = downloads(env);
      await env.api.restore(snapshot);
      // After the reset: one image that was lost, wanted again; one never seen.
      await make(3, (i) => (i % 2 === 0 ? 3 : 4));
      const figures = await settle(running, b, p.syncPeriodMinutes ? 180_000 : 120_000);
      const uploads = downloads(env) - uploadsBefore;
      // Image 4 is new: two locations; image 3's templates must be adopted, not re-uploaded.
      if (uploads !== 2) {
        throw new Error(`expected 2 downloads after the reset (image 4 only), saw ${uploads}`);
      }
      return { "downloads after reset": uploads, ...figures };
    }),
};

function downloads(env: { proxmox: { requests: { route: string }[] } }): number {
  return env.proxmox.requests.filter((r) => r.route.endsWith("/download-url")).length;
}
