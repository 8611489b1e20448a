/**
 * A fake Proxmox VE API server on 127.0.0.1 (HTTPS with a given certificate, or plain HTTP),
 * faithful to wire-facts §A where our client can tell the difference:
 * - API-token auth only; anything else is `401 No ticket` / `401 Authentication failed!` with an
 *   empty body;
 * - `https://host:port/api2/json/...`, `{"data": …}` bodies, Proxmox's status lines (built on
 *   `node:https` because `Deno.serve` cannot send a custom reason phrase);
 * - a body on GET or DELETE is `501 Unexpected content for method 'DELETE'`; POST/PUT take
 *   form-urlencoded or JSON, and query values override body values;
 * - every parameter is checked against the schema subset in `api_params.ts` (400 `errors`);
 * - unknown routes are `501 Method 'GET /x' not implemented`;
 * - `errorMessageInBody: false` imitates servers before libpve-http-server-perl 5.2.0, whose
 *   500 bodies carry no `message` (only the status line does).
 *
 * - `sharedStorages`: storages enabled on several nodes with one content list (NFS, CephFS);
 *   download-url writes a temporary file that is listed only once complete, and refuses a
 *   target name that is already listed, as `PVE::Storage` does through any node.
 *
 * Faults: `failTask` (task fails, before or after its effect), `failRequest` (a sync error
 * answer), `raceNextId` (another client takes the id `nextid` just gave out). `holdTasks` keeps
 * tasks of a type running until released, to stop concurrent creates at one step.
 */
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { HttpError, type Route, ROUTES, WithTotal } from "./routes.ts";
import { FakeCluster, type SharedStorageSpec } from "./state.ts";
import { type TaskFault, TaskRunner, type TaskType } from "./tasks.ts";
import { type Params, validateParams } from "./validate.ts";

export interface FakeToken {
  /** `user@realm`. */
  user: string;
  tokenId: string;
  secret: string;
}

export interface FakeProxmoxOptions {
  /** Serve HTTPS with this certificate; plain HTTP without. */
  tls?: { cert: string; key: string };
  /** Node names, default `["pve1"]`. Each gets `local` (dir, import) and `local-lvm`. */
  nodes?: string[];
  /** Storages shared by several nodes (NFS, CephFS): one content list for all of them. */
  sharedStorages?: SharedStorageSpec[];
  /** Accepted API tokens; default `root@pam!ido` with secret `fake-secret`. */
  tokens?: FakeToken[];
  /** Task run time in ms, per type or for all; default 0. */
  taskDurationMs?: number | Partial<Record<TaskType, number>>;
  /** Put the error message in JSON bodies (servers since 2025); default true. */
  errorMessageInBody?: boolean;
  /** Fetch used by download-url (default: the global fetch). */
  fetch?: typeof fetch;
}

/** One request as the fake saw it. */
export interface SeenProxmoxRequest {
  method: string;
  /** The matched route template (`/nodes/{node}/qemu`) or the raw path when none matched. */
  route: string;
  path: string;
  params: Params;
  status: number;
}

interface RequestFault {
  method: string;
  route: string;
  status: number;
  message: string;
  times: number;
  /** Matching requests still let through before the fault applies. */
  after: number;
}

export const DEFAULT_TOKEN: FakeToken = {
  user: "root@pam",
  tokenId: "ido",
  secret: "fake-secret",
};

export class FakeProxmox {
  readonly cluster: FakeCluster;
  readonly requests: SeenProxmoxRequest[] = [];
  /** `host:port`, as the values' `credentials.url` wants it. */
  readonly host: string;
  readonly #server: http.Server;
  readonly #sockets: Set<Socket>;
  readonly #tasks: TaskRunner;
  readonly #options: FakeProxmoxOptions;
  readonly #requestFaults: RequestFault[] = [];
  #nextIdRaces = 0;

  private constructor(
    server: http.Server,
    sockets: Set<Socket>,
    cluster: FakeCluster,
    tasks: TaskRunner,
    options: FakeProxmoxOptions,
  ) {
    this.#server = server;
    this.#sockets = sockets;
    this.cluster = cluster;
    this.#tasks = tasks;
    this.#options = options;
    this.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Starts a fake on a free port. */
  static async start(options: FakeProxmoxOptions = {}): Promise<FakeProxmox> {
    const cluster = new FakeCluster(options.nodes ?? ["pve1"], options.sharedStorages);
    const tasks = new TaskRunner(durationOf(options.taskDurationMs));
    const sockets = new Set<Socket>();
    const ref: { fake?: FakeProxmox } = {};
    const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
      ref.fake!.#handle(req, res).catch((error) => {
        if (!res.headersSent) res.writeHead(500, "fake proxmox bug");
        res.end(String(error?.stack ?? error));
      });
    };
    const server = options.tls
      ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, listener)
      : http.createServer(listener);
    server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    server.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    ref.fake = new FakeProxmox(server, sockets, cluster, tasks, options);
    return ref.fake;
  }

  /** The next `times` tasks of `type` fail with `message` (before or after their effect). */
  failTask(
    type: TaskType,
    message: string,
    options: { when?: "before" | "after"; times?: number } = {},
  ): void {
    const fault: TaskFault = {
      type,
      message,
      when: options.when ?? "before",
      times: options.times ?? 1,
    };
    this.#tasks.faults.push(fault);
  }

  /**
   * The next `times` requests to `METHOD route` (after letting `after` of them through) answer
   * `status message` without any effect.
   */
  failRequest(
    method: string,
    route: string,
    status: number,
    message: string,
    options: { times?: number; after?: number } = {},
  ): void {
    this.#requestFaults.push({
      method,
      route,
      status,
      message,
      times: options.times ?? 1,
      after: options.after ?? 0,
    });
  }

  /** The next `times` `nextid` answers are taken by another client at once. */
  raceNextId(times = 1): void {
    this.#nextIdRaces += times;
  }

  /** Tasks of `type` started from now on wait until the returned function is called. */
  holdTasks(type: TaskType): () => void {
    return this.#tasks.hold(type);
  }

  /** Changes task durations from now on. */
  setTaskDuration(duration: FakeProxmoxOptions["taskDurationMs"]): void {
    this.#tasks.duration = durationOf(duration);
  }

  /** All tasks so far. */
  tasks() {
    return [...this.#tasks.tasks.values()];
  }

  /** Requests seen for a route (`"POST /nodes/{node}/qemu"`). */
  count(methodAndRoute: string): number {
    return this.requests.filter((r) => `${r.method} ${r.route}` === methodAndRoute).length;
  }

  /** Stops the server after running tasks end. */
  /**
   * The platform unreachable: open connections are cut and new ones refused until `resume`
   * (tasks already running carry on, as on a Proxmox cluster behind a broken network).
   */
  async pause(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Listens again on the same port after `pause`. */
  async resume(): Promise<void> {
    const port = Number(this.host.slice(this.host.lastIndexOf(":") + 1));
    await new Promise<void>((resolve) => this.#server.listen(port, "127.0.0.1", resolve));
  }

  async close(): Promise<void> {
    await this.#tasks.drain();
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk as Uint8Array);
    const body = new TextDecoder().decode(concat(chunks));
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const seen: SeenProxmoxRequest = {
      method,
      route: url.pathname,
      path: url.pathname,
      params: {},
      status: 0,
    };
    this.requests.push(seen);
    const send = (status: number, reason: string, text: string, type = "application/json") => {
      seen.status = status;
      res.writeHead(status, reason, {
        "Content-Type": type,
        "Content-Length": Buffer.byteLength(text),
      });
      res.end(text);
    };

    const user = this.#authenticate(req.headers.authorization);
    if (!user) {
      return send(401, req.headers.authorization ? "Authentication failed!" : "No ticket", "");
    }
    if (!url.pathname.startsWith("/api2/json/")) {
      return send(501, `Method '${method} ${url.pathname}' not implemented`, "", "text/plain");
    }
    const path = url.pathname.slice("/api2/json".length);
    if ((method === "GET" || method === "DELETE") && body.length > 0) {
      const message = `Unexpected content for method '${method}'`;
      return send(501, message, message, "text/plain");
    }
    const match = matchRoute(method, path);
    if (!match) {
      const message = `Method '${method} ${path}' not implemented`;
      return send(501, message, message, "text/plain");
    }
    seen.route = match.route.template;
    const params: Params = { ...parseBody(req.headers["content-type"], body) };
    for (const [k, v] of url.searchParams) params[k] = v;
    Object.assign(params, match.pathParams);
    seen.params = params;

    const reply = (status: number, message: string, errors?: Record<string, string>) => {
      const payload: Record<string, unknown> = { data: null };
      if (errors) {
        payload.errors = Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, `${v}\n`]));
      }
      if (this.#options.errorMessageInBody ?? true) payload.message = `${message}\n`;
      send(status, message.split("\n")[0], JSON.stringify(payload));
    };

    const errors = validateParams(`${method} ${match.route.template}`, params);
    if (Object.keys(errors).length) return reply(400, "Parameter verification failed.", errors);

    const fault = this.#requestFaults.find((f) =>
      f.method === method && f.route === match.route.template && f.times > 0
    );
    if (fault && fault.after > 0) fault.after--;
    else if (fault) {
      fault.times--;
      return reply(fault.status, fault.message);
    }
    try {
      const data = await match.route.handler({
        cluster: this.cluster,
        tasks: this.#tasks,
        user,
        params,
        fetch: this.#options.fetch ?? fetch,
        takeNextId: () => this.#nextIdRaces > 0 && this.#nextIdRaces-- > 0,
      });
      const payload = data instanceof WithTotal
        ? { data: data.data, total: data.total }
        : { data: data ?? null };
      send(200, "OK", JSON.stringify(payload));
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      reply(error.status, error.message, error.errors);
    }
  }

  /** The UPID user (`root@pam!ido`) for a valid token header, else undefined. */
  #authenticate(header: string | undefined): string | undefined {
    const match = /^PVEAPIToken=([^!]+)!([^=]+)=(.+)$/.exec(header ?? "");
    if (!match) return undefined;
    const tokens = this.#options.tokens ?? [DEFAULT_TOKEN];
    const token = tokens.find((t) =>
      t.user === match[1] && t.tokenId === match[2] && t.secret === match[3]
    );
    return token ? `${token.user}!${token.tokenId}` : undefined;
  }
}

function durationOf(option: FakeProxmoxOptions["taskDurationMs"]): (type: TaskType) => number {
  if (typeof option === "number") return () => option;
  return (type) => option?.[type] ?? 0;
}

function matchRoute(
  method: string,
  path: string,
): { route: Route; pathParams: Params } | undefined {
  const segments = path.split("/").filter((s) => s !== "");
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const parts = route.template.split("/").filter((s) => s !== "");
    const pathParams: Params = {};
    let ok = true;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      const last = i === parts.length - 1;
      if (i >= segments.length) {
        ok = false;
        break;
      }
      if (part.startsWith("{")) {
        // `{volume}` takes the rest of the path, like Proxmox's fragmentDelimiter ''.
        const raw = part === "{volume}" && last ? segments.slice(i).join("/") : segments[i];
        pathParams[part.slice(1, -1)] = decodeURIComponent(raw);
        if (part === "{volume}" && last) return { route, pathParams };
      } else if (part !== segments[i]) {
        ok = false;
        break;
      }
    }
    if (ok && segments.length === parts.length) return { route, pathParams };
  }
  return undefined;
}

function parseBody(contentType: string | undefined, body: string): Params {
  if (!body) return {};
  if (contentType?.startsWith("application/json")) {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  }
  return Object.fromEntries(new URLSearchParams(body));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}
