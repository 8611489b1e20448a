/**
 * Converting between the stored form of an object and what one API version shows.
 * CRs behave like a CRD with conversion strategy `None`: only apiVersion changes.
 */
import type { KubeObject } from "../../lib/kube/resource.ts";
import { eventFromEventsV1, eventToEventsV1 } from "./events.ts";
import type { ResourceDef } from "./resources.ts";

export function apiVersionFor(def: ResourceDef, version: string): string {
  return def.group ? `${def.group}/${version}` : version;
}

/** The object as the API version `version` of `def` presents it (a fresh top-level object). */
export function encode(def: ResourceDef, version: string, stored: KubeObject): KubeObject {
  const shaped = def.group === "events.k8s.io" ? eventToEventsV1(stored) : stored;
  const { apiVersion: _a, kind: _k, ...rest } = shaped;
  return { apiVersion: apiVersionFor(def, version), kind: def.kind, ...rest } as KubeObject;
}

/** A request body of `def` in storage form (events.k8s.io events become core events). */
export function decode(def: ResourceDef, version: string, body: KubeObject): KubeObject {
  if (def.group === "events.k8s.io") return eventFromEventsV1(body);
  return { ...body, apiVersion: apiVersionFor(def, version), kind: def.kind };
}

/** RFC 3339 with second precision, like metav1.Time. */
export function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}
