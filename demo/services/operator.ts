/**
 * The operator itself (`main.ts`) as its own process, with the values.yaml the demo wrote, a
 * short retention period so a deleted Release's image goes at once, metrics over plain HTTP on a
 * loopback port (read for `rest_client_requests_total`), and quick catalog resyncs.
 */
import { ServiceProcess } from "../processes.ts";
import { freePort } from "../../tests/support/free_port.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

export interface OperatorService {
  metricsUrl: string;
  process: ServiceProcess;
}

export async function startOperator(
  dir: string,
  options: { kubeconfig: string; valuesPath: string; retention: string; signal: AbortSignal },
): Promise<OperatorService> {
  const health = freePort();
  const metrics = freePort();
  const process = ServiceProcess.spawn("operator", Deno.execPath(), [
    "run",
    "--allow-all",
    MAIN,
    `--kubeconfig=${options.kubeconfig}`,
    `--config=${options.valuesPath}`,
    `--image-retention-period=${options.retention}`,
    "--inventory-resync=5s",
    `--health-probe-bind-address=127.0.0.1:${health}`,
    `--metrics-bind-address=127.0.0.1:${metrics}`,
    // Plain HTTP on loopback: the demo reads its own counters. The HTTPS + TokenReview filter of
    // a deployment is shown by tests/server/metrics_auth_test.ts, not here.
    "--metrics-secure=false",
    "--log-format=text",
  ], { logPath: `${dir}/operator.log` });
  try {
    await ready(process, `http://127.0.0.1:${health}/readyz`, options.signal);
  } catch (error) {
    await process.stop();
    throw error;
  }
  return { metricsUrl: `http://127.0.0.1:${metrics}/metrics`, process };
}

/** Ready once the probe answers 200: caches synced, controllers running. */
async function ready(process: ServiceProcess, readyz: string, signal: AbortSignal): Promise<void> {
  while (true) {
    const ok = await fetch(readyz, { signal: AbortSignal.timeout(2_000) })
      .then(async (r) => (await r.body?.cancel(), r.ok), () => false);
    if (ok) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (process.exitStatus) {
      throw new Error(
        `the operator exited with code ${process.exitStatus.code}; its log ` +
          `(${process.logPath}) ends:\n${process.logTail()}`,
      );
    }
    if (signal.aborted) {
      const reason = (signal.reason as Error)?.message ?? "stopped";
      throw new Error(
        `${reason} before the operator was ready; its log ends:\n${process.logTail()}`,
      );
    }
  }
}

/** Requests by method from `rest_client_requests_total` in a metrics text. */
export function apiRequestsOf(metricsText: string): Map<string, number> {
  const byMethod = new Map<string, number>();
  for (const line of metricsText.split("\n")) {
    const match = /^rest_client_requests_total\{(.*)\} (\S+)$/.exec(line);
    if (!match) continue;
    const method = /method="([^"]*)"/.exec(match[1])?.[1] ?? "?";
    byMethod.set(method, (byMethod.get(method) ?? 0) + Number(match[2]));
  }
  return byMethod;
}
