/**
 * 429/500 bursts: repeated bursts in which every request (reads, watches and writes alike) is
 * answered 429 Too Many Requests with a Retry-After, or 500, while Releases are created and
 * deleted. Clients must back off and retry, and the end state must not depend on the bursts.
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
  bursts: number;
  /** Failed requests per burst. */
  burstSize: number;
  burstIntervalMs: number;
}

export const throttleAndErrorBursts: ChaosCase<Params> = {
  name: "429-500-bursts",
  summary: "bursts of 429 (Retry-After 1 s) and 500 answers to every verb, under churn",
  defaults: { releases: 60, images: 5, bursts: 12, burstSize: 40, burstIntervalMs: 1000 },
  quick: { releases: 8, images: 3, bursts: 3, burstSize: 15, burstIntervalMs: 300 },
  run: (p) =>
    withOperator({}, async (running) => {
      const { env } = running;
      const b = await baseline(running);
      const churn = (async () => {
        await createFleet(env, 0, p.releases, p.images);
        await deleteFleet(env, 0, Math.ceil(p.releases / 3));
        await createFleet(env, 0, Math.ceil(p.releases / 6), p.images);
      })();
      let injected = 0;
      for (let burst = 0; burst < p.bursts; burst++) {
        const response = burst % 2 === 0
          ? { code: 429, retryAfterSeconds: 1 }
          : { code: 500, message: "etcdserver: request timed out" };
        // A burst is the next `burstSize` requests, or what is left of it when the next comes.
        env.api.faults.reset();
        env.api.faults.failNext({}, response, p.burstSize);
        injected += p.burstSize;
        await sleep(p.burstIntervalMs);
      }
      await churn;
      env.api.faults.reset();
      return { "failures injected": injected, ...await settle(running, b) };
    }),
};
