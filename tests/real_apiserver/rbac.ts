/**
 * The operator's identity on a real API server, exactly as `deploy/` grants it: the base is
 * rendered with `kubectl kustomize deploy/base`, its ServiceAccount, Roles, ClusterRoles and
 * bindings are created as rendered, and a token for the ServiceAccount comes from the
 * TokenRequest API (what the kubelet mounts into the pod). Requests with that token get what
 * the rendered RBAC allows and nothing more.
 */
import { parseAllDocuments } from "yaml";
import type { RealApiServer } from "./server.ts";

const DEPLOY_BASE = new URL("../../deploy/base", import.meta.url).pathname;

/** Kinds taken from the rendering, in creation order, with their collection paths. */
const RBAC_KINDS: Record<string, (namespace: string) => string> = {
  ServiceAccount: (ns) => `/api/v1/namespaces/${ns}/serviceaccounts`,
  Role: (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`,
  ClusterRole: () => "/apis/rbac.authorization.k8s.io/v1/clusterroles",
  RoleBinding: (ns) => `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
  ClusterRoleBinding: () => "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

export interface OperatorIdentity {
  namespace: string;
  serviceAccount: string;
  /** `system:serviceaccount:<namespace>:<name>`. */
  userName: string;
  token: string;
}

/** The ServiceAccount and RBAC objects `kubectl kustomize deploy/base` renders. */
export async function renderDeployRbac(): Promise<Manifest[]> {
  const output = await new Deno.Command("kubectl", {
    args: ["kustomize", DEPLOY_BASE],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `kubectl kustomize ${DEPLOY_BASE} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  const docs = parseAllDocuments(new TextDecoder().decode(output.stdout));
  const manifests = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS() as Manifest)
    .filter((m) => m && m.kind in RBAC_KINDS);
  const order = Object.keys(RBAC_KINDS);
  return manifests.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
}

/**
 * Creates the rendered RBAC (and the namespaces it names) and returns a token for its single
 * ServiceAccount. An object that already exists is left alone.
 */
export async function installOperatorIdentity(server: RealApiServer): Promise<OperatorIdentity> {
  const manifests = await renderDeployRbac();
  const accounts = manifests.filter((m) => m.kind === "ServiceAccount");
  if (accounts.length !== 1) {
    throw new Error(`deploy/base renders ${accounts.length} ServiceAccounts; expected one`);
  }
  const namespaces = new Set(manifests.map((m) => m.metadata.namespace).filter(Boolean));
  for (const name of namespaces) {
    await create(server, "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    });
  }
  for (const manifest of manifests) {
    await create(server, RBAC_KINDS[manifest.kind](manifest.metadata.namespace ?? ""), manifest);
  }
  const { name, namespace } = accounts[0].metadata;
  const token = await serviceAccountToken(server, namespace!, name);
  return {
    namespace: namespace!,
    serviceAccount: name,
    userName: `system:serviceaccount:${namespace}:${name}`,
    token,
  };
}

/** A TokenRequest for the ServiceAccount (valid for a day, audience = the API server). */
export async function serviceAccountToken(
  server: RealApiServer,
  namespace: string,
  name: string,
): Promise<string> {
  const reply = await server.request(
    "POST",
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 86_400 },
      },
    },
  );
  const token = (reply.body as { status?: { token?: string } }).status?.token;
  if (reply.status !== 201 || !token) {
    throw new Error(
      `TokenRequest for ${namespace}/${name} failed: ${reply.status} ${JSON.stringify(reply.body)}`,
    );
  }
  return token;
}

async function create(server: RealApiServer, path: string, body: unknown): Promise<void> {
  const reply = await server.request("POST", path, { body });
  if (reply.status !== 201 && reply.status !== 409) {
    throw new Error(`POST ${path} failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  }
}
