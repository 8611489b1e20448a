/**
 * The operator as a process: `main.ts` started as a child against the fake API server, driven
 * through its probes, metrics, Lease and signals, the way Kubernetes drives the pod.
 */
import assert from "node:assert/strict";
import { ResourceClient } from "../lib/kube/client.ts";
import type { Lease } from "../lib/kube/leader_election.ts";
import { LEASES } from "../lib/kube/resource.ts";
import { FakeApiServer } from "./fake_apiserver/mod.ts";
import { parse as parseYaml } from "yaml";
import { NAMESPACES } from "../lib/kube/resource.ts";
import { NODE_IMAGES, RELEASE_FINALIZER, RELEASES } from "../lib/names.ts";
import { NotFoundError } from "../lib/kube/errors.ts";
import { selfSignedCertificate } from "../lib/server/mod.ts";
import { freePort } from "./support/free_port.ts";
import { eventually } from "./support/until.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const CRDS = new URL("../crds", import.meta.url).pathname;

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

function startOperator(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("the operator process becomes ready, leads, and releases its lease on SIGTERM", async () => {
  const server = await FakeApiServer.start({ crdDir: CRDS });
  const dir = await Deno.makeTempDir();
  const kubeconfig = `${dir}/kubeconfig`;
  await server.writeKubeconfig(kubeconfig);
  const transport = server.transport();
  const leases = new ResourceClient<Lease>(transport, LEASES);
  const healthPort = freePort();
  const metricsPort = freePort();
  // Secure metrics (the default) with a mounted certificate, scraped by a user the fake's RBAC
  // lets get /metrics.
  const tls = await selfSignedCertificate();
  await Deno.mkdir(`${dir}/certs`);
  await Deno.writeTextFile(`${dir}/certs/tls.crt`, tls.cert);
  await Deno.writeTextFile(`${dir}/certs/tls.key`, tls.key);
  const scraper = server.issueToken({ username: "prometheus", groups: ["system:authenticated"] });
  const stranger = server.issueToken({ username: "someone", groups: ["system:authenticated"] });
  for (
    const [path, body] of [
      ["/apis/rbac.authorization.k8s.io/v1/clusterroles", {
        metadata: { name: "metrics-reader" },
        rules: [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }],
      }],
      ["/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
        metadata: { name: "prometheus-metrics-reader" },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: "metrics-reader",
        },
        subjects: [{ kind: "User", name: "prometheus" }],
      }],
    ] as const
  ) {
    const response = await transport.fetch({ method: "POST", path, body });
    assert.equal(response.status, 201, await response.text());
  }
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  const scrape = async (token: string) => {
    const response = await fetch(`https://localhost:${metricsPort}/metrics`, {
      client,
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: response.status, body: await response.text() };
  };
  const child = startOperator([
    `--kubeconfig=${kubeconfig}`,
    "--leader-elect",
    "--leader-election-namespace=default",
    `--health-probe-bind-address=127.0.0.1:${healthPort}`,
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    `--metrics-cert-path=${dir}/certs`,
  ]);
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  try {
    await eventually("/readyz to pass", async () => {
      const { status } = await get(`http://127.0.0.1:${healthPort}/readyz`);
      return status === 200 ? true : undefined;
    });
    assert.equal((await get(`http://127.0.0.1:${healthPort}/healthz`)).status, 200);

    const lease = await eventually("the lease to be held", async () => {
      const lease = await leases.get("fcf824fa.giantswarm.io", "default");
      return lease.spec?.holderIdentity ? lease : undefined;
    });
    assert.equal(lease.spec?.leaseDurationSeconds, 15);

    const metrics = await eventually("leadership in the metrics", async () => {
      const { body } = await scrape(scraper);
      return /leader_election_master_status\{name="fcf824fa.giantswarm.io"\} 1/.test(body)
        ? body
        : undefined;
    });
    assert.match(metrics, /process_resident_memory_bytes/);
    assert.equal((await scrape(stranger)).status, 403);
    assert.equal((await scrape("no-such-token")).status, 401);
  } finally {
    child.kill("SIGTERM");
    client.close();
  }
  const status = await child.status;
  const [, stderr] = await output;
  assert.equal(status.code, 0, `exit code; stderr:\n${stderr}`);

  const released = await leases.get("fcf824fa.giantswarm.io", "default");
  assert.equal(released.spec?.holderIdentity ?? "", "", "the lease is released on shutdown");

  const lines = stderr.trim().split("\n").map((line) => JSON.parse(line));
  for (const line of lines) {
    assert.ok(line.level && line.time && line.msg, `structured log line: ${JSON.stringify(line)}`);
  }
  assert.ok(lines.some((line) => line.msg === "Shutting down" && line.signal === "SIGTERM"));

  transport.close();
  await server.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an unknown flag exits with status 2 and names the flag", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "--leader-elekt"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.match(new TextDecoder().decode(stderr), /Unknown flag "--leader-elekt"/);
});

Deno.test("the Go operator's flags are accepted, with a warning for those that do nothing here", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      MAIN,
      // The Go chart's args, and Go-only flags a Deployment may still carry.
      "--leader-elect",
      "--metrics-bind-address=:8443",
      "--health-probe-bind-address=:8081",
      "--metrics-secure",
      "--enable-http2=false",
      "--s3-bucket=node-images",
      "--s3-region=us-west-2",
      "--image-retention-period=720h",
      "--kubeconfig=/nonexistent/kubeconfig",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  assert.equal(code, 2, "past flag parsing, stopped only by the missing kubeconfig");
  assert.doesNotMatch(text, /Flag --metrics-secure is accepted/, "it is implemented now");
  assert.match(text, /Flag --enable-http2 is accepted for compatibility/);
});

Deno.test("a missing kubeconfig exits with status 2 and names the file", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, "--kubeconfig=/nonexistent/kubeconfig"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 2, "a start-up configuration error, like any other");
  assert.match(new TextDecoder().decode(stderr), /\/nonexistent\/kubeconfig/);
});

Deno.test("the operator process turns a Release into a NodeImage and lets it go with retention", async () => {
  const server = await FakeApiServer.start({ crdDir: CRDS });
  const dir = await Deno.makeTempDir();
  const kubeconfig = `${dir}/kubeconfig`;
  await server.writeKubeconfig(kubeconfig);
  const transport = server.transport();
  await new ResourceClient(transport, NAMESPACES).create({ metadata: { name: "giantswarm" } });
  const releases = new ResourceClient(transport, RELEASES);
  const nodeImages = new ResourceClient(transport, NODE_IMAGES);
  const release = parseYaml(
    await Deno.readTextFile(new URL("./fixtures/release-vsphere-34.1.0.yaml", import.meta.url)),
  );
  await releases.create(release);

  const child = startOperator([
    `--kubeconfig=${kubeconfig}`,
    `--config=${new URL("./fixtures/values-example.yaml", import.meta.url).pathname}`,
    "--health-probe-bind-address=0",
  ]);
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  const name = "capv-flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs";
  try {
    const image = await eventually("the NodeImage to list the Release", async () => {
      const image = await nodeImages.get(name, "giantswarm");
      const status = image.status as { releases?: string[]; state?: string } | undefined;
      return status?.releases?.includes("vsphere-34.1.0") ? image : undefined;
    });
    assert.deepEqual(image.spec, {
      name: "flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs",
      provider: "capv",
    });
    // The example's vCenter cannot be reached: the image controller says so per location instead
    // of failing silently, while the release controller still manages the image.
    const located = await eventually(
      "the capv locations to report the unreachable vCenter",
      async () => {
        const image = await nodeImages.get(name, "giantswarm");
        const status = image.status as { state?: string; locations?: { message?: string }[] };
        // Pending while the provider initialises (it tries to build its client) comes first.
        return status.locations?.length === 2 && status.state !== "Pending" ? status : undefined;
      },
    );
    assert.equal(located.state, "Error");
    for (const location of located.locations!) {
      assert.match(location.message ?? "", /provider capv/);
    }
    const registered = await releases.get("vsphere-34.1.0");
    assert.ok(registered.metadata.finalizers?.includes(RELEASE_FINALIZER));

    // The example values keep unused images for 720h: deleting the Release only marks it.
    await releases.delete("vsphere-34.1.0");
    await eventually("the Release to be gone", async () => {
      try {
        await releases.get("vsphere-34.1.0");
        return undefined;
      } catch (error) {
        return error instanceof NotFoundError ? true : undefined;
      }
    });
    const awaiting = await eventually("the NodeImage to await deletion", async () => {
      const image = await nodeImages.get(name, "giantswarm");
      return (image.status as { state?: string }).state === "AwaitingDeletion" ? image : undefined;
    });
    assert.ok(
      awaiting.metadata.annotations?.["image-distribution-operator.giantswarm.io/last-used"],
    );
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  const [, stderr] = await output;
  assert.equal(status.code, 0, `exit code; stderr:\n${stderr}`);
  assert.ok(!stderr.includes("my-password"), "secrets never reach the logs");
  transport.close();
  await server.close();
  await Deno.remove(dir, { recursive: true });
});
