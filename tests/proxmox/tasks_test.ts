import assert from "node:assert/strict";
import { Secret } from "../../lib/config/secret.ts";
import {
  parseUpid,
  ProxmoxClient,
  ProxmoxTaskError,
  waitForTask,
} from "../../providers/proxmox/mod.ts";
import type { HttpResponse } from "../../providers/_http/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** A 200 answer with `{"data": data}`. */
function okResponse(data: unknown): HttpResponse {
  return { status: 200, statusText: "OK", headers: new Headers(), body: JSON.stringify({ data }) };
}

const UPID = "UPID:pve2:0003B4A2:01C8E4F2:66F1A2B3:qmcreate:100:root@pam!ido:";
const signal = new AbortController().signal;

interface Scripted {
  client: ProxmoxClient;
  urls: string[];
  /** Poll times on the fake clock. */
  polls: number[];
}

/** Answers status polls with `running` until `stopAfter` polls, then `exitstatus`. */
function taskServer(
  clock: FakeClock,
  stopAfter: number,
  exitstatus: string,
  log: string[] = [],
): Scripted {
  const urls: string[] = [];
  const polls: number[] = [];
  const client = new ProxmoxClient({
    host: "pve:8006",
    user: "root",
    realm: "pam",
    tokenId: "ido",
    secret: new Secret("x"),
    http: {
      request: (req) => {
        urls.push(req.url);
        const url = new URL(req.url);
        if (url.pathname.endsWith("/log")) {
          const data = log.map((t, i) => ({ n: i + 1, t }));
          return Promise.resolve(okResponse(data));
        }
        polls.push(clock.now());
        const stopped = polls.length > stopAfter;
        const data = {
          upid: UPID,
          node: "pve2",
          type: "qmcreate",
          id: "100",
          user: "root@pam!ido",
          status: stopped ? "stopped" : "running",
          ...(stopped ? { exitstatus } : {}),
        };
        return Promise.resolve(okResponse(data));
      },
      close: () => Promise.resolve(),
    },
  });
  return { client, urls, polls };
}

/** Advances the clock until `promise` settles. */
async function drive<T>(clock: FakeClock, promise: Promise<T>): Promise<T> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  while (!settled) {
    await clock.flush();
    if (settled || !await clock.advanceToNextTimer()) break;
  }
  return promise;
}

Deno.test("tasks are polled at once and then after 2, 4, 8, 16, 30, 30 s like the Go operator", async () => {
  const clock = new FakeClock(0);
  const server = taskServer(clock, 6, "OK");
  const status = await drive(clock, waitForTask(server.client, UPID, { clock }, signal));
  assert.equal(status.exitstatus, "OK");
  assert.deepEqual(server.polls, [0, 2_000, 6_000, 14_000, 30_000, 60_000, 90_000]);
});

Deno.test("the poll schedule is injectable and its last delay repeats", async () => {
  const clock = new FakeClock(0);
  const server = taskServer(clock, 4, "WARNINGS: 2");
  await drive(clock, waitForTask(server.client, UPID, { clock, delaysMs: [10, 50] }, signal));
  assert.deepEqual(server.polls, [0, 10, 60, 110, 160]);
});

Deno.test("the status is read on the UPID's own node with the UPID path-escaped", async () => {
  const clock = new FakeClock(0);
  const server = taskServer(clock, 0, "OK");
  await waitForTask(server.client, UPID, { clock }, signal);
  assert.equal(
    server.urls[0],
    "https://pve:8006/api2/json/nodes/pve2/tasks/" +
      "UPID:pve2:0003B4A2:01C8E4F2:66F1A2B3:qmcreate:100:root@pam%21ido:/status",
  );
});

Deno.test("a failed task throws its exit status and the last log lines", async () => {
  const clock = new FakeClock(0);
  const log = ["line 1", "line 2", "line 3", "line 4", "line 5", "TASK ERROR: import failed"];
  const server = taskServer(clock, 1, "import failed", log);
  const error = await drive(clock, waitForTask(server.client, UPID, { clock }, signal)).catch((e) =>
    e
  );
  assert.ok(error instanceof ProxmoxTaskError);
  assert.equal(error.exitStatus, "import failed");
  assert.deepEqual(error.logTail, [
    "line 2",
    "line 3",
    "line 4",
    "line 5",
    "TASK ERROR: import failed",
  ]);
  assert.match(error.message, /^task UPID:pve2:.* failed: import failed; last log lines: "line 2"/);
});

Deno.test("a task still running at the deadline fails without waiting past it", async () => {
  const clock = new FakeClock(0);
  const server = taskServer(clock, 1_000, "OK");
  const error = await drive(
    clock,
    waitForTask(server.client, UPID, { clock, delaysMs: [1_000], deadlineMs: 3_500 }, signal),
  ).catch((e) => e);
  assert.ok(error instanceof ProxmoxTaskError);
  assert.equal(error.exitStatus, "");
  assert.match(error.message, /still running after 3500 ms/);
  assert.deepEqual(server.polls, [0, 1_000, 2_000, 3_000]);
});

Deno.test("aborting the wait stops polling with the signal's reason", async () => {
  const clock = new FakeClock(0);
  const server = taskServer(clock, 1_000, "OK");
  const controller = new AbortController();
  const waiting = waitForTask(server.client, UPID, { clock }, controller.signal);
  await clock.flush();
  const reason = new Error("stop");
  controller.abort(reason);
  await assert.rejects(waiting, (e) => e === reason);
  assert.equal(server.polls.length, 1);
});

Deno.test("UPIDs are parsed, token users included, and anything else is refused", () => {
  assert.deepEqual(parseUpid(UPID), {
    node: "pve2",
    type: "qmcreate",
    id: "100",
    user: "root@pam!ido",
  });
  assert.deepEqual(
    parseUpid("UPID:pve1:0003B4A6:01CC9998:6B06E394:imgdel:local:root@pam:").id,
    "local",
  );
  assert.throws(() => parseUpid("not-a-upid"), /not a task id \(UPID\)/);
});
