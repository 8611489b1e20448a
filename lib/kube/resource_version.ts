/**
 * Ordering resourceVersions, as far as that can be done.
 *
 * Kubernetes promises only that a resourceVersion is an opaque string: clients may compare two
 * for equality, and must not order them. Every API server backed by etcd (kube-apiserver and
 * the aggregated servers built on it) hands out etcd's revision, a decimal integer that grows
 * with every write in the cluster, so ordering two decimal strings numerically is right there.
 * We use that order only as a heuristic with a safe fallback:
 * - in the store, to drop an event older than the object held (otherwise the newer is kept);
 * - in the watcher, to notice that the server is *behind* us (a list or an event with a
 *   resourceVersion below the last one seen: the server restarted with its state reset, or
 *   etcd was restored from a backup) and relist.
 * When either value is not a decimal integer the order is unknown (`undefined`) and callers do
 * what the API promises without ordering: treat a different value as newer, never conclude
 * that the server went back. The periodic relist (the sync period) covers that case.
 */

/** -1, 0 or 1 as `a` is older than, equal to or newer than `b`; undefined when unknown. */
export function compareResourceVersions(
  a: string | undefined,
  b: string | undefined,
): number | undefined {
  if (a === undefined || b === undefined) return undefined;
  if (a === b) return 0;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) < BigInt(b) ? -1 : 1;
  return undefined;
}
