/**
 * The platform (fake Proxmox) unreachable for a while (two minutes in the catalogue) while the
 * Releases of one image are deleted and created again, and a Release for a new image comes. The
 * deleted image's NodeImage stays Terminating (its templates cannot be removed); the Releases
 * created again must not register into it (they wait, then register into a new one), and once
 * the platform is back everything must converge with nothing partial and nothing stuck.
 */
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import {
  baseline,
  type ChaosCase,
  createFleet,
  deleteFleet,
  retryApi,
  settle,
  sleep,
  withOperator,
} from "./_case.ts";
import { converge } from "./_check.ts";
import { flatcarVersion, imageNameFor, NAMESPACE, proxmoxRelease } from "./_env.ts";

interface Params {
  releases: number;
  images: number;
  outageMs: number;
}

export const platformUnreachable: ChaosCase<Params> = {
  name: "platform-unreachable",
  summary: "the platform unreachable while an image's Releases are deleted and created again",
  defaults: { releases: 12, images: 3, outageMs: 120_000 },
  quick: { releases: 6, images: 3, outageMs: 3_000 },
  run: (p) =>
    withOperator({}, async (running) => {
      const { env } = running;
      await createFleet(env, 0, p.releases, p.images);
      await converge(env, running.check);
      const b = await baseline(running);
      await env.proxmox.pause();
      const resumed = (async () => {
        await sleep(p.outageMs);
        await env.proxmox.resume();
      })();
      try {
        // Every Release of image 0 goes: its NodeImage is deleted, and stays Terminating.
        const ofImage0 = [...Array(p.releases).keys()].filter((i) => i % p.images === 0);
        for (const i of ofImage0) await deleteFleet(env, i, i + 1);
        const dying = imageNameFor(flatcarVersion(0));
        const deadline = Date.now() + 30_000;
        while (!(await env.nodeImages.get(dying, NAMESPACE)).metadata.deletionTimestamp) {
          if (Date.now() > deadline) throw new Error(`${dying} was not deleted`);
          await sleep(100);
        }
        // Wait for the Releases themselves to be gone (their finalizer needs no platform).
        while ((await env.releases.list()).items.length > p.releases - ofImage0.length) {
          if (Date.now() > deadline) throw new Error("the deleted Releases did not go");
          await sleep(100);
        }
        await createFleet(env, 0, p.releases, p.images);
        const fresh = proxmoxRelease("proxmox-2.0.0", flatcarVersion(p.images));
        await retryApi(() => env.releases.create(fresh), AlreadyExistsError);
      } finally {
        await resumed;
      }
      return { "outage (s)": p.outageMs / 1000, ...await settle(running, b, 300_000) };
    }),
};
