import assert from "node:assert/strict";
import type { Clock } from "../../lib/clock.ts";
import { ResourceClient } from "../../lib/kube/client.ts";
import {
  type LeaderCallbacks,
  LeaderElector,
  type LeaderElectorOptions,
  type Lease,
} from "../../lib/kube/leader_election.ts";
import { LEASES } from "../../lib/kube/resource.ts";
import type { KubeRequest, KubeTransport } from "../../lib/kube/transport.ts";
import { LeaderElectionMetrics } from "../../lib/metrics.ts";
import { KubeConfigTransport } from "../../lib/kube/transport.ts";
import { type FakeApiServer } from "../fake_apiserver/mod.ts";
import { acquireServer, fakeServer, servers } from "../support/api_servers.ts";
import { TEST_NAMESPACE } from "../support/builders.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { Registry } from "prom-client";

// ---------------------------------------------------------------------------------------------
// Part 1: the election rules, on fake time against a Lease stub with resourceVersion semantics.
// ---------------------------------------------------------------------------------------------

/**
 * The API server's Lease endpoints as leader election uses them: resourceVersion
 * preconditions on update (409 Conflict), 409 AlreadyExists on a second create, 404 for a
 * missing lease, and an outage switch.
 */
class LeaseStub implements KubeTransport {
  readonly server = "http://lease-stub";
  lease?: Lease;
  /** When set, every request fails as an unreachable server would. */
  down = false;
  #rv = 100;

  fetch(request: KubeRequest): Promise<Response> {
    if (this.down) return Promise.reject(new TypeError("connection refused"));
    const body = request.body as Lease | undefined;
    const expected = "/apis/coordination.k8s.io/v1/namespaces/ns/leases";
    if (!request.path.startsWith(expected)) return reply(404, "NotFound", request.path);
    switch (request.method) {
      case "GET":
        return this.lease ? Promise.resolve(Response.json(this.lease)) : reply(404, "NotFound");
      case "POST":
        if (this.lease) return reply(409, "AlreadyExists");
        this.lease = this.#stamp(body!);
        return Promise.resolve(Response.json(this.lease, { status: 201 }));
      case "PUT":
        if (!this.lease) return reply(404, "NotFound");
        if (body!.metadata.resourceVersion !== this.lease.metadata.resourceVersion) {
          return reply(409, "Conflict", "the object has been modified");
        }
        this.lease = this.#stamp(body!);
        return Promise.resolve(Response.json(this.lease));
      default:
        return reply(405, "MethodNotAllowed");
    }
  }

  get holder(): string | undefined {
    return this.lease?.spec?.holderIdentity;
  }

  #stamp(lease: Lease): Lease {
    const copy = structuredClone(lease);
    copy.metadata.resourceVersion = String(++this.#rv);
    return copy;
  }
}

function reply(code: number, reason: string, message = reason): Promise<Response> {
  return Promise.resolve(Response.json(
    { kind: "Status", apiVersion: "v1", status: "Failure", reason, message, code },
    { status: code },
  ));
}

/** One candidate: its elector, its run, and what its callbacks saw. */
class Candidate {
  readonly elector: LeaderElector;
  readonly stop = new AbortController();
  readonly seen = { started: 0, stopped: 0, newLeaders: [] as string[] };
  leadingSignal?: AbortSignal;
  done?: Promise<void>;
  /** Replaced per test to make the leading work behave differently. */
  work: (signal: AbortSignal) => Promise<void> = (signal) =>
    new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

  constructor(options: LeaderElectorOptions) {
    this.elector = new LeaderElector(options);
  }

  start(): this {
    const callbacks: LeaderCallbacks = {
      onStartedLeading: (signal) => {
        this.seen.started++;
        this.leadingSignal = signal;
        return this.work(signal);
      },
      onStoppedLeading: () => void this.seen.stopped++,
      onNewLeader: (id) => void this.seen.newLeaders.push(id),
    };
    this.done = this.elector.run(this.stop.signal, callbacks);
    return this;
  }

  async shutdown(): Promise<void> {
    this.stop.abort();
    await this.done;
  }
}

function candidate(
  stub: LeaseStub,
  clock: FakeClock,
  identity: string,
  extra: Partial<LeaderElectorOptions> = {},
) {
  return new Candidate({
    client: new ResourceClient<Lease>(stub, LEASES),
    namespace: "ns",
    identity,
    clock,
    random: () => 0.5,
    ...extra,
  });
}

/** Advances fake time in small steps so HTTP round trips through the stub complete between them. */
async function elapse(clock: FakeClock, ms: number, check?: () => void): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    await clock.advance(Math.min(100, ms - t));
    for (let i = 0; i < 5; i++) await clock.flush();
    check?.();
  }
}

const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

Deno.test("a lone candidate creates the lease in client-go's format and leads", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "host-a_1").start();
  await elapse(clock, 100);
  assert.equal(a.elector.isLeader(), true);
  assert.equal(a.seen.started, 1);
  assert.deepEqual(a.seen.newLeaders, ["host-a_1"]);
  const lease = stub.lease!;
  assert.equal(lease.metadata.name, "fcf824fa.giantswarm.io");
  assert.equal(lease.spec?.holderIdentity, "host-a_1");
  assert.equal(lease.spec?.leaseDurationSeconds, 15);
  assert.equal(lease.spec?.leaseTransitions, 0);
  assert.match(lease.spec!.acquireTime!, MICRO_TIME);
  assert.match(lease.spec!.renewTime!, MICRO_TIME);
  await a.shutdown();
});

Deno.test("the leader renews every retry period and keeps its acquire time", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a").start();
  await elapse(clock, 100);
  const acquired = stub.lease!.spec!.acquireTime;
  const firstRenew = stub.lease!.spec!.renewTime;
  await elapse(clock, 5_000);
  assert.equal(stub.lease!.spec!.acquireTime, acquired);
  assert.notEqual(stub.lease!.spec!.renewTime, firstRenew);
  assert.equal(stub.lease!.spec!.leaseTransitions, 0);
  await a.shutdown();
});

Deno.test("a candidate never takes over a lease that is being renewed", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a").start();
  await elapse(clock, 100);
  const b = candidate(stub, clock, "b").start();
  await elapse(clock, 120_000, () => {
    assert.equal(stub.holder, "a");
    assert.equal(b.elector.isLeader(), false);
  });
  assert.equal(b.seen.started, 0);
  assert.deepEqual(b.seen.newLeaders, ["a"]);
  await a.shutdown();
  await b.shutdown();
});

Deno.test("candidates starting together never both lead", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const all = ["a", "b", "c", "d"].map((id) => candidate(stub, clock, id).start());
  await elapse(clock, 60_000, () => {
    const leading = all.filter((c) => c.elector.isLeader());
    assert.ok(leading.length <= 1, `leaders: ${leading.map((c) => c.elector.identity)}`);
  });
  const leaders = all.filter((c) => c.elector.isLeader());
  assert.equal(leaders.length, 1);
  assert.equal(stub.holder, leaders[0].elector.identity);
  assert.equal(all.reduce((n, c) => n + c.seen.started, 0), 1);
  for (const c of all) await c.shutdown();
});

Deno.test("candidates racing for a released lease never both lead", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  stub.lease = {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: "fcf824fa.giantswarm.io", namespace: "ns", resourceVersion: "7" },
    spec: { holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 3 },
  };
  const all = ["a", "b", "c", "d"].map((id) => candidate(stub, clock, id).start());
  await elapse(clock, 30_000, () => {
    const leading = all.filter((c) => c.elector.isLeader());
    assert.ok(leading.length <= 1, `leaders: ${leading.map((c) => c.elector.identity)}`);
  });
  assert.equal(all.reduce((n, c) => n + c.seen.started, 0), 1);
  assert.equal(stub.lease!.spec!.leaseTransitions, 4);
  for (const c of all) await c.shutdown();
});

Deno.test("shutdown releases the lease the way client-go does", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a").start();
  await elapse(clock, 100);
  const transitions = stub.lease!.spec!.leaseTransitions;
  await a.shutdown();
  assert.equal(stub.lease!.spec!.holderIdentity, "");
  assert.equal(stub.lease!.spec!.leaseDurationSeconds, 1);
  assert.equal(stub.lease!.spec!.leaseTransitions, transitions);
  assert.equal(stub.lease!.spec!.acquireTime, stub.lease!.spec!.renewTime);
  assert.equal(a.seen.stopped, 1);
  assert.equal(a.elector.isLeader(), false);
});

Deno.test("after a release the waiting candidate takes over without waiting for expiry", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a").start();
  await elapse(clock, 100);
  const b = candidate(stub, clock, "b").start();
  await elapse(clock, 10_000);
  await a.shutdown();
  // One retry period (2 s, plus jitter) is enough; the lease duration (15 s) is not needed.
  await elapse(clock, 5_000);
  assert.equal(b.elector.isLeader(), true);
  assert.equal(stub.holder, "b");
  assert.equal(stub.lease!.spec!.leaseTransitions, 1);
  assert.deepEqual(b.seen.newLeaders, ["a", "b"]);
  await b.shutdown();
});

Deno.test("the leading work finishes before the lease is released", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a");
  let holderWhenWorkEnded: string | undefined;
  a.work = (signal) =>
    new Promise((resolve) =>
      signal.addEventListener("abort", () => {
        holderWhenWorkEnded = stub.holder;
        resolve();
      }, { once: true })
    );
  a.start();
  await elapse(clock, 100);
  await a.shutdown();
  assert.equal(holderWhenWorkEnded, "a");
  assert.equal(stub.holder, "");
});

Deno.test("a crashed leader's lease is taken over once unchanged for the lease duration", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a", { releaseOnCancel: false }).start();
  await elapse(clock, 100);
  const b = candidate(stub, clock, "b").start();
  await elapse(clock, 4_000);
  await a.shutdown(); // stops renewing without releasing, like a killed process
  assert.equal(stub.holder, "a");
  await elapse(clock, 10_000);
  assert.equal(b.elector.isLeader(), false, "the lease has not expired yet");
  await elapse(clock, 10_000);
  assert.equal(b.elector.isLeader(), true);
  assert.equal(stub.holder, "b");
  assert.equal(stub.lease!.spec!.leaseTransitions, 1);
  await b.shutdown();
});

Deno.test("a leader that cannot renew steps down before its lease can expire", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a").start();
  await elapse(clock, 100);
  assert.equal(a.elector.isLeader(), true);
  stub.down = true;
  const outage = clock.now();
  let steppedDownAt: number | undefined;
  await elapse(clock, 20_000, () => {
    if (steppedDownAt === undefined && !a.elector.isLeader()) steppedDownAt = clock.now();
  });
  assert.ok(steppedDownAt !== undefined, "the leader stepped down");
  // Safety, not timing: others may take over 15 s after the last renewal, which came before
  // the outage; the leader must have given up before then.
  assert.ok(steppedDownAt - outage < 15_000);
  assert.equal(a.leadingSignal?.aborted, true);
  assert.equal(a.seen.stopped, 1);
  await a.done;
  assert.equal(a.stop.signal.aborted, false, "run ended by itself: leadership was lost");
});

Deno.test("leading work that fails gives the lease up", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a");
  a.work = () => Promise.reject(new Error("cannot start controllers"));
  a.start();
  await elapse(clock, 100);
  await a.done;
  assert.equal(a.elector.isLeader(), false);
  assert.equal(stub.holder, "");
  assert.equal(a.seen.stopped, 1);
});

Deno.test("onStoppedLeading is called even when the candidate never led", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a").start();
  await elapse(clock, 100);
  const b = candidate(stub, clock, "b").start();
  await elapse(clock, 3_000);
  await b.shutdown();
  assert.deepEqual([b.seen.started, b.seen.stopped], [0, 1]);
  assert.equal(stub.holder, "a", "a candidate's shutdown leaves the leader's lease alone");
  await a.shutdown();
});

Deno.test("a leader steps down even when its requests hang and ignore the abort", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const a = candidate(stub, clock, "a").start();
  await elapse(clock, 100);
  stub.fetch = () => new Promise<Response>(() => {}); // a black hole: never answers
  await elapse(clock, 20_000);
  assert.equal(a.elector.isLeader(), false);
  assert.equal(a.seen.stopped, 1);
  await a.done;
});

Deno.test("the health check fails only when a leader's renew loop is wedged", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  // Timers can be frozen while time moves on, as when the renew loop stops being scheduled.
  let frozen = false;
  const wedgeable: Clock = {
    now: () => clock.now(),
    setTimer: (ms, fn) => clock.setTimer(ms, () => frozen || fn()),
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        const timer = wedgeable.setTimer(ms, () => resolve());
        signal?.addEventListener("abort", () => {
          timer.cancel();
          reject(signal.reason);
        }, { once: true });
      }),
  };
  const a = candidate(stub, clock, "a", { clock: wedgeable });
  const check = a.elector.healthCheck(5_000);
  assert.deepEqual(check(), { ok: true }, "a candidate is healthy");
  a.start();
  await elapse(clock, 30_000);
  assert.deepEqual(check(), { ok: true }, "a renewing leader is healthy");
  frozen = true;
  await elapse(clock, 25_000);
  const wedged = check();
  assert.equal(wedged.ok, false);
  assert.match(wedged.reason ?? "", /lease fcf824fa\.giantswarm\.io not renewed for \d+ ms/);
  frozen = false;
  a.stop.abort();
  await elapse(clock, 1_000);
  await a.done;
});

Deno.test("leader_election_master_status is 1 only while leading", async () => {
  const stub = new LeaseStub();
  const clock = new FakeClock();
  const registry = new Registry();
  const metrics = new LeaderElectionMetrics(registry);
  const status = async () => {
    const text = await registry.metrics();
    const line = text.split("\n").find((l) =>
      l.startsWith('leader_election_master_status{name="fcf824fa.giantswarm.io"}')
    );
    return line?.split(" ")[1];
  };
  const a = candidate(stub, clock, "a", { metrics });
  assert.equal(await status(), "0");
  a.start();
  await elapse(clock, 100);
  assert.equal(await status(), "1");
  await a.shutdown();
  assert.equal(await status(), "0");
});

Deno.test("durations that break client-go's constraints are refused", async (t) => {
  const stub = new LeaseStub();
  const cases: [string, Partial<LeaderElectorOptions["durations"]>][] = [
    ["lease not longer than renew deadline", { leaseDurationMs: 10_000 }],
    ["renew deadline not above 1.2 retry periods", { renewDeadlineMs: 2_400 }],
    ["zero retry period", { retryPeriodMs: 0 }],
    ["renewal window reaching the lease duration", {
      leaseDurationMs: 12_000,
      renewDeadlineMs: 10_000,
    }],
  ];
  for (const [name, durations] of cases) {
    await t.step(name, () => {
      assert.throws(
        () =>
          new LeaderElector({
            client: new ResourceClient<Lease>(stub, LEASES),
            namespace: "ns",
            identity: "a",
            durations: durations!,
          }),
        RangeError,
      );
    });
  }
});

Deno.test("the default identity is hostname_uuid", () => {
  const elector = new LeaderElector({
    client: new ResourceClient<Lease>(new LeaseStub(), LEASES),
    namespace: "ns",
  });
  assert.match(
    elector.identity,
    /^.+_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  );
});

// ---------------------------------------------------------------------------------------------
// Part 2: two electors against the API server (fake and real) over HTTP, on real (short) time.
// Checks are "eventually" with a generous deadline; nothing asserts how long anything took. On
// the real server they run as the deploy/ ServiceAccount, whose Role allows Leases only in the
// operator's namespace, so the lease lives there.
// ---------------------------------------------------------------------------------------------

/** Short enough for a test, long enough that a busy CI machine does not miss renewals. */
const SHORT: LeaderElectorOptions["durations"] = {
  leaseDurationMs: 2_000,
  renewDeadlineMs: 1_500,
  retryPeriodMs: 100,
};

/** Polls `condition` until it holds; fails after a generous deadline. */
async function eventually(what: string, condition: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + 15_000;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`Timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const LEASE_NAMESPACE = TEST_NAMESPACE;

async function withApiServer(
  fn: (server: FakeApiServer, transport: KubeConfigTransport) => Promise<void>,
): Promise<void> {
  const api = await acquireServer();
  const transport = api.operatorTransport();
  try {
    // The real server has the namespace (deploy/ names it); the fake gets it here.
    await api.request("POST", "/api/v1/namespaces", {
      body: { metadata: { name: LEASE_NAMESPACE } },
    });
    await fn(api.fake!, transport);
  } finally {
    transport.close();
    await api.release();
  }
}

function liveCandidate(
  transport: KubeTransport,
  identity: string,
  extra: Partial<LeaderElectorOptions> = {},
): Candidate {
  return new Candidate({
    client: new ResourceClient<Lease>(transport, LEASES),
    namespace: LEASE_NAMESPACE,
    identity,
    durations: SHORT,
    ...extra,
  }).start();
}

/** Samples both electors until `until` holds, failing if both ever lead at once. */
async function neverBothLead(a: Candidate, b: Candidate, until: () => boolean, what: string) {
  await eventually(what, () => {
    assert.ok(
      !(a.elector.isLeader() && b.elector.isLeader()),
      "two electors lead at the same time",
    );
    return until();
  });
}

async function readLease(transport: KubeTransport): Promise<Lease> {
  return await new ResourceClient<Lease>(transport, LEASES).get(
    "fcf824fa.giantswarm.io",
    LEASE_NAMESPACE,
  );
}

servers.test("on the API server one of two electors leads, and the other takes over after a release", async () => {
  await withApiServer(async (_server, transport) => {
    const a = liveCandidate(transport, "a");
    const b = liveCandidate(transport, "b");
    await neverBothLead(a, b, () => a.elector.isLeader() || b.elector.isLeader(), "one leads");
    const [leader, follower] = a.elector.isLeader() ? [a, b] : [b, a];
    // Let several renewals and acquisition attempts happen while checking exclusivity.
    const renewTimes = new Set<string>();
    await eventually("the leader has renewed a few times", async () => {
      assert.ok(!(a.elector.isLeader() && b.elector.isLeader()), "two electors lead at once");
      renewTimes.add((await readLease(transport)).spec?.renewTime ?? "");
      return renewTimes.size >= 5;
    });
    assert.equal(leader.elector.isLeader(), true);
    assert.equal(follower.elector.isLeader(), false);
    const before = (await readLease(transport)).spec!;
    assert.equal(before.holderIdentity, leader.elector.identity);

    await leader.shutdown();
    const released = (await readLease(transport)).spec!;
    assert.equal(
      released.holderIdentity === "" || released.holderIdentity === follower.elector.identity,
      true,
    );
    await eventually("the follower leads", () => follower.elector.isLeader());
    const after = (await readLease(transport)).spec!;
    assert.equal(after.holderIdentity, follower.elector.identity);
    assert.equal(after.leaseTransitions, before.leaseTransitions! + 1);
    assert.equal(leader.seen.stopped, 1);
    await follower.shutdown();
  });
});

servers.test("on the API server the other elector takes over once a crashed leader's lease expires", async () => {
  await withApiServer(async (_server, transport) => {
    const a = liveCandidate(transport, "a", { releaseOnCancel: false });
    await eventually("a leads", () => a.elector.isLeader());
    const b = liveCandidate(transport, "b");
    await eventually("b has seen a as leader", () => b.seen.newLeaders.includes("a"));
    await a.shutdown(); // stops renewing and leaves the lease held, like a killed process
    assert.equal((await readLease(transport)).spec?.holderIdentity, "a");
    await eventually("b leads", () => b.elector.isLeader());
    assert.equal((await readLease(transport)).spec?.holderIdentity, "b");
    await b.shutdown();
  });
});

// Fake API server only: it injects failures.
fakeServer.test("on the API server a leader that cannot renew steps down", async () => {
  await withApiServer(async (server, transport) => {
    const a = liveCandidate(transport, "a");
    await eventually("a leads", () => a.elector.isLeader());
    const b = liveCandidate(transport, "b");
    await eventually("b has seen a as leader", () => b.seen.newLeaders.includes("a"));
    // Every lease write fails from now on: nobody can renew or take over.
    server.faults.failNext({ verb: "update", resource: "leases" }, { code: 500 }, 1_000_000);
    await eventually("a steps down", () => !a.elector.isLeader());
    await a.done;
    assert.equal(a.seen.stopped, 1);
    assert.equal(a.leadingSignal?.aborted, true);
    assert.equal(a.stop.signal.aborted, false, "run ended on its own: leadership was lost");
    assert.equal(b.elector.isLeader(), false);
    server.faults.reset();
    await eventually("b takes over", () => b.elector.isLeader());
    await b.shutdown();
  });
});
