/**
 * A faithful fake Kubernetes API server for tests: a real HTTP(S) server on 127.0.0.1 that
 * honours resourceVersion, generation, conflicts, finalizers, status subresources, watches and
 * CRD schemas the way kube-apiserver does. Deviations are listed at the top of each file.
 *
 * @example
 * ```ts
 * const server = await FakeApiServer.start({ crds: [myCrd] });
 * await server.writeKubeconfig("./.tmp/kubeconfig");
 * server.faults.failNext({ verb: "list", resource: "nodeimages" }, { code: 500 });
 * await server.close();
 * ```
 */
import { parseAllDocuments } from "yaml";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeConfigTransport } from "../../lib/kube/transport.ts";
import { ApiHandler, type RequestStats } from "./server.ts";
import { kubeconfigYaml } from "./kubeconfig.ts";
import { ApiFailure } from "./status.ts";
import type { StoreSnapshot } from "./store.ts";
import type { UserInfo } from "./access_review.ts";

import type { FaultMatch, FaultResponse } from "./faults.ts";
import type { StoreListener } from "./store.ts";
export type { FaultMatch, FaultResponse } from "./faults.ts";
export type { StoredEvent, StoreListener, StoreSnapshot } from "./store.ts";
export type { UserInfo } from "./access_review.ts";

export interface FakeApiServerOptions {
  /** 0 / undefined = any free port. */
  port?: number;
  /** CRD objects (parsed YAML). */
  crds?: unknown[];
  /** Directory of CRD YAML files (multi-document files allowed). */
  crdDir?: string;
  /** Default 60_000 (real servers send one about every minute). */
  bookmarkIntervalMs?: number;
  /**
   * How long a `sendInitialEvents` watch waits for a resourceVersion the server has not reached
   * before answering 504 Too large resource version; default 3000 (the watch cache's).
   */
  freshnessTimeoutMs?: number;
  /** Retained watch events before compaction, default 10_000. */
  historyLimit?: number;
  /**
   * If set, require `Authorization: Bearer <token>`: this admin token (user `admin` in
   * `system:masters`) or one the server issued (TokenRequest, `issueToken`).
   */
  token?: string;
  /** PEM certificate and key; serve HTTPS. */
  tls?: { cert: string; key: string };
}

/** Fault injection controls; see faults.ts. */
export interface FakeApiServerFaults {
  failNext(match: FaultMatch, response: FaultResponse, count?: number): void;
  failEvery(match: FaultMatch, response: FaultResponse, period: number): void;
  dropWatches(): void;
  closeWatches(): void;
  compact(): void;
  setLatency(ms: number): void;
  reset(): void;
}

const START_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** Reads every CRD from the YAML/JSON files of a directory (sorted by file name). */
export async function loadCrdDir(dir: string): Promise<unknown[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    // A kustomization.yaml lists CRDs for kustomize; it is not one itself.
    if (
      entry.isFile && /\.(ya?ml|json)$/.test(entry.name) && !/^kustomization\./.test(entry.name)
    ) {
      files.push(entry.name);
    }
  }
  const crds: unknown[] = [];
  for (const file of files.sort()) {
    const path = `${dir}/${file}`;
    const docs = parseAllDocuments(await Deno.readTextFile(path));
    for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
      if (doc.errors.length) {
        throw new Error(
          `Cannot parse CRD file "${path}" document ${i + 1}: ${doc.errors[0].message}`,
        );
      }
      const value = doc.toJS();
      if (value === null || value === undefined) continue;
      if (value.kind !== "CustomResourceDefinition") {
        throw new Error(
          `Cannot load CRD file "${path}": document ${
            i + 1
          } is a ${value.kind}, not a CustomResourceDefinition`,
        );
      }
      crds.push(value);
    }
  }
  return crds;
}

export class FakeApiServer {
  readonly #handler: ApiHandler;
  readonly #tls?: { cert: string; key: string };
  #server?: Deno.HttpServer<Deno.NetAddr>;
  #port = 0;

  private constructor(handler: ApiHandler, tls?: { cert: string; key: string }) {
    this.#handler = handler;
    this.#tls = tls;
  }

  /** Starts a server with the built-in namespaces and the given CRDs installed. */
  static async start(options: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const handler = new ApiHandler({
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
      freshnessTimeoutMs: options.freshnessTimeoutMs,
      historyLimit: options.historyLimit ?? 10_000,
      token: options.token,
    });
    const nsType = handler.catalog.find("", "v1", "namespaces")!;
    for (const name of START_NAMESPACES) {
      handler.registry.create({ def: nsType.def, version: nsType.version }, {
        metadata: { name },
      });
    }
    const crds = [...(options.crds ?? [])];
    if (options.crdDir) crds.push(...await loadCrdDir(options.crdDir));
    const crdType = handler.catalog.find(
      "apiextensions.k8s.io",
      "v1",
      "customresourcedefinitions",
    )!;
    for (const crd of crds) {
      try {
        handler.registry.create({ def: crdType.def, version: crdType.version }, crd);
      } catch (error) {
        if (error instanceof ApiFailure) {
          throw new Error(`Cannot install CRD: ${error.status.message}`, { cause: error });
        }
        throw error;
      }
    }
    const server = new FakeApiServer(handler, options.tls);
    await server.#listen(options.port ?? 0);
    return server;
  }

  /** e.g. `http://127.0.0.1:41234`. */
  get url(): string {
    return `${this.#tls ? "https" : "http"}://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  /** Fault injection: canned failures, watch drops/closes, compaction, latency. */
  get faults(): FakeApiServerFaults {
    return this.#handler.faults;
  }

  /** Request counters: `total` and `byVerb` (Kubernetes verbs, plus `nonresource`). */
  get stats(): RequestStats {
    return this.#handler.stats;
  }

  /** Number of watch streams currently open (handy to wait for a client to connect). */
  get openWatches(): number {
    return this.#handler.watches.size;
  }

  /**
   * A token for `user`, accepted by this server and its TokenReviews (until `expiresAt`, epoch
   * ms, when given). ServiceAccount tokens come from TokenRequest, as on a real server.
   */
  issueToken(user: UserInfo, expiresAt?: number): string {
    return this.#handler.reviews.issueToken(user, expiresAt);
  }

  /** The current global resourceVersion. */
  get resourceVersion(): string {
    return String(this.#handler.store.resourceVersion);
  }

  kubeconfigYaml(options: { namespace?: string; token?: string } = {}): string {
    return kubeconfigYaml({
      server: this.url,
      namespace: options.namespace,
      token: options.token,
      caCert: this.#tls?.cert,
    });
  }

  /**
   * A transport to this server built the way the operator builds one: from the kubeconfig,
   * through client-node and `KubeConfigTransport`. Close it when done.
   */
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

  /** The stored objects and resourceVersion now, for `restore`. */
  snapshot(): StoreSnapshot {
    return this.#handler.store.snapshot();
  }

  /**
   * Goes back to `snapshot`, as after an etcd restore (without `--bump-revision`) or a restart
   * with the state reset: objects created later are gone, the resourceVersion is the snapshot's,
   * older ones answer 410, and every open watch is dropped as by the restart. Clients holding a
   * later resourceVersion are now ahead of the server. CRDs installed after the snapshot stay
   * served (the type catalog is not rolled back).
   */
  async restore(snapshot: StoreSnapshot): Promise<void> {
    this.#handler.watches.dropAll();
    this.#handler.store.restore(snapshot);
    this.#handler.lister.compact();
    await this.restart();
  }

  /**
   * Calls `listener` synchronously for every committed change (not for `restore`), as a test's
   * observer that no API fault can blind. Returns the unsubscribe function.
   */
  onCommit(listener: StoreListener): () => void {
    return this.#handler.store.subscribe(listener);
  }

  /**
   * An outage: open watches dropped and the port closed (connections refused) until `resume`;
   * the state is kept, as when kube-apiserver is down while etcd is not.
   */
  async pause(): Promise<void> {
    this.#handler.watches.dropAll();
    this.#handler.releaseDelays();
    await this.#server?.shutdown();
    this.#server = undefined;
  }

  /** Listens again on the same port after `pause`. */
  async resume(): Promise<void> {
    if (this.#server) return;
    await this.#listen(this.#port);
  }

  /** Stops listening and listens again on the same port; state is kept, open watches dropped. */
  async restart(): Promise<void> {
    this.#handler.watches.dropAll();
    this.#handler.releaseDelays();
    await this.#server?.shutdown();
    await this.#listen(this.#port);
  }

  /** Ends open watches cleanly and stops the server. */
  async close(): Promise<void> {
    this.#handler.watches.closeAll();
    this.#handler.releaseDelays();
    await this.#server?.shutdown();
    this.#server = undefined;
  }

  async #listen(port: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port,
      onListen: () => resolve(),
      ...(this.#tls ? { cert: this.#tls.cert, key: this.#tls.key } : {}),
    }, this.#handler.handle);
    await promise;
    this.#port = this.#server.addr.port;
    this.#handler.serverAddress = `127.0.0.1:${this.#port}`;
  }
}
