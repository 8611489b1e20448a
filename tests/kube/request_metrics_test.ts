import assert from "node:assert/strict";
import { countingTransport } from "../../lib/kube/request_metrics.ts";
import type { KubeRequest, KubeTransport } from "../../lib/kube/transport.ts";
import { createRegistry } from "../../lib/metrics.ts";

/** A transport that answers each path with the status in the table, or fails for others. */
function scripted(statusByPath: Record<string, number>): KubeTransport {
  return {
    server: "https://10.0.0.1:6443/",
    fetch(request: KubeRequest) {
      const status = statusByPath[request.path];
      if (status === undefined) return Promise.reject(new Error("connection refused"));
      return Promise.resolve(new Response(null, { status }));
    },
  };
}

Deno.test("rest_client_requests_total counts each request by code, method and host", async () => {
  const registry = createRegistry();
  const transport = countingTransport(scripted({ "/a": 200, "/b": 404 }), registry);
  await transport.fetch({ method: "GET", path: "/a" });
  await transport.fetch({ method: "GET", path: "/a" });
  await transport.fetch({ method: "PATCH", path: "/b" });
  await assert.rejects(transport.fetch({ method: "DELETE", path: "/down" }), /refused/);
  const text = await registry.metrics();
  const lines = text.split("\n").filter((l) => l.startsWith("rest_client_requests_total{"));
  assert.deepEqual(
    lines.sort(),
    [
      'rest_client_requests_total{code="200",method="GET",host="10.0.0.1:6443"} 2',
      'rest_client_requests_total{code="404",method="PATCH",host="10.0.0.1:6443"} 1',
      'rest_client_requests_total{code="<error>",method="DELETE",host="10.0.0.1:6443"} 1',
    ].sort(),
  );
  assert.equal(transport.server, "https://10.0.0.1:6443/");
});
