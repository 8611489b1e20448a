/**
 * `deno task fake-cluster [--port N] [--kubeconfig PATH] [--crds DIR]`: starts the fake API
 * server, writes a kubeconfig (default `./.tmp/fake-cluster.kubeconfig`), prints one line
 * containing `ready`, and serves until SIGINT/SIGTERM.
 */
import { parseArgs } from "node:util";
import { FakeApiServer } from "./mod.ts";

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "0" },
      kubeconfig: { type: "string", default: "./.tmp/fake-cluster.kubeconfig" },
      crds: { type: "string" },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Cannot listen on --port "${values.port}": expected 0-65535`);
  }
  const server = await FakeApiServer.start({ port, crdDir: values.crds });
  await server.writeKubeconfig(values.kubeconfig!);
  console.log(`fake-cluster ready at ${server.url} kubeconfig=${values.kubeconfig}`);
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));
  const signal = await promise;
  await server.close();
  console.log(`fake-cluster stopped (${signal})`);
}

if (import.meta.main) {
  try {
    await main(Deno.args);
    Deno.exit(0);
  } catch (error) {
    console.error(`fake-cluster: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
