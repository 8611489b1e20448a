/**
 * Watch connections dropped every few seconds (torn down mid-stream, no clean end) while a churn
 * of Releases is created, deleted and partly created again. Nothing may be missed: every
 * NodeImage that the remaining Releases need is Available and lists exactly them.
 */
import {
  baseline,
  type ChaosCase,
  createFleet,
  deleteFleet,
  settle,
  sleep,
  withOperator,
} from "./_case.ts";

interface Params {
  releases: number;
  images: number;
  dropEveryMs: number;
}

export const watchDropsUnderChurn: ChaosCase<Params> = {
  name: "watch-drops-under-churn",
  summary: "every watch connection dropped every few seconds during a churn of Releases",
  defaults: { releases: 500, images: 5, dropEveryMs: 3000 },
  quick: { releases: 40, images: 3, dropEveryMs: 300 },
  run: (p) =>
    withOperator({}, async (running) => {
      const { env } = running;
      const b = await baseline(running);
      let drops = 0;
      let churning = true;
      const dropper = (async () => {
        while (churning) {
          await sleep(p.dropEveryMs);
          env.api.faults.dropWatches();
          drops++;
        }
      })();
      await createFleet(env, 0, p.releases, p.images);
      // Every image loses Releases, the first image all of them; then some come back.
      const gone = Math.floor(p.releases / 2);
      for (let i = 0; i < p.releases; i++) {
        if (i < gone || i % p.images === 0) await deleteFleet(env, i, i + 1);
      }
      await createFleet(env, 0, Math.floor(gone / 2), p.images);
      churning = false;
      await dropper;
      return { "watch drops": drops, ...await settle(running, b, 300_000) };
    }),
};
