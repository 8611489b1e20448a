/**
 * The container's scoped Deno permissions, proved with the real process: the ENTRYPOINT's flags
 * are read from the Containerfile, and `main.ts` runs with exactly those flags against the fake
 * API server (HTTPS, a bearer token), the fake Proxmox and s3rver until a NodeImage is
 * Available, with its secure metrics scraped. A probe script then runs with the same flags and
 * shows what they refuse: reading outside the allowed paths, writing anywhere, spawning a
 * process, and (ignored rather than refused) environment variables beyond the allowed list.
 *
 * Path remapping, the one difference from the image: every absolute path in the flags becomes
 * `<temp dir><path>` (so `/etc/image-distribution-operator` is `<tmp>/etc/image-distribution-
 * operator`), except `/app`, which is this checkout, and `/deno-dir`, which is this machine's
 * Deno cache. The test puts the operator's files at the remapped paths, the service account's
 * `token`, `ca.crt` and `namespace` included (`--service-account-dir` names the remapped
 * directory), and sets `KUBERNETES_SERVICE_HOST`/`PORT` to the fake API server as the kubelet
 * would: no kubeconfig exists, so the operator takes the in-cluster path it takes in a pod.
 */
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { ResourceClient } from "../lib/kube/client.ts";
import { NODE_IMAGES, RELEASES } from "../lib/names.ts";
import { NAMESPACES } from "../lib/kube/resource.ts";
import type { NodeImage, Release } from "../lib/release/objects.ts";
import { s3KeyFor } from "../lib/release/derive.ts";
import { selfSignedCertificate } from "../lib/server/mod.ts";
import { FakeApiServer } from "./fake_apiserver/mod.ts";
import { DEFAULT_TOKEN } from "./proxmox/fake_proxmox/mod.ts";
import { startFakeProxmox } from "./e2e/_proxmox.ts";
import { imageBytes } from "./image/_s3.ts";
import { defaultImageName, release, TEST_NAMESPACE } from "./support/builders.ts";
import { layoutFor } from "./support/provider_configs.ts";
import { s3rverUnavailable, startS3rver } from "./support/s3rver.ts";
import { opensslAvailable, opensslMissing, testPki } from "./support/tls.ts";
import { OPERATOR_ENVIRONMENT } from "../main.ts";
import { DEFAULT_IN_CLUSTER_ROOT } from "../lib/kube/config.ts";
import { LEASES } from "../lib/kube/resource.ts";
import { DEFAULT_LEASE_NAME } from "../lib/kube/leader_election.ts";
import { freePort } from "./support/free_port.ts";
import { eventually } from "./support/until.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const CRDS = `${ROOT}/crds`;

/** `deno run`'s flags in the Containerfile's ENTRYPOINT (between `run` and `main.ts`). */
async function entrypointFlags(): Promise<string[]> {
  const text = await Deno.readTextFile(`${ROOT}/Containerfile`);
  const line = text.split("\n").find((l) => l.startsWith("ENTRYPOINT "));
  assert.ok(line, "the Containerfile has no ENTRYPOINT");
  const entrypoint = JSON.parse(line.slice("ENTRYPOINT ".length)) as string[];
  assert.deepEqual(entrypoint.slice(0, 2), ["deno", "run"]);
  assert.equal(entrypoint.at(-1), "main.ts");
  return entrypoint.slice(2, -1);
}

/** The value list of `--<name>=a,b` among `flags`, or undefined when absent (or bare). */
function flagList(flags: string[], name: string): string[] | undefined {
  const flag = flags.find((f) => f.startsWith(`--${name}=`));
  return flag?.slice(name.length + 3).split(",");
}

function denoDir(): string {
  const info = new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .outputSync();
  return JSON.parse(new TextDecoder().decode(info.stdout)).denoDir;
}

/** Where the image's absolute path `p` is in this test (see the top of the file). */
function remapPath(p: string, tmp: string, cache: string): string {
  return p === "/app" ? ROOT : p === "/deno-dir" ? cache : `${tmp}${p}`;
}

/** The flags with their paths moved under `tmp`. */
function remap(flags: string[], tmp: string, cache: string): string[] {
  const path = (p: string) => remapPath(p, tmp, cache);
  return flags.map((flag) => {
    const match = /^--(allow|deny|ignore)-(read|write)=(.*)$/.exec(flag);
    if (!match) return flag;
    return `--${match[1]}-${match[2]}=${match[3].split(",").map(path).join(",")}`;
  });
}

const unavailable = opensslAvailable() ? await s3rverUnavailable() : opensslMissing;

Deno.test("the entrypoint's permission flags are scoped: no write, run or ffi, and listed env", async () => {
  const flags = await entrypointFlags();
  assert.ok(flags.includes("--allow-net"));
  for (const flag of flags) {
    assert.doesNotMatch(flag, /^--allow-(all|write|run|ffi)\b|^-A$/, `the entrypoint has ${flag}`);
  }
  const read = flagList(flags, "allow-read");
  assert.ok(read, "--allow-read must list paths");
  for (
    const path of [
      "/app",
      "/deno-dir",
      DEFAULT_IN_CLUSTER_ROOT,
      "/home/.vsphere",
      "/home/.vcd",
      "/home/.proxmox",
      "/etc/image-distribution-operator",
    ]
  ) {
    assert.ok(read.includes(path), `--allow-read lacks ${path}`);
  }
  assert.deepEqual(flagList(flags, "allow-env"), [...OPERATOR_ENVIRONMENT]);
  assert.deepEqual(flagList(flags, "allow-sys"), ["hostname", "osRelease"]);
  // `deno task dev` is for people: it keeps every permission.
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)).tasks;
  assert.match(tasks.dev, /--allow-all/);
});

Deno.test({
  name:
    "main.ts with exactly the entrypoint's flags makes a NodeImage Available; the rest is refused",
  ignore: unavailable !== undefined,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "permissions-" });
    const cache = denoDir();
    const flags = remap(await entrypointFlags(), tmp, cache);
    const configDir = `${tmp}/etc/image-distribution-operator`;
    const certDir = `${tmp}/tmp/k8s-metrics-server/metrics-certs`;
    const serviceAccountDir = remapPath(DEFAULT_IN_CLUSTER_ROOT, tmp, cache);
    const podNamespace = "image-distribution-system";
    for (
      const dir of [configDir, certDir, serviceAccountDir, `${tmp}/outside`, `${tmp}/home/nonroot`]
    ) {
      await Deno.mkdir(dir, { recursive: true });
    }
    const pki = await testPki();
    // Self-signed (for 127.0.0.1 among others): the service account's ca.crt is the certificate.
    const apiTls = await selfSignedCertificate();
    const api = await FakeApiServer.start({ crdDir: CRDS, token: "operator-token", tls: apiTls });
    const s3 = await startS3rver();
    const proxmox = await startFakeProxmox(pki);
    const transport = api.transport({ token: "operator-token" });
    let child: Deno.ChildProcess | undefined;
    let stderr: Promise<string> | undefined;
    let reachedEnd = false;
    try {
      // What the kubelet mounts for the pod's service account.
      await Deno.writeTextFile(`${serviceAccountDir}/token`, "operator-token");
      await Deno.writeTextFile(`${serviceAccountDir}/ca.crt`, apiTls.cert);
      await Deno.writeTextFile(`${serviceAccountDir}/namespace`, podNamespace);
      const image = defaultImageName("capmox");
      await s3.createBucket("images");
      await s3.put(
        "images",
        s3KeyFor(image.slice("capmox-".length), layoutFor("capmox")),
        imageBytes("qcow2"),
      );
      await Deno.writeTextFile(
        `${configDir}/values.yaml`,
        stringify({
          s3: { bucket: "images", region: "us-east-1", http: true, endpoint: s3.endpoint },
          proxmox: {
            credentials: {
              url: proxmox.host,
              user: "root",
              realm: "pam",
              tokenId: DEFAULT_TOKEN.tokenId,
              secret: DEFAULT_TOKEN.secret,
              caCert: pki.caCert,
            },
            locations: {
              "pve-a": { node: "pve1", storagePool: "local-lvm", bridge: "vmbr0" },
            },
          },
        }),
      );
      const tls = await selfSignedCertificate();
      await Deno.writeTextFile(`${certDir}/tls.crt`, tls.cert);
      await Deno.writeTextFile(`${certDir}/tls.key`, tls.key);
      await Deno.writeTextFile(`${tmp}/outside/secret.txt`, "not for the operator\n");

      const health = freePort();
      const metrics = freePort();
      // The image's environment: DENO_DIR and HOME, the kubelet's service variables, plus a
      // variable the operator must not see. HOME has no .kube/config.
      const env = {
        DENO_DIR: cache,
        HOME: `${tmp}/home/nonroot`,
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: String(api.port),
        NO_COLOR: "1",
        DENO_NO_UPDATE_CHECK: "1",
        DENO_NO_PROMPT: "1",
        UNLISTED_SECRET: "not for the operator",
      };
      child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          ...flags,
          "main.ts",
          `--service-account-dir=${serviceAccountDir}`,
          `--config=${configDir}/values.yaml`,
          "--leader-elect",
          `--health-probe-bind-address=127.0.0.1:${health}`,
          `--metrics-bind-address=127.0.0.1:${metrics}`,
          `--metrics-cert-path=${certDir}`,
        ],
        cwd: ROOT,
        clearEnv: true,
        env,
        stdout: "null",
        stderr: "piped",
      }).spawn();
      stderr = new Response(child.stderr).text();

      const releases = new ResourceClient<Release>(transport, RELEASES);
      const images = new ResourceClient<NodeImage>(transport, NODE_IMAGES);
      for (const name of [TEST_NAMESPACE, podNamespace]) {
        await new ResourceClient(transport, NAMESPACES).create({
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name },
        });
      }
      await releases.create(release("proxmox-35.0.0").build());
      const available = await eventually("the NodeImage to be Available", async () => {
        const found = await images.get(image, TEST_NAMESPACE);
        return found.status?.state === "Available" ? found : undefined;
      }, 60_000);
      assert.equal(available.status?.ready, "1/1");
      // The Lease is in the namespace read from the service account's `namespace` file.
      await new ResourceClient(transport, LEASES).get(DEFAULT_LEASE_NAME, podNamespace);

      // Secure metrics work under these permissions, with RSS from Deno and no /proc metrics.
      const client = Deno.createHttpClient({ caCerts: [tls.cert] });
      const admin = api.issueToken({ username: "admin", groups: ["system:masters"] });
      const response = await fetch(`https://localhost:${metrics}/metrics`, {
        client,
        headers: { authorization: `Bearer ${admin}` },
      });
      const body = await response.text();
      client.close();
      assert.equal(response.status, 200, body);
      assert.ok(Number(/^process_resident_memory_bytes (\d+)$/m.exec(body)?.[1]) > 0, body);
      assert.doesNotMatch(body, /^process_open_fds /m);

      // The same flags refuse everything else. The probe reads an allowed file first, so a
      // refusal below is the flags' doing, not a broken probe.
      const probe = `${tmp}/probe.ts`;
      await Deno.writeTextFile(
        probe,
        `const outcome = (f: () => unknown) => {
  try { const value = f(); return value === undefined ? "undefined" : "allowed"; }
  catch (error) { return (error as Error).name; }
};
console.log(JSON.stringify({
  readConfig: outcome(() => Deno.readTextFileSync(${JSON.stringify(`${configDir}/values.yaml`)})),
  readOutside: outcome(() => Deno.readTextFileSync(${JSON.stringify(`${tmp}/outside/secret.txt`)})),
  readProcEnviron: outcome(() => Deno.readTextFileSync("/proc/self/environ")),
  writeConfigDir: outcome(() => Deno.writeTextFileSync(${JSON.stringify(`${configDir}/x`)}, "x")),
  writeOutside: outcome(() => Deno.writeTextFileSync(${JSON.stringify(`${tmp}/outside/x`)}, "x")),
  makeTempDir: outcome(() => Deno.makeTempDirSync()),
  spawnDeno: outcome(() => new Deno.Command(Deno.execPath(), { args: ["--version"] }).outputSync()),
  spawnShell: outcome(() => new Deno.Command("/bin/sh", { args: ["-c", "true"] }).outputSync()),
  ffi: Deno.permissions.querySync({ name: "ffi" }).state,
  unlistedEnv: outcome(() => Deno.env.get("UNLISTED_SECRET")),
  listedEnv: outcome(() => Deno.env.get("HOME")),
}));
`,
      );
      const probed = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...flags, probe],
        cwd: ROOT,
        clearEnv: true,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(probed.success, new TextDecoder().decode(probed.stderr));
      assert.deepEqual(JSON.parse(new TextDecoder().decode(probed.stdout)), {
        readConfig: "allowed",
        readOutside: "NotCapable",
        readProcEnviron: "NotCapable",
        writeConfigDir: "NotCapable",
        writeOutside: "NotCapable",
        makeTempDir: "NotCapable",
        spawnDeno: "NotCapable",
        spawnShell: "NotCapable",
        ffi: "prompt",
        unlistedEnv: "undefined",
        listedEnv: "allowed",
      });
      reachedEnd = true;
    } finally {
      child?.kill("SIGTERM");
      const status = await child?.status;
      const log = await stderr;
      transport.close();
      await proxmox.close();
      await s3.stop();
      await api.close();
      await pki.remove();
      await Deno.remove(tmp, { recursive: true });
      // Checked only after the steps passed, so their own failure is the one reported.
      if (reachedEnd) {
        assert.equal(status?.code, 0, `the operator's exit code; its log:\n${log}`);
        assert.doesNotMatch(log!, /NotCapable|Requires \w+ access/, "no permission was missing");
        assert.match(
          log!,
          /"source":"in-cluster"/,
          "the operator used the in-cluster configuration",
        );
      } else console.error(`The operator's log:\n${log}`);
    }
  },
});
