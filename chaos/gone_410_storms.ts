/**
 * 410 storms: while Releases come and go, history is compacted again and again, every watch is
 * answered with an in-stream 410 Expired and torn down, and lists with a continue token expire.
 * The watches must relist each time and miss nothing.
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
import { converge } from "./_check.ts";

interface Params {
  releases: number;
  images: number;
  storms: number;
  stormIntervalMs: number;
}

export const gone410Storms: ChaosCase<Params> = {
  name: "410-storms",
  summary: "history compacted and every watch answered 410 Expired, again and again, under churn",
  defaults: { releases: 60, images: 5, storms: 20, stormIntervalMs: 500 },
  quick: { releases: 10, images: 3, storms: 4, stormIntervalMs: 200 },
  run: (p) =>
    withOperator({}, async (running) => {
      const { env } = running;
      await createFleet(env, 0, p.releases, p.images);
      await converge(env, running.check);
      const b = await baseline(running);
      for (let storm = 0; storm < p.storms; storm++) {
        env.api.faults.compact();
        env.api.faults.failNext({ verb: "watch" }, { code: 410, inStream: true }, 6);
        env.api.faults.dropWatches();
        // Churn between storms: a slice of the fleet goes, another comes back.
        const slice = Math.max(1, Math.floor(p.releases / p.storms));
        const start = (storm * slice) % p.releases;
        await deleteFleet(env, start, start + slice);
        await sleep(p.stormIntervalMs / 2);
        await createFleet(env, start, start + slice, p.images);
        await sleep(p.stormIntervalMs / 2);
      }
      env.api.faults.reset();
      return { storms: p.storms, ...await settle(running, b) };
    }),
};
