import type { ResourceType } from "../lib/kube/resource.ts";

/** The benchmark's custom resource (`bench/crds/widgets.yaml`). */
export const WIDGETS: ResourceType = {
  group: "bench.example.com",
  version: "v1",
  plural: "widgets",
  kind: "Widget",
  namespaced: true,
};
