import assert from "node:assert/strict";
import { untilAborted } from "../lib/abort.ts";

/** An AbortSignal that counts its listeners. */
function countingSignal(): {
  signal: AbortSignal;
  listeners: () => number;
  abort(r: unknown): void;
} {
  const controller = new AbortController();
  const live = new Set<unknown>();
  const signal = controller.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  Object.assign(signal, {
    addEventListener(type: string, listener: EventListener, options?: AddEventListenerOptions) {
      live.add(listener);
      add(type, listener, options);
    },
    removeEventListener(type: string, listener: EventListener) {
      live.delete(listener);
      remove(type, listener);
    },
  });
  return { signal, listeners: () => live.size, abort: (r) => controller.abort(r) };
}

Deno.test("untilAborted gives the work's value or error and leaves no listener behind", async () => {
  const { signal, listeners } = countingSignal();
  for (let i = 0; i < 1_000; i++) assert.equal(await untilAborted(Promise.resolve(i), signal), i);
  await assert.rejects(untilAborted(Promise.reject(new Error("boom")), signal), /boom/);
  // A long-lived signal raced against many reads must not collect one listener per read.
  assert.equal(listeners(), 0);
});

Deno.test("untilAborted rejects with the reason when the signal aborts first", async () => {
  const { signal, abort } = countingSignal();
  const never = new Promise<number>(() => {});
  const pending = untilAborted(never, signal);
  abort(new Error("stopped"));
  await assert.rejects(pending, /stopped/);
  // Already aborted: rejects at once, and a later failure of the work is not unhandled.
  const late = Promise.withResolvers<number>();
  await assert.rejects(untilAborted(late.promise, signal), /stopped/);
  late.reject(new Error("late"));
  await new Promise((resolve) => setTimeout(resolve, 0));
});
