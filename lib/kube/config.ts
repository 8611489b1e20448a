/**
 * Finds and loads the Kubernetes client configuration the way kubectl does, and builds the
 * transport every API call goes through.
 *
 * Order: `--kubeconfig` file, then `KUBECONFIG` (a colon-separated list, merged like kubectl:
 * the first file to define a cluster, user or context name wins, and the first
 * `current-context` wins; listed files that do not exist are skipped), then `~/.kube/config`,
 * then the in-cluster service account. `--context` overrides the current context.
 *
 * Files are parsed with `yaml` and validated here (`KubeClientConfig`, see its module for why
 * not client-node). Two kubectl behaviours client-node lacked are kept: a user's `tokenFile`
 * (also spelled `token-file`) is resolved against the kubeconfig's directory and re-read
 * whenever the file changes; a relative exec `command` containing a slash is resolved against
 * the kubeconfig's directory too.
 *
 * Guarantees: reads no environment itself (callers pass `env`); every failure is a
 * `KubeConfigError` naming the file or variable; messages never quote tokens or keys.
 */
import { parse as parseYaml } from "yaml";
import { redactSecrets } from "./errors.ts";
import { KubeClientConfig, kubeConfigParts } from "./kubeconfig.ts";
import { KubeConfigTransport } from "./transport.ts";

/** Where the configuration came from. */
export type KubeConfigSource = "flag" | "env" | "home" | "in-cluster";

export interface LoadKubeConfigOptions {
  /** `--kubeconfig`: this one file, which must exist. */
  kubeconfig?: string;
  /** `--context`: the context to use instead of the file's `current-context`. */
  context?: string;
  /** The process environment (`Deno.env.toObject()`); read for KUBECONFIG, HOME, KUBERNETES_SERVICE_*. */
  env?: Record<string, string | undefined>;
  /** Home directory holding `.kube/config`; defaults to `env.HOME`. */
  homeDir?: string;
  /** Directory holding the service account's `token`, `ca.crt` and `namespace`. */
  inClusterRoot?: string;
  /** User-Agent for the transport. */
  userAgent?: string;
}

export interface LoadedKubeConfig {
  config: KubeClientConfig;
  /** Sends requests with this configuration; `close()` it on shutdown. */
  transport: KubeConfigTransport;
  /** The context's namespace, the service account's namespace, or `default`. */
  namespace: string;
  source: KubeConfigSource;
  contextName: string;
  /** The kubeconfig files read, in merge order; the token file for in-cluster. */
  files: string[];
}

/** The configuration cannot be found or is unusable. The message names the file or variable. */
export class KubeConfigError extends Error {
  override name = "KubeConfigError";
}

export const DEFAULT_IN_CLUSTER_ROOT = "/var/run/secrets/kubernetes.io/serviceaccount";
const IN_CLUSTER = "in-cluster";

/**
 * Loads the configuration and builds its transport.
 *
 * @example
 * ```ts
 * const kube = loadKubeConfig({ kubeconfig: flags.kubeconfig, env: Deno.env.toObject() });
 * const nodes = new ResourceClient(kube.transport, NAMESPACES);
 * ```
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const env = options.env ?? {};
  const found = findConfig(options, env);
  const config = found.config;
  const contextName = selectContext(config, options.context, found.description);
  const context = config.getContextObject(contextName)!;
  return {
    config,
    transport: new KubeConfigTransport(config, { userAgent: options.userAgent }),
    namespace: context.namespace?.trim() || "default",
    source: found.source,
    contextName,
    files: found.files,
  };
}

interface FoundConfig {
  config: KubeClientConfig;
  source: KubeConfigSource;
  files: string[];
  /** How messages name it: `kubeconfig /a` or `KUBECONFIG files /a, /b`. */
  description: string;
}

function findConfig(
  options: LoadKubeConfigOptions,
  env: Record<string, string | undefined>,
): FoundConfig {
  if (options.kubeconfig) {
    const file = options.kubeconfig;
    // A file Deno may not read is loaded anyway, so the error carries Deno's reason.
    if (!isFile(file) && !readRefused(file)) {
      throw new KubeConfigError(`Cannot read kubeconfig ${file} (--kubeconfig): no such file`);
    }
    return found(merge([loadFile(file)]), "flag", [file], `kubeconfig ${file}`);
  }
  if (env.KUBECONFIG) {
    const listed = env.KUBECONFIG.split(":").filter((f) => f);
    const files = listed.filter((f) => isFile(f) || readRefused(f));
    if (files.length === 0) {
      throw new KubeConfigError(
        `Cannot read kubeconfig: none of the KUBECONFIG files exist (${listed.join(", ")})`,
      );
    }
    const description = files.length === 1
      ? `kubeconfig ${files[0]}`
      : `KUBECONFIG files ${files.join(", ")}`;
    return found(merge(files.map(loadFile)), "env", files, description);
  }
  const home = options.homeDir ?? env.HOME;
  const homeFile = home ? `${home.replace(/\/+$/, "")}/.kube/config` : undefined;
  if (homeFile && isFile(homeFile)) {
    return found(merge([loadFile(homeFile)]), "home", [homeFile], `kubeconfig ${homeFile}`);
  }
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    return inCluster(
      env.KUBERNETES_SERVICE_HOST,
      env.KUBERNETES_SERVICE_PORT,
      options.inClusterRoot ?? DEFAULT_IN_CLUSTER_ROOT,
    );
  }
  throw new KubeConfigError(
    `No Kubernetes configuration found: no --kubeconfig, KUBECONFIG is unset, ${
      homeFile ?? "~/.kube/config"
    } does not exist, and KUBERNETES_SERVICE_HOST/PORT are unset (not running in a pod)`,
  );
}

function found(
  config: KubeClientConfig,
  source: KubeConfigSource,
  files: string[],
  description: string,
): FoundConfig {
  return { config, source, files, description };
}

/** Reads, parses and validates one kubeconfig file; relative paths are made absolute. */
function loadFile(file: string): KubeClientConfig {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    throw new KubeConfigError(`Cannot read kubeconfig ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    // Only the first line: the parser's code frame would quote the file, tokens included.
    const reason = redactSecrets((error as Error).message.split("\n")[0].replace(/:\s*$/, ""));
    throw new KubeConfigError(`Cannot parse kubeconfig ${file}: ${reason}`);
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new KubeConfigError(`Cannot parse kubeconfig ${file}: expected a YAML mapping`);
  }
  const dir = dirname(file);
  addKubectlPathRules(raw as RawKubeConfig, dir);
  let config: KubeClientConfig;
  try {
    config = new KubeClientConfig(kubeConfigParts(raw as Record<string, unknown>));
  } catch (error) {
    throw new KubeConfigError(
      `Invalid kubeconfig ${file}: ${redactSecrets((error as Error).message)}`,
    );
  }
  makePathsAbsolute(config, dir);
  return config;
}

/** client-node's rule: CA, certificate and key files are relative to the kubeconfig. */
function makePathsAbsolute(config: KubeClientConfig, dir: string): void {
  for (const cluster of config.clusters) {
    if (cluster.caFile) cluster.caFile = absolute(dir, cluster.caFile);
  }
  for (const user of config.users) {
    if (user.certFile) user.certFile = absolute(dir, user.certFile);
    if (user.keyFile) user.keyFile = absolute(dir, user.keyFile);
  }
}

interface RawKubeConfig {
  users?: { name?: string; user?: Record<string, unknown> | null }[];
}

/** See the module comment: `tokenFile` and relative exec commands, as kubectl treats them. */
function addKubectlPathRules(raw: RawKubeConfig, dir: string): void {
  if (!Array.isArray(raw.users)) return;
  for (const entry of raw.users) {
    const user = entry?.user;
    if (!user || typeof user !== "object") continue;
    const tokenFile = user.tokenFile ?? user["token-file"];
    delete user.tokenFile;
    delete user["token-file"];
    if (typeof tokenFile === "string" && tokenFile && !user["auth-provider"] && !user.exec) {
      // client-go: "the last successfully read value takes precedence over token".
      delete user.token;
      user.tokenFile = absolute(dir, tokenFile);
    }
    const exec = user.exec as { command?: unknown } | undefined;
    if (exec && typeof exec.command === "string" && exec.command.includes("/")) {
      exec.command = absolute(dir, exec.command);
    }
  }
}

/** kubectl's merge: first definition of each name wins, first `current-context` wins. */
function merge(configs: KubeClientConfig[]): KubeClientConfig {
  const firstByName = <T extends { name: string }>(lists: T[][]): T[] => {
    const seen = new Map<string, T>();
    for (const item of lists.flat()) if (!seen.has(item.name)) seen.set(item.name, item);
    return [...seen.values()];
  };
  return new KubeClientConfig({
    clusters: firstByName(configs.map((c) => c.getClusters())),
    users: firstByName(configs.map((c) => c.getUsers())),
    contexts: firstByName(configs.map((c) => c.getContexts())),
    currentContext: configs.map((c) => c.getCurrentContext()).find((name) => name),
  });
}

/** Makes `wanted` (or the current context) current, checking it and what it names exist. */
function selectContext(
  config: KubeClientConfig,
  wanted: string | undefined,
  description: string,
): string {
  const available = config.getContexts().map((c) => `"${c.name}"`).join(", ") || "none";
  const name = wanted ?? config.getCurrentContext();
  if (!name) {
    throw new KubeConfigError(
      `${description} sets no current-context; pass --context (available contexts: ${available})`,
    );
  }
  const context = config.getContextObject(name);
  if (!context) {
    throw new KubeConfigError(
      `Context "${name}" not found in ${description}${
        wanted ? "" : " (its current-context)"
      }; available contexts: ${available}`,
    );
  }
  config.setCurrentContext(name);
  if (!config.getCluster(context.cluster)) {
    throw new KubeConfigError(
      `Context "${name}" names cluster "${context.cluster}", which ${description} does not define`,
    );
  }
  if (context.user && !config.getUser(context.user)) {
    throw new KubeConfigError(
      `Context "${name}" names user "${context.user}", which ${description} does not define`,
    );
  }
  return name;
}

/** The pod's service account, as client-go's `InClusterConfig` reads it. */
function inCluster(host: string, port: string, root: string): FoundConfig {
  const tokenFile = `${root}/token`;
  if (!isFile(tokenFile)) {
    throw new KubeConfigError(
      `Cannot use the in-cluster service account: token file ${tokenFile} does not exist (KUBERNETES_SERVICE_HOST is set)`,
    );
  }
  const caFile = `${root}/ca.crt`;
  const namespaceFile = `${root}/namespace`;
  const namespace = isFile(namespaceFile) ? Deno.readTextFileSync(namespaceFile).trim() : undefined;
  const config = new KubeClientConfig({
    clusters: [{
      name: IN_CLUSTER,
      server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
      // client-go too falls back to the system roots when the CA file is missing.
      caFile: isFile(caFile) ? caFile : undefined,
      skipTLSVerify: false,
    }],
    users: [{ name: IN_CLUSTER, tokenFile }],
    contexts: [{
      name: IN_CLUSTER,
      cluster: IN_CLUSTER,
      user: IN_CLUSTER,
      namespace: namespace || undefined,
    }],
    currentContext: IN_CLUSTER,
  });
  return found(config, "in-cluster", [tokenFile], "the in-cluster configuration");
}

/**
 * Whether Deno's permissions (the container's `--allow-read`) refuse `path`, as opposed to it
 * being absent: a kubeconfig the user named must not be reported as missing when it is there.
 */
function readRefused(path: string): boolean {
  try {
    Deno.statSync(path);
    return false;
  } catch (error) {
    return error instanceof Deno.errors.NotCapable;
  }
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
}

function absolute(dir: string, path: string): string {
  return path.startsWith("/") ? path : `${dir}/${path}`;
}
