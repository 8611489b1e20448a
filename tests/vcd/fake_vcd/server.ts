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
import { createHash } from "node:crypto";
import { XMLParser } from "fast-xml-parser";
import {
  catalogItemXml,
  catalogXml,
  errorXml,
  Hrefs,
  metadataXml,
  orgListXml,
  orgXml,
  taskXml,
  templateXml,
  TYPES,
  versionsXml,
} from "./render.ts";
import { query } from "./query.ts";
import {
  DEFAULT_ORGS,
  type FakeOrg,
  type FakeSession,
  type FakeTemplate,
  FakeVcdState,
  type Fault,
  type OrgSpec,
  UNRESOLVED,
} from "./state.ts";
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

interface TransferFault {
  afterBytes: number;
  times: number;
}

export const DEFAULT_TIMINGS: WorldTimings = {
  descriptorDelayMs: 20,
  importDelayMs: 20,
  taskDelayMs: 10,
  transferTimeoutMs: 3_600_000,
};

const MAX_DESCRIPTOR_BYTES = 16 * 1024 * 1024;

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  removeNSPrefix: true,
  parseTagValue: false,
  isArray: (name) => name === "MetadataEntry",
});

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
    for (const session of this.state.sessions.values()) session.expired = true;
  }

  /** Sessions opened so far (logged out ones included). */
  logins = 0;
  /** Every bearer token handed out (a secret like the password: tests search logs for it). */
  readonly tokensIssued: string[] = [];

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
    if (path === "/cloudapi/1.0.0/sessions" && method === "POST") return this.#login(req, false);
    if (path === "/cloudapi/1.0.0/sessions/provider" && method === "POST") {
      return this.#login(req, true);
    }
    if (path === "/cloudapi/1.0.0/sessions/current") return this.#currentSession(req);
    const oauth = /^\/oauth\/(?:tenant\/([^/]+)|(provider))\/token$/.exec(path);
    if (oauth && method === "POST") {
      return this.#tokenGrant(req, oauth[2] ? "System" : decodeURIComponent(oauth[1]));
    }
    const transfer = /^\/transfer\/([^/]+)\/(.+)$/.exec(path);
    if (transfer && method === "PUT") {
      return this.#transfer(req, transfer[1], decodeURIComponent(transfer[2]), seen);
    }
    if (!path.startsWith("/api/")) return new Response(null, { status: 404 });

    const session = this.#session(req);
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
    return await this.#api(req, url, session);
  }

  #versions(): string[] {
    return this.#options.versions ?? ["36.0", "37.0", "38.0"];
  }

  // --- sessions -------------------------------------------------------------------------

  #login(req: Request, provider: boolean): Response {
    const unauthorized = (message: string) =>
      jsonError(401, { majorErrorCode: 401, minorErrorCode: "UNAUTHORIZED", message });
    if (!/version=/.test(req.headers.get("accept") ?? "")) {
      return jsonError(406, {
        majorErrorCode: 406,
        minorErrorCode: "NOT_ACCEPTABLE",
        message: "The request has invalid accept header: Invalid API version requested",
      });
    }
    const basic = /^Basic (.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
    if (!basic) return unauthorized("Basic authentication is required");
    let decoded: string;
    try {
      decoded = new TextDecoder("utf-8", { fatal: true }).decode(
        Uint8Array.from(atob(basic), (c) => c.charCodeAt(0)),
      );
    } catch {
      return unauthorized("Malformed Basic authentication");
    }
    // user@org:password: the password may hold ':' and the user '@' (the last '@' splits).
    const colon = decoded.indexOf(":");
    const principal = colon === -1 ? decoded : decoded.slice(0, colon);
    const password = colon === -1 ? "" : decoded.slice(colon + 1);
    const at = principal.lastIndexOf("@");
    const userName = at === -1 ? principal : principal.slice(0, at);
    const org = this.state.org(at === -1 ? "" : principal.slice(at + 1));
    const isSystem = org?.name.toLowerCase() === "system";
    if (!org || isSystem !== provider) {
      return unauthorized(
        isSystem
          ? "System users log in at /cloudapi/1.0.0/sessions/provider"
          : "Invalid credentials",
      );
    }
    const user = org.users.find((u) => u.name === userName);
    if (!user || user.password !== password) return unauthorized("Invalid credentials");
    const session = this.#openSession(org, user.name, provider);
    return new Response(JSON.stringify(this.#sessionJson(session, org)), {
      status: 200,
      headers: {
        "content-type": "application/json;version=37.0",
        "x-vmware-vcloud-access-token": session.token,
        "x-vmware-vcloud-token-type": "Bearer",
      },
    });
  }

  async #tokenGrant(req: Request, orgName: string): Promise<Response> {
    const form = new URLSearchParams(await req.text());
    const org = this.state.org(orgName);
    const invalid = (description: string) =>
      new Response(JSON.stringify({ error: "invalid_grant", error_description: description }), {
        status: 400,
        headers: { "content-type": "application/json" },
      });
    if (!(req.headers.get("content-type") ?? "").startsWith("application/x-www-form-urlencoded")) {
      return invalid("expected a form body");
    }
    if (form.get("grant_type") !== "refresh_token") return invalid("unsupported grant_type");
    const user = org?.apiTokens.get(form.get("refresh_token") ?? "");
    if (!org || !user) return invalid("The refresh token is not valid");
    const session = this.#openSession(org, user, org.name.toLowerCase() === "system");
    return new Response(
      JSON.stringify({
        access_token: session.token,
        token_type: "Bearer",
        expires_in: Math.floor(this.#lifetimeMs() / 1000),
        refresh_token: null,
      }),
      { status: 200, headers: { "content-type": "application/json" } },
    );
  }

  #currentSession(req: Request): Response {
    const session = this.#session(req);
    if (!session) {
      return jsonError(401, {
        majorErrorCode: 401,
        minorErrorCode: "UNAUTHORIZED",
        message: "The session is not valid",
      });
    }
    if (req.method === "DELETE") {
      this.state.sessions.delete(session.token);
      return new Response(null, { status: 204 });
    }
    const org = this.state.orgs.find((o) => o.id === session.orgId)!;
    return new Response(JSON.stringify(this.#sessionJson(session, org)), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  }

  #openSession(org: FakeOrg, userName: string, provider: boolean): FakeSession {
    // Long enough to be sent as a bearer token (go-vcd sends the bearer headers above 32 chars).
    const token = `${crypto.randomUUID()}${crypto.randomUUID()}`.replaceAll("-", "");
    const now = Date.now();
    const session: FakeSession = {
      token,
      id: crypto.randomUUID(),
      orgId: org.id,
      userName,
      provider,
      createdAt: now,
      lastUse: now,
      expired: false,
    };
    this.state.sessions.set(token, session);
    this.logins++;
    this.tokensIssued.push(token);
    return session;
  }

  #sessionJson(session: FakeSession, org: FakeOrg) {
    return {
      id: `urn:vcloud:session:${session.id}`,
      user: { name: session.userName, id: `urn:vcloud:user:${session.id}` },
      org: { name: org.name, id: `urn:vcloud:org:${org.id}` },
      location: "fake-vcd",
      roles: [session.provider ? "System Administrator" : "Organization Administrator"],
      roleRefs: [],
      sessionIdleTimeoutMinutes: Math.max(1, Math.ceil(this.#idleMs() / 60_000)),
    };
  }

  /** The live session a request carries, refreshing its idle timer; undefined when none. */
  #session(req: Request): FakeSession | undefined {
    const bearer = /^Bearer (.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
    const token = bearer ?? req.headers.get("x-vmware-vcloud-access-token") ?? "";
    const session = this.state.sessions.get(token);
    if (!session) return undefined;
    const now = Date.now();
    if (
      session.expired || now - session.createdAt >= this.#lifetimeMs() ||
      now - session.lastUse >= this.#idleMs()
    ) {
      session.expired = true;
      return undefined;
    }
    session.lastUse = now;
    return session;
  }

  #idleMs(): number {
    return this.#options.sessionIdleTimeoutMs ?? 30 * 60_000;
  }

  #lifetimeMs(): number {
    return this.#options.sessionLifetimeMs ?? 24 * 3_600_000;
  }

  // --- /api -----------------------------------------------------------------------------

  async #api(req: Request, url: URL, session: FakeSession): Promise<Response> {
    const h = this.world.hrefs;
    const path = url.pathname;
    const method = req.method;
    const visibleOrgs = this.state.orgs.filter((o) => session.provider || o.id === session.orgId);
    const forbidden = () =>
      xmlError(403, {
        majorErrorCode: 403,
        minorErrorCode: "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
        message: `Either you need some or all of the following rights [ORG_VDC_ACCESS] to ` +
          `perform operations [${method}] for ${path} or the target entity is invalid.`,
      });

    if (path === "/api/org" || path === "/api/org/") {
      return xml(200, orgListXml(h, visibleOrgs));
    }
    if (path === "/api/query" && method === "GET") {
      const answer = query(this.state, h, session, url);
      return "fault" in answer ? xmlError(answer.status, answer.fault) : xml(200, answer.body);
    }
    let m = /^\/api\/org\/([^/]+)$/.exec(path);
    if (m && method === "GET") {
      const org = visibleOrgs.find((o) => o.id === m![1]);
      return org ? xml(200, orgXml(h, org)) : forbidden();
    }
    m = /^\/api\/catalog\/([^/]+)(\/action\/upload)?$/.exec(path);
    if (m) {
      const org = visibleOrgs.find((o) => o.catalogs.some((c) => c.id === m![1]));
      const catalog = org?.catalogs.find((c) => c.id === m![1]);
      if (!org || !catalog) return forbidden();
      if (!m[2] && method === "GET") {
        return xml(200, catalogXml(h, org, catalog, this.state.templates));
      }
      if (m[2] && method === "POST") return await this.#upload(req, org, catalog, session);
    }
    m = /^\/api\/vAppTemplate\/vappTemplate-([^/]+?)(\/metadata)?$/.exec(path);
    if (m) {
      const template = this.state.templates.get(m[1]);
      if (!template || !visibleOrgs.some((o) => o.id === template.orgId)) return forbidden();
      if (!m[2] && method === "GET") {
        const tasks = [...this.state.tasks.values()].filter((t) =>
          t.ownerHref === h.template(template)
        );
        return xml(200, templateXml(h, template, tasks));
      }
      if (!m[2] && method === "DELETE") {
        return xml(202, taskXml(h, this.world.deleteTemplate(template)), TYPES.task);
      }
      if (m[2] && method === "GET") return xml(200, metadataXml(h, template));
      if (m[2] && method === "POST") return await this.#metadata(req, template);
    }
    m = /^\/api\/task\/([^/]+)$/.exec(path);
    if (m && method === "GET") {
      const task = this.state.tasks.get(m[1]);
      if (!task || !visibleOrgs.some((o) => o.id === task.orgId)) return forbidden();
      return xml(200, taskXml(h, task), TYPES.task);
    }
    await req.body?.cancel();
    return xmlError(404, {
      majorErrorCode: 404,
      minorErrorCode: "RESOURCE_NOT_FOUND",
      message: `No such resource: ${method} ${path}`,
    });
  }

  async #upload(
    req: Request,
    org: FakeOrg,
    catalog: FakeOrg["catalogs"][number],
    session: FakeSession,
  ): Promise<Response> {
    const bad = (message: string, minor = "BAD_REQUEST", status = 400) =>
      xmlError(status, { majorErrorCode: status, minorErrorCode: minor, message });
    if (catalog.subscribed) {
      return bad(
        "A subscribed catalog cannot take uploads",
        "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
        403,
      );
    }
    if (req.headers.get("content-type")?.split(";")[0] !== TYPES.uploadParams) {
      await req.body?.cancel();
      return bad(`Expected Content-Type ${TYPES.uploadParams}`, "UNSUPPORTED_MEDIA_TYPE", 415);
    }
    let params: Record<string, unknown>;
    try {
      params = xmlParser.parse(await req.text()).UploadVAppTemplateParams;
    } catch (error) {
      return bad(`The request body is not XML: ${(error as Error).message}`);
    }
    if (!params || typeof params !== "object") return bad("Expected UploadVAppTemplateParams");
    const name = String(params["@name"] ?? "");
    if (!name) return bad("UploadVAppTemplateParams needs a name");
    const taken = [...catalog.items.values()].some((id) =>
      this.state.templates.get(id)?.name === name
    );
    if (taken) {
      // [UNVERIFIED] exact message; the code is what clients see for duplicate entity names.
      return bad(`The VCD entity ${name} already exists.`, "DUPLICATE_NAME");
    }
    const reference = params.VdcStorageProfile as Record<string, unknown> | undefined;
    let placed: {
      vdc: FakeOrg["vdcs"][number];
      profile: FakeOrg["vdcs"][number]["profiles"][number];
    } | undefined;
    if (reference) {
      const id = /\/vdcStorageProfile\/([^/]+)$/.exec(String(reference["@href"] ?? ""))?.[1];
      for (const vdc of org.vdcs) {
        const profile = vdc.profiles.find((p) => p.id === id && p.enabled);
        if (profile) placed = { vdc, profile };
      }
      if (!placed) return bad("The storage profile is not one of this organization's VDCs");
    } else {
      const vdc = org.vdcs[0];
      const profile = vdc?.profiles.find((p) => p.isDefault);
      if (!vdc || !profile) return bad("The organization has no VDC to hold the template");
      placed = { vdc, profile };
    }
    const description = typeof params.Description === "string"
      ? params.Description
      : String((params.Description as Record<string, unknown> | undefined)?.["#text"] ?? "");
    const template = this.world.createTemplate(org, catalog, placed.vdc, placed.profile, {
      name,
      description,
      ownerName: session.userName,
    });
    return xml(201, catalogItemXml(this.world.hrefs, catalog, template), TYPES.catalogItem);
  }

  async #metadata(req: Request, template: FakeTemplate): Promise<Response> {
    if (req.headers.get("content-type")?.split(";")[0] !== TYPES.metadata) {
      await req.body?.cancel();
      return xmlError(415, {
        majorErrorCode: 415,
        minorErrorCode: "UNSUPPORTED_MEDIA_TYPE",
        message: `Expected Content-Type ${TYPES.metadata}`,
      });
    }
    let entries: [string, string][];
    try {
      const doc = xmlParser.parse(await req.text()).Metadata as Record<string, unknown>;
      entries = ((doc?.MetadataEntry ?? []) as Record<string, unknown>[]).map((entry) => {
        const typed = entry.TypedValue as Record<string, unknown>;
        if (typed?.["@type"] !== "MetadataStringValue") {
          throw new Error("expected MetadataStringValue");
        }
        return [String(entry.Key), String(typed.Value ?? "")];
      });
    } catch (error) {
      return xmlError(400, {
        majorErrorCode: 400,
        minorErrorCode: "BAD_REQUEST",
        message: `Invalid Metadata: ${(error as Error).message}`,
      });
    }
    return xml(
      202,
      taskXml(this.world.hrefs, this.world.mergeMetadata(template, entries)),
      TYPES.task,
    );
  }

  // --- /transfer ------------------------------------------------------------------------

  async #transfer(req: Request, id: string, name: string, seen: SeenVcdRequest): Promise<Response> {
    const template = this.state.templates.get(this.state.transfers.get(id) ?? "");
    const file = template?.files.find((f) => f.transferId === id && f.name === name);
    if (!template || !file || template.status !== UNRESOLVED) {
      await req.body?.cancel();
      return new Response(null, { status: 404 });
    }
    const range = req.headers.get("content-range");
    seen.contentRange = range ?? undefined;
    const length = Number(req.headers.get("content-length"));
    if (!req.headers.has("content-length") || !Number.isSafeInteger(length)) {
      await req.body?.cancel();
      return new Response(null, { status: 411 });
    }
    const notSatisfiable = async () => {
      await req.body?.cancel();
      return new Response(null, { status: 416 });
    };
    if (name === "descriptor.ovf") {
      if (template.descriptorUploaded) return notSatisfiable();
      if (length > MAX_DESCRIPTOR_BYTES) return notSatisfiable();
      const bytes = new Uint8Array(await req.arrayBuffer());
      seen.stored = bytes.byteLength;
      const fault = this.world.receiveDescriptor(template, bytes);
      return fault ? xmlError(400, fault) : new Response(null, { status: 200 });
    }
    let start = 0;
    let end = length - 1;
    let total = file.size >= 0 ? file.size : length;
    if (range) {
      const parsed = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range);
      if (!parsed) {
        await req.body?.cancel();
        return xmlError(400, {
          majorErrorCode: 400,
          minorErrorCode: "BAD_REQUEST",
          message: `Malformed Content-Range "${range}"`,
        });
      }
      [start, end, total] = [Number(parsed[1]), Number(parsed[2]), Number(parsed[3])];
    }
    this.onTransfer?.({ template, file: name, start });
    // "Content-Range not satisfiable: Request must begin at the last byte stored" (§B.3).
    if (start !== file.bytesTransferred) return notSatisfiable();
    if (file.size >= 0 && (total !== file.size || end >= file.size)) return notSatisfiable();
    if (end < start || end >= total || end - start + 1 !== length) {
      await req.body?.cancel();
      return xmlError(400, {
        majorErrorCode: 400,
        minorErrorCode: "BAD_REQUEST",
        message: `Content-Length ${length} does not match Content-Range ${range}`,
      });
    }
    if (file.size < 0) file.size = total;
    file.hash ??= createHash("sha256");
    const fault = this.#transferFaults.find((f) => f.times > 0);
    if (fault) fault.times--;
    const limit = fault ? Math.min(fault.afterBytes, length) : length;
    let received = 0;
    const reader = req.body!.getReader();
    try {
      while (received < limit) {
        const { done, value } = await reader.read();
        if (done) break;
        const take = value.subarray(0, Math.min(value.byteLength, limit - received));
        file.hash.update(take);
        received += take.byteLength;
        file.bytesTransferred += take.byteLength;
        if (take.byteLength < value.byteLength) break;
      }
    } catch {
      // The client went away mid-body; what arrived is stored, as VCD stores it.
    } finally {
      seen.stored = received;
      if (received < length) await reader.cancel().catch(() => {});
      else reader.releaseLock();
    }
    this.world.touchTransfer(template);
    if (fault) {
      return xmlError(500, {
        majorErrorCode: 500,
        minorErrorCode: "INTERNAL_SERVER_ERROR",
        message: "The transfer was interrupted (injected failure)",
      });
    }
    if (received < length) return new Response(null, { status: 400 });
    if (file.bytesTransferred === file.size) {
      file.sha256 = file.hash.digest("hex");
      file.hash = undefined;
    }
    this.world.fileProgress(template);
    return new Response(null, { status: 200 });
  }
}

function xml(status: number, body: string, type?: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": `${type ?? "application/*+xml"};version=37.0` },
  });
}

function xmlError(status: number, fault: Fault): Response {
  return new Response(errorXml(fault), {
    status,
    headers: { "content-type": `${TYPES.error};version=37.0` },
  });
}

function jsonError(status: number, fault: Fault): Response {
  return new Response(
    JSON.stringify({
      minorErrorCode: fault.minorErrorCode,
      message: fault.message,
      stackTrace: null,
    }),
    { status, headers: { "content-type": "application/json;version=37.0" } },
  );
}
