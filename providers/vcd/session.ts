/**
 * A VCD API session (wire facts §B.0): found through `/api/versions`, opened through the
 * cloudapi sessions endpoint with `user@org:password` (the `provider` endpoint for org `System`)
 * or through the OAuth refresh-token grant with an API token, and kept usable.
 *
 * Guarantees:
 * - API version 37.0 is required; its `LoginUrl` is picked by exact version match.
 * - A new session is opened before a call when the current one is older than the refresh
 *   threshold (`--vcd-session-refresh-threshold`, default 20 h; VCD ends sessions after ~24 h),
 *   when its token expires within a minute (refresh-token logins say when), or when it has been
 *   idle for nearly VCD's `sessionIdleTimeoutMinutes`. A 401 on a call drops the session
 *   (`invalidate`), and the caller retries once with a fresh one.
 * - Concurrent callers share one login; a caller giving up does not fail the others.
 * - The password and the refresh token are sent only in the login request (Authorization
 *   header, form body) and never appear in errors.
 */
import type { Clock } from "../../lib/clock.ts";
import type { Secret } from "../../lib/config/secret.ts";
import type { Logger } from "../../lib/log.ts";
import {
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
  HttpTransportError,
} from "../_http/mod.ts";
import { ProviderUnavailableError } from "../types.ts";
import { decodeFault, errorFromResponse, VcdAuthError } from "./errors.ts";
import { raceSignal, withDeadline } from "./_signal.ts";
import { children, childText, parseXml } from "./xml.ts";

/** The API version this client speaks. */
export const API_VERSION = "37.0";

/** How we prove who we are. */
export type VcdAuth =
  | { kind: "password"; username: string; password: Secret; org: string }
  | { kind: "token"; refreshToken: Secret; org: string };

/** One open session. */
export interface SessionState {
  /** The bearer token (`X-VMWARE-VCLOUD-ACCESS-TOKEN`). */
  readonly token: string;
  readonly openedAt: number;
  /** When the token stops being accepted, when VCD said (refresh-token logins). */
  readonly expiresAt?: number;
  /** VCD's idle timeout for the session. */
  readonly idleMs: number;
  /** Last API call that used the session (a `/transfer` PUT does not count, §B.3). */
  lastUse: number;
}

export interface SessionOptions {
  /** `https://host` without `/api`. */
  base: string;
  auth: VcdAuth;
  http: HttpClient;
  clock: Clock;
  refreshThresholdMs: number;
  log?: Logger;
}

/** Idle timeout assumed when VCD does not say (its default is 30 minutes). */
const DEFAULT_IDLE_MS = 30 * 60_000;
/** Login and version requests give up after this long. */
const LOGIN_TIMEOUT_MS = 60_000;

export class VcdSession {
  readonly #options: SessionOptions;
  #current?: SessionState;
  #stale?: SessionState;
  #login?: Promise<SessionState>;
  #loginUrls?: { tenant: string; provider?: string };
  /** Logins so far (tests and the bench read it). */
  logins = 0;

  constructor(options: SessionOptions) {
    this.#options = options;
  }

  get org(): string {
    return this.#options.auth.org;
  }

  /** True for the provider (System) org, whose queries use the admin types. */
  get isProvider(): boolean {
    return this.org.toLowerCase() === "system";
  }

  /** A session fit for a call now, opening one when needed. */
  async current(signal: AbortSignal): Promise<SessionState> {
    const state = this.#current;
    if (state && this.#fresh(state)) return state;
    if (state && this.#current === state) {
      // Logged out once the new session is open: VCD limits sessions per user.
      this.#stale = state;
      this.#current = undefined;
      this.#options.log?.debug("opening a new VCD session before the current one goes stale");
    }
    return await raceSignal(this.#sharedLogin(), signal);
  }

  /** Records an API call made with `state`. */
  used(state: SessionState): void {
    state.lastUse = this.#options.clock.now();
  }

  /** Drops `state` after VCD refused it (401), unless a newer session replaced it already. */
  invalidate(state: SessionState): void {
    if (this.#current === state) this.#current = undefined;
  }

  /** Headers that authenticate a request with `state` (wire facts §B.0). */
  headers(state: SessionState): Record<string, string> {
    return {
      "Authorization": `Bearer ${state.token}`,
      "X-Vmware-Vcloud-Access-Token": state.token,
      "X-Vmware-Vcloud-Token-Type": "Bearer",
    };
  }

  /** How long the session may stay unused before a keep-alive call is due. */
  keepAliveMs(state: SessionState): number {
    return Math.min(state.idleMs / 3, 5 * 60_000);
  }

  /** Ends the current session at VCD (best effort, bounded). */
  async logout(): Promise<void> {
    const state = this.#current;
    this.#current = undefined;
    if (state) await this.#deleteSession(state);
  }

  #fresh(state: SessionState): boolean {
    const now = this.#options.clock.now();
    if (now - state.openedAt >= this.#options.refreshThresholdMs) return false;
    if (state.expiresAt !== undefined && now >= state.expiresAt - 60_000) return false;
    // A call that arrives just after the idle timeout would fail; leave a margin.
    const margin = Math.min(60_000, state.idleMs / 10);
    return now - state.lastUse < state.idleMs - margin;
  }

  #sharedLogin(): Promise<SessionState> {
    this.#login ??= this.#openSession().then(async (state) => {
      this.#current = state;
      const stale = this.#stale;
      this.#stale = undefined;
      if (stale) await this.#deleteSession(stale);
      return state;
    }).finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  #openSession(): Promise<SessionState> {
    const timeout = () =>
      new ProviderUnavailableError(
        `Cannot log in to VCD at ${this.#options.base}: no answer within ${LOGIN_TIMEOUT_MS} ms`,
      );
    return withDeadline(LOGIN_TIMEOUT_MS, timeout, async (signal) => {
      const urls = await this.#discover(signal);
      const state = this.#options.auth.kind === "password"
        ? await this.#passwordLogin(this.#options.auth, urls, signal)
        : await this.#tokenLogin(this.#options.auth, signal);
      this.logins++;
      return state;
    });
  }

  /** The login URLs for API version 37.0 from the versions document (cached). */
  async #discover(signal: AbortSignal): Promise<{ tenant: string; provider?: string }> {
    if (this.#loginUrls) return this.#loginUrls;
    const url = `${this.#options.base}/api/versions`;
    const response = await this.#send({
      method: "GET",
      url,
      headers: { Accept: "application/*+xml" },
      signal,
    }, "GET /api/versions");
    if (response.status !== 200) {
      throw errorFromResponse(
        "GET /api/versions",
        response.status,
        response.statusText,
        response.body,
      );
    }
    let versions: { version: string; login: string; provider: string }[];
    try {
      const { node } = parseXml(response.body);
      versions = children(node, "VersionInfo").map((info) => ({
        version: childText(info, "Version"),
        login: childText(info, "LoginUrl"),
        provider: childText(info, "ProviderLoginUrl"),
      }));
    } catch (error) {
      throw new ProviderUnavailableError(
        `VCD at ${this.#options.base} answered /api/versions with a body that is not XML`,
        { cause: error },
      );
    }
    const match = versions.find((v) => v.version === API_VERSION);
    if (!match || !match.login) {
      throw new ProviderUnavailableError(
        `VCD at ${this.#options.base} does not offer API version ${API_VERSION} (VCD 10.4 or ` +
          `later is needed); it offers ${versions.map((v) => v.version).join(", ") || "none"}`,
      );
    }
    this.#loginUrls = {
      tenant: match.login,
      provider: match.provider || `${match.login.replace(/\/+$/, "")}/provider`,
    };
    return this.#loginUrls;
  }

  async #passwordLogin(
    auth: Extract<VcdAuth, { kind: "password" }>,
    urls: { tenant: string; provider?: string },
    signal: AbortSignal,
  ): Promise<SessionState> {
    const url = this.isProvider ? urls.provider! : urls.tenant;
    const basic = base64(`${auth.username}@${auth.org}:${auth.password.reveal()}`);
    const what = `POST ${new URL(url).pathname}`;
    const response = await this.#send({
      method: "POST",
      url,
      headers: { Authorization: `Basic ${basic}`, Accept: `application/*;version=${API_VERSION}` },
      signal,
    }, what);
    if (response.status === 401) {
      throw new VcdAuthError(
        `VCD refused the login of user "${auth.username}" in org "${auth.org}" (${what}: 401 ` +
          `${decodeFault(response.body, response.statusText).message || "Unauthorized"}): check ` +
          `credentials.username, password and org`,
      );
    }
    if (response.status !== 200) {
      throw errorFromResponse(what, response.status, response.statusText, response.body);
    }
    const token = response.headers.get("x-vmware-vcloud-access-token");
    if (!token) {
      throw new ProviderUnavailableError(
        `VCD ${what} answered 200 without an X-VMWARE-VCLOUD-ACCESS-TOKEN header`,
      );
    }
    const now = this.#options.clock.now();
    return { token, openedAt: now, lastUse: now, idleMs: idleOf(response.body) };
  }

  async #tokenLogin(
    auth: Extract<VcdAuth, { kind: "token" }>,
    signal: AbortSignal,
  ): Promise<SessionState> {
    const path = this.isProvider
      ? "/oauth/provider/token"
      : `/oauth/tenant/${encodeURIComponent(auth.org)}/token`;
    const what = `POST ${path}`;
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: auth.refreshToken.reveal(),
    });
    const response = await this.#send({
      method: "POST",
      url: `${this.#options.base}${path}`,
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Accept: "application/json",
      },
      body: form.toString(),
      signal,
    }, what);
    if (response.status === 400 || response.status === 401) {
      throw new VcdAuthError(
        `VCD refused the API token for org "${auth.org}" (${what}: ${response.status} ` +
          `${decodeFault(response.body, response.statusText).message || "refused"}): check ` +
          `credentials.refreshToken and org`,
      );
    }
    if (response.status !== 200) {
      throw errorFromResponse(what, response.status, response.statusText, response.body);
    }
    let grant: { access_token?: unknown; expires_in?: unknown };
    try {
      grant = JSON.parse(response.body);
    } catch (error) {
      throw new ProviderUnavailableError(`VCD ${what} answered 200 with a body that is not JSON`, {
        cause: error,
      });
    }
    if (typeof grant.access_token !== "string" || grant.access_token === "") {
      throw new ProviderUnavailableError(`VCD ${what} answered 200 without an access_token`);
    }
    const now = this.#options.clock.now();
    const expiresIn = Number(grant.expires_in);
    const state: SessionState = {
      token: grant.access_token,
      openedAt: now,
      lastUse: now,
      idleMs: DEFAULT_IDLE_MS,
      ...(Number.isFinite(expiresIn) && expiresIn > 0 ? { expiresAt: now + expiresIn * 1000 } : {}),
    };
    // The grant does not say the idle timeout; the session does.
    const current = await this.#send({
      method: "GET",
      url: `${this.#options.base}/cloudapi/1.0.0/sessions/current`,
      headers: { ...this.headers(state), Accept: `application/json;version=${API_VERSION}` },
      signal,
    }, "GET /cloudapi/1.0.0/sessions/current");
    return current.status === 200 ? { ...state, idleMs: idleOf(current.body) } : state;
  }

  async #deleteSession(state: SessionState): Promise<void> {
    try {
      await withDeadline(
        5_000,
        () => new Error("logout timed out"),
        (signal) =>
          this.#options.http.request({
            method: "DELETE",
            url: `${this.#options.base}/cloudapi/1.0.0/sessions/current`,
            headers: { ...this.headers(state), Accept: `application/json;version=${API_VERSION}` },
            signal,
          }),
      );
    } catch {
      // The session times out on its own; a failed logout changes nothing for us.
    }
  }

  async #send(request: HttpRequest, what: string): Promise<HttpResponse> {
    try {
      return await this.#options.http.request(request);
    } catch (error) {
      // Logins run on their own deadline (shared by every caller), so any failure here,
      // that deadline included, means VCD could not be reached.
      const detail = error instanceof HttpTransportError ? error.detail : (error as Error).message;
      throw new ProviderUnavailableError(
        `Cannot reach VCD at ${this.#options.base} (${what}): ${detail}`,
        { cause: error },
      );
    }
  }
}

function idleOf(body: string): number {
  try {
    const minutes = Number(
      (JSON.parse(body) as { sessionIdleTimeoutMinutes?: unknown })
        .sessionIdleTimeoutMinutes,
    );
    if (Number.isFinite(minutes) && minutes > 0) return minutes * 60_000;
  } catch {
    // Some versions answer the legacy XML Session; the default applies.
  }
  return DEFAULT_IDLE_MS;
}

/** Base64 of the UTF-8 bytes, so passwords with any characters survive. */
function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
