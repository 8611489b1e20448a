/**
 * The kustomize deployment (`deploy/`), rendered by the real `kubectl kustomize` and checked
 * against the operator's own code: its flag parser accepts the Deployment's args, RBAC grants
 * what the operator's resource types need, the mounted files land where the config loader reads
 * them (and load), nothing uses `subPath` (it would stop reloads), probes and the Service hit the
 * ports the flags open, and the rendered CRD is accepted by the fake API server. Ignored, saying
 * why, when no working kubectl is on PATH.
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { LEADER_ELECTION_ID, NODE_IMAGES, RELEASES } from "../lib/names.ts";
import { EVENTS } from "../lib/kube/events.ts";
import { CORE_EVENTS, LEASES, type ResourceType } from "../lib/kube/resource.ts";
import { configFilesOf, configSourcesFromFlags, loadConfigFromSources } from "../lib/config/mod.ts";
import { parseFlags } from "../lib/flags.ts";
import { parseGoDuration } from "../lib/duration.ts";
import { FakeApiServer } from "./fake_apiserver/mod.ts";
import { ALL_CONFIG_FLAGS, PROVIDER_MODULES } from "./support/provider_configs.ts";

const root = new URL("..", import.meta.url).pathname;
const BASE = "deploy/base";
const VALUES_EXAMPLE = "deploy/examples/values-config";
const FLAGS_EXAMPLE = "deploy/examples/go-flags";
const MONITOR_EXAMPLE = "deploy/examples/service-monitor";
const NAMESPACE = "giantswarm";

function kubectlVersion(): string | undefined {
  try {
    const out = new Deno.Command("kubectl", { args: ["version", "--client"], stderr: "null" })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).split("\n")[0] : undefined;
  } catch {
    return undefined;
  }
}

const kubectlFound = kubectlVersion();
if (!kubectlFound) {
  console.warn(
    "deploy_test: ignored because no working `kubectl` is on PATH (install Debian's kubernetes-client)",
  );
}

// Only the fields these tests read; the rendered YAML has more.
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  [field: string]: unknown;
}
interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}
interface Binding extends Manifest {
  roleRef: { kind: string; name: string };
  subjects: { kind: string; name: string; namespace?: string }[];
}
interface KeyToPath {
  key: string;
  path: string;
}
interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string };
  secret?: { secretName: string; items?: KeyToPath[] };
  configMap?: { name: string; items?: KeyToPath[] };
  projected?: {
    sources: {
      secret?: { name: string; optional?: boolean; items?: KeyToPath[] };
      configMap?: { name: string; optional?: boolean; items?: KeyToPath[] };
    }[];
  };
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  args: string[];
  env?: { name: string; value?: string }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: Probe;
  readinessProbe: Probe;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown> & { capabilities?: { drop?: string[] } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  serviceAccountName: string;
  terminationGracePeriodSeconds: number;
  securityContext: Record<string, unknown> & { seccompProfile?: { type: string } };
  containers: Container[];
  volumes: Volume[];
}
interface Deployment extends Manifest {
  spec: {
    replicas: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
  };
}

const renders = new Map<string, Promise<Manifest[]>>();

/** `kubectl kustomize` of a directory under deploy/, parsed; rendered once per directory. */
function render(dir: string): Promise<Manifest[]> {
  let rendered = renders.get(dir);
  if (!rendered) {
    rendered = (async () => {
      const out = await new Deno.Command("kubectl", {
        // The base references crds/ outside its root; deploy/base/kustomization.yaml says why.
        args: ["kustomize", dir],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.ok(
        out.success,
        `kubectl kustomize ${dir} failed: ${new TextDecoder().decode(out.stderr)}`,
      );
      return parseAllDocuments(text).map((doc) => {
        assert.deepEqual(doc.errors, [], `kubectl kustomize ${dir} printed invalid YAML`);
        return doc.toJS() as Manifest;
      });
    })();
    renders.set(dir, rendered);
  }
  return rendered;
}

function find<T extends Manifest>(manifests: Manifest[], kind: string, name?: string): T {
  const found = manifests.filter((m) =>
    m.kind === kind && (name === undefined || m.metadata.name === name)
  );
  assert.equal(found.length, 1, `expected one ${kind} ${name ?? ""}, found ${found.length}`);
  return found[0] as T;
}

function deploymentOf(manifests: Manifest[]) {
  const deployment = find<Deployment>(
    manifests,
    "Deployment",
    "image-distribution-operator-controller-manager",
  );
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((c) => c.name === "manager");
  assert.ok(container, "the Deployment has no container named manager");
  return { deployment, pod, container };
}

/** The value of `--name=value` in `args`; every arg in our manifests uses that form. */
function flagValue(args: string[], name: string): string | undefined {
  const arg = args.find((a) => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

/** Port of a Go-style bind address (`:8081`, `0.0.0.0:8081`). */
function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(":") + 1));
}

function containerPort(container: Container, port: string | number): number {
  if (typeof port === "number") return port;
  const named = container.ports.find((p) => p.name === port);
  assert.ok(named, `no container port named "${port}"`);
  return named.containerPort;
}

/** Exit code and output of `main.ts <args> --help`: flags are parsed and checked, nothing runs. */
async function operatorHelp(args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts", ...args, "--help"],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, output: decode(out.stdout) + decode(out.stderr) };
}

/**
 * The files the pod sees, from the container's mounts and the rendered Secrets and ConfigMaps:
 * path → content. Sources that do not exist (optional ones) contribute nothing.
 */
function podFiles(manifests: Manifest[]): Map<string, string> {
  const { pod, container } = deploymentOf(manifests);
  const dataOf = (kind: "Secret" | "ConfigMap", name: string, key: string) => {
    const object = manifests.find((m) => m.kind === kind && m.metadata.name === name);
    const value = object?.data?.[key];
    if (value === undefined) return undefined;
    return kind === "Secret" ? new TextDecoder().decode(decodeBase64(value)) : value;
  };
  const files = new Map<string, string>();
  const add = (dir: string, kind: "Secret" | "ConfigMap", name: string, items?: KeyToPath[]) => {
    const object = manifests.find((m) => m.kind === kind && m.metadata.name === name);
    const keys = items ?? Object.keys(object?.data ?? {}).map((key) => ({ key, path: key }));
    for (const { key, path } of keys) {
      const content = dataOf(kind, name, key);
      if (content !== undefined) files.set(`${dir}/${path}`, content);
    }
  };
  for (const mount of container.volumeMounts) {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    assert.ok(volume, `volumeMount "${mount.name}" has no volume`);
    if (volume.secret) {
      add(mount.mountPath, "Secret", volume.secret.secretName, volume.secret.items);
    }
    if (volume.configMap) {
      add(mount.mountPath, "ConfigMap", volume.configMap.name, volume.configMap.items);
    }
    for (const source of volume.projected?.sources ?? []) {
      if (source.secret) add(mount.mountPath, "Secret", source.secret.name, source.secret.items);
      if (source.configMap) {
        add(mount.mountPath, "ConfigMap", source.configMap.name, source.configMap.items);
      }
    }
  }
  return files;
}

function decodeBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** The operator's configuration from the Deployment's args, reading files from `files`. */
function loadPodConfig(manifests: Manifest[]) {
  const { container } = deploymentOf(manifests);
  const configArgs = container.args.filter((arg) => {
    const name = /^--([^=]+)/.exec(arg)?.[1];
    return name !== undefined && name in ALL_CONFIG_FLAGS;
  });
  const sources = configSourcesFromFlags(
    parseFlags(configArgs, ALL_CONFIG_FLAGS),
    PROVIDER_MODULES,
  );
  const files = podFiles(manifests);
  return loadConfigFromSources(sources, {
    modules: PROVIDER_MODULES,
    readTextFile: (path) => {
      const content = files.get(path);
      if (content === undefined) {
        return Promise.reject(new Deno.errors.NotFound(`${path} is not mounted in the pod`));
      }
      return Promise.resolve(content);
    },
  });
}

/** Whether some rule grants `verb` on `resource` (optionally `/subresource`) of `type`'s group. */
function allows(rules: PolicyRule[], type: ResourceType, resource: string, verb: string) {
  return rules.some((rule) =>
    (rule.apiGroups ?? []).includes(type.group) &&
    (rule.resources ?? []).includes(resource) &&
    rule.verbs.includes(verb)
  );
}

/** What the operator calls, per resource type (see the clients in lib/ and rbac.yaml). */
const CLUSTER_NEEDS: { type: ResourceType; subresource?: string; verbs: string[] }[] = [
  {
    type: NODE_IMAGES,
    verbs: ["get", "list", "watch", "create", "patch", "update", "delete"],
  },
  { type: NODE_IMAGES, subresource: "status", verbs: ["get", "patch", "update"] },
  // Finalizer add/remove by JSON patch; Releases and their status are never updated.
  { type: RELEASES, verbs: ["get", "list", "watch", "patch"] },
  // Events land in the regarded object's namespace (`default` for a Release): cluster-wide.
  { type: EVENTS, verbs: ["create", "patch"] },
  { type: CORE_EVENTS, verbs: ["create", "patch"] },
  // Secure metrics: who a scraper's token is, and whether it may get /metrics.
  { type: review("authentication.k8s.io", "tokenreviews", "TokenReview"), verbs: ["create"] },
  {
    type: review("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview"),
    verbs: ["create"],
  },
];

function review(group: string, plural: string, kind: string): ResourceType {
  return { group, version: "v1", plural, kind, namespaced: false };
}
const LEASE_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"];

const resourceOf = (need: { type: ResourceType; subresource?: string }) =>
  need.subresource ? `${need.type.plural}/${need.subresource}` : need.type.plural;

Deno.test({
  name: "the base renders with kubectl kustomize, in giantswarm, with the repository's CRD as is",
  ignore: !kubectlFound,
  async fn() {
    const manifests = await render(BASE);
    const clusterScoped = ["CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"];
    for (const m of manifests) {
      const expected = clusterScoped.includes(m.kind) ? undefined : NAMESPACE;
      assert.equal(m.metadata.namespace, expected, `${m.kind} ${m.metadata.name}`);
    }
    const crd = find(manifests, "CustomResourceDefinition");
    const [committed] = parseAllDocuments(
      await Deno.readTextFile(`${root}crds/image.giantswarm.io_nodeimages.yaml`),
    ).map((doc) => doc.toJS());
    // As committed, apart from the labels every object of the base gets.
    assert.deepEqual(crd.spec, committed.spec);
    assert.deepEqual(crd.metadata.labels, {
      "app.kubernetes.io/name": "image-distribution-operator",
      "app.kubernetes.io/part-of": "image-distribution-operator",
    });
    assert.equal(crd.metadata.name, `${NODE_IMAGES.plural}.${NODE_IMAGES.group}`);
    assert.ok(
      !manifests.some((m) => m.kind === "Namespace"),
      "the base must not own the namespace",
    );
  },
});

Deno.test({
  name: "the operator's own flag parser accepts the Deployment's args in the base and examples",
  ignore: !kubectlFound,
  async fn(t) {
    for (const dir of [BASE, VALUES_EXAMPLE, FLAGS_EXAMPLE]) {
      await t.step(dir, async () => {
        const { container } = deploymentOf(await render(dir));
        for (const arg of container.args) assert.match(arg, /^--[a-z0-9-]+(=.*)?$/);
        const { code, output } = await operatorHelp(container.args);
        assert.equal(code, 0, output);
        assert.match(output, /^Usage: main\.ts \[flags\]/);
      });
    }
    await t.step("an arg the operator does not know is refused (the check can fail)", async () => {
      const { container } = deploymentOf(await render(BASE));
      const { code, output } = await operatorHelp([...container.args, "--metrics-secur"]);
      assert.equal(code, 2);
      assert.match(output, /Unknown flag "--metrics-secur"/);
    });
  },
});

Deno.test({
  name: "RBAC grants every verb the operator uses on each resource type, and nothing else",
  ignore: !kubectlFound,
  async fn(t) {
    const manifests = await render(BASE);
    const { deployment, pod } = deploymentOf(manifests);
    const subjectIsOperator = (binding: Binding) =>
      binding.subjects.some((s) =>
        s.kind === "ServiceAccount" && s.name === pod.serviceAccountName &&
        s.namespace === deployment.metadata.namespace
      );
    find(manifests, "ServiceAccount", pod.serviceAccountName);

    await t.step("cluster-wide: NodeImages, their status, Releases, Events", () => {
      const bindings = manifests.filter((m): m is Binding => m.kind === "ClusterRoleBinding")
        .filter(subjectIsOperator);
      const rules = bindings.flatMap((b) =>
        (find(manifests, b.roleRef.kind, b.roleRef.name).rules ?? []) as PolicyRule[]
      );
      for (const need of CLUSTER_NEEDS) {
        for (const verb of need.verbs) {
          assert.ok(
            allows(rules, need.type, resourceOf(need), verb),
            `missing ${verb} on ${need.type.group || "core"}/${resourceOf(need)}`,
          );
        }
      }
      for (const rule of rules) {
        assert.equal(rule.nonResourceURLs, undefined);
        for (const group of rule.apiGroups ?? []) {
          for (const resource of rule.resources ?? []) {
            const need = CLUSTER_NEEDS.find((n) =>
              n.type.group === group && resourceOf(n) === resource
            );
            assert.ok(need, `grants ${group || "core"}/${resource}, which the operator never uses`);
            for (const verb of rule.verbs) {
              assert.ok(need.verbs.includes(verb), `grants unused ${verb} on ${resource}`);
            }
          }
        }
      }
    });

    await t.step("the leader election Lease, in the operator's namespace only", () => {
      const bindings = manifests.filter((m): m is Binding => m.kind === "RoleBinding")
        .filter((b) => b.metadata.namespace === deployment.metadata.namespace)
        .filter(subjectIsOperator);
      const roles = bindings.map((b) => find(manifests, b.roleRef.kind, b.roleRef.name));
      for (const role of roles) assert.equal(role.metadata.namespace, NAMESPACE);
      const rules = roles.flatMap((r) => (r.rules ?? []) as PolicyRule[]);
      for (const verb of LEASE_VERBS) {
        assert.ok(allows(rules, LEASES, LEASES.plural, verb), `missing ${verb} on leases`);
      }
      assert.deepEqual(rules.flatMap((r) => r.resources), [LEASES.plural]);
      // The Lease name is the operator's default; nothing in the args overrides it.
      const { container } = deploymentOf(manifests);
      assert.equal(flagValue(container.args, "leader-election-id"), undefined);
      assert.ok(container.args.includes("--leader-elect"));
      assert.equal(LEADER_ELECTION_ID, "fcf824fa.giantswarm.io");
    });
  },
});

Deno.test({
  name: "provider Secrets and ConfigMaps are projected as directories at the Go operator's paths",
  ignore: !kubectlFound,
  async fn() {
    const { pod, container } = deploymentOf(await render(BASE));
    // The paths the config loader reads when every provider is enabled by the Go flags alone.
    const expected = configFilesOf({
      providerFlags: {
        "enable-vsphere": true,
        "enable-cloud-director": true,
        "enable-proxmox": true,
      },
    }, PROVIDER_MODULES);
    assert.equal(expected.length, 2 * PROVIDER_MODULES.length);

    const mounted: string[] = [];
    for (const { section } of PROVIDER_MODULES) {
      const mount = container.volumeMounts.find((m) => m.mountPath === `/home/.${section}`);
      assert.ok(mount, `nothing is mounted at /home/.${section}`);
      assert.equal(mount.readOnly, true);
      const volume = pod.volumes.find((v) => v.name === mount.name);
      assert.ok(volume?.projected, `/home/.${section} is not a projected volume`);
      const [secretSource, configMapSource] = volume.projected.sources;
      assert.deepEqual(secretSource.secret, {
        name: `image-distribution-operator-${section}-credentials`,
        optional: true,
        items: [{ key: "credentials", path: "credentials" }],
      });
      assert.deepEqual(configMapSource.configMap, {
        name: `image-distribution-operator-${section}-locations`,
        optional: true,
        items: [{ key: "locations", path: "locations" }],
      });
      for (const source of volume.projected.sources) {
        for (const item of source.secret?.items ?? source.configMap?.items ?? []) {
          mounted.push(`${mount.mountPath}/${item.path}`);
        }
      }
    }
    assert.deepEqual(mounted.sort(), expected);
  },
});

Deno.test({
  name: "no manifest in the base or the examples uses subPath",
  ignore: !kubectlFound,
  async fn() {
    const offenders: string[] = [];
    const walk = (value: unknown, path: string) => {
      if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${path}[${i}]`));
      else if (value && typeof value === "object") {
        for (const [key, child] of Object.entries(value)) {
          if (key === "subPath" || key === "subPathExpr") offenders.push(`${path}.${key}`);
          walk(child, `${path}.${key}`);
        }
      }
    };
    for (const dir of [BASE, VALUES_EXAMPLE, FLAGS_EXAMPLE]) {
      for (const m of await render(dir)) walk(m, `${dir}: ${m.kind}/${m.metadata.name}`);
    }
    assert.deepEqual(offenders, []);
  },
});

Deno.test({
  name: "probes use the health port and the metrics Service the metrics port the args open",
  ignore: !kubectlFound,
  async fn() {
    const manifests = await render(BASE);
    const { deployment, container } = deploymentOf(manifests);
    const healthPort = portOf(flagValue(container.args, "health-probe-bind-address") ?? "");
    const metricsPort = portOf(flagValue(container.args, "metrics-bind-address") ?? "");
    assert.equal(healthPort, 8081);
    // The Go chart's: HTTPS behind TokenReview/SubjectAccessReview (--metrics-secure's default).
    assert.equal(metricsPort, 8443);
    assert.equal(flagValue(container.args, "metrics-secure"), undefined);
    assert.ok(!container.args.includes("--metrics-secure=false"));

    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    assert.equal(containerPort(container, container.livenessProbe.httpGet.port), healthPort);
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    assert.equal(containerPort(container, container.readinessProbe.httpGet.port), healthPort);

    const podLabels = deployment.spec.template.metadata.labels;
    const selects = (selector: Record<string, string>) =>
      Object.entries(selector).every(([key, value]) => podLabels[key] === value);
    assert.ok(selects(deployment.spec.selector.matchLabels));
    const service = find<Manifest & { spec: Record<string, never> }>(manifests, "Service");
    const spec = service.spec as unknown as {
      selector: Record<string, string>;
      ports: { port: number; targetPort: string | number }[];
    };
    assert.ok(selects(spec.selector), "the metrics Service does not select the operator's pod");
    assert.deepEqual(
      spec.ports.map((p) => [p.port, containerPort(container, p.targetPort)]),
      [[metricsPort, metricsPort]],
    );
    const policy = find(manifests, "NetworkPolicy").spec as {
      podSelector: { matchLabels: Record<string, string> };
      ingress: { ports: { port: number }[] }[];
    };
    assert.ok(selects(policy.podSelector.matchLabels));
    assert.deepEqual(policy.ingress.flatMap((rule) => rule.ports.map((p) => p.port)), [
      metricsPort,
    ]);
  },
});

Deno.test({
  name: "a metrics-reader ClusterRole grants get on /metrics, and the operator is not bound to it",
  ignore: !kubectlFound,
  async fn() {
    const manifests = await render(BASE);
    const reader = find(manifests, "ClusterRole", "image-distribution-operator-metrics-reader");
    assert.deepEqual(reader.rules, [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }]);
    const bound = manifests.filter((m): m is Binding => m.kind.endsWith("Binding"))
      .filter((b) => b.roleRef.name === reader.metadata.name);
    assert.deepEqual(bound, [], "the base binds metrics-reader to nobody; scrapers bind it");
  },
});

Deno.test({
  name: "the ServiceMonitor example scrapes the metrics Service over HTTPS with a bearer token",
  ignore: !kubectlFound,
  async fn() {
    const base = await render(BASE);
    const example = await render(MONITOR_EXAMPLE);
    const service = find<Manifest & { spec: { ports: { name: string; port: number }[] } }>(
      base,
      "Service",
    );
    const monitor = find<
      Manifest & {
        spec: {
          endpoints: {
            port: string;
            path: string;
            scheme: string;
            bearerTokenFile?: string;
            tlsConfig?: { insecureSkipVerify?: boolean };
          }[];
          selector: { matchLabels: Record<string, string> };
        };
      }
    >(example, "ServiceMonitor");
    assert.equal(monitor.metadata.namespace, service.metadata.namespace);
    for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels)) {
      assert.equal(service.metadata.labels?.[key], value, `the ServiceMonitor's selector ${key}`);
    }
    const [endpoint] = monitor.spec.endpoints;
    const port = service.spec.ports.find((p) => p.name === endpoint.port);
    assert.ok(port, `the Service has no port named ${endpoint.port}`);
    assert.equal(port.port, 8443);
    assert.equal(endpoint.scheme, "https");
    assert.equal(endpoint.path, "/metrics");
    assert.equal(endpoint.bearerTokenFile, "/var/run/secrets/kubernetes.io/serviceaccount/token");
    // The certificate is self-signed unless one is mounted, as with the Go chart.
    assert.equal(endpoint.tlsConfig?.insecureSkipVerify, true);
    const binding = find<Binding>(example, "ClusterRoleBinding");
    assert.equal(binding.roleRef.name, "image-distribution-operator-metrics-reader");
    find(base, "ClusterRole", binding.roleRef.name);
  },
});

Deno.test({
  name:
    "the NetworkPolicy lets only labelled namespaces scrape, as the metrics Service and README say",
  ignore: !kubectlFound,
  async fn() {
    const manifests = await render(BASE);
    const { container } = deploymentOf(manifests);
    const metricsPort = portOf(flagValue(container.args, "metrics-bind-address") ?? "");
    const policy = find(manifests, "NetworkPolicy").spec as {
      ingress: {
        ports: { port: number }[];
        from?: { namespaceSelector?: { matchLabels?: Record<string, string> } }[];
      }[];
    };
    // /metrics has no authentication here: an ingress rule without sources would let every
    // pod in the cluster scrape it.
    for (const rule of policy.ingress) {
      assert.ok(rule.from?.length, `an ingress rule open to everyone: ${JSON.stringify(rule)}`);
    }
    const scrapers = policy.ingress.filter((r) => r.ports.some((p) => p.port === metricsPort))
      .flatMap((r) => r.from!.map((f) => f.namespaceSelector?.matchLabels));
    assert.deepEqual(scrapers, [{ metrics: "enabled" }]);
    // The Service and the README name the same rule.
    const service = await Deno.readTextFile(`${root}${BASE}/metrics_service.yaml`);
    const readme = await Deno.readTextFile(`${root}deploy/README.md`);
    for (const text of [service, readme]) assert.match(text, /labelled `?metrics: enabled`?/);
  },
});

Deno.test({
  name: "the pod is locked down, stops within its grace period and has room for Deno's memory",
  ignore: !kubectlFound,
  async fn() {
    const { deployment, pod, container } = deploymentOf(await render(BASE));
    assert.equal(deployment.spec.replicas, 1);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 65532);
    assert.equal(pod.securityContext.seccompProfile?.type, "RuntimeDefault");
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities?.drop, ["ALL"]);

    // The only writable path is /tmp, and it cannot fill the node's disk.
    const tmp = container.volumeMounts.find((m) => m.mountPath === "/tmp");
    assert.ok(tmp, "/tmp is not mounted");
    const tmpVolume = pod.volumes.find((v) => v.name === tmp.name);
    assert.ok(tmpVolume?.emptyDir?.sizeLimit, "/tmp is not a size-limited emptyDir");
    for (const mount of container.volumeMounts.filter((m) => m !== tmp)) {
      assert.equal(mount.readOnly, true, `${mount.mountPath} is writable`);
    }

    const shutdownMs = parseGoDuration(flagValue(container.args, "graceful-shutdown-timeout")!);
    assert.equal(pod.terminationGracePeriodSeconds, 10);
    assert.ok(shutdownMs < pod.terminationGracePeriodSeconds * 1000);

    // The request covers the idle figure of `deno task bench memory`, the limit every peak it
    // recorded in the README (the table is rewritten by each run of the bench): RSS, and the
    // working set of the cgroup the bench ran the operator in (what the kubelet acts on).
    const mebibytes = (q: string) => {
      const match = /^(\d+)(Mi|Gi)$/.exec(q);
      assert.ok(match, `unexpected memory quantity "${q}"`);
      return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
    };
    const request = mebibytes(container.resources.requests.memory);
    const limit = mebibytes(container.resources.limits.memory);
    const bench = await benchFigures();
    assert.ok(request >= bench.idle, `request ${request}Mi < idle RSS ${bench.idle} MiB`);
    assert.ok(
      bench.peak < limit,
      `limit ${limit}Mi is not above the bench's highest recorded RSS, ${bench.peak} MiB`,
    );
    if (bench.workingSet) {
      const { mib, row, column } = bench.workingSet;
      assert.ok(
        limit >= mib,
        `limit ${limit}Mi is below the bench's highest working set, ${mib} MiB ` +
          `("${column}" of "${row}")`,
      );
    }
    if (bench.killed) {
      assert.ok(
        limit > bench.killed.limitMib,
        `limit ${limit}Mi: the bench's operator did not survive a ` +
          `${bench.killed.limitMib} MiB limit ("${bench.killed.row}": ${bench.killed.how})`,
      );
    }
    // V8's heap limit comes from the image (Containerfile), not from the pod's limit.
    assert.equal(container.env?.find((e) => e.name === "DENO_V8_FLAGS"), undefined);
    const v8Flags = containerfileV8Flags(await Deno.readTextFile(`${root}Containerfile`));
    const oldSpace = Number(/--max-old-space-size=(\d+)/.exec(v8Flags)?.[1]);
    assert.ok(oldSpace > 0 && oldSpace < limit, `old space ${oldSpace} MiB, limit ${limit}Mi`);
  },
});

/** `DENO_V8_FLAGS` as the Containerfile's `ENV` sets it. */
function containerfileV8Flags(text: string): string {
  const match = /^ENV .*\bDENO_V8_FLAGS=(\S+)/m.exec(text);
  assert.ok(match, "the Containerfile sets no DENO_V8_FLAGS");
  return match[1];
}

/** A figure of the memory-bench table, and where it stands. */
interface BenchFigure {
  mib: number;
  row: string;
  column: string;
}

/**
 * README.md's memory-bench table, in MiB: the idle RSS, the highest RSS, the highest working
 * set (when the bench could run the operator in a cgroup) and the phase in which the bench's
 * cgroup limit did not fit (the operator OOM-killed, or thrashing until the phase timed out).
 */
async function benchFigures(): Promise<{
  idle: number;
  peak: number;
  workingSet?: BenchFigure;
  killed?: { row: string; limitMib: number; how: string };
}> {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const block = /<!-- memory-bench:start -->([\s\S]*?)<!-- memory-bench:end -->/.exec(readme);
  assert.ok(block, "README.md has no memory-bench block");
  const [header, , ...body] = block[1].split("\n").filter((l) => l.startsWith("|"))
    .map((l) => l.slice(1, -1).split("|").map((cell) => cell.trim()));
  assert.ok(
    header?.[1] === "RSS" && body.length >= 2,
    `unexpected memory-bench table: ${block[1]}`,
  );
  const figures: BenchFigure[] = body.flatMap((cells) =>
    cells.flatMap((cell, i) => {
      const match = /^([\d.]+) MiB$/.exec(cell);
      return match ? [{ mib: Number(match[1]), row: cells[0], column: header[i] }] : [];
    })
  );
  const rss = figures.filter((f) => f.column === "RSS");
  const idle = rss.find((f) => f.row.startsWith("idle"));
  assert.ok(idle, `no idle row in the memory-bench table: ${block[1]}`);
  const workingSet = figures.filter((f) => f.column.startsWith("working set"))
    .sort((a, b) => b.mib - a.mib)[0];
  // The bench's text: "With 128 MiB limit the operator … in the phase marked above: the limit
  // does not fit." (the row's last cell says how, in bold).
  const text = block[1].replace(/\s+/g, " ");
  const limit = /With (\d+) MiB limit the operator [^:]*: the limit does not fit\./.exec(text);
  const killedRow = body.find((cells) => /^\*\*.*\*\*$/.test(cells.at(-1) ?? ""));
  let killed;
  if (limit) {
    assert.ok(killedRow, `the memory-bench table marks no phase: ${block[1]}`);
    const how = killedRow.at(-1)!.replaceAll("**", "");
    killed = { row: killedRow[0], limitMib: Number(limit[1]), how };
  }
  return { idle: idle.mib, peak: Math.max(...rss.map((f) => f.mib)), workingSet, killed };
}

Deno.test({
  name: "the values-config example's Secret, mounted as a directory, loads with --config",
  ignore: !kubectlFound,
  async fn() {
    const manifests = await render(VALUES_EXAMPLE);
    const { container } = deploymentOf(manifests);
    const configPath = flagValue(container.args, "config");
    assert.ok(configPath, "no --config arg");
    assert.ok(podFiles(manifests).has(configPath), `${configPath} is not a mounted file`);
    const config = await loadPodConfig(manifests);
    assert.deepEqual(config.configuredProviderIds(), ["capmox"]);
    assert.deepEqual(config.files, [configPath]);
    assert.equal(config.s3.bucket, "node-images");
  },
});

Deno.test({
  name: "the go-flags example's Secret and ConfigMap load from /home/.proxmox with the Go flags",
  ignore: !kubectlFound,
  async fn() {
    const manifests = await render(FLAGS_EXAMPLE);
    const config = await loadPodConfig(manifests);
    assert.deepEqual(config.configuredProviderIds(), ["capmox"]);
    assert.deepEqual(config.files, ["/home/.proxmox/credentials", "/home/.proxmox/locations"]);
    assert.equal(config.retentionMs, 720 * 3600_000);
  },
});

Deno.test({
  name: "the rendered CRD is accepted by the fake API server, which then validates NodeImages",
  ignore: !kubectlFound,
  async fn() {
    const crd = find(await render(BASE), "CustomResourceDefinition");
    const server = await FakeApiServer.start();
    const dir = await Deno.makeTempDir({ prefix: "deploy-test-" });
    try {
      const kubeconfig = `${dir}/kubeconfig`;
      await server.writeKubeconfig(kubeconfig);
      const kubectl = async (args: string[], stdin?: string) => {
        const child = new Deno.Command("kubectl", {
          args: ["--request-timeout=20s", `--cache-dir=${dir}/cache`, ...args],
          env: { KUBECONFIG: kubeconfig, HOME: dir },
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const writer = child.stdin.getWriter();
        await writer.write(new TextEncoder().encode(stdin ?? ""));
        await writer.close();
        const out = await child.output();
        const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
        return { ok: out.success, stdout: decode(out.stdout), stderr: decode(out.stderr) };
      };
      const applied = await kubectl(["apply", "-f", "-"], JSON.stringify(crd));
      assert.ok(applied.ok, applied.stderr);
      assert.match(applied.stdout, /nodeimages\.image\.giantswarm\.io created/);
      // As a manifest: `kubectl create namespace` sends protobuf, which the fake answers with 415.
      const namespace = await kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } }),
      );
      assert.ok(namespace.ok, namespace.stderr);

      const image = "flatcar-stable-4152.2.3-kube-1.31.1";
      const nodeImage = (name: string, spec: Record<string, string>) =>
        JSON.stringify({
          apiVersion: `${NODE_IMAGES.group}/${NODE_IMAGES.version}`,
          kind: NODE_IMAGES.kind,
          metadata: { name, namespace: NAMESPACE },
          spec,
        });
      const created = await kubectl(
        ["apply", "-f", "-"],
        nodeImage(`capmox-${image}`, { name: image, provider: "capmox" }),
      );
      assert.ok(created.ok, created.stderr);
      const listed = await kubectl(["get", "ni", "-n", NAMESPACE, "-o", "name"]);
      assert.equal(listed.stdout.trim(), `nodeimage.image.giantswarm.io/capmox-${image}`);

      const invalid = await kubectl(
        ["create", "-f", "-"],
        nodeImage("capmox-no-name", { provider: "capmox" }),
      );
      assert.equal(invalid.ok, false);
      assert.match(invalid.stderr, /spec\.name/);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await server.close();
    }
  },
});

/** `COPY` sources of the Containerfile's final build stage inputs (not `--from` copies). */
async function containerfileCopies(): Promise<{ sources: string[]; entrypoint: string[] }> {
  const text = await Deno.readTextFile(`${root}Containerfile`);
  const sources: string[] = [];
  let entrypoint: string[] = [];
  for (const line of text.split("\n")) {
    const copy = /^COPY\s+(?!--from)(.+)$/.exec(line);
    if (copy) sources.push(...copy[1].trim().split(/\s+/).slice(0, -1));
    const entry = /^ENTRYPOINT\s+(\[.*\])\s*$/.exec(line);
    if (entry) entrypoint = JSON.parse(entry[1]);
  }
  return { sources: sources.map((s) => s.replace(/\/$/, "")), entrypoint };
}

Deno.test({
  name: "the image's files are all main.ts loads, and its entrypoint runs them from the cache",
  async fn() {
    const { sources, entrypoint } = await containerfileCopies();
    const ignore = (await Deno.readTextFile(`${root}.dockerignore`)).split("\n");
    for (const source of sources) {
      assert.ok(
        ignore.includes(`!${source}`) || ignore.includes(`!${source}/`),
        `.dockerignore keeps "${source}" out of the build context`,
      );
    }

    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "main.ts"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(info.success, new TextDecoder().decode(info.stderr));
    const graph = JSON.parse(new TextDecoder().decode(info.stdout)) as {
      modules: { specifier: string }[];
    };
    const localFiles = graph.modules.map((m) => m.specifier)
      .filter((s) => s.startsWith("file://"))
      .map((s) => new URL(s).pathname.slice(root.length));
    const outside = localFiles.filter((file) =>
      !sources.some((source) => file === source || file.startsWith(`${source}/`))
    );
    assert.deepEqual(outside, [], "main.ts loads files the Containerfile does not copy");

    // The image's layout: only the copied files, dependencies from the cache, no downloads.
    assert.deepEqual(entrypoint.slice(0, 2), ["deno", "run"]);
    assert.ok(entrypoint.includes("--cached-only"), "the entrypoint may download at run time");
    const app = await Deno.makeTempDir({ prefix: "deploy-image-" });
    try {
      for (const source of sources) {
        const copied = await new Deno.Command("cp", {
          args: ["-r", `${root}${source}`, `${app}/`],
        }).output();
        assert.ok(copied.success, `cannot copy ${source}`);
      }
      // Stage 1's caching step (a no-op where the cache is warm already).
      const cache = await new Deno.Command(Deno.execPath(), {
        args: ["install", "--frozen", "--entrypoint", "main.ts"],
        cwd: app,
        env: { NO_COLOR: "1" },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(cache.success, new TextDecoder().decode(cache.stderr));
      const run = await new Deno.Command(Deno.execPath(), {
        args: [...entrypoint.slice(1), "--help"],
        cwd: app,
        env: { NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
      assert.match(new TextDecoder().decode(run.stdout), /^Usage: main\.ts \[flags\]/);
    } finally {
      await Deno.remove(app, { recursive: true });
    }
  },
});
