/**
 * Test harness: an API server with `crds/` (the fake, or the real one under `serverTest`'s
 * `[real]` variant; see tests/support/api_servers.ts), clients for Releases and NodeImages, and
 * the release controller plus garbage collector run through a real `Manager`, as `main.ts`
 * wires them. Every operator request is recorded, so tests can check what was sent. On the real
 * server the controllers run as the deploy/ ServiceAccount.
 */
import type { Registry } from "prom-client";
import type { Clock } from "../../lib/clock.ts";
import { OperatorConfig, type ProviderConfigs } from "../../lib/config/mod.ts";
import { Manager } from "../../lib/controller/manager.ts";
import { ResourceClient } from "../../lib/kube/client.ts";
import { EVENTS, type KubeEvent } from "../../lib/kube/events.ts";
import { AlreadyExistsError, NotFoundError } from "../../lib/kube/errors.ts";
import { type KubeObject, NAMESPACES } from "../../lib/kube/resource.ts";
import {
  KubeConfigTransport,
  type KubeRequest,
  type KubeTransport,
} from "../../lib/kube/transport.ts";
import { type Logger, silentLogger } from "../../lib/log.ts";
import { Readiness } from "../../lib/server/mod.ts";
import { createRegistry } from "../../lib/metrics.ts";
import { NODE_IMAGES, RELEASES } from "../../lib/names.ts";
import { testModule } from "../support/fake_module.ts";
import { NAMING } from "../support/provider_configs.ts";
import { createSetupContext } from "../../lib/operator.ts";
import type { NodeImage, Release } from "../../lib/release/objects.ts";
import { type ReleaseControllers, setupReleaseControllers } from "../../lib/release/setup.ts";
import { type FakeApiServer, loadCrdDir } from "../fake_apiserver/mod.ts";
import { acquireServer, type TestApiServer } from "../support/api_servers.ts";
import type { FakeClock } from "../support/fake_clock.ts";
import { TEST_NAMESPACE } from "../support/builders.ts";

const CRD_DIR = new URL("../../crds", import.meta.url).pathname;

/** One request the operator sent. */
export interface RecordedRequest {
  method: string;
  path: string;
  contentType?: string;
  body?: unknown;
  watch: boolean;
}

/** Passes requests through and remembers them. */
export class RecordingTransport implements KubeTransport {
  readonly requests: RecordedRequest[] = [];
  readonly #inner: KubeTransport;

  constructor(inner: KubeTransport) {
    this.#inner = inner;
  }

  get server(): string {
    return this.#inner.server;
  }

  fetch(request: KubeRequest): Promise<Response> {
    this.requests.push({
      method: request.method,
      path: request.path,
      contentType: request.contentType,
      body: request.body === undefined ? undefined : structuredClone(request.body),
      watch: request.query?.watch === true || request.query?.watch === "true" ||
        request.query?.watch === 1,
    });
    return this.#inner.fetch(request);
  }

  /** Requests that are not watches (lists, reads and writes). */
  calls(): RecordedRequest[] {
    return this.requests.filter((r) => !r.watch);
  }
}

export interface RunOptions {
  /** Configured providers; default all three. */
  providers?: string[];
  /** `--namespace`; default the test namespace (which exists). */
  namespace?: string;
  /** Receives the controllers' log lines; default silent. */
  log?: Logger;
  retentionMs?: number;
  clock?: Clock;
  channel?: string;
  releaseWorkers?: number;
}

/** Controllers running against the cluster; stop them before closing it. */
export interface RunningControllers {
  controllers: ReleaseControllers;
  registry: Registry;
  /** The `/readyz` checks the controllers registered. */
  readiness: Readiness;
  transport: RecordingTransport;
  stop(): Promise<void>;
}

/** Reconciles a controller has finished so far (any outcome), from its metrics. */
export async function reconcileCount(run: RunningControllers, controller: string): Promise<number> {
  const metric = await run.registry.getSingleMetric("controller_runtime_reconcile_total")?.get();
  return metric?.values.filter((v) => v.labels.controller === controller)
    .reduce((sum, v) => sum + v.value, 0) ?? 0;
}

/** A test configuration with the given providers (their settings are never read here). */
export function testConfig(providers: string[], retentionMs = 0): OperatorConfig {
  const sections: ProviderConfigs = Object.fromEntries(
    providers.map((id) => [id, testModule(id).configure({})]),
  );
  return new OperatorConfig({
    file: "test-values.yaml",
    s3: { bucket: "node-images", region: "us-west-2", http: false, timeoutMs: 90_000 },
    retentionMs,
    clientSetup: { initialBackoffMs: 5_000, retryCount: 5 },
    providers: sections,
  });
}

export class TestCluster {
  /** The API server, fake or real. */
  readonly api: TestApiServer;
  readonly transport: KubeConfigTransport;
  readonly releases: ResourceClient<Release>;
  readonly nodeImages: ResourceClient<NodeImage>;
  readonly #events: ResourceClient<KubeEvent>;
  readonly #runs = new Set<RunningControllers>();
  readonly #onClose: (() => Promise<void>)[] = [];

  private constructor(api: TestApiServer) {
    this.api = api;
    this.transport = api.transport();
    this.releases = new ResourceClient<Release>(this.transport, RELEASES);
    this.nodeImages = new ResourceClient<NodeImage>(this.transport, NODE_IMAGES);
    this.#events = new ResourceClient<KubeEvent>(this.transport, EVENTS);
  }

  /** The fake API server, for fault injection; such tests are `fakeOnly`. */
  get server(): FakeApiServer {
    if (!this.api.fake) throw new Error("This test needs the fake API server: mark it fakeOnly");
    return this.api.fake;
  }

  /**
   * Starts (or, for the real server, takes the file's shared) API server with the CRDs in
   * `crds/` (or `crds`, e.g. a modified copy: fake only) and the NodeImage namespace.
   */
  static async start(options: { crds?: unknown[] } = {}): Promise<TestCluster> {
    const cluster = new TestCluster(await acquireServer({ crds: options.crds }));
    try {
      await new ResourceClient(cluster.transport, NAMESPACES).create({
        metadata: { name: TEST_NAMESPACE },
      });
    } catch (error) {
      // The real server is shared by the file's tests: the namespace may be there already.
      if (!(error instanceof AlreadyExistsError && cluster.api.kind === "real")) throw error;
    }
    return cluster;
  }

  /** The CRDs of `crds/`, parsed, for tests that install a modified copy. */
  static loadCrds(): Promise<unknown[]> {
    return loadCrdDir(CRD_DIR);
  }

  /** Runs both controllers through a Manager until `stop()`. */
  run(options: RunOptions = {}): RunningControllers {
    const inner = this.api.operatorTransport();
    const transport = new RecordingTransport(inner);
    const registry = createRegistry();
    const log = options.log ?? silentLogger;
    const manager = new Manager({ transport, log });
    const readiness = new Readiness();
    const ctx = createSetupContext(manager, transport, {
      namespace: "default",
      log,
      identity: "test-operator",
      registry,
      readiness,
    });
    const controllers = setupReleaseControllers(ctx, {
      config: testConfig(options.providers ?? ["capv", "capvcd", "capmox"]),
      namespace: options.namespace ?? TEST_NAMESPACE,
      flatcarChannel: options.channel ?? "stable",
      naming: NAMING,
      retentionMs: options.retentionMs ?? 0,
      clock: options.clock,
      releaseWorkers: options.releaseWorkers,
    });
    const abort = new AbortController();
    const informers = manager.runInformers(abort.signal);
    const running = manager.runControllers(abort.signal);
    const run: RunningControllers = {
      controllers,
      registry,
      readiness,
      transport,
      stop: async () => {
        if (!this.#runs.delete(run)) return;
        abort.abort();
        await Promise.all([informers, running]);
        inner.close();
      },
    };
    this.#runs.add(run);
    return run;
  }

  /** The NodeImage in the test namespace, or `undefined`. */
  async image(name: string): Promise<NodeImage | undefined> {
    return await getOrUndefined(() => this.nodeImages.get(name, TEST_NAMESPACE));
  }

  /** The Release, or `undefined`. */
  async release(name: string): Promise<Release | undefined> {
    return await getOrUndefined(() => this.releases.get(name));
  }

  /** Every events.k8s.io Event about the named object. */
  async eventsAbout(name: string): Promise<KubeEvent[]> {
    const list = await this.#events.list();
    return list.items.filter((e) => e.regarding?.name === name);
  }

  /**
   * Polls `probe` until it returns a value other than undefined/false (generous deadline; no
   * timing is asserted). With `clock`, the fake clock is stepped by `advanceMs` per poll so
   * backoff timers on it can fire.
   */
  async waitFor<T>(
    description: string,
    probe: () => Promise<T | undefined | false> | T | undefined | false,
    options: { clock?: FakeClock; advanceMs?: number; deadlineMs?: number } = {},
  ): Promise<T> {
    const deadline = Date.now() + (options.deadlineMs ?? 30_000);
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const value = await probe();
        if (value !== undefined && value !== false) return value;
      } catch (error) {
        last = error;
      }
      if (options.clock) await options.clock.advance(options.advanceMs ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`Timed out waiting for ${description}`, { cause: last });
  }

  /**
   * Runs `stop` when the cluster closes (other controllers a test started), so a test that fails
   * half-way leaves nothing running against a server the next test shares.
   */
  onClose(stop: () => Promise<void>): void {
    this.#onClose.push(stop);
  }

  /** Stops every run still going and the server. */
  async close(): Promise<void> {
    for (const stop of this.#onClose.splice(0)) await stop();
    for (const run of [...this.#runs]) await run.stop();
    this.transport.close();
    await this.api.release();
  }
}

/** Runs `fn` with a fresh cluster and always closes it. */
export async function withCluster(
  fn: (cluster: TestCluster) => Promise<void>,
  options: { crds?: unknown[] } = {},
): Promise<void> {
  const cluster = await TestCluster.start(options);
  try {
    await fn(cluster);
  } finally {
    await cluster.close();
  }
}

async function getOrUndefined<T extends KubeObject>(
  read: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}
