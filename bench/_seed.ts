/**
 * Creates objects on a fake API server from a separate process, so the benchmark process's
 * memory figures are not inflated by the seeding.
 *
 * Usage: deno run -A bench/_seed.ts <kubeconfig> <objects.json>
 * where the JSON is `{ type: ResourceType; object: KubeObject }[]`, created in order with up to
 * 32 requests in flight (namespaces first if listed first).
 */
import { KubeConfig } from "@kubernetes/client-node";
import { ResourceClient } from "../lib/kube/client.ts";
import type { KubeObject, ResourceType } from "../lib/kube/resource.ts";
import { KubeConfigTransport } from "../lib/kube/transport.ts";
import { forEachLimited } from "./_support.ts";

const [kubeconfig, objectsFile] = Deno.args;
const config = new KubeConfig();
config.loadFromString(await Deno.readTextFile(kubeconfig));
const transport = new KubeConfigTransport(config);
const items: { type: ResourceType; object: KubeObject }[] = JSON.parse(
  await Deno.readTextFile(objectsFile),
);
// Cluster-wide prerequisites (namespaces) go first, one at a time.
const first = items.filter((item) => item.type.plural === "namespaces");
for (const item of first) await new ResourceClient(transport, item.type).create(item.object);
await forEachLimited(items.filter((item) => !first.includes(item)), 32, async (item) => {
  await new ResourceClient(transport, item.type).create(item.object);
});
transport.close();
