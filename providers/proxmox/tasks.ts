/**
 * Waiting for Proxmox tasks (UPIDs). Most writes answer with a UPID at once and fail later, in
 * the task's `exitstatus`; this is where that becomes an error.
 *
 * Guarantees:
 * - Polls `GET /nodes/{node}/tasks/{upid}/status` at once, then after each delay of `delaysMs`
 *   (the last one repeats; the Go operator's 2, 4, 8, 16, 30 s by default) until `stopped` or
 *   the deadline (30 min by default), waiting only through the injected clock.
 * - `exitstatus` `OK` or `WARNINGS: N` is success; anything else is a `ProxmoxTaskError` with the
 *   exit status and the last lines of the task log.
 * - The node comes from the UPID itself, so a task is polled where it runs.
 */
import type { Clock } from "../../lib/clock.ts";
import { redactUrlsIn } from "../../lib/redact.ts";
import { PlatformError } from "../types.ts";
import { apiPath, type ProxmoxClient } from "./client.ts";

export interface TaskWaitOptions {
  clock: Clock;
  /** Delays between polls; the last repeats. */
  delaysMs?: readonly number[];
  /** Give up after this long. */
  deadlineMs?: number;
  /** Log lines kept in a failure. */
  logLines?: number;
}

export const DEFAULT_TASK_DELAYS_MS: readonly number[] = [2_000, 4_000, 8_000, 16_000, 30_000];
export const DEFAULT_TASK_DEADLINE_MS = 30 * 60_000;

export interface TaskStatus {
  upid: string;
  node: string;
  type: string;
  id: string;
  user: string;
  status: "running" | "stopped";
  exitstatus?: string;
}

/** A Proxmox task ended with an error, or did not end in time. */
export class ProxmoxTaskError extends PlatformError {
  override name = "ProxmoxTaskError";
  constructor(
    message: string,
    readonly upid: string,
    /** The task's `exitstatus`, or "" when it did not finish. */
    readonly exitStatus: string,
    /** The last lines of the task log (may be empty when the log could not be read). */
    readonly logTail: readonly string[],
  ) {
    // Task logs and exit statuses quote the URLs the node fetched, presigned ones included.
    super(redactUrlsIn(message));
    this.exitStatus = redactUrlsIn(exitStatus);
    this.logTail = logTail.map(redactUrlsIn);
  }
}

/** Parsed UPID fields (`UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`). */
export interface Upid {
  node: string;
  type: string;
  id: string;
  user: string;
}

/** Parses a UPID; throws `PlatformError` for anything else (a server that is not Proxmox). */
export function parseUpid(upid: string): Upid {
  const match =
    /^UPID:([a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?):[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:([^:\s]+):([^:\s]*):([^:\s]+):$/
      .exec(upid);
  if (!match) throw new PlatformError(`Proxmox returned "${upid}", which is not a task id (UPID)`);
  return { node: match[1], type: match[2], id: match[3], user: match[4] };
}

/** True for task exit statuses Proxmox counts as success. */
export function taskSucceeded(exitStatus: string | undefined): boolean {
  return exitStatus === "OK" || /^WARNINGS: \d+$/.test(exitStatus ?? "");
}

/** Waits for the task to stop; returns its final status or throws `ProxmoxTaskError`. */
export async function waitForTask(
  client: ProxmoxClient,
  upid: string,
  options: TaskWaitOptions,
  signal: AbortSignal,
): Promise<TaskStatus> {
  const { node } = parseUpid(upid);
  const delays = options.delaysMs?.length ? options.delaysMs : DEFAULT_TASK_DELAYS_MS;
  const deadline = options.clock.now() + (options.deadlineMs ?? DEFAULT_TASK_DEADLINE_MS);
  const path = apiPath`/nodes/${node}/tasks/${upid}/status`;
  for (let attempt = 0;; attempt++) {
    const status = await client.get<TaskStatus>(path, undefined, signal);
    if (status.status === "stopped") {
      if (taskSucceeded(status.exitstatus)) return status;
      const exitStatus = status.exitstatus ?? "";
      const tail = await readLogTail(client, upid, options.logLines ?? 5, signal);
      throw new ProxmoxTaskError(
        `task ${upid} failed: ${exitStatus || "no exit status"}${formatTail(tail)}`,
        upid,
        exitStatus,
        tail,
      );
    }
    const delay = delays[Math.min(attempt, delays.length - 1)];
    if (options.clock.now() + delay > deadline) {
      const tail = await readLogTail(client, upid, options.logLines ?? 5, signal);
      throw new ProxmoxTaskError(
        `task ${upid} still running after ${options.deadlineMs ?? DEFAULT_TASK_DEADLINE_MS} ms` +
          formatTail(tail),
        upid,
        "",
        tail,
      );
    }
    await options.clock.sleep(delay, signal);
  }
}

interface LogLine {
  n: number;
  t: string;
}

/** The last `count` lines of a task log; a log that cannot be read gives no lines. */
async function readLogTail(
  client: ProxmoxClient,
  upid: string,
  count: number,
  signal: AbortSignal,
): Promise<string[]> {
  const { node } = parseUpid(upid);
  const path = apiPath`/nodes/${node}/tasks/${upid}/log`;
  try {
    // Download logs print progress lines, so fetch a generous page; most logs fit in it.
    let lines = await client.get<LogLine[]>(path, { start: 0, limit: 500 }, signal);
    if (lines.length === 500) {
      const last = lines[lines.length - 1].n;
      const more = await client.get<LogLine[]>(path, { start: last, limit: 5_000 }, signal);
      if (more.length) lines = more;
    }
    return lines.map((line) => line.t).filter((t) => t !== "" && t !== "no content")
      .slice(-count);
  } catch (error) {
    if (signal.aborted) throw error;
    return [];
  }
}

function formatTail(tail: readonly string[]): string {
  return tail.length ? `; last log lines: ${tail.map((t) => JSON.stringify(t)).join(", ")}` : "";
}
