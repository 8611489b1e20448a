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
  /** How long the churn is spread over, so that many drops land in it. */
  churnMs: number;
}

export const watchDropsUnderChurn: ChaosCase<Params> = {
  name: "watch-drops-under-churn",
  summary: "every watch connection dropped every few seconds during a churn of Releases",
  defaults: { releases: 500, images: 5, dropEveryMs: 3000, churnMs: 45_000 },
  quick: { releases: 40, images: 3, dropEveryMs: 300, churnMs: 3_000 },
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
      // About 2 operations per Release, spread over the churn time.
      const pause = p.churnMs / (2 * p.releases);
      for (let i = 0; i < p.releases; i++) {
        await createFleet(env, i, i + 1, p.images);
        await sleep(pause);
      }
      // Every image loses Releases, the first image all of them; then some come back.
      const gone = Math.floor(p.releases / 2);
      for (let i = 0; i < p.releases; i++) {
        if (i < gone || i % p.images === 0) {
          await deleteFleet(env, i, i + 1);
          await sleep(pause);
        }
      }
      await createFleet(env, 0, Math.floor(gone / 2), p.images);
      churning = false;
      await dropper;
      return { "watch drops": drops, ...await settle(running, b, 300_000) };
    }),
};
