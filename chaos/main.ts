/**
 * `deno task chaos [case…] [--quick]`: runs the fault catalogue (all cases, or those named) and
 * prints each case's figures, then a Markdown table of the results for the README.
 * `--quick` uses the test-suite parameters where a case has them; `--set=name=value` overrides a
 * parameter (e.g. `--set=downMs=5000`). Exit code 1 when a case failed.
 */
import { CASES } from "./cases.ts";
import type { Figures } from "./_case.ts";

interface Outcome {
  name: string;
  ok: boolean;
  figures: Figures;
  error?: string;
}

function machine(): string {
  const cores = navigator.hardwareConcurrency;
  const load = Deno.loadavg().map((l) => l.toFixed(1)).join(" ");
  return `${Deno.build.os}/${Deno.build.arch}, ${cores} cores, load ${load}`;
}

function formatFigures(figures: Figures): string {
  return Object.entries(figures).map(([k, v]) => `${k} ${v}`).join(", ");
}

async function runCatalogue(args: string[]): Promise<number> {
  const quick = args.includes("--quick");
  // `--set name=value` overrides a parameter of every selected case that has it.
  const overrides: Record<string, number> = {};
  for (const arg of args.filter((a) => a.startsWith("--set="))) {
    const [name, value] = arg.slice("--set=".length).split("=");
    overrides[name] = Number(value);
  }
  const names = args.filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !CASES.some((c) => c.name === n));
  if (unknown.length) {
    console.error(
      `Unknown case(s): ${unknown.join(", ")}\nCases: ${CASES.map((c) => c.name).join(", ")}`,
    );
    return 2;
  }
  const selected = names.length ? CASES.filter((c) => names.includes(c.name)) : CASES;
  const outcomes: Outcome[] = [];
  for (const chaosCase of selected) {
    const params = { ...(quick && chaosCase.quick ? chaosCase.quick : chaosCase.defaults) };
    for (const [name, value] of Object.entries(overrides)) {
      if (name in params) params[name] = value;
    }
    console.log(`▶ ${chaosCase.name}: ${chaosCase.summary} ${JSON.stringify(params)}`);
    const started = performance.now();
    try {
      const figures = await chaosCase.run(params);
      figures["case time (s)"] = Math.round((performance.now() - started) / 100) / 10;
      outcomes.push({ name: chaosCase.name, ok: true, figures });
      console.log(`✔ ${chaosCase.name}: ${formatFigures(figures)}`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      outcomes.push({ name: chaosCase.name, ok: false, figures: {}, error: message });
      console.log(`✘ ${chaosCase.name}: ${message}`);
      if (error instanceof Error && error.stack) console.error(error.stack);
    }
  }
  const host = machine();
  console.log(`\n| case | result | figures | machine |\n|---|---|---|---|`);
  for (const o of outcomes) {
    const result = o.ok ? "pass" : `FAIL: ${o.error!.split("\n").slice(0, 2).join(" ")}`;
    console.log(`| ${o.name} | ${result} | ${formatFigures(o.figures)} | ${host} |`);
  }
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await runCatalogue(Deno.args));
}
