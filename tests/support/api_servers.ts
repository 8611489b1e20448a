/**
 * One suite, two API servers: every integration test registered with `serverTest` (or run by a
 * suite built on `onServer`) runs once against the fake API server (`[fake]`,
 * tests/fake_apiserver/) and once against a real etcd + kube-apiserver (`[real]`,
 * tests/real_apiserver/).
 *
 * Guarantees:
 * - `[fake]` tests get a fresh fake server each, as before.
 * - `[real]` tests of one file share one real server (start-up costs seconds): it is started on
 *   first use with crds/ and the operator's deploy/ RBAC installed, and killed when the file's
 *   tests are done (unload) or the test process dies. Between tests, `TestApiServer.release()`
 *   deletes what tests create (Releases, NodeImages, Events, Leases), stripping finalizers.
 * - On the real server the operator's own requests use the deploy/ ServiceAccount's token
 *   (`operatorTransport`), so every `[real]` controller scenario also proves least privilege;
 *   the tests' own set-up and checks use the admin.
 * - Without a Go toolchain (and nothing cached) `[real]` tests are ignored, and the reason is
 *   printed. `REAL_APISERVER=0` does the same on purpose (a quick local run).
 *
 * Caveats: `[real]` tests run without Deno's op and resource sanitizers (the shared server's
 * processes outlive each test); their `[fake]` twins keep them. Tests that inject faults exist
 * only as `[fake]` (`fakeOnly` names the reason).
 */
import { KubeConfig } from "@kubernetes/client-node";
import { KubeConfigTransport } from "../../lib/kube/transport.ts";
import { FakeApiServer, loadCrdDir } from "../fake_apiserver/mod.ts";
import { realApiServerUnavailable } from "../real_apiserver/binaries.ts";
import { installOperatorIdentity, type OperatorIdentity } from "../real_apiserver/rbac.ts";
import { RealApiServer } from "../real_apiserver/server.ts";

export type ServerKind = "fake" | "real";

// deno-lint-ignore no-explicit-any
export type Json = any;

export interface Reply {
  status: number;
  body: Json;
  headers: Headers;
}

export interface RequestInit {
  body?: unknown;
  headers?: Record<string, string>;
}

/** What tests use of an API server, whichever kind it is. */
export interface TestApiServer {
  readonly kind: ServerKind;
  readonly url: string;
  /** The fake itself (fault injection, stats); undefined on the real server. */
  readonly fake?: FakeApiServer;
  /** The real server (etcd, tokens); undefined on the fake. */
  readonly real?: RealApiServer;
  /** The operator's ServiceAccount on the real server (deploy/ RBAC); undefined on the fake. */
  readonly operator?: OperatorIdentity;
  /** An admin transport (everything allowed). Close it when done. */
  transport(options?: { namespace?: string }): KubeConfigTransport;
  /** The operator's transport: the deploy/ ServiceAccount on the real server, admin on the fake. */
  operatorTransport(options?: { namespace?: string }): KubeConfigTransport;
  /** A kubeconfig for the admin, or with `operator` for the operator's identity. */
  kubeconfigYaml(options?: { namespace?: string; operator?: boolean }): string;
  writeKubeconfig(
    path: string,
    options?: { namespace?: string; operator?: boolean },
  ): Promise<void>;
  /** One admin request; the body is read and parsed when it is JSON. */
  request(method: string, path: string, init?: RequestInit): Promise<Reply>;
  /** One admin request whose body the caller reads (watch streams). */
  fetch(path: string, init?: globalThis.RequestInit): Promise<Response>;
  /**
   * Forgets the history before the current resourceVersion, for lists and watches alike. Fake:
   * `faults.compact()`. Real: etcd compaction as the API server's compactor does it, then an
   * API server restart, since watches are served from the watch cache's window, which
   * compaction alone does not move (see the top of tests/fake_apiserver/store.ts).
   */
  compact(): Promise<void>;
  /** Done with it: the fake stops; the shared real server is cleaned for the next test. */
  release(): Promise<void>;
}

const CRD_DIR = new URL("../../crds", import.meta.url).pathname;

/** Why `[real]` tests are ignored here, or undefined when they run. */
export const realUnavailable: string | undefined = Deno.env.get("REAL_APISERVER") === "0"
  ? logReason("real API server tests ignored: REAL_APISERVER=0")
  : await realApiServerUnavailable();

function logReason(reason: string): string {
  console.error(reason);
  return reason;
}

let active: ServerKind | undefined;

/** Runs `fn` with `kind` as the server `acquireServer()` hands out. */
export async function onServer<T>(kind: ServerKind, fn: () => Promise<T>): Promise<T> {
  const previous = active;
  active = kind;
  try {
    return await fn();
  } finally {
    active = previous;
  }
}

/** The kind the running test asked for; `fake` outside `serverTest`/`onServer`. */
export function activeServerKind(): ServerKind {
  return active ?? "fake";
}

export interface ServerTestOptions {
  /** Register only the `[fake]` test, for this reason (e.g. it injects faults). */
  fakeOnly?: string;
}

/** The Deno.test options for `name` on `kind` (ignore, sanitizers, name suffix). */
export function serverTestDefinition(
  kind: ServerKind,
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): Deno.TestDefinition {
  return {
    name: `${name} [${kind}]`,
    ignore: kind === "real" && realUnavailable !== undefined,
    // `[fake]` keeps Deno's defaults (spelling them out as `true` is stricter about timers
    // npm packages leave to their own ticks, e.g. undici's connection timer).
    ...(kind === "real" ? { sanitizeOps: false, sanitizeResources: false } : {}),
    fn: (t) => onServer(kind, () => fn(t)),
  };
}

/** Registers `name [fake]` and `name [real]`; `fn` gets whichever server it asks for. */
export function serverTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
  options: ServerTestOptions = {},
): void {
  for (const kind of ["fake", "real"] as const) {
    if (kind === "real" && options.fakeOnly) continue;
    Deno.test(serverTestDefinition(kind, name, fn));
  }
}

/**
 * A server of the active kind with crds/ (and `extraCrds`) installed. Hand it back with
 * `release()`. `crds` replaces crds/ and works only on the fake (a real server's CRDs are
 * shared by the file's tests).
 */
export async function acquireServer(
  options: { crds?: unknown[]; extraCrds?: unknown[] } = {},
): Promise<TestApiServer> {
  if (activeServerKind() === "fake") {
    const crds = options.crds ?? await loadCrdDir(CRD_DIR);
    return wrapFake(await FakeApiServer.start({ crds: [...crds, ...options.extraCrds ?? []] }));
  }
  if (options.crds) {
    throw new Error("Replacing crds/ is for the fake API server only: mark the test fakeOnly");
  }
  const shared = await sharedRealServer();
  if (options.extraCrds?.length) await shared.real!.installCrds(options.extraCrds);
  return shared;
}

function wrapFake(fake: FakeApiServer): TestApiServer {
  return {
    kind: "fake",
    url: fake.url,
    fake,
    transport: (options) => fake.transport(options),
    operatorTransport: (options) => fake.transport(options),
    kubeconfigYaml: (options) => fake.kubeconfigYaml({ namespace: options?.namespace }),
    writeKubeconfig: (path, options) =>
      fake.writeKubeconfig(path, { namespace: options?.namespace }),
    request: (method, path, init) => jsonRequest(fake.url, undefined, method, path, init),
    fetch: (path, init) => fetch(`${fake.url}${path}`, init),
    compact: () => Promise.resolve(fake.faults.compact()),
    release: () => fake.close(),
  };
}

let realServer: Promise<TestApiServer> | undefined;

/** This test file's real server, started on first use. */
export function sharedRealServer(): Promise<TestApiServer> {
  realServer ??= (async () => {
    const real = await RealApiServer.start({ crdDir: CRD_DIR });
    globalThis.addEventListener("unload", () => real.killNow());
    try {
      const operator = await installOperatorIdentity(real);
      return realTestServer(real, operator);
    } catch (error) {
      await real.close();
      throw error;
    }
  })();
  return realServer;
}

function realTestServer(real: RealApiServer, operator: OperatorIdentity): TestApiServer {
  const operatorKubeconfig = (namespace?: string) =>
    real.kubeconfigYaml({ namespace, token: operator.token });
  return {
    kind: "real",
    url: real.url,
    real,
    operator,
    transport: (options) => real.transport(options),
    operatorTransport: (options) => {
      const config = new KubeConfig();
      config.loadFromString(operatorKubeconfig(options?.namespace));
      return new KubeConfigTransport(config);
    },
    kubeconfigYaml: (options) =>
      options?.operator ? operatorKubeconfig(options.namespace) : real.kubeconfigYaml(options),
    writeKubeconfig: async (path, options) => {
      if (!options?.operator) return await real.writeKubeconfig(path, options);
      await Deno.writeTextFile(path, operatorKubeconfig(options.namespace));
    },
    request: (method, path, init) => jsonRequest(real.url, real.httpClient, method, path, init),
    fetch: (path, init) => fetch(`${real.url}${path}`, { ...init, client: real.httpClient }),
    compact: async () => {
      await real.compact();
      await real.restart();
    },
    release: () => cleanRealServer(real),
  };
}

async function jsonRequest(
  base: string,
  client: Deno.HttpClient | undefined,
  method: string,
  path: string,
  init: RequestInit = {},
): Promise<Reply> {
  const headers: Record<string, string> = { accept: "application/json", ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(`${base}${path}`, { method, headers, body, client });
  const text = await response.text();
  let parsed: Json = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // plain text (health endpoints)
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** What tests create, cleaned between tests: collection paths. */
const TEST_COLLECTIONS = [
  "/apis/release.giantswarm.io/v1alpha1/releases",
  "/apis/image.giantswarm.io/v1alpha1/nodeimages",
];
/** Namespaces whose Leases and Events tests create (kube-system's belong to the server). */
const TEST_NAMESPACES = ["default", "giantswarm", "team-b"];

/**
 * Deletes every Release and NodeImage (finalizers stripped first, as no controller is left to
 * remove them) and the Events and Leases of the test namespaces, then waits until they are gone.
 */
async function cleanRealServer(real: RealApiServer): Promise<void> {
  for (const collection of TEST_COLLECTIONS) {
    const list = await real.request("GET", collection);
    for (const item of (list.body as Json).items ?? []) {
      const { name, namespace, finalizers } = item.metadata;
      const base = collection.replace(
        /\/([a-z]+)$/,
        namespace ? `/namespaces/${namespace}/$1` : "/$1",
      );
      const path = `${base}/${name}`;
      if (finalizers?.length) {
        await real.request("PATCH", path, {
          body: { metadata: { finalizers: null } },
          headers: { "content-type": "application/merge-patch+json" },
        });
      }
      await real.request("DELETE", path);
    }
  }
  for (const namespace of TEST_NAMESPACES) {
    await real.request("DELETE", `/api/v1/namespaces/${namespace}/events`);
    await real.request("DELETE", `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`);
  }
  const deadline = Date.now() + 30_000;
  for (const collection of TEST_COLLECTIONS) {
    while (((await real.request("GET", collection)).body as Json).items?.length) {
      if (Date.now() > deadline) throw new Error(`Cannot clean ${collection} between tests`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Spelled like `Deno.test` so that converting a test file changes one word per test (and
 * `deno fmt` lays it out the same): `servers.test(name, fn)` registers `[fake]` and `[real]`;
 * `fakeServer.test(name, fn)` only `[fake]` (say why in a comment: usually fault injection).
 */
export const servers = {
  test: (name: string, fn: (t: Deno.TestContext) => Promise<void>) => serverTest(name, fn),
};

export const fakeServer = {
  test: (name: string, fn: (t: Deno.TestContext) => Promise<void>) =>
    serverTest(name, fn, { fakeOnly: "fake only" }),
};
