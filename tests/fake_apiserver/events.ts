/**
 * events.k8s.io/v1 ⇄ core v1 Event conversion. A real server stores both APIs' events in one
 * place; an Event written through one API is visible through the other with renamed fields.
 * Only the renamed fields below differ; everything else is carried over as is.
 */
import type { KubeObject } from "../../lib/kube/resource.ts";

/** [events.k8s.io/v1 field, core v1 field] */
const RENAMES: [string, string][] = [
  ["regarding", "involvedObject"],
  ["note", "message"],
  ["deprecatedSource", "source"],
  ["deprecatedFirstTimestamp", "firstTimestamp"],
  ["deprecatedLastTimestamp", "lastTimestamp"],
  ["deprecatedCount", "count"],
  ["reportingController", "reportingComponent"],
];

function rename(object: KubeObject, pairs: [string, string][]): KubeObject {
  const out: KubeObject = { ...object };
  for (const [from, to] of pairs) {
    if (from in out) {
      out[to] = out[from];
      delete out[from];
    }
  }
  return out;
}

/** events.k8s.io/v1 object → stored core v1 shape. */
export function eventFromEventsV1(object: KubeObject): KubeObject {
  return { ...rename(object, RENAMES), apiVersion: "v1", kind: "Event" };
}

/** Stored core v1 shape → events.k8s.io/v1 object. */
export function eventToEventsV1(object: KubeObject): KubeObject {
  const out = rename(object, RENAMES.map(([a, b]) => [b, a]));
  return { ...out, apiVersion: "events.k8s.io/v1", kind: "Event" };
}
