/**
 * The Kubernetes API: the fake API server (`tests/fake_apiserver/main.ts`, CRDs from `crds/`),
 * or with `--real` a real etcd + kube-apiserver (`tests/real_apiserver/main.ts`, built by
 * `tools/kube-apiserver.sh`), where the operator runs as its ServiceAccount with deploy/'s RBAC.
 */
import { ServiceProcess } from "../processes.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

export interface ApiServerService {
  /** Admin kubeconfig: the demo and you (`kubectl`). */
  kubeconfig: string;
  /** The operator's kubeconfig (the same file on the fake server). */
  operatorKubeconfig: string;
  kind: "fake" | "real";
  process: ServiceProcess;
}

export async function startApiServer(
  dir: string,
  real: boolean,
  signal: AbortSignal,
): Promise<ApiServerService> {
  const kubeconfig = `${dir}/kubeconfig`;
  if (!real) {
    const process = ServiceProcess.spawn("fake API server", Deno.execPath(), [
      "run",
      "--allow-all",
      `${ROOT}tests/fake_apiserver/main.ts`,
      `--crds=${ROOT}crds`,
      `--kubeconfig=${kubeconfig}`,
    ], { logPath: `${dir}/apiserver.log` });
    await process.waitFor(/fake-cluster ready/, signal);
    return { kubeconfig, operatorKubeconfig: kubeconfig, kind: "fake", process };
  }
  const process = ServiceProcess.spawn("real API server", Deno.execPath(), [
    "run",
    "--allow-all",
    `${ROOT}tests/real_apiserver/main.ts`,
    `--crds=${ROOT}crds`,
    `--kubeconfig=${kubeconfig}`,
    `--dir=${dir}/real-apiserver`,
  ], { logPath: `${dir}/apiserver.log` });
  const [, operatorKubeconfig] = await process.waitFor(
    /real-cluster ready .* operator-kubeconfig=(\S+)/,
    signal,
  );
  return { kubeconfig, operatorKubeconfig, kind: "real", process };
}
