/**
 * A parsed kubeconfig (clusters, users, contexts, current context) and the connection settings
 * of its current context: TLS material and auth headers, computed per request.
 *
 * Why our own: `@kubernetes/client-node` costs ~83 MiB of resident memory once imported (its
 * `config.js` pulls in the whole generated API), which alone exceeds the pod's memory request.
 * Everything a service account or a plain kubeconfig needs is done here: bearer token, token file
 * (re-read whenever it changes), client certificate and key (inline or files), CA (inline or
 * file), `insecure-skip-tls-verify`, basic auth (applied by the transport) and `as`
 * impersonation. A user with an `exec` plugin or an `auth-provider` is authenticated by
 * client-node, imported on that user's first request only.
 *
 * The field names and the validation messages are client-node's (`clusters[0].cluster.server is
 * missing`), so tests, bench helpers and the transport accept either.
 *
 * Guarantees: files (CA, certificate, key, token) are read at request time, so rotated files are
 * picked up; no method reads the environment; no message quotes a token or key.
 */

/** A cluster entry, with client-node's field names. */
export interface KubeCluster {
  name: string;
  server: string;
  caData?: string;
  caFile?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
}

/** A user entry, with client-node's field names plus `tokenFile`. */
export interface KubeUser {
  name: string;
  token?: string;
  /** Absolute path; wins over `token` and is re-read when it changes, as client-go does. */
  tokenFile?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  impersonateUser?: string;
  // deno-lint-ignore no-explicit-any
  exec?: any;
  // deno-lint-ignore no-explicit-any
  authProvider?: any;
}

export interface KubeContext {
  name: string;
  cluster: string;
  user?: string;
  namespace?: string;
}

/** What the transport needs per request: TLS material, headers, whether to verify the server. */
export interface ConnectionOptions {
  headers: Record<string, string>;
  ca?: Uint8Array | string;
  cert?: Uint8Array | string;
  key?: Uint8Array | string;
  rejectUnauthorized?: boolean;
}

export interface KubeConfigParts {
  clusters: KubeCluster[];
  users: KubeUser[];
  contexts: KubeContext[];
  currentContext?: string;
}

/** The subset of client-node's `KubeConfig` we delegate exec plugins and auth providers to. */
interface DelegateConfig {
  applyOptions?: (opts: ConnectionOptions) => Promise<void>;
  applyToHTTPSOptions(opts: unknown): Promise<void>;
}

/** One kubeconfig (or several merged), with a current context. */
export class KubeClientConfig {
  readonly clusters: KubeCluster[];
  readonly users: KubeUser[];
  readonly contexts: KubeContext[];
  #currentContext: string;
  readonly #tokenFiles = new TokenFileCache();
  #delegate?: Promise<DelegateConfig>;

  constructor(parts: KubeConfigParts) {
    this.clusters = parts.clusters;
    this.users = parts.users;
    this.contexts = parts.contexts;
    this.#currentContext = parts.currentContext ?? "";
  }

  getClusters(): KubeCluster[] {
    return this.clusters;
  }

  getUsers(): KubeUser[] {
    return this.users;
  }

  getContexts(): KubeContext[] {
    return this.contexts;
  }

  getCurrentContext(): string {
    return this.#currentContext;
  }

  setCurrentContext(name: string): void {
    this.#currentContext = name;
    this.#delegate = undefined;
  }

  getContextObject(name: string): KubeContext | null {
    return this.contexts.find((c) => c.name === name) ?? null;
  }

  getCluster(name: string): KubeCluster | null {
    return this.clusters.find((c) => c.name === name) ?? null;
  }

  getUser(name: string): KubeUser | null {
    return this.users.find((u) => u.name === name) ?? null;
  }

  getCurrentCluster(): KubeCluster | null {
    const context = this.getContextObject(this.#currentContext);
    return context ? this.getCluster(context.cluster) : null;
  }

  getCurrentUser(): KubeUser | null {
    const context = this.getContextObject(this.#currentContext);
    return context?.user ? this.getUser(context.user) : null;
  }

  /** Fills in TLS material and auth headers for one request of the current context. */
  async applyOptions(opts: ConnectionOptions): Promise<void> {
    const user = this.getCurrentUser();
    if (user && (user.exec || user.authProvider)) {
      const delegate = await (this.#delegate ??= this.#clientNode());
      if (typeof delegate.applyOptions === "function") await delegate.applyOptions(opts);
      else await delegate.applyToHTTPSOptions(opts);
      return;
    }
    const cluster = this.getCurrentCluster();
    if (cluster?.skipTLSVerify) opts.rejectUnauthorized = false;
    const ca = cluster && await fileOrData(cluster.caFile, cluster.caData);
    if (ca) opts.ca = ca;
    if (!user) return;
    const cert = await fileOrData(user.certFile, user.certData);
    if (cert) opts.cert = cert;
    const key = await fileOrData(user.keyFile, user.keyData);
    if (key) opts.key = key;
    if (user.impersonateUser) opts.headers["Impersonate-User"] = user.impersonateUser;
    const token = user.tokenFile ? await this.#tokenFiles.read(user.tokenFile) : user.token;
    if (token) opts.headers.Authorization = `Bearer ${token}`;
  }

  /** Same as `applyOptions`; the name client-node's public API uses. */
  applyToHTTPSOptions(opts: ConnectionOptions): Promise<void> {
    return this.applyOptions(opts);
  }

  /** client-node's `KubeConfig` over the same entries, for exec plugins and auth providers. */
  async #clientNode(): Promise<DelegateConfig> {
    const { KubeConfig } = await import("@kubernetes/client-node");
    const config = new KubeConfig();
    config.loadFromOptions({
      clusters: this.clusters,
      users: this.users,
      contexts: this.contexts,
      currentContext: this.#currentContext,
    });
    return config as unknown as DelegateConfig;
  }
}

/**
 * Validates the raw `clusters`, `users` and `contexts` of one parsed file, as client-node does
 * (same messages), and converts them to entries. Throws `Error` naming the first bad entry.
 */
export function kubeConfigParts(raw: Record<string, unknown>): KubeConfigParts {
  // deno-lint-ignore no-explicit-any
  const list = (key: string) => Array.isArray(raw[key]) ? raw[key] as Record<string, any>[] : [];
  const clusters = list("clusters").map((elt, i): KubeCluster => {
    if (!elt?.name) throw new Error(`clusters[${i}].name is missing`);
    if (!elt.cluster) throw new Error(`clusters[${i}].cluster is missing`);
    if (!elt.cluster.server) throw new Error(`clusters[${i}].cluster.server is missing`);
    const c = elt.cluster;
    return {
      name: elt.name,
      server: String(c.server).replace(/\/$/, ""),
      caData: c["certificate-authority-data"] ?? undefined,
      caFile: c["certificate-authority"] ?? undefined,
      skipTLSVerify: c["insecure-skip-tls-verify"] === true,
      tlsServerName: c["tls-server-name"] ?? undefined,
      proxyUrl: c["proxy-url"] ?? undefined,
    };
  });
  const users = list("users").map((elt, i): KubeUser => {
    if (!elt?.name) throw new Error(`users[${i}].name is missing`);
    const u = elt.user ?? {};
    return {
      name: elt.name,
      token: u.token ?? undefined,
      tokenFile: u.tokenFile ?? u["token-file"] ?? undefined,
      certData: u["client-certificate-data"] ?? undefined,
      certFile: u["client-certificate"] ?? undefined,
      keyData: u["client-key-data"] ?? undefined,
      keyFile: u["client-key"] ?? undefined,
      username: u.username ?? undefined,
      password: u.password ?? undefined,
      impersonateUser: u.as ?? undefined,
      exec: u.exec ?? undefined,
      authProvider: u["auth-provider"] ?? undefined,
    };
  });
  const contexts = list("contexts").map((elt, i): KubeContext => {
    if (!elt?.name) throw new Error(`contexts[${i}].name is missing`);
    if (!elt.context) throw new Error(`contexts[${i}].context is missing`);
    if (!elt.context.cluster) throw new Error(`contexts[${i}].context.cluster is missing`);
    return {
      name: elt.name,
      cluster: elt.context.cluster,
      user: elt.context.user || undefined,
      namespace: elt.context.namespace || undefined,
    };
  });
  const current = raw["current-context"];
  return {
    clusters,
    users,
    contexts,
    currentContext: typeof current === "string" ? current : undefined,
  };
}

/** PEM text from a file (read now, so rotations apply) or from base64 data. */
async function fileOrData(file?: string, data?: string): Promise<string | undefined> {
  if (file) return await Deno.readTextFile(file);
  if (data) return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  return undefined;
}

/**
 * Bearer tokens from files, re-read whenever a file changes (projected service-account tokens
 * rotate by an atomic symlink swap, which changes inode and mtime). One `stat` per request; if a
 * re-read fails or finds the file empty mid-rotation, the last good token is sent.
 */
class TokenFileCache {
  readonly #cache = new Map<string, { stamp: string; token: string }>();

  async read(path: string): Promise<string> {
    const cached = this.#cache.get(path);
    let token = cached?.token;
    try {
      const info = await Deno.stat(path);
      const stamp = `${info.ino}:${info.size}:${info.mtime?.getTime()}:${info.ctime?.getTime()}`;
      if (stamp !== cached?.stamp) {
        const read = (await Deno.readTextFile(path)).trim();
        if (read) {
          token = read;
          this.#cache.set(path, { stamp, token });
        } else if (!token) throw new Error(`token file ${path} is empty`);
      }
    } catch (error) {
      if (!token) throw error;
    }
    return token!;
  }
}
