/**
 * The real `kubectl` (the one on PATH) against the fake and the real API server, with a test
 * CRD: `create namespace` (sent as protobuf), get with printer columns and short name, apply
 * (create, then change), merge and JSON patches, delete, and `get -w` seeing a change live.
 * Ignored, saying why, when no working kubectl is on PATH (CI installs Debian's
 * `kubernetes-client`).
 */
import assert from "node:assert/strict";
import { WIDGET_CRD, WIDGETS } from "./fake_apiserver/_testing.ts";
import { acquireServer, serverTestDefinition } from "./support/api_servers.ts";

function kubectlVersion(): string | undefined {
  try {
    const out = new Deno.Command("kubectl", { args: ["version", "--client"], stderr: "null" })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).split("\n")[0] : undefined;
  } catch {
    return undefined;
  }
}

const version = kubectlVersion();
if (!version) {
  console.warn(
    "kubectl_test: ignored because no working `kubectl` is on PATH (install Debian's kubernetes-client)",
  );
}

async function kubectl(env: Record<string, string>, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("kubectl", {
    args: ["--request-timeout=20s", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `kubectl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}${stdout}`,
    );
  }
  return stdout;
}

const WIDGET_YAML = (size: number) =>
  `apiVersion: example.com/v1
kind: Widget
metadata:
  name: w1
  namespace: default
spec:
  size: ${size}
`;

for (const kind of ["fake", "real"] as const) {
  const definition = serverTestDefinition(
    kind,
    "kubectl creates a namespace, and gets, applies, patches, watches and deletes custom resources",
    kubectlScenario,
  );
  Deno.test({ ...definition, ignore: definition.ignore || !version });
}

async function kubectlScenario(t: Deno.TestContext): Promise<void> {
  const server = await acquireServer({ extraCrds: [WIDGET_CRD] });
  const call = async (method: string, path: string, body?: unknown, headers = {}) =>
    await server.request(method, path, { body, headers });
  {
    const dir = await Deno.makeTempDir({ prefix: "kubectl-test-" });
    try {
      const kubeconfig = `${dir}/kubeconfig`;
      await server.writeKubeconfig(kubeconfig, { namespace: "default" });
      const env = { KUBECONFIG: kubeconfig, HOME: dir };
      const run = (...args: string[]) => kubectl(env, `--cache-dir=${dir}/cache`, ...args);
      const manifest = `${dir}/widget.yaml`;

      await t.step("create namespace (a protobuf body) creates an Active namespace", async () => {
        assert.match(
          await run("create", "namespace", "kubectl-made"),
          /namespace\/kubectl-made created/,
        );
        const stored = (await call("GET", "/api/v1/namespaces/kubectl-made")).body;
        assert.equal(stored.status.phase, "Active");
        assert.deepEqual(stored.spec.finalizers, ["kubernetes"]);
        assert.equal(stored.metadata.labels["kubernetes.io/metadata.name"], "kubectl-made");
        await assert.rejects(run("create", "namespace", "kubectl-made"), /AlreadyExists/);
      });

      await t.step("apply -f creates the object", async () => {
        await Deno.writeTextFile(manifest, WIDGET_YAML(3));
        assert.match(await run("apply", "-f", manifest), /widget\.example\.com\/w1 created/);
      });

      await t.step("get by short name prints the printer columns", async () => {
        const out = await run("get", "wd");
        const [header, row] = out.trim().split("\n");
        assert.deepEqual(header.split(/\s+/), ["NAME", "SIZE", "READY", "AGE"]);
        assert.match(row, /^w1\s+3\s+/);
        assert.equal(await run("get", "widget", "w1", "-o", "jsonpath={.spec.color}"), "red");
      });

      await t.step("apply -f of a changed manifest updates the object", async () => {
        await Deno.writeTextFile(manifest, WIDGET_YAML(5));
        assert.match(await run("apply", "-f", manifest), /widget\.example\.com\/w1 configured/);
        const stored = (await call("GET", `${WIDGETS}/w1`)).body;
        assert.equal(stored.spec.size, 5);
        assert.equal(stored.metadata.generation, 2);
      });

      await t.step("patch --type=merge", async () => {
        await run("patch", "wd", "w1", "--type=merge", "-p", '{"spec":{"color":"blue"}}');
        assert.equal((await call("GET", `${WIDGETS}/w1`)).body.spec.color, "blue");
      });

      await t.step("patch --type=json", async () => {
        await run(
          "patch",
          "wd",
          "w1",
          "--type=json",
          "-p",
          '[{"op":"test","path":"/spec/size","value":5},{"op":"replace","path":"/spec/size","value":7}]',
        );
        assert.equal((await call("GET", `${WIDGETS}/w1`)).body.spec.size, 7);
      });

      await t.step("get -w prints a change as it happens", async () => {
        const child = new Deno.Command("kubectl", {
          args: ["--request-timeout=0", `--cache-dir=${dir}/cache`, "get", "wd", "-w"],
          env,
          stdout: "piped",
          stderr: "null",
        }).spawn();
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let seen = "";
        const waitFor = async (pattern: RegExp) => {
          while (!pattern.test(seen)) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`kubectl get -w ended; output so far:\n${seen}`);
            seen += value;
          }
        };
        try {
          await waitFor(/^w1\s+7\s+/m);
          // kubectl watches from its list's resourceVersion: this change reaches it however
          // late its watch request arrives.
          await call("PATCH", `${WIDGETS}/w1`, { spec: { size: 11 } }, {
            "content-type": "application/merge-patch+json",
          });
          await waitFor(/^w1\s+11\s+/m);
        } finally {
          child.kill("SIGTERM");
          await reader.cancel().catch(() => {});
          await child.status;
        }
      });

      await t.step("delete removes the object", async () => {
        assert.match(await run("delete", "wd", "w1"), /widget\.example\.com "w1" deleted/);
        assert.equal((await call("GET", `${WIDGETS}/w1`)).status, 404);
        assert.match(await run("get", "wd", "-o", "name"), /^$/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
      await server.release();
    }
  }
}
