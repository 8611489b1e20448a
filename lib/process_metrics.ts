/**
 * prom-client's process metrics under Deno's scoped permissions.
 *
 * prom-client reads `/proc/self/status`, `/proc/self/fd` and `/proc/self/limits` on Linux for
 * `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_heap_bytes`,
 * `process_open_fds` and `process_max_fds`. Deno 2.9 lets only `--allow-all` read `/proc/self`
 * (even `--allow-read=/proc` is refused), so in the container, which runs with scoped
 * permissions, prom-client would report 0 for all five: a lie a dashboard cannot tell from a
 * real value. Instead, when `/proc/self` cannot be read:
 * - `process_resident_memory_bytes` comes from `Deno.memoryUsage().rss`, which needs no permission;
 * - the other four are left out (Deno offers no permission-free source for them).
 * With `--allow-all` (`deno task dev`, tests) prom-client's own collectors stay.
 */
import { Gauge, type Registry } from "prom-client";

const PROC_ONLY = [
  "process_virtual_memory_bytes",
  "process_heap_bytes",
  "process_open_fds",
  "process_max_fds",
];

/** Whether this process may read `/proc/self` (Linux with `--allow-all`). */
export function procSelfReadable(): boolean {
  try {
    Deno.readTextFileSync("/proc/self/limits");
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces the `/proc`-based process metrics in `registry` (registered by
 * `collectDefaultMetrics`) when `/proc/self` cannot be read.
 */
export function fitProcessMetrics(registry: Registry, readable = procSelfReadable()): void {
  if (readable) return;
  for (const name of [...PROC_ONLY, "process_resident_memory_bytes"]) {
    registry.removeSingleMetric(name);
  }
  new Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
}
