/**
 * Secure metrics end to end: `/metrics` over HTTPS behind TokenReview and SubjectAccessReview,
 * against the fake API server and a real kube-apiserver. The operator's side uses the
 * operator's transport (on the real server: deploy/'s ServiceAccount with deploy/'s RBAC, so
 * this also proves the base grants the two reviews), scrapers are ServiceAccounts with
 * TokenRequest tokens, and who may scrape is deploy/'s `metrics-reader` ClusterRole.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { Counter, Registry } from "prom-client";
import type { KubeRequest, KubeTransport } from "../../lib/kube/transport.ts";
import {
  MetricsAuth,
  OperatorServer,
  Readiness,
  selfSignedCertificate,
} from "../../lib/server/mod.ts";
import { acquireServer, serverTest, type TestApiServer } from "../support/api_servers.ts";
import { FakeClock } from "../support/fake_clock.ts";

const NAMESPACE = "metrics-test";
const READER = "image-distribution-operator-metrics-reader";
const RBAC_FILE = new URL("../../deploy/base/rbac.yaml", import.meta.url).pathname;

/** Counts the reviews a transport sends, to see the cache at work. */
class CountingTransport implements KubeTransport {
  readonly paths: string[] = [];
  constructor(readonly inner: KubeTransport) {}
  get server() {
    return this.inner.server;
  }
  fetch(request: KubeRequest): Promise<Response> {
    this.paths.push(request.path.replace(/^.*\//, ""));
    return this.inner.fetch(request);
  }
}

async function create(server: TestApiServer, path: string, body: unknown): Promise<void> {
  const reply = await server.request("POST", path, { body });
  assert.ok(reply.status === 201 || reply.status === 409, `${path}: ${JSON.stringify(reply.body)}`);
}

/** A ServiceAccount in NAMESPACE and a TokenRequest token for it. */
async function serviceAccountToken(server: TestApiServer, name: string): Promise<string> {
  await create(server, `/api/v1/namespaces/${NAMESPACE}/serviceaccounts`, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name },
  });
  const reply = await server.request(
    "POST",
    `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${name}/token`,
    { body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} } },
  );
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return reply.body.status.token;
}

/** deploy/base's metrics-reader ClusterRole as written (kustomize only adds labels to it). */
async function deployedReaderRole(): Promise<unknown> {
  const docs = parseAllDocuments(await Deno.readTextFile(RBAC_FILE)).map((d) => d.toJS());
  const role = docs.find((d) => d.kind === "ClusterRole" && d.metadata.name === READER);
  assert.ok(role, `${RBAC_FILE} has no ClusterRole ${READER}`);
  return role;
}

serverTest("/metrics answers only callers the API server lets get /metrics", async (t) => {
  const server = await acquireServer();
  const transport = server.operatorTransport();
  const counting = new CountingTransport(transport);
  const clock = new FakeClock();
  const tls = await selfSignedCertificate();
  const registry = new Registry();
  new Counter({ name: "scrape_test_total", help: "a metric to find", registers: [registry] })
    .inc();
  const httpServer = new OperatorServer({
    healthProbeBindAddress: "127.0.0.1:0",
    metricsBindAddress: "127.0.0.1:0",
    readiness: new Readiness(),
    registry,
    metricsTls: tls,
    metricsAuth: new MetricsAuth({ transport: counting, clock }),
  });
  const stop = new AbortController();
  let running: Awaited<ReturnType<OperatorServer["start"]>> | undefined;
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  try {
    await create(server, "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: NAMESPACE },
    });
    // The real server has it from deploy/ already (409); the fake gets the same object.
    await create(
      server,
      "/apis/rbac.authorization.k8s.io/v1/clusterroles",
      await deployedReaderRole(),
    );
    const scraper = await serviceAccountToken(server, "scraper");
    const stranger = await serviceAccountToken(server, "stranger");
    const binding = `metrics-test-scraper-${crypto.randomUUID().slice(0, 8)}`;
    await create(server, "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: binding },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: READER },
      subjects: [{ kind: "ServiceAccount", name: "scraper", namespace: NAMESPACE }],
    });

    running = await httpServer.start(stop.signal);
    const { healthAddress, metricsAddress } = running;
    const metricsUrl = `https://localhost:${metricsAddress!.port}/metrics`;
    const scrape = async (token?: string, method = "GET") => {
      const response = await fetch(metricsUrl, {
        method,
        client,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
      return { status: response.status, body: await response.text() };
    };

    await t.step("without a token: 401, and the API server is not asked", async () => {
      assert.deepEqual(await scrape(), { status: 401, body: "Unauthorized\n" });
      assert.deepEqual(counting.paths, []);
    });

    await t.step("a token the API server does not know: 401", async () => {
      assert.equal((await scrape("not-a-token")).status, 401);
      assert.deepEqual(counting.paths, ["tokenreviews"]);
    });

    await t.step("an authenticated user without the role: 403 naming the user", async () => {
      const reply = await scrape(stranger);
      assert.equal(reply.status, 403);
      assert.equal(
        reply.body,
        `Authorization denied for user system:serviceaccount:${NAMESPACE}:stranger\n`,
      );
    });

    await t.step("a user bound to metrics-reader gets the metrics (GET and HEAD)", async () => {
      const reply = await scrape(scraper);
      assert.equal(reply.status, 200, reply.body);
      assert.match(reply.body, /^scrape_test_total 1$/m);
      assert.equal((await scrape(scraper, "HEAD")).status, 200);
    });

    await t.step("repeated scrapes are answered from the cache until it expires", async () => {
      const before = counting.paths.length;
      for (let i = 0; i < 3; i++) assert.equal((await scrape(scraper)).status, 200);
      assert.equal((await scrape(stranger)).status, 403);
      assert.equal(counting.paths.length, before, "no review while the answers are cached");
      await clock.advance(61_000);
      assert.equal((await scrape(scraper)).status, 200);
      assert.deepEqual(counting.paths.slice(before), ["tokenreviews", "subjectaccessreviews"]);
    });

    await t.step("taking the binding away takes access away once the cache expires", async () => {
      const deleted = await server.request(
        "DELETE",
        `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${binding}`,
      );
      assert.equal(deleted.status, 200);
      await clock.advance(61_000);
      // The real authorizer's informer may lag the delete by a moment.
      let status = 200;
      for (let i = 0; i < 300 && status === 200; i++) {
        await clock.advance(11_000);
        status = (await scrape(scraper)).status;
        if (status === 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status, 403);
    });

    await t.step("probes stay plain HTTP and need no token", async () => {
      const response = await fetch(`http://127.0.0.1:${healthAddress!.port}/healthz`);
      assert.equal(response.status, 200, await response.text());
    });

    await t.step("plain HTTP to the metrics port is refused (it speaks TLS only)", async () => {
      await assert.rejects(fetch(`http://127.0.0.1:${metricsAddress!.port}/metrics`));
    });
  } finally {
    stop.abort();
    await running?.finished;
    client.close();
    transport.close();
    await server.release();
  }
});

/** A transport that answers every request with `status`, or fails to connect. */
function brokenTransport(status?: number): KubeTransport & { calls: number } {
  return {
    server: "https://api.invalid",
    calls: 0,
    fetch(this: { calls: number }) {
      this.calls++;
      if (status === undefined) return Promise.reject(new Error("connection refused"));
      return Promise.resolve(
        new Response(JSON.stringify({ kind: "Status", message: "nope", code: status }), { status }),
      );
    },
  };
}

Deno.test("a review that cannot be made is a 500, never cached, and the token is not logged", async (t) => {
  for (const status of [undefined, 403, 503]) {
    await t.step(`API server ${status ?? "unreachable"}`, async () => {
      const lines: string[] = [];
      const transport = brokenTransport(status);
      const { Logger } = await import("../../lib/log.ts");
      const auth = new MetricsAuth({
        transport,
        log: new Logger({ format: "json", level: "debug", sink: (line) => lines.push(line) }),
      });
      const request = () =>
        new Request("https://localhost/metrics", {
          headers: { authorization: "Bearer secret-token-value" },
        });
      const first = await auth.check(request());
      assert.equal(first?.status, 500);
      assert.equal(await first?.text(), "Authentication failed\n");
      assert.equal((await auth.check(request()))?.status, 500);
      assert.equal(transport.calls, 2, "the failure was not cached");
      assert.ok(lines.length > 0);
      for (const line of lines) assert.ok(!line.includes("secret-token-value"), line);
    });
  }
});

Deno.test("the caches stay bounded whatever tokens callers send", async () => {
  const { TtlCache } = await import("../../lib/server/ttl_cache.ts");
  const clock = new FakeClock();
  const cache = new TtlCache<number>({ clock, maxEntries: 3 });
  for (let i = 0; i < 10; i++) cache.set(`token-${i}`, i, 60_000);
  assert.equal(cache.size, 3);
  assert.equal(cache.get("token-0"), undefined, "the oldest went first");
  assert.equal(cache.get("token-9"), 9);
  await clock.advance(60_000);
  assert.equal(cache.get("token-9"), undefined, "expired");
});
