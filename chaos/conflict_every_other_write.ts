/**
 * 409 on every other write: each second create, update, patch or delete (the operator's, Events
 * included, and the driver's own) is answered 409 Conflict while a fleet of Releases is created,
 * partly deleted and created again. Conflicts must go back to the queue, never lose a write.
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
}

export const conflictEveryOtherWrite: ChaosCase<Params> = {
  name: "409-every-other-write",
  summary: "every other write answered 409 Conflict during create, delete and re-create",
  defaults: { releases: 60, images: 5 },
  quick: { releases: 8, images: 3 },
  run: (p) =>
    withOperator({}, async (running) => {
      const { env } = running;
      const b = await baseline(running);
      env.api.faults.failEvery(
        { verbs: ["create", "update", "patch", "delete"] },
        { code: 409, reason: "Conflict" },
        2,
      );
      await createFleet(env, 0, p.releases, p.images);
      // Every image loses a Release and one whole image loses all of them.
      await deleteFleet(env, 0, Math.ceil(p.releases / 3));
      await createFleet(env, 0, Math.ceil(p.releases / 6), p.images);
      // Let the operator work under the fault before it lifts.
      await sleep(3000);
      env.api.faults.reset();
      return settle(running, b);
    }),
};
