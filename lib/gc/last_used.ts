/**
 * The `last-used` annotation's timestamp: RFC3339 with second precision, as the Go operator
 * writes it (`time.Now().Format(time.RFC3339)`; containers run in UTC, so it ends in `Z`).
 * Both directions must stay compatible with values the Go operator already put on clusters.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;

/** `2025-01-01T00:00:00Z` for the given milliseconds since the epoch (fraction dropped). */
export function formatLastUsed(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * Milliseconds since the epoch, or `undefined` when `value` is not an RFC3339 time Go's
 * `time.Parse(time.RFC3339, …)` would accept (an offset instead of `Z` and a fraction are fine).
 */
export function parseLastUsed(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, , zone, zoneHour, zoneMinute] = match;
  // Go rejects out-of-range fields rather than normalising them (e.g. 13th month, 25th hour).
  if (
    Number(month) < 1 || Number(month) > 12 || Number(day) < 1 ||
    Number(day) > daysIn(Number(year), Number(month)) || Number(hour) > 23 ||
    Number(minute) > 59 || Number(second) > 59 ||
    (zone !== "Z" && (Number(zoneHour) > 23 || Number(zoneMinute) > 59))
  ) {
    return undefined;
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
