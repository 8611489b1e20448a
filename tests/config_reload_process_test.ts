/**
 * A configuration reload that fails is visible beyond the log: `/readyz` names the file and the
 * error (the probe still passes: the last good configuration keeps serving) and `/metrics`
 * counts the failures, until a good reload clears it. The operator runs as a child process
 * against the fake API server, as Kubernetes would run it.
 */
import assert from "node:assert/strict";
import { FakeApiServer } from "./fake_apiserver/mod.ts";
import { freePort } from "./support/free_port.ts";
import { eventually } from "./support/until.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CRDS = new URL("../crds", import.meta.url).pathname;

const GOOD = `s3: {bucket: node-images, region: us-west-2}
imageRetentionPeriod: 24h
`;

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

function metric(body: string, name: string): number | undefined {
  const line = body.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

Deno.test("a failed configuration reload shows in /readyz and /metrics while the last good one serves", async () => {
  const server = await FakeApiServer.start({ crdDir: CRDS });
  const dir = await Deno.makeTempDir();
  const values = `${dir}/values.yaml`;
  await Deno.writeTextFile(values, GOOD);
  await server.writeKubeconfig(`${dir}/kubeconfig`);
  const health = freePort();
  const metrics = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      MAIN,
      `--kubeconfig=${dir}/kubeconfig`,
      `--config=${values}`,
      `--health-probe-bind-address=127.0.0.1:${health}`,
      `--metrics-bind-address=127.0.0.1:${metrics}`,
      "--metrics-secure=false",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  try {
    await eventually("/readyz to pass", async () => {
      const { status } = await get(`http://127.0.0.1:${health}/readyz`);
      return status === 200 ? true : undefined;
    });
    const before = (await get(`http://127.0.0.1:${metrics}/metrics`)).body;
    assert.equal(metric(before, "config_reload_failures_total"), 0);
    assert.ok(metric(before, "config_last_reload_success_timestamp_seconds")! > 0);

    await Deno.writeTextFile(values, "s3: [not, a, mapping\n");
    const report = await eventually("/readyz to name the failed reload", async () => {
      const { status, body } = await get(`http://127.0.0.1:${health}/readyz`);
      return body.includes("config") && body.includes("values.yaml") ? { status, body } : undefined;
    });
    assert.equal(report.status, 200, "the last good configuration keeps serving");
    assert.match(report.body, /\[\+\]config ok: .*values\.yaml.*YAML syntax error/);
    const failed = await eventually("the failure to be counted", async () => {
      const { body } = await get(`http://127.0.0.1:${metrics}/metrics`);
      return metric(body, "config_reload_failures_total")! >= 1 ? body : undefined;
    });
    assert.equal(
      metric(failed, "config_last_reload_success_timestamp_seconds"),
      metric(before, "config_last_reload_success_timestamp_seconds"),
    );

    await Deno.writeTextFile(values, GOOD.replace("24h", "48h"));
    await eventually("/readyz to be quiet again", async () => {
      const { status, body } = await get(`http://127.0.0.1:${health}/readyz`);
      return status === 200 && body === "ok" ? true : undefined;
    });
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  assert.equal(status.code, 0, await stderr);
  await server.close();
  await Deno.remove(dir, { recursive: true });
});
