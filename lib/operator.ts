/**
 * Process wiring: Kubernetes access, caches, controllers, probes, metrics, leader election and
 * graceful shutdown. `main.ts` parses flags and calls `runOperator`; tests call it in-process.
 *
 * Guarantees:
 * - Caches start on every replica; controllers run only while this replica leads (or always,
 *   without `--leader-elect`), and only after the caches have synced.
 * - `/readyz` fails until the caches have synced, and lists each cache by name.
 * - Aborting the signal stops controllers (in-flight reconciles see the abort), releases the
 *   lease, and resolves; losing leadership resolves with exit code 1 so the pod restarts clean.
 */
import type { Clock } from "./clock.ts";
import { Manager } from "./controller/manager.ts";
import { loadKubeConfig } from "./kube/config.ts";
import { ResourceClient } from "./kube/client.ts";
import { LeaderElector, type Lease } from "./kube/leader_election.ts";
import { LEASES } from "./kube/resource.ts";
import type { KubeTransport } from "./kube/transport.ts";
import { countingTransport } from "./kube/request_metrics.ts";
import { type Logger, silentLogger } from "./log.ts";
import { ControllerMetrics, createRegistry, LeaderElectionMetrics } from "./metrics.ts";
import { prometheusQueueMetrics } from "./queue/mod.ts";
import {
  loadMetricsCertificate,
  MetricsAuth,
  OperatorServer,
  parseBindAddress,
  Readiness,
} from "./server/mod.ts";
import type { Registry } from "prom-client";

export interface OperatorOptions {
  kubeconfig?: string;
  context?: string;
  /** Where the in-cluster service account is mounted; the standard path when omitted. */
  serviceAccountDir?: string;
  /** Process environment, for kubeconfig discovery. */
  env: Record<string, string | undefined>;
  leaderElect: boolean;
  /** Namespace of the Lease; defaults to the kubeconfig context's (or the pod's) namespace. */
  leaderElectionNamespace?: string;
  leaderElectionId: string;
  /** Lease timings; client-go's defaults (15 s / 10 s / 2 s) when omitted. */
  leaseDurations?: { leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  healthProbeBindAddress: string;
  metricsBindAddress: string;
  /**
   * `--metrics-secure`: `/metrics` over HTTPS, admitting only callers the API server
   * authenticates and authorises (lib/server/metrics_auth.ts). Off unless set here; main.ts
   * turns it on by default as the Go operator does.
   */
  metricsSecure?: boolean;
  /** `--metrics-cert-path`, `--metrics-cert-name`, `--metrics-cert-key`. */
  metricsCert?: { path?: string; name?: string; key?: string };
  /** Host names for a self-signed metrics certificate; default this host's name. */
  metricsCertNames?: string[];
  /** `--sync-period`: every cache is relisted and every object reconciled again this often. */
  syncPeriodMs?: number;
  log: Logger;
  clock?: Clock;
  /** Registers controllers (and the informers they need) on the manager. */
  setup?: (context: SetupContext) => void | Promise<void>;
  /** Called once the probes listen, with their addresses (tests, logs). */
  onListening?: (addresses: { health?: Deno.NetAddr; metrics?: Deno.NetAddr }) => void;
}

/** What controllers need to register themselves. */
export interface SetupContext {
  manager: Manager;
  transport: KubeTransport;
  namespace: string;
  registry: Registry;
  controllerMetrics: ControllerMetrics;
  queueMetrics: (controller: string) => ReturnType<typeof prometheusQueueMetrics>;
  readiness: Readiness;
  log: Logger;
  identity: string;
}

/**
 * A `SetupContext` with a fresh registry and metrics around `manager`; what `runOperator` hands
 * its `setup` hook, and what tests and benches use to register controllers the same way.
 */
export function createSetupContext(
  manager: Manager,
  transport: KubeTransport,
  options: {
    namespace?: string;
    log?: Logger;
    identity?: string;
    registry?: Registry;
    readiness?: Readiness;
  } = {},
): SetupContext {
  const registry = options.registry ?? createRegistry();
  return {
    manager,
    transport,
    namespace: options.namespace ?? "default",
    registry,
    controllerMetrics: new ControllerMetrics(registry),
    queueMetrics: (controller) => prometheusQueueMetrics(registry, controller),
    readiness: options.readiness ?? new Readiness(),
    log: options.log ?? silentLogger,
    identity: options.identity ?? "standalone",
  };
}

/** Runs until `signal` aborts (exit code 0) or leadership is lost (exit code 1). */
export async function runOperator(options: OperatorOptions, signal: AbortSignal): Promise<number> {
  const log = options.log;
  // Before anything connects: a certificate that cannot be loaded is a start-up error.
  const secure = options.metricsSecure && parseBindAddress(options.metricsBindAddress);
  const metricsTls = secure
    ? await loadMetricsCertificate({
      certPath: options.metricsCert?.path,
      certName: options.metricsCert?.name,
      keyName: options.metricsCert?.key,
      dnsNames: options.metricsCertNames ?? [Deno.hostname()],
    })
    : undefined;
  if (metricsTls) log.info("Metrics are served over HTTPS", { certificate: metricsTls.source });
  const kube = loadKubeConfig({
    kubeconfig: options.kubeconfig,
    context: options.context,
    env: options.env,
    inClusterRoot: options.serviceAccountDir,
  });
  log.info("Using Kubernetes API server", {
    server: kube.transport.server,
    source: kube.source,
    context: kube.contextName,
  });

  const registry = createRegistry();
  // Every request the operator makes goes through here, so rest_client_requests_total is complete.
  const transport = countingTransport(kube.transport, registry);
  const readiness = new Readiness();
  const manager = new Manager({
    transport,
    clock: options.clock,
    log,
    syncPeriodMs: options.syncPeriodMs,
  });
  const leaseNamespace = options.leaderElectionNamespace || kube.namespace;
  const elector = options.leaderElect
    ? new LeaderElector({
      client: new ResourceClient<Lease>(transport, LEASES),
      namespace: leaseNamespace,
      name: options.leaderElectionId,
      clock: options.clock,
      log,
      durations: options.leaseDurations,
      metrics: new LeaderElectionMetrics(registry),
    })
    : undefined;

  const context = createSetupContext(manager, transport, {
    namespace: kube.namespace,
    log,
    identity: elector?.identity,
    registry,
    readiness,
  });
  await options.setup?.(context);
  readiness.addCheck("informers", () => {
    const unsynced = manager.caches().filter((c) => !c.synced).map((c) => c.name);
    return unsynced.length
      ? { ok: false, reason: `not synced: ${unsynced.join(", ")}` }
      : { ok: true };
  });

  const server = new OperatorServer({
    healthProbeBindAddress: options.healthProbeBindAddress,
    metricsBindAddress: options.metricsBindAddress,
    metricsTls,
    metricsAuth: metricsTls ? new MetricsAuth({ transport, clock: options.clock, log }) : undefined,
    readiness,
    registry,
    log,
    clock: options.clock,
  });
  if (elector) server.liveness.addCheck("leader-election", elector.healthCheck());
  // One stop signal for everything: the caller's abort, or losing leadership.
  const stop = new AbortController();
  const onAbort = () => stop.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const listening = await server.start(stop.signal);
  options.onListening?.({ health: listening.healthAddress, metrics: listening.metricsAddress });

  const informers = manager.runInformers(stop.signal);
  let exitCode = 0;
  try {
    if (elector) {
      await elector.run(stop.signal, {
        onStartedLeading: (leading) => manager.runControllers(leading),
        onStoppedLeading: () => {
          if (stop.signal.aborted) return;
          log.error("Lost leadership; exiting so a fresh process can compete again");
          exitCode = 1;
        },
        onNewLeader: (identity) => log.info("Leader observed", { leader: identity }),
      });
    } else {
      await manager.runControllers(stop.signal);
    }
  } finally {
    stop.abort();
    signal.removeEventListener("abort", onAbort);
    await informers;
    await listening.finished;
    kube.transport.close();
  }
  return exitCode;
}
