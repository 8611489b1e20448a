/**
 * `deno task real-cluster [--kubeconfig PATH] [--crds DIR] [--dir DIR]`: the real counterpart
 * of `deno task fake-cluster`. Builds etcd and kube-apiserver on first use
 * (tools/kube-apiserver.sh), starts them on free loopback ports with RBAC, installs the CRDs
 * (default crds/) and the operator's deploy/ RBAC, writes an admin kubeconfig (default
 * `./.tmp/real-cluster.kubeconfig`) and one for the operator's ServiceAccount next to it
 * (`….operator.kubeconfig`), prints one line containing `ready`, and serves until SIGINT/SIGTERM.
 */
import { parseArgs } from "node:util";
import { installOperatorIdentity } from "./rbac.ts";
import { RealApiServer } from "./server.ts";

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: "string", default: "./.tmp/real-cluster.kubeconfig" },
      crds: { type: "string", default: new URL("../../crds", import.meta.url).pathname },
      dir: { type: "string" },
    },
    strict: true,
  });
  const kubeconfig = values.kubeconfig!;
  const operatorKubeconfig = kubeconfig.replace(/(\.kubeconfig|\.ya?ml)?$/, ".operator$&") ||
    `${kubeconfig}.operator`;
  const started = Date.now();
  const server = await RealApiServer.start({ crdDir: values.crds, dir: values.dir });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    await server.close();
    console.log(`real-cluster stopped (${signal})`);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
  try {
    const operator = await installOperatorIdentity(server);
    await server.writeKubeconfig(kubeconfig, { namespace: operator.namespace });
    await server.writeKubeconfig(operatorKubeconfig, {
      namespace: operator.namespace,
      token: operator.token,
    });
    console.log(
      `real-cluster ready at ${server.url} in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
        `kubeconfig=${kubeconfig} (admin) operator-kubeconfig=${operatorKubeconfig} ` +
        `(${operator.userName}) data=${server.dir}`,
    );
  } catch (error) {
    await server.close();
    throw error;
  }
  // Serve until a signal arrives (the listeners above keep the process alive).
  await new Promise(() => {});
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (error) {
    console.error(`real-cluster: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
