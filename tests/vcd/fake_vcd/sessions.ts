/**
 * The fake's sessions (wire facts §B.0): password logins at the cloudapi sessions endpoints, the
 * OAuth refresh-token grant for API tokens, the current session, and the check every `/api`
 * call goes through. A session ends at an absolute lifetime, after an idle timeout, or when
 * `expireAll` is called; only `/api` and cloudapi calls refresh its idle timer.
 */
import { jsonError } from "./responses.ts";
import type { FakeOrg, FakeSession, FakeVcdState } from "./state.ts";

export interface SessionSettings {
  idleMs: number;
  lifetimeMs: number;
}

export class SessionDesk {
  /** Sessions opened so far (logged out ones included). */
  logins = 0;
  /** Every bearer token handed out. */
  readonly tokensIssued: string[] = [];
  readonly #state: FakeVcdState;
  readonly #settings: SessionSettings;

  constructor(state: FakeVcdState, settings: SessionSettings) {
    this.#state = state;
    this.#settings = settings;
  }

  /** Every existing session stops being accepted. */
  expireAll(): void {
    for (const session of this.#state.sessions.values()) session.expired = true;
  }

  /** `POST /cloudapi/1.0.0/sessions[/provider]` with Basic `user@org:password`. */
  login(req: Request, provider: boolean): Response {
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
    const org = this.#state.org(at === -1 ? "" : principal.slice(at + 1));
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

  /** `POST /oauth/tenant/<org>/token` (or `/oauth/provider/token`): the refresh-token grant. */
  async tokenGrant(req: Request, orgName: string): Promise<Response> {
    const form = new URLSearchParams(await req.text());
    const org = this.#state.org(orgName);
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
        expires_in: Math.floor(this.#settings.lifetimeMs / 1000),
        refresh_token: null,
      }),
      { status: 200, headers: { "content-type": "application/json" } },
    );
  }

  /** `GET` or `DELETE /cloudapi/1.0.0/sessions/current`. */
  current(req: Request): Response {
    const session = this.session(req);
    if (!session) {
      return jsonError(401, {
        majorErrorCode: 401,
        minorErrorCode: "UNAUTHORIZED",
        message: "The session is not valid",
      });
    }
    if (req.method === "DELETE") {
      this.#state.sessions.delete(session.token);
      return new Response(null, { status: 204 });
    }
    const org = this.#state.orgs.find((o) => o.id === session.orgId)!;
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
    this.#state.sessions.set(token, session);
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
      sessionIdleTimeoutMinutes: Math.max(1, Math.ceil(this.#settings.idleMs / 60_000)),
    };
  }

  /** The live session a request carries, refreshing its idle timer; undefined when none. */
  session(req: Request): FakeSession | undefined {
    const bearer = /^Bearer (.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
    const token = bearer ?? req.headers.get("x-vmware-vcloud-access-token") ?? "";
    const session = this.#state.sessions.get(token);
    if (!session) return undefined;
    const now = Date.now();
    if (
      session.expired || now - session.createdAt >= this.#settings.lifetimeMs ||
      now - session.lastUse >= this.#settings.idleMs
    ) {
      session.expired = true;
      return undefined;
    }
    session.lastUse = now;
    return session;
  }
}
