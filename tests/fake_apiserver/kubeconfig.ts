/** A kubeconfig pointing at the fake server (one cluster, user and context, all "fake"). */
import { stringify } from "yaml";

export interface KubeconfigOptions {
  server: string;
  namespace?: string;
  token?: string;
  /** PEM of the server certificate, trusted as the CA (self-signed). */
  caCert?: string;
}

export function kubeconfigYaml(options: KubeconfigOptions): string {
  const cluster: Record<string, string> = { server: options.server };
  if (options.caCert) {
    cluster["certificate-authority-data"] = btoa(options.caCert);
  }
  const context: Record<string, string> = { cluster: "fake", user: "fake" };
  if (options.namespace) context.namespace = options.namespace;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster }],
    users: [{ name: "fake", user: options.token ? { token: options.token } : {} }],
    contexts: [{ name: "fake", context }],
    "current-context": "fake",
    preferences: {},
  });
}
