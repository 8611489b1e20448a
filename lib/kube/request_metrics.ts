/**
 * `rest_client_requests_total{code,method,host}`: client-go's count of requests to the API
 * server, under the name and labels controller-runtime's metrics endpoint exposes, so the
 * dashboards and alerts written for the Go operator keep working.
 *
 * `countingTransport` wraps any `KubeTransport` and counts each request once its answer (or
 * failure) is known. As client-go does, a request that never got an answer counts with code
 * `<error>`; a watch counts when its response headers arrive, not when the stream ends.
 */
import { Counter, type Registry } from "prom-client";
import type { KubeRequest, KubeTransport } from "./transport.ts";

export const REST_CLIENT_REQUESTS_TOTAL = "rest_client_requests_total";

/** A transport that counts every request in `registry` and otherwise behaves as `inner`. */
export function countingTransport(inner: KubeTransport, registry: Registry): KubeTransport {
  const counter = (registry.getSingleMetric(REST_CLIENT_REQUESTS_TOTAL) as
    | Counter<"code" | "method" | "host">
    | undefined) ??
    new Counter({
      name: REST_CLIENT_REQUESTS_TOTAL,
      help: "Number of HTTP requests, partitioned by status code, method, and host.",
      labelNames: ["code", "method", "host"],
      registers: [registry],
    });
  const host = hostOf(inner.server);
  return {
    server: inner.server,
    async fetch(request: KubeRequest): Promise<Response> {
      try {
        const response = await inner.fetch(request);
        counter.inc({ code: String(response.status), method: request.method, host });
        return response;
      } catch (error) {
        counter.inc({ code: "<error>", method: request.method, host });
        throw error;
      }
    },
  };
}

function hostOf(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return server;
  }
}
