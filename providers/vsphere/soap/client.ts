/**
 * One vCenter session over SOAP (`POST https://<vcenter>/sdk`) on the platform HTTP client.
 *
 * Guarantees:
 * - Every call carries the session cookie `vmware_soap_session` of the last Login; the first
 *   call logs in (RetrieveServiceContent, then SessionManager.Login), and concurrent callers
 *   share one login.
 * - A `NotAuthenticated` answer (a SOAP fault, or vcsim's HTTP 200 with NotAuthenticated in a
 *   property retrieval's `missingSet`) logs in again once and repeats the call once; a second
 *   refusal is an error. Calls that raced a re-login are not logged in twice.
 * - An idle session is kept alive: when no call was made for `keepAliveMs`, one cheap
 *   authenticated read is made (and a lost session noticed and replaced then).
 * - `close` stops the keep-alive and logs out (bounded, best effort), then closes connections.
 * - Errors: a refused login or an unreachable vCenter is a `ProviderUnavailableError`; faults
 *   are `VimFault`s (`faults.ts`); messages never contain the password or the cookie.
 */
import { type Clock, realClock, type TimerHandle } from "../../../lib/clock.ts";
import type { Secret } from "../../../lib/config/secret.ts";
import { type Logger, silentLogger } from "../../../lib/log.ts";
import { type HttpClient, HttpTransportError } from "../../_http/mod.ts";
import { PlatformError, ProviderUnavailableError } from "../../types.ts";
import {
  faultFromSoap,
  InvalidLoginFault,
  NotAuthenticatedFault,
  VimFault,
  vimFault,
} from "./faults.ts";
import {
  asMoRef,
  child,
  children,
  el,
  envelope,
  type MoRef,
  parseXml,
  textOf,
  type XmlNode,
} from "./xml.ts";

/** The well-known managers of a vCenter (RetrieveServiceContent). */
export interface ServiceContent {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  searchIndex: MoRef;
  ovfManager: MoRef;
  sessionManager: MoRef;
  taskManager: MoRef;
  apiVersion: string;
  apiType: string;
}

export interface SoapClientOptions {
  /** vCenter `host` or `host:port`, no scheme. */
  host: string;
  username: string;
  password: Secret;
  http: HttpClient;
  clock?: Clock;
  log?: Logger;
  /** Longest wait for one answer, default 60 s. */
  timeoutMs?: number;
  /** Keep-alive period of an idle session, default 10 min (vCenter's idle timeout is 30). */
  keepAliveMs?: number;
  /** Called once per SOAP request sent (bench, tests). */
  onCall?: (method: string) => void;
}

const SERVICE_INSTANCE: MoRef = { type: "ServiceInstance", value: "ServiceInstance" };
const COOKIE = "vmware_soap_session";
/** The newest API version whose shapes this client was checked against. */
const MAX_API_VERSION = "8.0.3.0";

export class SoapClient {
  readonly host: string;
  readonly #options: SoapClientOptions;
  readonly #clock: Clock;
  readonly #log: Logger;
  #content?: ServiceContent;
  #cookie?: string;
  /** Bumped at every login, so a call that failed on an older session does not log in again. */
  #generation = 0;
  #login?: Promise<void>;
  #lastCall = 0;
  #keepAlive?: TimerHandle;
  #closed = false;
  /** Logins made (tests, bench). */
  logins = 0;

  constructor(options: SoapClientOptions) {
    this.#options = options;
    this.host = options.host;
    this.#clock = options.clock ?? realClock;
    this.#log = options.log ?? silentLogger;
  }

  /** `https://<host>` */
  get origin(): string {
    return `https://${this.host}`;
  }

  /** The cookie header value of the current session (NFC uploads send it too). */
  get cookie(): string | undefined {
    return this.#cookie;
  }

  /** The service content, logging in first if needed. */
  async content(signal: AbortSignal): Promise<ServiceContent> {
    await this.#session(signal);
    return this.#content!;
  }

  /** Logs in now if there is no session (probe). */
  async connect(signal: AbortSignal): Promise<void> {
    await this.#session(signal);
  }

  /**
   * Calls `method` on `self` with `body` (the request's children after `_this`, built with
   * `el`/`moref`) and returns the `<method>Response` element.
   */
  async call(method: string, self: MoRef, body: string, signal: AbortSignal): Promise<XmlNode> {
    const generation = await this.#session(signal);
    try {
      return await this.#send(method, self, body, signal);
    } catch (error) {
      if (!(error instanceof NotAuthenticatedFault)) throw error;
      this.#log.info("vCenter session expired; logging in again", { vcenter: this.host, method });
      await this.#relogin(generation, signal);
      return await this.#send(method, self, body, signal);
    }
  }

  /** Stops the keep-alive, logs out (at most a few seconds), closes connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#keepAlive?.cancel();
    if (this.#cookie && this.#content) {
      try {
        await this.#send(
          "Logout",
          this.#content.sessionManager,
          "",
          AbortSignal.timeout(5_000),
        );
      } catch (error) {
        this.#log.debug("vCenter logout failed", { vcenter: this.host, error: messageOf(error) });
      }
      this.#cookie = undefined;
    }
    await this.#options.http.close();
  }

  /** Resolves once a session exists; returns its generation. */
  async #session(signal: AbortSignal): Promise<number> {
    if (this.#closed) throw new ProviderUnavailableError(`vCenter client for ${this.host} closed`);
    if (this.#cookie) return this.#generation;
    await this.#relogin(this.#generation, signal);
    return this.#generation;
  }

  /** Logs in unless another caller already did since `generation`. */
  async #relogin(generation: number, signal: AbortSignal): Promise<void> {
    if (this.#generation !== generation && this.#cookie) return;
    this.#login ??= this.#doLogin().finally(() => (this.#login = undefined));
    await abortable(this.#login, signal);
  }

  async #doLogin(): Promise<void> {
    // The login has its own deadline: it is shared, so no one caller's signal may cut it.
    const signal = AbortSignal.timeout(this.#options.timeoutMs ?? 60_000);
    this.#cookie = undefined;
    if (!this.#content) {
      const response = await this.#send("RetrieveServiceContent", SERVICE_INSTANCE, "", signal);
      this.#content = parseServiceContent(child(response, "returnval"));
    }
    const body = el("userName", this.#options.username) +
      el("password", this.#options.password.reveal()) + el("locale", "en_US");
    let cookie: string | undefined;
    try {
      await this.#send("Login", this.#content.sessionManager, body, signal, (headers) => {
        cookie = sessionCookie(headers);
      });
    } catch (error) {
      if (error instanceof InvalidLoginFault) {
        throw new ProviderUnavailableError(
          `vCenter ${this.host} refused the login of "${this.#options.username}": ` +
            error.serverMessage,
          { cause: error },
        );
      }
      throw error;
    }
    if (!cookie) {
      throw new ProviderUnavailableError(
        `vCenter ${this.host} accepted the login but set no ${COOKIE} cookie`,
      );
    }
    this.#cookie = cookie;
    this.#generation++;
    this.logins++;
    this.#scheduleKeepAlive();
  }

  async #send(
    method: string,
    self: MoRef,
    body: string,
    signal: AbortSignal,
    onHeaders?: (headers: Headers) => void,
  ): Promise<XmlNode> {
    const context = `vCenter ${this.host} ${method}`;
    const headers: Record<string, string> = {
      "content-type": 'text/xml; charset="utf-8"',
      soapaction: `urn:vim25/${soapVersion(this.#content?.apiVersion)}`,
    };
    if (this.#cookie) headers.cookie = this.#cookie;
    this.#lastCall = this.#clock.now();
    this.#options.onCall?.(method);
    let response;
    try {
      response = await this.#options.http.request({
        method: "POST",
        url: `${this.origin}/sdk`,
        headers,
        body: envelope(method, self, body),
        signal,
        timeouts: { responseMs: this.#options.timeoutMs ?? 60_000 },
      });
    } catch (error) {
      if (error instanceof HttpTransportError) {
        throw new ProviderUnavailableError(`${context}: ${error.detail}`, { cause: error });
      }
      throw error;
    }
    onHeaders?.(response.headers);
    let document: XmlNode | undefined;
    try {
      document = parseXml(response.body);
    } catch {
      document = undefined;
    }
    const bodyNode = child(document, "Body");
    const fault = child(bodyNode, "Fault");
    if (fault) throw faultFromSoap(fault, context);
    if (response.status !== 200 || !bodyNode) {
      const problem = response.status === 200 ? "an answer that is not a SOAP envelope" : (
        `HTTP ${response.status} ${response.statusText}`.trim()
      );
      if (response.status === 503 || response.status === 502 || response.status === 504) {
        throw new ProviderUnavailableError(`${context}: ${problem}`);
      }
      throw new PlatformError(`${context}: ${problem}`);
    }
    const result = child(bodyNode, `${method}Response`);
    if (!result) throw new PlatformError(`${context}: no ${method}Response in the answer`);
    if (notAuthenticatedInMissingSet(result)) {
      throw vimFault("NotAuthenticated", "The session is not authenticated.", context);
    }
    return result;
  }

  #scheduleKeepAlive(): void {
    const period = this.#options.keepAliveMs ?? 600_000;
    if (period <= 0 || this.#closed) return;
    this.#keepAlive?.cancel();
    this.#keepAlive = this.#clock.setTimer(period, async () => {
      if (this.#closed) return;
      if (this.#clock.now() - this.#lastCall >= period && this.#cookie) {
        try {
          await this.#touch();
        } catch (error) {
          this.#log.warn("vCenter session keep-alive failed", {
            vcenter: this.host,
            error: messageOf(error),
          });
        }
      }
      this.#scheduleKeepAlive();
    });
  }

  /** One cheap authenticated read; a lost session is replaced by `call`'s re-login. */
  async #touch(): Promise<void> {
    const content = this.#content!;
    const spec = `<specSet><propSet><type>SessionManager</type><pathSet>currentSession</pathSet>` +
      `</propSet><objectSet>${`<obj type="SessionManager">${content.sessionManager.value}</obj>`}</objectSet></specSet><options></options>`;
    const result = await this.call(
      "RetrievePropertiesEx",
      content.propertyCollector,
      spec,
      AbortSignal.timeout(this.#options.timeoutMs ?? 60_000),
    );
    const current = children(child(result, "returnval"), "objects")
      .flatMap((o) => children(o, "propSet"))
      .find((p) => textOf(p, "name") === "currentSession");
    if (!current) {
      // vcsim answers an unauthenticated read of the SessionManager with no properties at all.
      this.#log.info("vCenter session lost; logging in again", { vcenter: this.host });
      await this.#relogin(this.#generation, AbortSignal.timeout(60_000));
    }
  }
}

function parseServiceContent(node: XmlNode | undefined): ServiceContent {
  const ref = (name: string): MoRef => {
    const value = asMoRef(child(node, name));
    if (!value) throw new PlatformError(`vCenter service content lacks ${name}`);
    return value;
  };
  const about = child(node, "about");
  return {
    rootFolder: ref("rootFolder"),
    propertyCollector: ref("propertyCollector"),
    searchIndex: ref("searchIndex"),
    ovfManager: ref("ovfManager"),
    sessionManager: ref("sessionManager"),
    taskManager: ref("taskManager"),
    apiVersion: textOf(about, "apiVersion") ?? "",
    apiType: textOf(about, "apiType") ?? "",
  };
}

/** `vmware_soap_session=<value>` from the Set-Cookie lines, or undefined. */
function sessionCookie(headers: Headers): string | undefined {
  for (const line of headers.getSetCookie()) {
    const pair = line.split(";")[0].trim();
    if (pair.startsWith(`${COOKIE}=`)) return pair;
  }
  return undefined;
}

/** The SOAPAction version: the server's API version, capped at the newest we checked. */
function soapVersion(server: string | undefined): string {
  if (!server) return "7.0";
  return compareVersions(server, MAX_API_VERSION) > 0 ? MAX_API_VERSION : server;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d !== 0) return d;
  }
  return 0;
}

function notAuthenticatedInMissingSet(result: XmlNode): boolean {
  const returnval = child(result, "returnval");
  for (const objects of children(returnval, "objects")) {
    for (const missing of children(objects, "missingSet")) {
      if (child(child(missing, "fault"), "fault")?.xsiType === "NotAuthenticated") return true;
    }
  }
  return false;
}

/** `promise`, or the signal's reason as soon as it aborts (the promise keeps running). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export { VimFault };
