/**
 * vApp templates and tasks as the client reads them, and waiting on them with deadlines (the Go
 * operator waited without any, §11.19).
 *
 * Template `status` (wire facts §B.1): 0 unresolved (upload in progress), 8 resolved, -1 failed.
 * Task `status`: queued, preRunning, running, success, error, canceled, aborted.
 */
import type { Clock } from "../../lib/clock.ts";
import { PlatformError } from "../types.ts";
import type { VcdClient } from "./client.ts";
import { VcdApiError, type VcdFault } from "./errors.ts";
import { attr, child, children, linksOf, type XmlNode } from "./xml.ts";

export const TEMPLATE_RESOLVED = 8;
export const TEMPLATE_FAILED = -1;

/** One file VCD expects for a template. */
export interface TemplateFile {
  name: string;
  /** Declared size; -1 for a descriptor not yet uploaded. */
  size: number;
  bytesTransferred: number;
  /** The `upload:default` link (absent once the file is complete on some versions). */
  uploadHref?: string;
}

export interface TaskInfo {
  href: string;
  status: string;
  operationName: string;
  ownerHref: string;
  error?: VcdFault;
}

export interface TemplateInfo {
  href: string;
  name: string;
  status: number;
  files: TemplateFile[];
  tasks: TaskInfo[];
  /** The document had a `<Tasks>` element at all (go-vcd checks this after the upload POST). */
  hasTasks: boolean;
}

const RUNNING = new Set(["queued", "preRunning", "running", "postRunning"]);

/** Reads a `<VAppTemplate>` document. */
export function templateOf(node: XmlNode): TemplateInfo {
  const tasksNode = child(node, "Tasks");
  return {
    href: attr(node, "href"),
    name: attr(node, "name"),
    status: Number(attr(node, "status") || "0"),
    files: children(child(node, "Files"), "File").map((file) => ({
      name: attr(file, "name"),
      size: Number(attr(file, "size") || "-1"),
      bytesTransferred: Number(attr(file, "bytesTransferred") || "0"),
      uploadHref: linksOf(file).find((l) => l.rel === "upload:default")?.href,
    })),
    tasks: children(tasksNode, "Task").map(taskOf),
    hasTasks: tasksNode !== undefined,
  };
}

/** Reads a `<Task>` document or element. */
export function taskOf(node: XmlNode): TaskInfo {
  const error = child(node, "Error");
  return {
    href: attr(node, "href"),
    status: attr(node, "status"),
    operationName: attr(node, "operationName"),
    ownerHref: attr(child(node, "Owner"), "href"),
    ...(error
      ? {
        error: {
          majorErrorCode: attr(error, "majorErrorCode"),
          minorErrorCode: attr(error, "minorErrorCode"),
          message: attr(error, "message"),
        },
      }
      : {}),
  };
}

/** True while the task has not ended. */
export function isRunning(task: TaskInfo): boolean {
  return RUNNING.has(task.status);
}

/** A task that ended without success. */
export class VcdTaskError extends PlatformError {
  override name = "VcdTaskError";
  constructor(readonly task: TaskInfo, what: string) {
    const fault = task.error;
    const codes = fault
      ? [fault.minorErrorCode, fault.majorErrorCode && `major ${fault.majorErrorCode}`]
        .filter(Boolean).join(", ")
      : "";
    super(
      `VCD task ${task.operationName || what} ended ${task.status}` +
        (fault ? `${codes ? ` (${codes})` : ""}: ${fault.message || "no message"}` : ""),
    );
  }
}

/** Polling schedule: quick at first (small templates), then every 5 s as go-vcd polls. */
export const DEFAULT_POLL_DELAYS_MS: readonly number[] = [250, 500, 1000, 2000, 5000];

export interface WaitOptions {
  clock: Clock;
  deadlineMs: number;
  delaysMs?: readonly number[];
  signal: AbortSignal;
  /** Names what is awaited in the deadline error ("the upload links"). */
  what: string;
}

/**
 * Calls `check` until it returns a value (not undefined), sleeping between calls; throws when
 * the deadline passes first. `check` throws to stop waiting with an error.
 */
export async function poll<T>(
  check: () => Promise<T | undefined>,
  options: WaitOptions,
): Promise<T> {
  const delays = options.delaysMs ?? DEFAULT_POLL_DELAYS_MS;
  const deadline = options.clock.now() + options.deadlineMs;
  for (let attempt = 0;; attempt++) {
    const value = await check();
    if (value !== undefined) return value;
    const delay = delays[Math.min(attempt, delays.length - 1)];
    if (options.clock.now() + delay > deadline) {
      throw new PlatformError(
        `Gave up waiting for ${options.what} after ${Math.round(options.deadlineMs / 1000)}s`,
      );
    }
    await options.clock.sleep(delay, options.signal);
  }
}

/** Waits for the task at `href` to succeed; throws `VcdTaskError` when it ends otherwise. */
export function waitForTask(
  client: VcdClient,
  href: string,
  options: Omit<WaitOptions, "what"> & { what: string },
): Promise<TaskInfo> {
  return poll(async () => {
    const { node } = await client.api("GET", href, { signal: options.signal, step: options.what });
    const task = taskOf(node);
    if (isRunning(task)) return undefined;
    if (task.status !== "success") throw new VcdTaskError(task, options.what);
    return task;
  }, { ...options, what: `VCD task ${options.what}` });
}

/** GETs a template. */
export async function getTemplate(
  client: VcdClient,
  href: string,
  signal: AbortSignal,
  step: string,
): Promise<TemplateInfo> {
  const { node } = await client.api("GET", href, { signal, step });
  return templateOf(node);
}

/**
 * Deletes the template at `href` and waits for VCD's task; a template that is already gone
 * (403 ACCESS_TO_RESOURCE_IS_FORBIDDEN or 404) counts as deleted (§10.7).
 */
export async function deleteTemplate(
  client: VcdClient,
  href: string,
  options: Omit<WaitOptions, "what">,
): Promise<void> {
  let task: TaskInfo;
  try {
    const { node } = await client.api("DELETE", href, {
      signal: options.signal,
      step: "delete vApp template",
    });
    task = taskOf(node);
  } catch (error) {
    if (error instanceof VcdApiError && error.isMissing) return;
    throw error;
  }
  if (!task.href || !isRunning(task)) {
    if (task.href && task.status !== "success") {
      throw new VcdTaskError(task, "delete vApp template");
    }
    return;
  }
  try {
    await waitForTask(client, task.href, { ...options, what: "delete vApp template" });
  } catch (error) {
    // The task itself may vanish with its owner.
    if (error instanceof VcdApiError && error.isMissing) return;
    throw error;
  }
}
