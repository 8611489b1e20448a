/**
 * image-distribution-operator entry point: flags → logger → `runOperator`, with SIGTERM/SIGINT
 * handling. Flag names and defaults follow the Go operator (reference §8.1) so existing
 * Deployments keep working.
 */
import { FlagError, type FlagSpec, flagUsage, parseFlags } from "./lib/flags.ts";
import { type LogFormat, Logger, type LogLevel, type LogSink } from "./lib/log.ts";
import { DEFAULT_LEASE_NAME } from "./lib/kube/leader_election.ts";
import { runOperator } from "./lib/operator.ts";
import {
  CONFIG_FLAGS,
  ConfigError,
  configFilesOf,
  ConfigReloadStatus,
  configSourcesFromFlags,
  formatConfigIssue,
  loadConfigFromSources,
  type OperatorConfig,
  providerFlagSpecs,
  watchConfig,
} from "./lib/config/mod.ts";
import { DEFAULT_FLATCAR_CHANNEL, DEFAULT_NODE_IMAGE_NAMESPACE } from "./lib/names.ts";
import { type ReleaseControllers, setupReleaseControllers } from "./lib/release/setup.ts";
import { validateFlatcarChannel } from "./lib/release/derive.ts";
import { ProviderRegistry } from "./lib/image/providers.ts";
import { setupImageController } from "./lib/image/setup.ts";
import { releaseNaming } from "./lib/release/naming.ts";
import type { ProviderModule } from "./lib/provider_module.ts";
import { PROVIDER_MODULES, S3Resolver } from "./providers/mod.ts";
import { DurationError, parseNonNegativeGoDuration } from "./lib/duration.ts";
import { dns1123LabelProblem } from "./lib/kube/object_names.ts";
import { DEFAULT_IN_CLUSTER_ROOT, KubeConfigError } from "./lib/kube/config.ts";
import { BindAddressError, parseBindAddress } from "./lib/server/bind_address.ts";
import { MetricsCertificateError } from "./lib/server/metrics_certificate.ts";

/**
 * Flags of the Go operator that have no equivalent here. They are accepted, so a Deployment
 * swapped in with its old args still starts, and each one given is named in a warning.
 */
const GO_ONLY_FLAGS: Record<string, FlagSpec> = Object.fromEntries(
  [
    ["webhook-cert-path", "string", "there are no webhooks"],
    ["webhook-cert-name", "string", "there are no webhooks"],
    ["webhook-cert-key", "string", "there are no webhooks"],
    [
      "enable-http2",
      "bool",
      "the probe server speaks HTTP/1.1; HTTPS metrics offer HTTP/2 (Deno.serve has no ALPN switch)",
    ],
    ["zap-stacktrace-level", "string", "log lines carry no stack traces"],
    ["zap-time-encoding", "string", "log times are RFC 3339"],
  ].map(([name, kind, why]) => [
    name,
    { kind: kind as "bool" | "string", usage: `Go operator compatibility, no effect: ${why}` },
  ]),
);

const OPERATOR_FLAGS: Record<string, FlagSpec> = {
  "kubeconfig": {
    kind: "string",
    usage: "Path to a kubeconfig; default KUBECONFIG, ~/.kube/config or in-cluster",
  },
  "context": { kind: "string", usage: "Kubeconfig context to use instead of current-context" },
  "service-account-dir": {
    kind: "string",
    default: DEFAULT_IN_CLUSTER_ROOT,
    usage: "Directory of the in-cluster service account's token, ca.crt and namespace",
  },
  "leader-elect": {
    kind: "bool",
    default: false,
    usage: "Elect a leader so only one replica reconciles",
  },
  "leader-election-id": {
    kind: "string",
    default: DEFAULT_LEASE_NAME,
    usage: "Name of the coordination.k8s.io Lease",
  },
  "leader-election-namespace": {
    kind: "string",
    usage: "Namespace of the Lease; default the pod's (or context's) namespace",
  },
  "health-probe-bind-address": {
    kind: "string",
    default: ":8081",
    usage: "Address of /healthz and /readyz; 0 disables",
  },
  "metrics-bind-address": {
    kind: "string",
    default: "0",
    usage: "Address of /metrics (e.g. :8443, or :8080 with --metrics-secure=false); 0 disables",
  },
  "metrics-secure": {
    kind: "bool",
    default: true,
    usage: "Serve /metrics over HTTPS to callers the API server authenticates (TokenReview) and " +
      "authorises for get on /metrics (SubjectAccessReview); false serves plain HTTP to anyone",
  },
  "metrics-cert-path": {
    kind: "string",
    usage: "Directory of the metrics certificate and key; without it a self-signed certificate " +
      "is made at start",
  },
  "metrics-cert-name": {
    kind: "string",
    default: "tls.crt",
    usage: "Certificate file in --metrics-cert-path",
  },
  "metrics-cert-key": {
    kind: "string",
    default: "tls.key",
    usage: "Private key file in --metrics-cert-path",
  },
  "graceful-shutdown-timeout": {
    kind: "string",
    default: "8s",
    usage: "How long to wait for a clean stop after SIGTERM (Go duration)",
  },
  "log-format": { kind: "string", default: "json", usage: "json, or text for humans" },
  "log-level": { kind: "string", default: "info", usage: "debug, info, warn or error" },
  "zap-devel": {
    kind: "bool",
    default: false,
    usage: "Go operator compatibility: text logs at debug level",
  },
  "zap-log-level": { kind: "string", usage: "Go operator compatibility: same as --log-level" },
  "zap-encoder": { kind: "string", usage: "Go operator compatibility: json or console" },
  "namespace": {
    kind: "string",
    default: DEFAULT_NODE_IMAGE_NAMESPACE,
    usage: "Namespace where NodeImages are created",
  },
  "flatcar-channel": {
    kind: "string",
    default: DEFAULT_FLATCAR_CHANNEL,
    usage: "Flatcar channel of image names, unless a Release's annotation " +
      "image-distribution-operator.giantswarm.io/flatcar-channel says otherwise",
  },
  "max-concurrent-transfers": {
    kind: "string",
    default: "4",
    usage: "Image transfers running at once, across all images and locations",
  },
  "transfer-timeout": {
    kind: "string",
    default: "2h",
    usage: "Deadline of one transfer (Go duration); it is cancelled and cleaned up after that",
  },
  "sync-period": {
    kind: "string",
    default: "10h",
    usage: "controller-runtime's SyncPeriod: every cache is listed again and every Release and " +
      "NodeImage reconciled again this often, repairing any missed watch event (Go duration, " +
      "at least 1m; up to 10 % jitter)",
  },
  "inventory-resync": {
    kind: "string",
    default: "10m",
    usage: "How often each location's catalog is listed again (Go duration, at least 1s)",
  },
};

/** Every flag: the operator's, the configuration's, the provider modules' and the Go-only ones. */
function flagSpecs(modules: readonly ProviderModule[]): Record<string, FlagSpec> {
  return {
    ...OPERATOR_FLAGS,
    ...CONFIG_FLAGS,
    ...providerFlagSpecs(modules),
    ...GO_ONLY_FLAGS,
    "help": { kind: "bool", default: false, usage: "Show this help" },
  };
}

export interface MainOptions {
  /** The platforms this process serves; default `PROVIDER_MODULES`. */
  modules?: readonly ProviderModule[];
  /** Stops the operator like SIGTERM does (in-process runs, tests). */
  signal?: AbortSignal;
  /** Where log lines go instead of stderr (in-process runs that read the logs). */
  logSink?: LogSink;
}

/** Runs the operator with command-line `args`; resolves with the process exit code. */
export async function main(args: string[], options: MainOptions = {}): Promise<number> {
  const modules = options.modules ?? PROVIDER_MODULES;
  const FLAGS = flagSpecs(modules);
  let flags, log, graceMs, transfers, syncPeriodMs;
  try {
    flags = parseFlags(args, FLAGS);
    log = new Logger({ format: logFormat(flags), level: logLevel(flags), sink: options.logSink });
    validateFlatcarChannel(String(flags["flatcar-channel"]), "--flatcar-channel");
    validateNamespace(String(flags.namespace));
    validateBindAddresses(flags);
    transfers = transferSettings(flags);
    graceMs = parseNonNegativeGoDuration(
      String(flags["graceful-shutdown-timeout"]),
      "--graceful-shutdown-timeout",
    );
    syncPeriodMs = syncPeriod(flags);
  } catch (error) {
    if (
      !(error instanceof FlagError || error instanceof DurationError || error instanceof RangeError)
    ) {
      throw error;
    }
    console.error(`${error.message}\n\nFlags:\n${flagUsage(FLAGS)}`);
    return 2;
  }
  if (flags.help) {
    console.log(`Usage: main.ts [flags]\n\nFlags:\n${flagUsage(FLAGS)}`);
    return 0;
  }

  for (const name of Object.keys(GO_ONLY_FLAGS)) {
    if (flags[name] !== undefined) {
      log.warn(`Flag --${name} is accepted for compatibility and has no effect`, {
        reason: GO_ONLY_FLAGS[name].usage,
      });
    }
  }
  const sources = configSourcesFromFlags(flags, modules);
  let config: OperatorConfig;
  try {
    config = await loadConfigFromSources(sources, { modules });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.error("Invalid configuration", { error: error.message });
    return 2;
  }
  log.info("Configuration loaded", {
    files: config.files,
    providers: config.configuredProviderIds(),
  });
  logWarnings(log, config);

  const stop = new AbortController();
  let shutdownGuard: ReturnType<typeof setTimeout> | undefined;
  const onSignal = (name: string) => () => {
    if (stop.signal.aborted) return;
    log.info("Shutting down", { signal: name, graceMs });
    stop.abort(new Error(`received ${name}`));
    // A stuck shutdown must not outlive the pod's grace period unnoticed.
    const guard = setTimeout(() => {
      log.error("Shutdown did not finish within the grace period; exiting");
      Deno.exit(1);
    }, graceMs);
    Deno.unrefTimer(guard);
    shutdownGuard = guard;
  };
  const onSigterm = onSignal("SIGTERM");
  const onSigint = onSignal("SIGINT");
  const onAbort = onSignal("abort");
  Deno.addSignalListener("SIGTERM", onSigterm);
  Deno.addSignalListener("SIGINT", onSigint);
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const registry = new ProviderRegistry({
    initialBackoffMs: config.clientSetup.initialBackoffMs,
    retryCount: config.clientSetup.retryCount,
    log,
  });
  await registry.update(config.providers);
  const resolver = new S3Resolver(config.s3);

  let controllers: ReleaseControllers | undefined;
  const reloads = new ConfigReloadStatus();
  const configWatch = watchConfig(
    () => loadConfigFromSources(sources, { modules }),
    configFilesOf(sources, modules, config),
    {
      signal: stop.signal,
      initial: config,
      log,
      onError: (error) => reloads.failed(error),
      onLoaded: () => reloads.succeeded(),
      onChange: async (next) => {
        log.info("Configuration reloaded", { providers: next.configuredProviderIds() });
        logWarnings(log, next);
        // A reload before the controllers exist is picked up by their setup below.
        config = next;
        controllers?.applyConfig(next);
        resolver.update(next.s3);
        await registry.update(next.providers);
      },
    },
  );

  try {
    const code = await runOperator({
      kubeconfig: flags.kubeconfig as string | undefined,
      context: flags.context as string | undefined,
      serviceAccountDir: flags["service-account-dir"] as string,
      env: operatorEnvironment(),
      leaderElect: flags["leader-elect"] as boolean,
      leaderElectionId: flags["leader-election-id"] as string,
      leaderElectionNamespace: flags["leader-election-namespace"] as string | undefined,
      healthProbeBindAddress: flags["health-probe-bind-address"] as string,
      metricsBindAddress: flags["metrics-bind-address"] as string,
      metricsSecure: flags["metrics-secure"] as boolean,
      metricsCert: {
        path: flags["metrics-cert-path"] as string | undefined,
        name: flags["metrics-cert-name"] as string,
        key: flags["metrics-cert-key"] as string,
      },
      syncPeriodMs,
      log,
      setup: (ctx) => {
        controllers = setupReleaseControllers(ctx, {
          config,
          namespace: flags.namespace as string,
          flatcarChannel: flags["flatcar-channel"] as string,
          naming: releaseNaming(modules),
          retentionMs: config.retentionMs,
        });
        registry.attachReadiness(ctx.readiness);
        ctx.readiness.addCheck("config", reloads.check);
        reloads.registerMetrics(ctx.registry);
        setupImageController(ctx, { registry, resolver, ...transfers });
      },
      onListening: ({ health, metrics }) =>
        log.info("Listening", {
          health: health && `${health.hostname}:${health.port}`,
          metrics: metrics &&
            `${flags["metrics-secure"] ? "https" : "http"}://${metrics.hostname}:${metrics.port}`,
        }),
    }, stop.signal);
    log.info("Stopped", { exitCode: code });
    return code;
  } catch (error) {
    const startup = startupConfigurationError(error, flags);
    if (startup) {
      log.error("Invalid start-up configuration", { error: startup });
      return 2;
    }
    log.error("Operator failed", { error });
    return 1;
  } finally {
    stop.abort();
    Deno.removeSignalListener("SIGTERM", onSigterm);
    Deno.removeSignalListener("SIGINT", onSigint);
    options.signal?.removeEventListener("abort", onAbort);
    await configWatch;
    await registry.close();
    resolver.close();
    clearTimeout(shutdownGuard);
  }
}

/**
 * Every environment variable the operator reads: where to find a kubeconfig, and the in-cluster
 * API server. The container grants exactly these (`--allow-env=…` in the Containerfile; a test
 * compares the two) and ignores the rest (`--ignore-env`: libraries reading other variables,
 * e.g. the AWS SDK's `AWS_*` settings, see them unset).
 */
export const OPERATOR_ENVIRONMENT = [
  "KUBECONFIG",
  "HOME",
  "KUBERNETES_SERVICE_HOST",
  "KUBERNETES_SERVICE_PORT",
] as const;

function operatorEnvironment(): Record<string, string | undefined> {
  return Object.fromEntries(OPERATOR_ENVIRONMENT.map((name) => [name, Deno.env.get(name)]));
}

/** `--sync-period`: a relist of everything more often than a minute would be a load, not a repair. */
function syncPeriod(flags: Record<string, unknown>): number {
  const ms = parseNonNegativeGoDuration(String(flags["sync-period"]), "--sync-period");
  if (ms < 60_000) {
    throw new FlagError(`Flag "--sync-period" must be at least 1m, not "${flags["sync-period"]}"`);
  }
  return ms;
}

/** Each configuration warning, once, when that configuration is taken into use. */
function logWarnings(log: Logger, config: OperatorConfig): void {
  for (const issue of config.warnings) {
    log.warn("Configuration warning", { warning: formatConfigIssue(issue) });
  }
}

/** The probe and metrics addresses must parse before anything starts. */
function validateBindAddresses(flags: Record<string, unknown>): void {
  for (const name of ["health-probe-bind-address", "metrics-bind-address"]) {
    try {
      parseBindAddress(String(flags[name]));
    } catch (error) {
      if (!(error instanceof BindAddressError)) throw error;
      throw new FlagError(`Flag "--${name}": ${error.message}`);
    }
  }
}

/**
 * The message when `error` comes from the start-up configuration (the kubeconfig, an address
 * that cannot be bound), so the process exits 2 like for any other configuration mistake.
 */
function startupConfigurationError(
  error: unknown,
  flags: Record<string, unknown>,
): string | undefined {
  if (error instanceof KubeConfigError || error instanceof MetricsCertificateError) {
    return error.message;
  }
  if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.AddrNotAvailable) {
    return `Cannot listen on --health-probe-bind-address "${
      flags["health-probe-bind-address"]
    }" or --metrics-bind-address "${flags["metrics-bind-address"]}": ${error.message}`;
  }
  return undefined;
}

/** NodeImages are created there: a name the API server would refuse is a start-up error. */
function validateNamespace(namespace: string): void {
  const problem = dns1123LabelProblem(namespace);
  if (problem) {
    throw new FlagError(
      `Flag "--namespace" must be a Kubernetes namespace name (a DNS-1123 label): ` +
        `"${namespace}" ${problem}`,
    );
  }
}

function transferSettings(flags: Record<string, unknown>) {
  const maxConcurrentTransfers = Number(flags["max-concurrent-transfers"]);
  if (!Number.isInteger(maxConcurrentTransfers) || maxConcurrentTransfers < 1) {
    throw new FlagError(
      `Flag "--max-concurrent-transfers" takes a whole number of at least 1, ` +
        `not "${flags["max-concurrent-transfers"]}"`,
    );
  }
  const transferTimeoutMs = parseNonNegativeGoDuration(
    String(flags["transfer-timeout"]),
    "--transfer-timeout",
  );
  if (transferTimeoutMs <= 0) {
    throw new FlagError(
      `Flag "--transfer-timeout" must be above 0, not "${flags["transfer-timeout"]}"`,
    );
  }
  const inventoryResyncMs = parseNonNegativeGoDuration(
    String(flags["inventory-resync"]),
    "--inventory-resync",
  );
  if (inventoryResyncMs < 1000) {
    throw new FlagError(
      `Flag "--inventory-resync" must be at least 1s, not "${flags["inventory-resync"]}"`,
    );
  }
  return { maxConcurrentTransfers, transferTimeoutMs, inventoryResyncMs };
}

function logFormat(flags: Record<string, unknown>): LogFormat {
  if (flags["zap-devel"] || flags["zap-encoder"] === "console") return "text";
  const format = String(flags["log-format"]);
  if (format !== "json" && format !== "text") {
    throw new FlagError(`Flag "--log-format" takes json or text, not "${format}"`);
  }
  return format;
}

function logLevel(flags: Record<string, unknown>): LogLevel {
  const level = String(
    flags["zap-log-level"] ?? (flags["zap-devel"] ? "debug" : flags["log-level"]),
  );
  if (!["debug", "info", "warn", "error"].includes(level)) {
    throw new FlagError(`Flag "--log-level" takes debug, info, warn or error, not "${level}"`);
  }
  return level as LogLevel;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
