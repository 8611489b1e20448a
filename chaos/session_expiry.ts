/**
 * Session expiry on the platforms that have sessions: every VCD session ends (as after VCD's
 * idle timeout or a cell restart) between transfers and again in the middle of one, and every
 * vCenter session is ended through govc; the operator must log in again and finish, with
 * nothing partial. (Proxmox uses API tokens, which have no session.)
 */
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import { baseline, type ChaosCase, retryApi, settle, sleep, withOperator } from "./_case.ts";
import { converge } from "./_check.ts";
import { flatcarVersion } from "./_env.ts";
import { addFakeVcd, vcdCheck, vcdRelease } from "./_vcd.ts";
import type { FakeVcd } from "../tests/vcd/fake_vcd/mod.ts";
import type { Vcsim } from "../tests/support/vcsim.ts";
import { addVcsim, endAllSessions, vsphereCheck, vsphereRelease } from "./_vsphere.ts";

interface Params {
  importDelayMs: number;
}

export const sessionExpiryVcd: ChaosCase<Params> = {
  name: "session-expiry-vcd",
  summary: "every VCD session expires between transfers and in the middle of one",
  defaults: { importDelayMs: 3000 },
  quick: { importDelayMs: 1000 },
  run: (p) => {
    let fake: FakeVcd;
    return withOperator({
      prepare: async (env) => {
        fake = await addFakeVcd(env, { timings: { importDelayMs: p.importDelayMs } });
      },
    }, async (running) => {
      const { env } = running;
      running.check = { ...running.check, platforms: [...running.check.platforms, vcdCheck(fake)] };
      const create = (name: string, n: number) =>
        retryApi(
          () => env.releases.create(vcdRelease(name, flatcarVersion(n))),
          AlreadyExistsError,
        );
      await create("cloud-director-1.0.0", 0);
      await converge(env, running.check);
      const b = await baseline(running);
      const loginsBefore = fake.logins;
      fake.expireSessions();
      await create("cloud-director-1.1.0", 1);
      await converge(env, running.check);
      // In the middle of an import this time.
      await create("cloud-director-1.2.0", 2);
      const deadline = Date.now() + 60_000;
      while (!fake.templates().some((t) => t.status !== 8)) {
        if (Date.now() > deadline) throw new Error("no VCD upload got under way");
        await sleep(20);
      }
      fake.expireSessions();
      return { ...await settle(running, b), "VCD logins after expiry": fake.logins - loginsBefore };
    });
  },
};

export const sessionExpiryVsphere: ChaosCase<Record<string, never>> = {
  name: "session-expiry-vsphere",
  summary: "every vCenter session ended between transfers (vcsim, govc session.rm)",
  defaults: {},
  run: () => {
    let sim: Vcsim;
    return withOperator({
      prepare: async (env) => {
        sim = await addVcsim(env);
      },
    }, async (running) => {
      const { env } = running;
      running.check = {
        ...running.check,
        platforms: [...running.check.platforms, vsphereCheck(sim)],
      };
      const create = (name: string, n: number) =>
        retryApi(
          () => env.releases.create(vsphereRelease(name, flatcarVersion(n))),
          AlreadyExistsError,
        );
      await create("vsphere-1.0.0", 0);
      await converge(env, { ...running.check, deadlineMs: 180_000 });
      const b = await baseline(running);
      const ended = await endAllSessions(sim);
      if (ended === 0) throw new Error("vcsim listed no session of the operator to end");
      await create("vsphere-1.1.0", 1);
      return { "sessions ended": ended, ...await settle(running, b) };
    });
  },
};
