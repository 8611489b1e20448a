/**
 * `deno task demo` end to end, as CI and a first-time user run it (no terminal: plain lines):
 * small images, every platform whose simulator sets up (vcsim is cached by tools/vcsim.sh), and
 * the summary and exit code checked. A second run with a deadline too short to finish must exit
 * non-zero with the reason and leave no process behind.
 */
import assert from "node:assert/strict";
import { s3rverUnavailable } from "./support/s3rver.ts";
import { vcsimUnavailable } from "./support/vcsim.ts";

const MAIN = new URL("../demo/main.ts", import.meta.url).pathname;
const unavailable = await s3rverUnavailable();
const vsphere = (await vcsimUnavailable()) === undefined;

async function demo(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "demo-test-" });
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, `--dir=${dir}`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr), dir };
}

/** Processes still running whose command line names `dir` (each service's log or data lives there). */
async function processesUsing(dir: string): Promise<string[]> {
  const out = await new Deno.Command("ps", { args: ["-eo", "pid,args"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.includes(dir));
}

/** The value column of a summary row (` label │ value`). */
function summaryRow(stdout: string, label: string): string {
  const line = stdout.split("\n").find((l) =>
    l.trimStart().startsWith(`${label} `) && l.includes("│")
  );
  assert.ok(line, `summary row "${label}" in:\n${stdout}`);
  return line.split("│")[1].trim();
}

Deno.test({
  name: "the demo distributes every image, collects a deleted Release's image and exits 0",
  ignore: unavailable !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const providers = vsphere ? "proxmox,vcd,vsphere" : "proxmox,vcd";
    const run = await demo(["--image-size=256KiB", `--providers=${providers}`, "--timeout=240s"]);
    const context = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    assert.equal(run.code, 0, context);
    assert.match(run.stdout, /✓ every NodeImage Available in every location/, context);
    const collected = vsphere ? "capv" : "capvcd";
    assert.match(run.stdout, new RegExp(`✓ ${collected}-flatcar-\\S+ deleted from `), context);
    // Plain lines (no terminal): no cursor movement.
    assert.ok(!run.stdout.includes("\x1b["), "no escape sequences");

    assert.equal(
      summaryRow(run.stdout, "images"),
      vsphere ? "3 NodeImages for 4 Releases" : "2 NodeImages for 3 Releases",
    );
    const pairs = vsphere ? 5 : 3; // proxmox 2 locations, vcd 1, vsphere 2
    assert.equal(summaryRow(run.stdout, "locations"), `${pairs} image × location pairs Available`);
    // Each transfer moved one image of about 256 KiB (an OVA's tar overhead aside).
    const moved = Number(/\((\d+) B\)$/.exec(summaryRow(run.stdout, "bytes moved"))?.[1]);
    assert.ok(
      moved >= pairs * 240 * 1024 && moved <= pairs * 270 * 1024,
      `bytes moved: ${summaryRow(run.stdout, "bytes moved")}`,
    );
    const api = /^(\d+) to the fake API server \((.*)\)$/.exec(
      summaryRow(run.stdout, "API requests"),
    );
    assert.ok(
      api && Number(api[1]) > 0 && /PATCH \d+/.test(api[2]),
      summaryRow(run.stdout, "API requests"),
    );
    const calls = summaryRow(run.stdout, "platform calls");
    for (const platform of providers.split(",")) {
      const count = new RegExp(`${platform} (\\d+) `).exec(calls);
      assert.ok(count && Number(count[1]) > 0, `${platform} calls counted: ${calls}`);
    }
    assert.deepEqual(await processesUsing(run.dir), [], "every service stopped");
    await Deno.remove(run.dir, { recursive: true });
  },
});

Deno.test({
  name: "the demo exits non-zero with the reason when its deadline passes, and stops everything",
  ignore: unavailable !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const run = await demo(["--image-size=64KiB", "--providers=proxmox", "--timeout=4s"]);
    assert.equal(run.code, 1, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
    assert.match(run.stderr, /demo failed: the deadline \(--timeout 4s\) passed/);
    assert.deepEqual(await processesUsing(run.dir), [], "every service stopped");
    await Deno.remove(run.dir, { recursive: true });
  },
});
