/**
 * The fake Proxmox VE API as its own process (`deno task demo` starts it):
 *
 *   deno run --allow-all tests/proxmox/fake_proxmox/main.ts [--nodes pve1,pve2]
 *     [--token-id ID --secret S] [--tls-cert FILE --tls-key FILE] [--task-ms N]
 *
 * Prints one line with `ready`, its `host:port` and a stats URL (JSON: requests by route, the
 * VMs it holds), and serves until SIGINT/SIGTERM.
 */
import { parseArgs } from "node:util";
import { DEFAULT_TOKEN, FakeProxmox } from "./server.ts";
import { countBy, serveStats } from "../../support/stats_server.ts";

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      nodes: { type: "string", default: "pve1" },
      "token-id": { type: "string", default: DEFAULT_TOKEN.tokenId },
      user: { type: "string", default: DEFAULT_TOKEN.user },
      secret: { type: "string", default: DEFAULT_TOKEN.secret },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "task-ms": { type: "string", default: "0" },
    },
    strict: true,
  });
  if (Boolean(values["tls-cert"]) !== Boolean(values["tls-key"])) {
    throw new Error("Give both --tls-cert and --tls-key, or neither");
  }
  const taskMs = Number(values["task-ms"]);
  if (!Number.isFinite(taskMs) || taskMs < 0) {
    throw new Error(`Cannot use --task-ms "${values["task-ms"]}": expected milliseconds`);
  }
  const tls = values["tls-cert"]
    ? {
      cert: await Deno.readTextFile(values["tls-cert"]),
      key: await Deno.readTextFile(values["tls-key"]!),
    }
    : undefined;
  const fake = await FakeProxmox.start({
    tls,
    nodes: values.nodes!.split(",").filter(Boolean),
    tokens: [{ user: values.user!, tokenId: values["token-id"]!, secret: values.secret! }],
    taskDurationMs: taskMs,
  });
  const stats = serveStats(() => ({
    requests: fake.requests.length,
    byRoute: countBy(fake.requests, (r) => `${r.method} ${r.route}`),
    catalog: [...fake.cluster.vms.values()].map((vm) =>
      `${vm.node}/${vm.config.name ?? "-"}${vm.config.template === "1" ? " template" : ""}`
    ).sort(),
  }));
  console.log(`fake-proxmox ready at ${fake.host} stats=${stats.url}`);
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));
  const signal = await promise;
  await stats.close();
  await fake.close();
  console.log(`fake-proxmox stopped (${signal})`);
}

if (import.meta.main) {
  try {
    await main(Deno.args);
    Deno.exit(0);
  } catch (error) {
    console.error(`fake-proxmox: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
