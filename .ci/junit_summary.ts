/**
 * Prints the plain closing line CI reads, `N passed, N failed, N skipped`, from deno's JUnit
 * report. Only leaf test cases count: a test with steps is represented by its steps, so one
 * failing step is one failure, not two.
 *
 * Usage: deno run --allow-read .ci/junit_summary.ts <junit.xml>
 */
const path = Deno.args[0];
const xml = await Deno.readTextFile(path);

interface Case {
  name: string;
  file: string;
  outcome: "passed" | "failed" | "skipped";
}

const cases: Case[] = [];
const casePattern =
  /<testcase name="([^"]*)" classname="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
for (const match of xml.matchAll(casePattern)) {
  const body = match[4] ?? "";
  cases.push({
    name: unescape(match[1]),
    file: match[2],
    outcome: /<failure|<error/.test(body) ? "failed" : /<skipped/.test(body) ? "skipped" : "passed",
  });
}

const names = new Set(cases.map((c) => `${c.file}\0${c.name}`));
const isParent = (c: Case) => [...names].some((n) => n.startsWith(`${c.file}\0${c.name} > `));
const leaves = cases.filter((c) => !isParent(c));

const count = (outcome: Case["outcome"]) => leaves.filter((c) => c.outcome === outcome).length;
for (const c of leaves.filter((c) => c.outcome === "failed")) {
  console.log(`failed: ${c.file} :: ${c.name}`);
}
console.log(`${count("passed")} passed, ${count("failed")} failed, ${count("skipped")} skipped`);

function unescape(s: string): string {
  return s.replaceAll("&gt;", ">").replaceAll("&lt;", "<").replaceAll("&quot;", '"')
    .replaceAll("&apos;", "'").replaceAll("&amp;", "&");
}
