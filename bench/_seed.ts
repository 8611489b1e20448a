/**
 * Creates objects on a fake API server from a separate process, so the benchmark process's
 * memory figures are not inflated by the seeding.
 *
 * Usage: deno run -A bench/_seed.ts <kubeconfig> <widgets|…> <count>
 */
import { KubeConfig } from "@kubernetes/client-node";
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import { ResourceClient } from "../lib/kube/client.ts";
import { NAMESPACES } from "../lib/kube/resource.ts";
import { KubeConfigTransport } from "../lib/kube/transport.ts";
import { forEachLimited } from "./_support.ts";
import { WIDGETS } from "./_widgets.ts";

const [kubeconfig, namespace, countText] = Deno.args;
const config = new KubeConfig();
config.loadFromString(await Deno.readTextFile(kubeconfig));
const transport = new KubeConfigTransport(config);
try {
  await new ResourceClient(transport, NAMESPACES).create({ metadata: { name: namespace } });
} catch (error) {
  if (!(error instanceof AlreadyExistsError)) throw error;
}
const widgets = new ResourceClient(transport, WIDGETS);
const names = Array.from({ length: Number(countText) }, (_, i) => `widget-${i}`);
await forEachLimited(names, 32, async (name) => {
  await widgets.create({
    apiVersion: "bench.example.com/v1",
    kind: "Widget",
    metadata: { name, namespace },
    spec: { size: 0 },
  });
});
transport.close();
