/**
 * One phase of the demo: poll NodeImages, show a progress row per image and location, and
 * finish when nothing is missing any more. When the deadline (or Ctrl-C) ends the wait first,
 * the error says what was still missing: the reason the demo exits non-zero.
 */
import type { Display } from "./display.ts";
import {
  formatRow,
  type ObservedImage,
  type ProgressRow,
  type ProgressTracker,
} from "./progress.ts";

export interface PhaseOptions {
  /** A snapshot of the NodeImages to show. */
  read: (signal: AbortSignal) => Promise<ObservedImage[]>;
  /** What is still missing given the rows (and the snapshot); empty means the phase is done. */
  missing: (
    rows: readonly ProgressRow[],
    images: readonly ObservedImage[],
  ) => Promise<string[]> | string[];
  tracker: ProgressTracker;
  display: Display;
  /** The run's deadline and Ctrl-C. */
  signal: AbortSignal;
  /** What the phase waits for, for the error message. */
  goal: string;
  intervalMs?: number;
  now?: () => number;
}

/** Waits until `missing` is empty; throws naming what is missing when `signal` aborts first. */
export async function runPhase(options: PhaseOptions): Promise<void> {
  const now = options.now ?? Date.now;
  let missing: string[] = ["nothing observed yet"];
  let lastError: unknown;
  while (!options.signal.aborted) {
    try {
      const images = await options.read(options.signal);
      const rows = options.tracker.observe(images, now());
      const width = Math.max(0, ...rows.map((r) => r.image.length));
      options.display.progress(rows.map((row) => formatRow(row, width)));
      missing = await options.missing(rows, images);
      lastError = undefined;
      if (missing.length === 0) {
        options.display.endProgress();
        return;
      }
    } catch (error) {
      if (options.signal.aborted) break;
      lastError = error;
    }
    await sleep(options.intervalMs ?? 250, options.signal);
  }
  options.display.endProgress();
  const reason = (options.signal.reason as Error)?.message ?? String(options.signal.reason);
  const details = lastError ? [`last error: ${(lastError as Error).message}`] : missing;
  throw new Error(
    `${reason} while waiting for ${options.goal}; still missing:\n  ${details.join("\n  ")}`,
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
