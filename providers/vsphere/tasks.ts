/**
 * Waiting for a vSphere Task (Destroy_Task, HttpNfcLeasePullFromUrls_Task) by polling its
 * `info` with growing delays up to a deadline.
 *
 * Guarantees: resolves on `success`; throws the task's own fault on `error`; throws a
 * `PlatformError` naming the task once the deadline passes; reports `info.progress` as it moves.
 */
import type { Clock } from "../../lib/clock.ts";
import { PlatformError } from "../types.ts";
import type { SoapClient } from "./soap/client.ts";
import { faultFromLocalized } from "./soap/faults.ts";
import { readObject } from "./soap/properties.ts";
import { child, type MoRef, refString, textOf } from "./soap/xml.ts";

export interface WaitTaskOptions {
  clock: Clock;
  deadlineMs: number;
  /** What the task does, for messages ("destroy VM vm-42"). */
  what: string;
  onProgress?: (percent: number) => void;
  /** Poll delays in ms; the last repeats. */
  delaysMs?: readonly number[];
}

const DEFAULT_DELAYS = [0, 100, 250, 500, 1000, 2000];

/** Polls `task` until it ends. */
export async function waitTask(
  client: SoapClient,
  task: MoRef,
  options: WaitTaskOptions,
  signal: AbortSignal,
): Promise<void> {
  const delays = options.delaysMs ?? DEFAULT_DELAYS;
  const started = options.clock.now();
  for (let attempt = 0;; attempt++) {
    await options.clock.sleep(delays[Math.min(attempt, delays.length - 1)], signal);
    const content = await readObject(client, task, ["info"], signal);
    const info = content?.props.get("info");
    const state = textOf(info, "state");
    const progress = textOf(info, "progress");
    if (progress !== undefined && options.onProgress) options.onProgress(Number(progress));
    if (state === "success") return;
    if (state === "error") {
      const error = child(info, "error");
      throw error
        ? faultFromLocalized(error, `vSphere task ${options.what}`)
        : new PlatformError(`vSphere task ${options.what} failed without a reason`);
    }
    if (options.clock.now() - started > options.deadlineMs) {
      throw new PlatformError(
        `vSphere task ${options.what} (${refString(task)}) did not finish within ` +
          `${Math.round(options.deadlineMs / 1000)} s (state ${state ?? "unknown"})`,
      );
    }
  }
}
