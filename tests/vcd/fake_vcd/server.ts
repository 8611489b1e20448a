/**
 * A fake VMware Cloud Director on 127.0.0.1 (HTTPS with a given certificate, or plain HTTP),
 * faithful to wire facts §B where a client can tell the difference:
 * - `GET /api/versions` without auth; logins only through the version's `LoginUrl`
 *   (`/cloudapi/1.0.0/sessions`, `/provider` for org `System`) with Basic `user@org:password`,
 *   answering the token in `X-VMWARE-VCLOUD-ACCESS-TOKEN`; the OAuth refresh-token grant at
 *   `/oauth/tenant/<org>/token` and `/oauth/provider/token` for API tokens;
 * - every `/api` call needs a live session (bearer token) and a versioned `Accept` header
 *   (406 without, as VCD answers "Invalid API version requested"); sessions end at an absolute
 *   lifetime (24 h by default), after an idle timeout, or at once with `expireSessions()`.
 *   `/transfer` PUTs need no session and do not count as its use (terraform-provider-vcd#482);
 * - non-2xx answers carry `<Error majorErrorCode minorErrorCode message>` (cloudapi: JSON);
 *   ids that do not exist or are not visible answer 403 `ACCESS_TO_RESOURCE_IS_FORBIDDEN`;
 * - uploads as `world.ts` describes; ranged PUTs must start at the last byte stored and stay
 *   within the declared size, else 416 with an empty body (terraform-provider-vcd#403,
 *   pyvcloud#310). Bytes are hashed, not stored.
 *
 * Faults: `failRequest` (an error answer, no effect), `failTransfers` (a transfer PUT stops
 * after some bytes with a 500), `failNextImport`, `failMetadata`, `expireSessions`, and the
 * `onTransfer` hook (e.g. to expire sessions in the middle of an upload).
 */
import { apiRoute } from "./api_routes.ts";
import { Hrefs, versionsXml } from "./render.ts";
import { jsonError, xml, xmlError } from "./responses.ts";
import { SessionDesk } from "./sessions.ts";
import {
  DEFAULT_ORGS,
  type FakeTemplate,
  FakeVcdState,
  type Fault,
  type OrgSpec,
} from "./state.ts";
import { type TransferFault, transferRoute } from "./transfer.ts";
import { World, type WorldTimings } from "./world.ts";

export interface FakeVcdOptions {
  /** Serve HTTPS with this certificate; plain HTTP without. */
  tls?: { cert: string; key: string };
  port?: number;
  /** Orgs to create (default `DEFAULT_ORGS`). */
  orgs?: OrgSpec[];
  /** Adds the provider org `System` with this administrator. */
  providerAdmin?: { name: string; password: string };
  /** API versions in `/api/versions` (default 36.0, 37.0, 38.0). */
  versions?: string[];
  /** Put `ProviderLoginUrl` into the versions document (default false). */
  providerLoginUrl?: boolean;
  /** Idle timeout of sessions (default 30 min); reported in whole minutes. */
  sessionIdleTimeoutMs?: number;
  /** Absolute session lifetime (default 24 h). */
  sessionLifetimeMs?: number;
  timings?: Partial<WorldTimings>;
}

/** One request as the fake saw it. */
export interface SeenVcdRequest {
  method: string;
  path: string;
  query: string;
  status: number;
  /** `Content-Range` of a transfer PUT. */
  contentRange?: string;
  /** Bytes of a transfer PUT's body the fake stored. */
  stored?: number;
}

interface RequestFault {
  method: string;
  path: RegExp;
  status: number;
  fault: Fault;
  times: number;
  after: number;
}

export const DEFAULT_TIMINGS: WorldTimings = {
  descriptorDelayMs: 20,
  importDelayMs: 20,
  taskDelayMs: 10,
  transferTimeoutMs: 3_600_000,
};

export class FakeVcd {
  readonly state: FakeVcdState;
  readonly world: World;
  readonly requests: SeenVcdRequest[] = [];
  /** `https://127.0.0.1:<port>` (or `http://`). */
  readonly url: string;
  /** Called for each transfer PUT before it is handled. */
  onTransfer?: (info: { template: FakeTemplate; file: string; start: number }) => void;
  readonly #server: Deno.HttpServer;
  readonly #options: FakeVcdOptions;
  readonly #requestFaults: RequestFault[] = [];
  readonly #transferFaults: TransferFault[] = [];

  private constructor(server: Deno.HttpServer, url: string, options: FakeVcdOptions, ref: {
    fake?: FakeVcd;
  }) {
    this.#server = server;
    this.url = url;
    this.#options = options;
    const orgs = [...(options.orgs ?? DEFAULT_ORGS)];
    if (options.providerAdmin) orgs.push({ name: "System", users: [options.providerAdmin] });
    this.state = new FakeVcdState(orgs);
    this.world = new World(this.state, new Hrefs(url), { ...DEFAULT_TIMINGS, ...options.timings });
    this.sessions = new SessionDesk(this.state, {
      idleMs: options.sessionIdleTimeoutMs ?? 30 * 60_000,
      lifetimeMs: options.sessionLifetimeMs ?? 24 * 3_600_000,
    });
    ref.fake = this;
  }

  /** Starts a fake on a free port (or `options.port`). */
  static async start(options: FakeVcdOptions = {}): Promise<FakeVcd> {
    const ref: { fake?: FakeVcd } = {};
    const ready = Promise.withResolvers<Deno.NetAddr>();
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
      onListen: (addr) => ready.resolve(addr as Deno.NetAddr),
      onError: (error) =>
        new Response(`fake VCD bug: ${(error as Error)?.stack ?? error}`, { status: 500 }),
    }, (req) => ref.fake!.#handle(req));
    const addr = await ready.promise;
    return new FakeVcd(
      server,
      `${options.tls ? "https" : "http"}://127.0.0.1:${addr.port}`,
      options,
      ref,
    );
  }

  /** Every existing session stops being accepted (as after VCD's absolute expiry). */
  expireSessions(): void {
    this.sessions.expireAll();
  }

  /** Sessions opened so far (logged out ones included). */
  get logins(): number {
    return this.sessions.logins;
  }

  /** Every bearer token handed out (a secret like the password: tests search logs for it). */
  get tokensIssued(): readonly string[] {
    return this.sessions.tokensIssued;
  }

  readonly sessions: SessionDesk;

  /** The next import fails: template -1, upload task `error` with this message. */
  failNextImport(message = "Failed to import the OVF package (injected failure)"): void {
    this.world.importFaults.push({
      majorErrorCode: 500,
      minorErrorCode: "INTERNAL_SERVER_ERROR",
      message,
    });
  }

  /** The next `times` metadata merges fail in their task. */
  failMetadata(times = 1): void {
    this.world.metadataFailures += times;
  }

  /** The next `times` matching requests (after `after` pass) answer the fault, with no effect. */
  failRequest(
    method: string,
    path: RegExp,
    fault: { status: number; minorErrorCode: string; message: string },
    options: { times?: number; after?: number } = {},
  ): void {
    this.#requestFaults.push({
      method,
      path,
      status: fault.status,
      fault: { majorErrorCode: fault.status, ...fault },
      times: options.times ?? 1,
      after: options.after ?? 0,
    });
  }

  /** The next `times` disk transfer PUTs store `afterBytes` of their body, then answer 500. */
  failTransfers(options: { afterBytes: number; times?: number }): void {
    this.#transferFaults.push({ afterBytes: options.afterBytes, times: options.times ?? 1 });
  }

  /** Templates of a catalog (default org and catalog: the first of each). */
  templates(catalog?: string, org?: string): FakeTemplate[] {
    const o = org ? this.state.org(org)! : this.state.orgs[0];
    return this.state.templatesIn(o.name, catalog ?? o.catalogs[0].name);
  }

  async close(): Promise<void> {
    this.world.close();
    await this.#server.shutdown();
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const seen: SeenVcdRequest = {
      method: req.method,
      path: url.pathname,
      query: url.search,
      status: 0,
    };
    this.requests.push(seen);
    const response = await this.#route(req, url, seen);
    seen.status = response.status;
    return response;
  }

  async #route(req: Request, url: URL, seen: SeenVcdRequest): Promise<Response> {
    const path = url.pathname;
    const method = req.method;
    const fault = this.#requestFaults.find((f) =>
      f.times > 0 && f.method === method && f.path.test(path)
    );
    if (fault) {
      if (fault.after > 0) fault.after--;
      else {
        fault.times--;
        await req.body?.cancel();
        return path.startsWith("/cloudapi") || path.startsWith("/oauth")
          ? jsonError(fault.status, fault.fault)
          : xmlError(fault.status, fault.fault);
      }
    }
    if (path === "/api/versions" && method === "GET") {
      return xml(
        200,
        versionsXml(this.url, this.#versions(), this.#options.providerLoginUrl ?? false),
      );
    }
    if (path === "/cloudapi/1.0.0/sessions" && method === "POST") {
      return this.sessions.login(req, false);
    }
    if (path === "/cloudapi/1.0.0/sessions/provider" && method === "POST") {
      return this.sessions.login(req, true);
    }
    if (path === "/cloudapi/1.0.0/sessions/current") return this.sessions.current(req);
    const oauth = /^\/oauth\/(?:tenant\/([^/]+)|(provider))\/token$/.exec(path);
    if (oauth && method === "POST") {
      return this.sessions.tokenGrant(req, oauth[2] ? "System" : decodeURIComponent(oauth[1]));
    }
    const transfer = /^\/transfer\/([^/]+)\/(.+)$/.exec(path);
    if (transfer && method === "PUT") {
      return transferRoute(
        this.world,
        { faults: this.#transferFaults, onTransfer: this.onTransfer },
        req,
        { id: transfer[1], name: decodeURIComponent(transfer[2]) },
        seen,
      );
    }
    if (!path.startsWith("/api/")) return new Response(null, { status: 404 });

    const session = this.sessions.session(req);
    if (!session) {
      await req.body?.cancel();
      return xmlError(401, {
        majorErrorCode: 401,
        minorErrorCode: "UNAUTHORIZED",
        message: "The session is not valid: log in again",
      });
    }
    const version = /version=([0-9.]+)/.exec(req.headers.get("accept") ?? "")?.[1];
    if (!version || !this.#versions().includes(version)) {
      await req.body?.cancel();
      return xmlError(406, {
        majorErrorCode: 406,
        minorErrorCode: "NOT_ACCEPTABLE",
        message: "The request has invalid accept header: Invalid API version requested",
      });
    }
    return await apiRoute(this.world, req, url, session);
  }

  #versions(): string[] {
    return this.#options.versions ?? ["36.0", "37.0", "38.0"];
  }
}
