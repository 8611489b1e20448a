/**
 * Who may read `/metrics`: callers the API server authenticates (TokenReview,
 * authentication.k8s.io/v1) and authorises for the non-resource URL they ask for
 * (SubjectAccessReview, authorization.k8s.io/v1) — what controller-runtime's
 * `filters.WithAuthenticationAndAuthorization` does for the Go operator's `--metrics-secure`.
 *
 * Answers, as controller-runtime's: 401 `Unauthorized` without a bearer token or with one the
 * API server does not accept; 403 `Authorization denied for user <name>` when the review says
 * no; 500 when a review cannot be made (the API server is down, or refuses the operator the
 * review itself), never cached, so the next scrape asks again.
 *
 * Guarantees:
 * - Reviews are cached briefly, bounded in number: an authenticated token for 1 min, an
 *   authorisation for 1 min, a refusal for 10 s, at most 256 of each. Tokens are cached under
 *   their SHA-256, never as they are, and never logged.
 * - Anonymous access is off: a request without a token never reaches the API server.
 *
 * Caveats: TokenReview audiences are left to the API server's defaults (as controller-runtime
 * leaves them); the client certificate of the caller is not used for authentication.
 */
import { type Clock, realClock } from "../clock.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { KubeTransport } from "../kube/transport.ts";
import { apiErrorFromResponse } from "../kube/errors.ts";
import { TtlCache } from "./ttl_cache.ts";

/** The authenticated caller, as TokenReview's `status.user` describes it. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface MetricsAuthOptions {
  /** Reaches the API server as the operator (which needs create on both reviews). */
  transport: KubeTransport;
  clock?: Pick<Clock, "now">;
  log?: Logger;
  /** Defaults: 60 s, 60 s, 10 s, 256. */
  authenticatedTtlMs?: number;
  allowedTtlMs?: number;
  deniedTtlMs?: number;
  maxEntries?: number;
}

const TEXT = { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" };
const REVIEW_TIMEOUT_MS = 10_000;

/** Authenticates and authorises requests to the metrics endpoint through the API server. */
export class MetricsAuth {
  readonly #transport: KubeTransport;
  readonly #log: Logger;
  readonly #authenticatedTtlMs: number;
  readonly #allowedTtlMs: number;
  readonly #deniedTtlMs: number;
  /** SHA-256 of a token → the user, or `null` when the API server did not accept it. */
  readonly #users: TtlCache<UserInfo | null>;
  /** User, groups, verb and path → allowed. */
  readonly #decisions: TtlCache<boolean>;

  constructor(options: MetricsAuthOptions) {
    const clock = options.clock ?? realClock;
    const maxEntries = options.maxEntries ?? 256;
    this.#transport = options.transport;
    this.#log = (options.log ?? silentLogger).with({ component: "metrics-auth" });
    this.#authenticatedTtlMs = options.authenticatedTtlMs ?? 60_000;
    this.#allowedTtlMs = options.allowedTtlMs ?? 60_000;
    this.#deniedTtlMs = options.deniedTtlMs ?? 10_000;
    this.#users = new TtlCache({ clock, maxEntries });
    this.#decisions = new TtlCache({ clock, maxEntries });
  }

  /**
   * `undefined` when `request` may proceed, otherwise the response that refuses it.
   * Never throws: a failed review is a 500.
   */
  async check(request: Request): Promise<Response | undefined> {
    const token = bearerToken(request.headers.get("authorization"));
    if (!token) return refuse(401, "Unauthorized");
    let user: UserInfo | null;
    try {
      user = await this.#authenticate(token);
    } catch (error) {
      this.#log.error("Authentication failed", { error });
      return refuse(500, "Authentication failed");
    }
    if (!user) return refuse(401, "Unauthorized");

    const path = new URL(request.url).pathname;
    // Kubernetes' verb for a non-resource GET or HEAD.
    const verb = request.method === "GET" || request.method === "HEAD"
      ? "get"
      : request.method.toLowerCase();
    let allowed: boolean;
    try {
      allowed = await this.#authorize(user, verb, path);
    } catch (error) {
      this.#log.error("Authorization failed", { user: user.username, error });
      return refuse(500, `Authorization for user ${user.username} failed`);
    }
    if (!allowed) {
      this.#log.debug("Authorization denied", { user: user.username, verb, path });
      return refuse(403, `Authorization denied for user ${user.username}`);
    }
    return undefined;
  }

  async #authenticate(token: string): Promise<UserInfo | null> {
    const key = await sha256(token);
    const cached = this.#users.get(key);
    if (cached !== undefined) return cached;
    const review = await this.#create("/apis/authentication.k8s.io/v1/tokenreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token },
    }) as { status?: { authenticated?: boolean; user?: UserInfo; error?: string } };
    const status = review.status ?? {};
    const user = status.authenticated && status.user?.username ? status.user : null;
    if (!user && status.error) this.#log.debug("Token not accepted", { reason: status.error });
    this.#users.set(key, user, this.#authenticatedTtlMs);
    return user;
  }

  async #authorize(user: UserInfo, verb: string, path: string): Promise<boolean> {
    const key = JSON.stringify([user.username, user.uid, user.groups, user.extra, verb, path]);
    const cached = this.#decisions.get(key);
    if (cached !== undefined) return cached;
    const review = await this.#create(
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: user.username,
          uid: user.uid,
          groups: user.groups,
          extra: user.extra,
          nonResourceAttributes: { path, verb },
        },
      },
    ) as { status?: { allowed?: boolean } };
    const allowed = review.status?.allowed === true;
    this.#decisions.set(key, allowed, allowed ? this.#allowedTtlMs : this.#deniedTtlMs);
    return allowed;
  }

  async #create(path: string, body: unknown): Promise<unknown> {
    const response = await this.#transport.fetch({
      method: "POST",
      path,
      body,
      signal: AbortSignal.timeout(REVIEW_TIMEOUT_MS),
    });
    if (!response.ok) throw await apiErrorFromResponse(response);
    return await response.json();
  }
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive), if any. */
function bearerToken(header: string | null): string | undefined {
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function refuse(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: TEXT });
}
