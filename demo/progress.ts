/**
 * Progress of every NodeImage in every location, from NodeImage status alone (what
 * `kubectl get nodeimages -o yaml` shows): one row per image and location with its state, bytes
 * and transfer rate. Pure: snapshots and times in, rows and text out.
 */

/** The part of a NodeImage the demo reads. */
export interface ObservedImage {
  metadata: { name?: string; deletionTimestamp?: string };
  status?: {
    state?: string;
    locations?: {
      name: string;
      state: string;
      message?: string;
      bytesDone?: number;
      bytesTotal?: number;
    }[];
  };
}

export interface ProgressRow {
  image: string;
  location: string;
  state: string;
  message?: string;
  bytesDone?: number;
  bytesTotal?: number;
  /** Bytes per second since the previous sample, while uploading. */
  rate?: number;
}

/** Rows from successive snapshots, with rates from the change in bytes between them. */
export class ProgressTracker {
  readonly #last = new Map<string, { bytes: number; atMs: number; rate?: number }>();
  /** Last `bytesTotal` seen per image and location (status drops it once a transfer ends). */
  readonly #totals = new Map<string, number>();
  /** Every image and location that ever reached Available, with its size when known. */
  readonly available = new Map<string, number | undefined>();

  observe(images: readonly ObservedImage[], nowMs: number): ProgressRow[] {
    const rows: ProgressRow[] = [];
    for (const image of images) {
      const name = image.metadata.name ?? "?";
      const locations = image.status?.locations ?? [];
      if (locations.length === 0) {
        rows.push({ image: name, location: "-", state: image.status?.state || "Pending" });
      }
      for (const location of locations) {
        const key = `${name} ${location.name}`;
        const row: ProgressRow = {
          image: name,
          location: location.name,
          state: location.state,
          message: location.message,
          bytesDone: location.bytesDone,
          bytesTotal: location.bytesTotal,
        };
        if (location.bytesTotal !== undefined) this.#totals.set(key, location.bytesTotal);
        if (location.state === "Available") {
          row.bytesTotal ??= this.#totals.get(key);
          if (row.bytesTotal !== undefined) row.bytesDone = row.bytesTotal;
          this.available.set(key, row.bytesTotal);
        }
        if (location.bytesDone !== undefined) {
          const before = this.#last.get(key);
          let rate = before?.rate;
          if (before && nowMs > before.atMs && location.bytesDone !== before.bytes) {
            rate = ((location.bytesDone - before.bytes) * 1000) / (nowMs - before.atMs);
          }
          this.#last.set(key, { bytes: location.bytesDone, atMs: nowMs, rate });
          if (location.state === "Uploading" && rate !== undefined && rate > 0) row.rate = rate;
        }
        rows.push(row);
      }
    }
    return rows.sort((a, b) =>
      a.image.localeCompare(b.image) || a.location.localeCompare(b.location)
    );
  }
}

/** `4.0 MiB`, `512 B`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * One line for a row, columns aligned to `imageWidth`:
 * `capv-flatcar-…  vc-a   Uploading   1.5 MiB/4.0 MiB  12.3 MiB/s`.
 */
export function formatRow(row: ProgressRow, imageWidth = 0): string {
  const bytes = row.bytesTotal !== undefined
    ? `${formatBytes(row.bytesDone ?? (row.state === "Available" ? row.bytesTotal : 0))}/${
      formatBytes(row.bytesTotal)
    }`
    : row.bytesDone !== undefined
    ? formatBytes(row.bytesDone)
    : "";
  const rate = row.rate !== undefined ? `${formatBytes(row.rate)}/s` : "";
  const detail = row.state === "Error" && row.message ? ` ${row.message}` : "";
  return [
    row.image.padEnd(imageWidth),
    row.location.padEnd(6),
    row.state.padEnd(12),
    bytes.padEnd(17),
    rate,
  ].join("  ").trimEnd() + detail;
}

/** What is still missing for "every expected image Available in every expected location". */
export function notAvailable(
  rows: readonly ProgressRow[],
  expected: ReadonlyMap<string, readonly string[]>,
): string[] {
  const missing: string[] = [];
  for (const [image, locations] of expected) {
    for (const location of locations) {
      const row = rows.find((r) => r.image === image && r.location === location);
      if (!row) missing.push(`${image} in ${location}: not reported yet`);
      else if (row.state !== "Available") {
        missing.push(
          `${image} in ${location}: ${row.state}${row.message ? ` (${row.message})` : ""}`,
        );
      }
    }
  }
  return missing;
}
