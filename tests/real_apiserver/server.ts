/**
 * A real control plane for tests: etcd and kube-apiserver (built by tools/kube-apiserver.sh)
 * on free loopback ports, started the way controller-runtime's envtest starts them.
 *
 * Guarantees:
 * - Serving certificates, an admin client certificate (group `system:masters`) and the
 *   service-account signing keys are made fresh per start; TokenRequest works.
 * - `--authorization-mode=RBAC`: every identity but the admin needs RBAC rules.
 * - `start()` returns once `/readyz` answers 200 and every given CRD is Established and served.
 * - `close()` stops kube-apiserver, then etcd, and removes the data directory; the processes
 *   die with the test process in any case (see process.ts).
 *
 * Caveats: there is no kube-controller-manager, so nothing runs that a controller would do:
 * no namespace deletion (a deleted namespace stays Terminating), no garbage collection of
 * owner references, no `default` ServiceAccounts. Tests isolate by name instead of deleting
 * namespaces.
 */
import { stringify } from "yaml";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeConfigTransport } from "../../lib/kube/transport.ts";
import { loadCrdDir } from "../fake_apiserver/mod.ts";
import { realApiServerBinaries } from "./binaries.ts";
import { type ApiServerPki, makeApiServerPki } from "./pki.ts";
import { ServerProcess } from "./process.ts";
import { freePort } from "../support/free_port.ts";

export interface RealApiServerOptions {
  /** CRD objects (parsed YAML) to install. */
  crds?: unknown[];
  /** A directory of CRD YAML files to install. */
  crdDir?: string;
  /** Keep data, certificates and logs here (it is not removed); default a temp dir. */
  dir?: string;
}

const START_TIMEOUT_MS = 120_000;
const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RealApiServer {
  readonly kind = "real" as const;
  readonly url: string;
  /** etcd's client URL (its gRPC gateway speaks JSON over HTTP here). */
  readonly etcdUrl: string;
  readonly dir: string;
  readonly #pki: ApiServerPki;
  readonly #etcd: ServerProcess;
  #apiserver: ServerProcess;
  readonly #apiserverCommand: { bin: string; args: string[] };
  readonly #http: Deno.HttpClient;
  readonly #removeDir: boolean;
  #closed?: Promise<void>;

  private constructor(
    init: {
      url: string;
      etcdUrl: string;
      dir: string;
      pki: ApiServerPki;
      etcd: ServerProcess;
      apiserver: ServerProcess;
      apiserverCommand: { bin: string; args: string[] };
      removeDir: boolean;
    },
  ) {
    this.url = init.url;
    this.etcdUrl = init.etcdUrl;
    this.dir = init.dir;
    this.#pki = init.pki;
    this.#etcd = init.etcd;
    this.#apiserver = init.apiserver;
    this.#apiserverCommand = init.apiserverCommand;
    this.#removeDir = init.removeDir;
    this.#http = Deno.createHttpClient({
      caCerts: [init.pki.caCert],
      cert: init.pki.adminCert,
      key: init.pki.adminKey,
    });
  }

  /** Starts etcd and kube-apiserver, waits until ready, installs the CRDs. */
  static async start(options: RealApiServerOptions = {}): Promise<RealApiServer> {
    const binaries = await realApiServerBinaries();
    const dir = options.dir ?? await Deno.makeTempDir({ prefix: "real-apiserver-" });
    await Deno.mkdir(`${dir}/pki`, { recursive: true });
    const pki = await makeApiServerPki(`${dir}/pki`);

    const etcdPort = freePort();
    const peerPort = freePort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcd = ServerProcess.spawn("etcd", binaries.etcd, [
      "--name=test",
      `--data-dir=${dir}/etcd`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=test=${peerUrl}`,
      // As envtest: a test cluster's data is thrown away, so skip the fsyncs.
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ], `${dir}/etcd.log`);

    const port = freePort();
    const url = `https://127.0.0.1:${port}`;
    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${port}`,
      `--cert-dir=${dir}/pki`,
      `--tls-cert-file=${pki.servingCertPath}`,
      `--tls-private-key-file=${pki.servingKeyPath}`,
      `--client-ca-file=${pki.caCertPath}`,
      "--authorization-mode=RBAC",
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${pki.serviceAccountPublicKeyPath}`,
      `--service-account-signing-key-file=${pki.serviceAccountKeyPath}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
    ];
    const apiserver = ServerProcess.spawn(
      "kube-apiserver",
      binaries.kubeApiserver,
      apiserverArgs,
      `${dir}/kube-apiserver.log`,
    );

    const server = new RealApiServer({
      url,
      etcdUrl,
      dir,
      pki,
      etcd,
      apiserver,
      apiserverCommand: { bin: binaries.kubeApiserver, args: apiserverArgs },
      removeDir: options.dir === undefined,
    });
    try {
      await server.#waitUntilReady();
      const crds = [...(options.crds ?? [])];
      if (options.crdDir) crds.push(...await loadCrdDir(options.crdDir));
      await server.installCrds(crds);
      return server;
    } catch (error) {
      await server.close();
      throw error;
    }
  }

  /** The admin's raw HTTP client (mTLS), for tests that look at status codes and bodies. */
  get httpClient(): Deno.HttpClient {
    return this.#http;
  }

  /** A kubeconfig for the admin (client certificate) or, with `token`, a bearer token. */
  kubeconfigYaml(options: { namespace?: string; token?: string } = {}): string {
    const user: Record<string, string> = options.token ? { token: options.token } : {
      "client-certificate-data": btoa(this.#pki.adminCert),
      "client-key-data": btoa(this.#pki.adminKey),
    };
    const context: Record<string, string> = { cluster: "real", user: "real" };
    if (options.namespace) context.namespace = options.namespace;
    return stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "real",
        cluster: { server: this.url, "certificate-authority-data": btoa(this.#pki.caCert) },
      }],
      users: [{ name: "real", user }],
      contexts: [{ name: "real", context }],
      "current-context": "real",
      preferences: {},
    });
  }

  /** A transport built the way the operator builds one (kubeconfig → client-node). */
  transport(options: { namespace?: string; token?: string } = {}): KubeConfigTransport {
    const config = new KubeConfig();
    config.loadFromString(this.kubeconfigYaml(options));
    return new KubeConfigTransport(config);
  }

  async writeKubeconfig(
    path: string,
    options: { namespace?: string; token?: string } = {},
  ): Promise<void> {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (dir) await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(path, this.kubeconfigYaml(options));
  }

  /** One admin request; the body is read (JSON when it parses). */
  async request(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: unknown; headers: Headers }> {
    const headers: Record<string, string> = { accept: "application/json", ...init.headers };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
      headers["content-type"] ??= "application/json";
    }
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers,
      body,
      client: this.#http,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON (health endpoints)
    }
    return { status: response.status, body: parsed, headers: response.headers };
  }

  /** Creates each CRD (an existing one is left as it is) and waits until it is served. */
  async installCrds(crds: unknown[]): Promise<void> {
    const base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    for (const crd of crds) {
      const reply = await this.request("POST", base, { body: crd });
      if (reply.status !== 201 && reply.status !== 409) {
        throw new Error(`Cannot install CRD: ${reply.status} ${JSON.stringify(reply.body)}`);
      }
    }
    for (const crd of crds as CrdShape[]) {
      const { group, names, versions } = crd.spec;
      const served = versions.filter((v) => v.served).map((v) => v.name);
      await this.#until(`CRD ${crd.metadata.name} to be served`, async () => {
        const got = await this.request("GET", `${base}/${crd.metadata.name}`);
        const established = (got.body as CrdShape).status?.conditions?.some((c) =>
          c.type === "Established" && c.status === "True"
        );
        if (!established) return false;
        for (const version of served) {
          const list = await this.request("GET", `/apis/${group}/${version}/${names.plural}`);
          if (list.status !== 200) return false;
        }
        return true;
      });
    }
  }

  /** etcd's current revision (= the newest resourceVersion the API server handed out). */
  async etcdRevision(): Promise<number> {
    const reply = await this.#etcdCall("/v3/kv/range", { key: btoa("\0") });
    return Number((reply as { header: { revision: string } }).header.revision);
  }

  /**
   * Compacts etcd's history up to its current revision the way the API server's own compactor
   * does every five minutes: the revision is recorded under `compact_rev_key` (the API server
   * watches that key and, within about 15 s, drops its list snapshots older than it), then etcd
   * compacts. Older resourceVersions can then no longer be listed exactly or continued. Watches
   * are served from the watch cache's window, which compaction does not shorten: `restart()`
   * starts a fresh window.
   */
  async compact(): Promise<number> {
    const revision = await this.etcdRevision();
    await this.#etcdCall("/v3/kv/put", {
      key: btoa("compact_rev_key"),
      value: btoa(String(revision)),
    });
    await this.#etcdCall("/v3/kv/compaction", { revision: String(revision), physical: true });
    return revision;
  }

  /**
   * Stops kube-apiserver and starts it again on the same port with the same state (etcd keeps
   * running). Its watch caches start over at the current resourceVersion, as after a rollout.
   */
  async restart(): Promise<void> {
    await this.#apiserver.stop();
    this.#apiserver = ServerProcess.spawn(
      "kube-apiserver",
      this.#apiserverCommand.bin,
      this.#apiserverCommand.args,
      `${this.dir}/kube-apiserver.log`,
    );
    await this.#waitUntilReady();
  }

  /** Stops kube-apiserver, then etcd; removes the temp dir. Safe to call twice. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#http.close();
      await this.#apiserver.stop();
      await this.#etcd.stop();
      if (this.#removeDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    })();
    return this.#closed;
  }

  /** For `unload` handlers: kills both processes at once and removes the temp dir. */
  killNow(): void {
    this.#apiserver.killNow();
    this.#etcd.killNow();
    if (this.#removeDir) {
      try {
        Deno.removeSync(this.dir, { recursive: true });
      } catch {
        // still being written by a dying process, or already gone
      }
    }
  }

  async #etcdCall(path: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${this.etcdUrl}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`etcd ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  }

  async #waitUntilReady(): Promise<void> {
    await this.#until("etcd and kube-apiserver to be ready", async () => {
      for (const process of [this.#etcd, this.#apiserver]) {
        if (process.exitStatus) {
          throw new Error(
            `${process.name} exited with ${process.exitStatus.code} during start-up:\n${process.logTail()}`,
          );
        }
      }
      try {
        const reply = await this.request("GET", "/readyz");
        return reply.status === 200;
      } catch {
        return false; // not listening yet
      }
    });
  }

  async #until(what: string, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (true) {
      if (await probe()) return;
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out waiting for ${what}; kube-apiserver log:\n${this.#apiserver.logTail()}`,
        );
      }
      await sleep(100);
    }
  }
}

interface CrdShape {
  metadata: { name: string };
  spec: { group: string; names: { plural: string }; versions: { name: string; served: boolean }[] };
  status?: { conditions?: { type: string; status: string }[] };
}
