/**
 * The API server down for a while (20 s in the catalogue) with its state kept, as when
 * kube-apiserver restarts and etcd does not: connections refused, watches cut. Releases created
 * just before the outage have transfers running through it, whose status writes fail; after it,
 * more Releases come and some go. Everything must be caught up.
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
  downMs: number;
}

export const apiServerDown: ChaosCase<Params> = {
  name: "api-server-down",
  summary: "API server unreachable for a while (state kept), transfers running through it",
  defaults: { releases: 20, images: 5, downMs: 20_000 },
  quick: { releases: 6, images: 3, downMs: 2_000 },
  run: (p) =>
    withOperator({ taskDurationMs: 500 }, async (running) => {
      const { env } = running;
      await createFleet(env, 0, p.releases / 2, p.images - 1);
      await converge(env, running.check);
      const b = await baseline(running);
      // A new image, whose transfers are under way when the server goes.
      await createFleet(env, p.releases / 2, p.releases, p.images);
      await sleep(300);
      await env.api.pause();
      await sleep(p.downMs);
      await env.api.resume();
      await deleteFleet(env, 0, 2);
      await createFleet(env, p.releases, p.releases + 2, p.images);
      return { "down (s)": p.downMs / 1000, ...await settle(running, b) };
    }),
};
