/**
 * The operator's own HTTP endpoints: `/healthz` and `/readyz` on the health probe address,
 * `/metrics` on the metrics address, like controller-runtime's manager
 * (`--health-probe-bind-address`, `--metrics-bind-address`; `0` disables a server). When both
 * addresses are equal one listener serves all three paths, unless metrics are secure.
 *
 * Secure metrics (`--metrics-secure`, the Go operator's default): `/metrics` is served over
 * HTTPS with the given certificate, and each request passes `metricsAuth` (TokenReview and
 * SubjectAccessReview) first. The probes stay on their own plain-HTTP listener, since the
 * kubelet probes them without a token.
 *
 * Probe semantics follow Kubernetes: `ok` (200) when every check passes, otherwise 503 with
 * one `[+]name ok` / `[-]name failed: reason` line per check; `?verbose` forces the list,
 * `?exclude=name` skips a check, and `/readyz/<name>` runs one check.
 *
 * Guarantees: handlers never throw (a failing check is a 503, a broken collector a 500); the
 * listeners close when the start signal aborts, and `finished` resolves once they have.
 */
import type { Registry } from "prom-client";
import type { Clock } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import { type BindAddress, parseBindAddress } from "./bind_address.ts";
import { EventLoopMonitor } from "./event_loop_monitor.ts";
import { Readiness, renderReport } from "./health_checks.ts";
import type { MetricsAuth } from "./metrics_auth.ts";
import type { CertificateAndKey } from "../tls/certificate.ts";

export interface OperatorServerOptions {
  /** `host:port`, `:port` or `0`; the Go operator's default is `:8081`. */
  healthProbeBindAddress: string;
  /** `host:port`, `:port` or `0`; the Go operator's default is `:8080`. */
  metricsBindAddress: string;
  /** Checks behind `/readyz`. */
  readiness: Readiness;
  /** Checks behind `/healthz`; the server adds its `event-loop` check here. */
  liveness?: Readiness;
  /** Served at `/metrics`. */
  registry: Registry;
  /** Serve `/metrics` over HTTPS with this certificate, behind `metricsAuth`. */
  metricsTls?: CertificateAndKey;
  /** Admits or refuses each `/metrics` request; required with `metricsTls`. */
  metricsAuth?: MetricsAuth;
  log?: Logger;
  /** For the event loop monitor; injected in tests. */
  clock?: Clock;
}

/** The listening servers; stop them by aborting the signal given to `start`. */
export interface RunningOperatorServer {
  /** Where `/healthz` and `/readyz` answer, unless disabled. */
  healthAddress?: Deno.NetAddr;
  /** Where `/metrics` answers, unless disabled. */
  metricsAddress?: Deno.NetAddr;
  /** Resolves once every listener has shut down after the abort. */
  finished: Promise<void>;
}

type Route = (request: Request, url: URL) => Promise<Response> | Response;

const TEXT = { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" };

/** Health, readiness and metrics endpoints of one operator process. */
export class OperatorServer {
  /** Checks behind `/healthz`, including the built-in `event-loop` check. */
  readonly liveness: Readiness;
  readonly readiness: Readiness;
  readonly #registry: Registry;
  readonly #log: Logger;
  readonly #health?: BindAddress;
  readonly #metrics?: BindAddress;
  readonly #eventLoop: EventLoopMonitor;
  readonly #metricsTls?: CertificateAndKey;
  readonly #metricsAuth?: MetricsAuth;
  #wasReady?: boolean;

  /** @throws {BindAddressError} when an address flag cannot be parsed. */
  constructor(options: OperatorServerOptions) {
    this.#health = parseBindAddress(options.healthProbeBindAddress);
    this.#metrics = parseBindAddress(options.metricsBindAddress);
    this.readiness = options.readiness;
    this.liveness = options.liveness ?? new Readiness();
    this.#registry = options.registry;
    this.#metricsTls = options.metricsTls;
    this.#metricsAuth = options.metricsAuth;
    if (this.#metricsTls && !this.#metricsAuth) {
      throw new TypeError("Secure metrics need metricsAuth as well as a certificate");
    }
    this.#log = (options.log ?? silentLogger).with({ component: "http-server" });
    this.#eventLoop = new EventLoopMonitor({ clock: options.clock });
    this.liveness.addCheck("event-loop", this.#eventLoop.check);
  }

  /**
   * Binds the enabled listeners and returns once they accept connections.
   * @throws {Deno.errors.AddrInUse} (or another bind error) when a port cannot be bound.
   */
  async start(signal: AbortSignal): Promise<RunningOperatorServer> {
    const healthRoutes: Record<string, Route> = {
      "/healthz": (req, url) => this.#probe("healthz", this.liveness, req, url),
      "/readyz": (req, url) => this.#probe("readyz", this.readiness, req, url),
    };
    const auth = this.#metricsAuth;
    const metricsRoutes: Record<string, Route> = {
      "/metrics": auth
        ? async (req) => (await auth.check(req)) ?? await this.#serveMetrics()
        : () => this.#serveMetrics(),
    };
    const listeners: {
      address: BindAddress;
      routes: Record<string, Route>;
      kind: string;
      tls?: CertificateAndKey;
    }[] = [];
    if (this.#health) {
      listeners.push({ address: this.#health, routes: healthRoutes, kind: "health" });
    }
    if (this.#metrics) {
      const same = listeners.find((l) => sameAddress(l.address, this.#metrics!));
      if (same && this.#metrics.port !== 0 && !this.#metricsTls) {
        Object.assign(same.routes, metricsRoutes);
      } else {
        listeners.push({
          address: this.#metrics,
          routes: metricsRoutes,
          kind: "metrics",
          tls: this.#metricsTls,
        });
      }
    }

    // Each server gets its own controller so a failed bind can close the ones already open.
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    const servers: Deno.HttpServer<Deno.NetAddr>[] = [];
    try {
      for (const listener of listeners) {
        servers.push(
          this.#listen(listener.address, listener.routes, stop.signal, listener.tls),
        );
      }
    } catch (error) {
      stop.abort();
      await Promise.all(servers.map((s) => s.finished));
      signal.removeEventListener("abort", onAbort);
      throw error;
    }
    if (signal.aborted) stop.abort();
    this.#eventLoop.start(stop.signal);

    const result: RunningOperatorServer = {
      finished: Promise.all(servers.map((s) => s.finished)).then(() => {
        signal.removeEventListener("abort", onAbort);
      }),
    };
    listeners.forEach((listener, i) => {
      const addr = servers[i].addr;
      if (listener.kind === "health") result.healthAddress = addr;
      if (listener.routes["/metrics"]) result.metricsAddress = addr;
      this.#log.info("Serving", {
        address: `${addr.hostname}:${addr.port}`,
        paths: Object.keys(listener.routes),
        scheme: listener.tls ? "https" : "http",
      });
    });
    return result;
  }

  #listen(
    address: BindAddress,
    routes: Record<string, Route>,
    signal: AbortSignal,
    tls?: CertificateAndKey,
  ): Deno.HttpServer<Deno.NetAddr> {
    return Deno.serve({
      hostname: address.hostname,
      port: address.port,
      signal,
      ...(tls ? { cert: tls.cert, key: tls.key } : {}),
      onListen: () => {},
      onError: (error) => {
        this.#log.error("HTTP handler failed", { error });
        return new Response("internal server error\n", { status: 500, headers: TEXT });
      },
    }, (request) => {
      const url = new URL(request.url);
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("method not allowed\n", {
          status: 405,
          headers: { ...TEXT, allow: "GET, HEAD" },
        });
      }
      const path = url.pathname.replace(/\/+$/, "") || "/";
      const base = "/" + path.split("/")[1];
      const route = routes[path] ?? (base !== "/metrics" ? routes[base] : undefined);
      return route
        ? route(request, url)
        : new Response("404 page not found\n", { status: 404, headers: TEXT });
    });
  }

  async #probe(probe: string, checks: Readiness, _req: Request, url: URL): Promise<Response> {
    const path = url.pathname.replace(/\/+$/, "");
    const single = path.slice(`/${probe}`.length + 1);
    if (single) {
      const status = await checks.runOne(decodeURIComponent(single));
      if (!status) return new Response("404 page not found\n", { status: 404, headers: TEXT });
      return status.ok
        ? new Response("ok", { headers: TEXT })
        : new Response(`${probe} check failed: ${status.reason ?? "no reason given"}\n`, {
          status: 503,
          headers: TEXT,
        });
    }
    const report = await checks.run(url.searchParams.getAll("exclude"));
    if (probe === "readyz" && report.ok !== this.#wasReady) {
      // Transitions only: logging every failing probe would flood the log every few seconds.
      this.#wasReady = report.ok;
      const failed = report.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.reason ?? ""}`);
      this.#log.info(report.ok ? "Ready" : "Not ready", report.ok ? {} : { failed });
    }
    return new Response(renderReport(report, probe, url.searchParams.has("verbose")), {
      status: report.ok ? 200 : 503,
      headers: TEXT,
    });
  }

  async #serveMetrics(): Promise<Response> {
    try {
      return new Response(await this.#registry.metrics(), {
        headers: { "content-type": this.#registry.contentType },
      });
    } catch (error) {
      this.#log.error("Cannot collect metrics", { error });
      return new Response("cannot collect metrics\n", { status: 500, headers: TEXT });
    }
  }
}

function sameAddress(a: BindAddress, b: BindAddress): boolean {
  return a.hostname === b.hostname && a.port === b.port;
}
