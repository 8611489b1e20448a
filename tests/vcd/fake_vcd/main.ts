/**
 * The fake VCD as its own process (the bench and `deno task demo` start it):
 *
 *   deno run --allow-all tests/vcd/fake_vcd/main.ts [--port N] [--org NAME] [--user NAME]
 *     [--password PW] [--vdc NAME] [--catalog NAME] [--api-token TOKEN]
 *     [--tls-cert FILE --tls-key FILE]
 *
 * Prints one line with `ready`, the URL and a stats URL (JSON: requests by method and first path
 * segments, the catalog's templates), a line per finished upload (name, hardware
 * version, SHA-256 of each file), and serves until SIGINT/SIGTERM.
 */
import { parseArgs } from "node:util";
import { FakeVcd } from "./server.ts";
import { RESOLVED } from "./state.ts";
import { countBy, serveStats } from "../../support/stats_server.ts";

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string", default: "0" },
      org: { type: "string", default: "demo-org" },
      user: { type: "string", default: "operator" },
      password: { type: "string", default: "operator-password" },
      vdc: { type: "string", default: "vdc1" },
      catalog: { type: "string", default: "images" },
      "api-token": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
    },
    strict: true,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Cannot listen on --port "${values.port}": expected 0-65535`);
  }
  if (Boolean(values["tls-cert"]) !== Boolean(values["tls-key"])) {
    throw new Error("Give both --tls-cert and --tls-key, or neither");
  }
  const tls = values["tls-cert"]
    ? {
      cert: await Deno.readTextFile(values["tls-cert"]),
      key: await Deno.readTextFile(values["tls-key"]!),
    }
    : undefined;
  const fake = await FakeVcd.start({
    port,
    tls,
    orgs: [{
      name: values.org!,
      users: [{ name: values.user!, password: values.password! }],
      apiTokens: values["api-token"] ? [{ user: values.user!, token: values["api-token"] }] : [],
      vdcs: [{ name: values.vdc!, profiles: [{ name: "default", isDefault: true }] }],
      catalogs: [{ name: values.catalog! }],
    }],
  });
  const reported = new Set<string>();
  const timer = setInterval(() => {
    for (const template of fake.state.templates.values()) {
      if (template.status !== RESOLVED || reported.has(template.id)) continue;
      reported.add(template.id);
      const files = template.files.map((f) => `${f.name}=${f.sha256 ?? "-"}`).join(" ");
      console.log(`fake-vcd resolved ${template.name} ${template.hardware.join(",")} ${files}`);
    }
  }, 200);
  const stats = serveStats(() => ({
    requests: fake.requests.length,
    byRoute: countBy(fake.requests, (r) => `${r.method} ${routeOf(r.path)}`),
    catalog: [...fake.state.templates.values()].map((t) => `${t.name} ${t.status}`).sort(),
  }));
  console.log(
    `fake-vcd ready at ${fake.url} org=${values.org} catalog=${values.catalog} stats=${stats.url}`,
  );
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  Deno.addSignalListener("SIGINT", () => resolve("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => resolve("SIGTERM"));
  const signal = await promise;
  clearInterval(timer);
  await stats.close();
  await fake.close();
  console.log(`fake-vcd stopped (${signal})`);
}

/** `/api/vAppTemplate/<id>/x` → `/api/vAppTemplate/x`: ids left out so calls group by kind. */
function routeOf(path: string): string {
  return path.split("?")[0].split("/").filter((part) => !/[0-9a-f]{8}-/.test(part)).join("/");
}

if (import.meta.main) {
  try {
    await main(Deno.args);
    Deno.exit(0);
  } catch (error) {
    console.error(`fake-vcd: ${(error as Error).message}`);
    Deno.exit(1);
  }
}
