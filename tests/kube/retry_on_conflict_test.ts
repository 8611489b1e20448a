/** `retryOnConflict`: exact attempts, a fresh read before each retry, typed exhaustion. */
import assert from "node:assert/strict";
import {
  apiErrorFor,
  InvalidError,
  NotFoundError,
  ServerError,
  unlessNotFound,
} from "../../lib/kube/errors.ts";
import {
  DEFAULT_CONFLICT_ATTEMPTS,
  retryOnConflict,
  WriteConflictError,
} from "../../lib/kube/retry_on_conflict.ts";

const conflict = () =>
  apiErrorFor(409, { reason: "Conflict", message: "the object has been modified" });
const failedTest = () =>
  apiErrorFor(422, { reason: "Invalid", message: "testing value /metadata/x failed" });

interface Thing {
  version: number;
}

/**
 * A "server" whose object moves on to a new version at every read; each attempt takes the
 * next scripted failure, or succeeds once there are none left.
 */
class Script {
  version = 1;
  reads = 0;
  /** The version each attempt was given, in order. */
  readonly seen: number[] = [];
  readonly failures: Error[];

  constructor(failures: Error[] = []) {
    this.failures = failures;
  }

  read = (signal?: AbortSignal): Promise<Thing> => {
    signal?.throwIfAborted();
    this.reads++;
    this.version++;
    return Promise.resolve({ version: this.version });
  };

  attempt = (current: Thing): Promise<string> => {
    this.seen.push(current.version);
    const failure = this.failures.shift();
    return failure ? Promise.reject(failure) : Promise.resolve(`written at ${current.version}`);
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

const START = { version: 1 };

Deno.test("retryOnConflict", async (t) => {
  await t.step("succeeds first time on `start`: one attempt, no read", async () => {
    const s = new Script();
    const result = await retryOnConflict(s.read, s.attempt, { start: START, action: "update x" });
    assert.equal(result, "written at 1");
    assert.deepEqual(s.seen, [1]);
    assert.equal(s.reads, 0);
  });

  await t.step("without `start`, the first attempt works on a read", async () => {
    const s = new Script();
    assert.equal(await retryOnConflict(s.read, s.attempt, { action: "update x" }), "written at 2");
    assert.equal(s.reads, 1);
    assert.deepEqual(s.seen, [2]);
  });

  await t.step("each retry works on its own fresh read, never on the stale object", async () => {
    const s = new Script([conflict(), conflict()]);
    const result = await retryOnConflict(s.read, s.attempt, {
      start: START,
      attempts: 5,
      action: "update x",
    });
    assert.equal(result, "written at 3");
    assert.deepEqual(s.seen, [1, 2, 3]);
    assert.equal(s.reads, 2);
  });

  await t.step(
    "conflicts on every attempt: exactly `attempts` attempts, then a typed error",
    async () => {
      const s = new Script(Array.from({ length: 10 }, conflict));
      const fourth = s.failures[3];
      const error = await rejection(retryOnConflict(s.read, s.attempt, {
        start: START,
        attempts: 4,
        action: `update NodeImage "ns/a"`,
      }));
      assert.ok(error instanceof WriteConflictError);
      assert.equal(error.attempts, 4);
      assert.equal(
        error.message,
        `Cannot update NodeImage "ns/a": it changed under each of 4 attempts`,
      );
      assert.equal(error.cause, fourth, "the last rejection is the cause");
      assert.deepEqual(s.seen, [1, 2, 3, 4]);
      assert.equal(s.reads, 3, "no read after the last attempt");
    },
  );

  await t.step(`${DEFAULT_CONFLICT_ATTEMPTS} attempts when none are given`, async () => {
    const s = new Script(Array.from({ length: 10 }, conflict));
    const error = await rejection(retryOnConflict(s.read, s.attempt, { action: "update x" }));
    assert.ok(error instanceof WriteConflictError);
    assert.equal(s.seen.length, DEFAULT_CONFLICT_ATTEMPTS);
    assert.equal(s.reads, DEFAULT_CONFLICT_ATTEMPTS, "the first read stands in for `start`");
  });

  await t.step(
    "a failed JSON-patch test (422) is retried only for writes with test ops",
    async () => {
      const withTests = new Script([failedTest()]);
      const result = await retryOnConflict(withTests.read, withTests.attempt, {
        start: START,
        testOps: true,
        action: "patch x",
      });
      assert.equal(result, "written at 2");

      const plain = new Script([failedTest()]);
      const error = await rejection(retryOnConflict(plain.read, plain.attempt, {
        start: START,
        action: "patch x",
      }));
      assert.ok(error instanceof InvalidError, "a validation error passes through as it is");
      assert.equal(plain.seen.length, 1);
      assert.equal(plain.reads, 0);
    },
  );

  for (
    const [what, make] of [
      ["a server error", () => apiErrorFor(500, { message: "etcd timeout" })],
      ["NotFound", () => apiErrorFor(404, { reason: "NotFound", message: "gone" })],
      ["AlreadyExists", () => apiErrorFor(409, { reason: "AlreadyExists", message: "exists" })],
      ["a plain Error", () => new Error("bug")],
    ] as [string, () => Error][]
  ) {
    await t.step(`${what} passes straight through, after one attempt and no read`, async () => {
      const failure = make();
      const s = new Script([failure]);
      const error = await rejection(
        retryOnConflict(s.read, s.attempt, { start: START, testOps: true, action: "x" }),
      );
      assert.equal(error, failure);
      assert.equal(s.seen.length, 1);
      assert.equal(s.reads, 0);
    });
  }

  await t.step("a read that fails ends the retries with its error", async () => {
    const s = new Script([conflict()]);
    const gone = apiErrorFor(404, { reason: "NotFound", message: "gone" });
    const read = () => Promise.reject(gone);
    const error = await rejection(
      retryOnConflict(read, s.attempt, { start: START, action: "update x" }),
    );
    assert.equal(error, gone);
    assert.equal(s.seen.length, 1);
    // The object was deleted between the conflict and the read: for a writer, it is gone.
    const again = new Script([conflict()]);
    assert.equal(
      await unlessNotFound(retryOnConflict(read, again.attempt, { start: START, action: "x" })),
      undefined,
    );
  });

  await t.step("an aborted signal stops before the next read", async () => {
    const abort = new AbortController();
    const s = new Script([conflict(), conflict()]);
    const attempt = (current: Thing) => {
      abort.abort(new Error("shutting down"));
      return s.attempt(current);
    };
    const error = await rejection(retryOnConflict(s.read, attempt, {
      start: START,
      action: "update x",
      signal: abort.signal,
    }));
    assert.equal((error as Error).message, "shutting down");
    assert.equal(s.seen.length, 1);
  });
});

Deno.test("unlessNotFound: undefined for NotFound, the value otherwise, other errors thrown", async () => {
  assert.equal(await unlessNotFound(Promise.resolve(7)), 7);
  const notFound = apiErrorFor(404, { reason: "NotFound", message: "gone" });
  assert.ok(notFound instanceof NotFoundError);
  assert.equal(await unlessNotFound(Promise.reject(notFound)), undefined);
  const server = apiErrorFor(503, { message: "unavailable" });
  assert.ok(server instanceof ServerError);
  assert.equal(await rejection(unlessNotFound(Promise.reject(server))), server);
});
