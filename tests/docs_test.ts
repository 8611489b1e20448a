/**
 * The user documentation keeps up with the code: every flag `main.ts` accepts is in
 * docs/configuration.md, and every metric registered and every Event reason recorded is in
 * docs/reference.md. The lists are read from the code (the flag parser's `--help`, the metric
 * registrations and the Event reason tables in the sources), never written out here.
 */
import assert from "node:assert/strict";
import { main } from "../main.ts";

const ROOT = new URL("../", import.meta.url);

async function doc(name: string): Promise<string> {
  return await Deno.readTextFile(new URL(`docs/${name}`, ROOT));
}

/** Every `.ts` file under `dir` (relative to the repository root), with its text. */
async function sources(dir: string): Promise<{ path: string; text: string }[]> {
  const found: { path: string; text: string }[] = [];
  const walk = async (url: URL, path: string) => {
    for await (const entry of Deno.readDir(url)) {
      const child = new URL(entry.name + (entry.isDirectory ? "/" : ""), url);
      const childPath = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(child, childPath);
      else if (entry.name.endsWith(".ts")) {
        found.push({ path: childPath, text: await Deno.readTextFile(child) });
      }
    }
  };
  await walk(new URL(`${dir}/`, ROOT), dir);
  return found;
}

async function codeSources() {
  return [...await sources("lib"), ...await sources("providers")];
}

/** Whether `text` names `token` on its own (not as part of a longer name). */
function mentions(text: string, token: string): boolean {
  const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^A-Za-z0-9_-])${escaped}($|[^A-Za-z0-9_-])`).test(text);
}

/** The flags `main.ts --help` lists. */
async function flagsFromHelp(): Promise<string[]> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    assert.equal(await main(["--help"]), 0);
  } finally {
    console.log = log;
  }
  return [...lines.join("\n").matchAll(/^ {2}(--[a-z0-9-]+)/gm)].map((m) => m[1]);
}

/** Names given to prom-client collectors in the sources (`name: "…"`, or a reuse lookup). */
async function metricsFromCode(): Promise<string[]> {
  const names = new Set<string>();
  for (const { text } of await codeSources()) {
    if (!text.includes('from "prom-client"')) continue;
    for (const m of text.matchAll(/(?:\bname:\s*|\bregistry,\s*)"([a-zA-Z_:][a-zA-Z0-9_:]*)"/g)) {
      names.add(m[1]);
    }
  }
  return [...names].sort();
}

/**
 * Event reasons the code records: the values of each `…EventReason` table that the sources
 * use, plus the skip reasons the release plan hands to the recorder (`SkipReason`).
 */
async function eventReasonsFromCode(): Promise<string[]> {
  const files = await codeSources();
  const tables = new Map<string, Map<string, string>>();
  for (const { text } of files) {
    for (const m of text.matchAll(/export const (\w+EventReason) = \{([\s\S]*?)\} as const/g)) {
      const entries = [...m[2].matchAll(/^\s*(\w+):\s*"([^"]+)"/gm)].map((e) => [e[1], e[2]]);
      tables.set(m[1], new Map(entries as [string, string][]));
    }
  }
  const reasons = new Set<string>();
  for (const { path, text } of files) {
    for (const m of text.matchAll(/\b(\w+EventReason)\.(\w+)\b/g)) {
      const value = tables.get(m[1])?.get(m[2]);
      assert.ok(value, `${path}: ${m[1]}.${m[2]} is not in a reason table`);
      reasons.add(value);
    }
    const skip = text.match(/export type SkipReason =([^;]+);/);
    if (skip) { for (const m of skip[1].matchAll(/"([^"]+)"/g)) reasons.add(m[1]); }
  }
  return [...reasons].sort();
}

Deno.test("every command-line flag is documented in docs/configuration.md", async () => {
  const flags = await flagsFromHelp();
  assert.ok(flags.length > 30, `expected the full flag list, got ${flags.length}`);
  assert.ok(flags.includes("--namespace") && flags.includes("--enable-proxmox"));
  const text = await doc("configuration.md");
  const missing = flags.filter((flag) => !mentions(text, flag));
  assert.deepEqual(missing, [], "flags missing from docs/configuration.md");
});

Deno.test("every registered metric is documented in docs/reference.md", async () => {
  const metrics = await metricsFromCode();
  assert.ok(metrics.includes("controller_runtime_reconcile_total"), metrics.join(", "));
  assert.ok(metrics.includes("workqueue_depth"), metrics.join(", "));
  assert.ok(metrics.length >= 15, metrics.join(", "));
  const text = await doc("reference.md");
  const missing = metrics.filter((metric) => !mentions(text, metric));
  assert.deepEqual(missing, [], "metrics missing from docs/reference.md");
});

Deno.test("every Event reason the code records is documented in docs/reference.md", async () => {
  const reasons = await eventReasonsFromCode();
  assert.ok(reasons.includes("TransferFailed") && reasons.includes("ReleaseAdded"));
  assert.ok(reasons.includes("NotANodeImageRelease"), "skip reasons are Event reasons too");
  const text = await doc("reference.md");
  const missing = reasons.filter((reason) => !text.includes(`\`${reason}\``));
  assert.deepEqual(missing, [], "Event reasons missing from docs/reference.md");
});

Deno.test("the README links every user document", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const docs = [...Deno.readDirSync(new URL("docs/", ROOT))]
    .filter((e) => e.isFile && e.name.endsWith(".md")).map((e) => e.name);
  assert.ok(docs.length >= 6, docs.join(", "));
  const missing = docs.filter((name) => !readme.includes(`(docs/${name})`));
  assert.deepEqual(missing, [], "docs not linked from README.md");
});
