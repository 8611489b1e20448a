/**
 * What the demo needs from each platform simulator once it runs: its values.yaml section, the
 * locations the operator will fill, how many calls it answered, and what its catalog holds.
 */
import type { Platform } from "../options.ts";
import type { ServiceProcess } from "../processes.ts";

export interface PlatformService {
  platform: Platform;
  /** Provider id of its NodeImages (`capmox`, `capvcd`, `capv`). */
  providerId: string;
  /** The provider's values.yaml section, in the Go operator's shape. */
  section: Record<string, unknown>;
  locations: string[];
  /** Calls the simulator answered so far, and what kind they are. */
  calls(): Promise<{ total: number; kind: string }>;
  /** Entries of its catalogs, one string each, containing the image names. */
  catalog(): Promise<string[]>;
  process: ServiceProcess;
}

/** Reads a fake's stats endpoint (`tests/support/stats_server.ts`). */
export async function readStats(url: string): Promise<{ requests: number; catalog: string[] }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return await response.json();
}
