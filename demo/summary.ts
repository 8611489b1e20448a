/** The table the demo ends with. Pure: figures in, lines out. */
import { formatBytes } from "./progress.ts";

export interface Summary {
  /** NodeImages distributed, and how many Releases they served. */
  images: number;
  releases: number;
  /** Image × location pairs that became Available. */
  locations: number;
  bytesMoved: number;
  totalMs: number;
  availableMs: number;
  /** From the Release deletion until its image had left every catalog. */
  collectedMs?: number;
  /** The operator's requests to the API server by method (`rest_client_requests_total`). */
  apiRequests: ReadonlyMap<string, number>;
  apiServer: "fake" | "real";
  platformCalls: readonly { platform: string; total: number; kind: string }[];
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function formatSummary(s: Summary): string[] {
  const apiTotal = [...s.apiRequests.values()].reduce((a, b) => a + b, 0);
  const byMethod = [...s.apiRequests].sort(([a], [b]) => a.localeCompare(b))
    .map(([method, n]) => `${method} ${n}`).join(", ");
  const platformTotal = s.platformCalls.reduce((a, c) => a + c.total, 0);
  const rows: [string, string][] = [
    ["images", `${s.images} NodeImages for ${s.releases} Releases`],
    ["locations", `${s.locations} image × location pairs Available`],
    ["bytes moved", `${formatBytes(s.bytesMoved)} (${s.bytesMoved} B)`],
    [
      "time",
      `${seconds(s.totalMs)} in all; every image Available after ${seconds(s.availableMs)}` +
      (s.collectedMs !== undefined ? `; deleted image collected in ${seconds(s.collectedMs)}` : ""),
    ],
    ["API requests", `${apiTotal} to the ${s.apiServer} API server (${byMethod || "none"})`],
    [
      "platform calls",
      `${platformTotal} (` +
      s.platformCalls.map((c) => `${c.platform} ${c.total} ${c.kind}`).join(", ") + ")",
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const line = "─".repeat(width + 2) + "┼" + "─".repeat(60);
  return [
    line.replace("┼", "┬"),
    ...rows.map(([k, v]) => ` ${k.padEnd(width)} │ ${v}`),
    line.replace("┼", "┴"),
  ];
}
