/**
 * Authentication and authorisation reviews, as kube-apiserver answers them to components that
 * delegate to it (controller-runtime's metrics filter, kube-rbac-proxy):
 *
 * - `POST /apis/authentication.k8s.io/v1/tokenreviews`: is this bearer token someone? Tokens
 *   are the server's admin token and those it issued (TokenRequest or `issueToken`).
 * - `POST /apis/authorization.k8s.io/v1/subjectaccessreviews`: may this user do this? Decided
 *   by RBAC from the Roles, ClusterRoles and bindings the fake stores, plus the `system:masters`
 *   group, which is always allowed (kube-apiserver's privileged group).
 * - `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token` (TokenRequest): a token for an
 *   existing ServiceAccount, valid for `spec.expirationSeconds` (default 3600) and only while
 *   the ServiceAccount (same uid) exists, as bound tokens are.
 *
 * Reviews are create-only and never stored: 201 with the request's spec and the `status` filled
 * in; other verbs answer 405. Validation follows the real messages for what clients can get
 * wrong (no token; neither user nor group; both or neither of the attribute kinds).
 *
 * Deviations: tokens are opaque random strings, not JWTs; no audiences are checked (every token
 * is for the API server); the bootstrap ClusterRoles a real server creates (system:discovery,
 * …) do not exist, so only what tests install grants anything; aggregated ClusterRoles are not
 * aggregated; review types are missing from discovery. The fake still does not authorise its own
 * requests: this is only what its reviews answer.
 */
import type { KubeObject } from "../../lib/kube/resource.ts";
import { ApiFailure, type FieldError, invalid, notFound } from "./status.ts";
import { resourceKey } from "./resources.ts";
import type { ObjectStore } from "./store.ts";

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

interface IssuedToken {
  user: UserInfo;
  /** Epoch ms; undefined never expires. */
  expires?: number;
  /** For ServiceAccount tokens: valid only while this object (same uid) exists. */
  serviceAccount?: { namespace: string; name: string; uid: string };
}

interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

interface Binding extends KubeObject {
  roleRef?: { kind: string; name: string };
  subjects?: Subject[];
}

interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

const SERVICE_ACCOUNTS = resourceKey("", "serviceaccounts");
const RBAC = "rbac.authorization.k8s.io";

/** Tokens, their users, and the RBAC decisions behind the review endpoints. */
export class AccessReviews {
  readonly #store: ObjectStore;
  readonly #now: () => number;
  readonly #tokens = new Map<string, IssuedToken>();

  constructor(store: ObjectStore, now: () => number, adminToken?: string) {
    this.#store = store;
    this.#now = now;
    if (adminToken !== undefined) {
      this.#tokens.set(adminToken, {
        user: { username: "admin", groups: ["system:masters", "system:authenticated"] },
      });
    }
  }

  /** A new token for `user`, valid until `expiresAt` (epoch ms) if given. */
  issueToken(user: UserInfo, expiresAt?: number): string {
    const token = randomToken();
    this.#tokens.set(token, { user, expires: expiresAt });
    return token;
  }

  /** The user behind `token`, or undefined when the token is unknown, expired or orphaned. */
  authenticate(token: string): UserInfo | undefined {
    const issued = this.#tokens.get(token);
    if (!issued) return undefined;
    if (issued.expires !== undefined && issued.expires <= this.#now()) return undefined;
    const account = issued.serviceAccount;
    if (account) {
      const current = this.#store.get(SERVICE_ACCOUNTS, account.namespace, account.name);
      if (current?.metadata.uid !== account.uid) return undefined;
    }
    return issued.user;
  }

  /** Answers a TokenReview create. */
  tokenReview(body: unknown): { code: number; body: unknown } {
    const review = asObject(body);
    const spec = asObject(review.spec);
    const token = typeof spec.token === "string" ? spec.token : "";
    if (!token) {
      throw new ApiFailure({
        message: "token is required for TokenReview in authentication",
        reason: "BadRequest",
        code: 400,
      });
    }
    const user = this.authenticate(token);
    const status = user
      ? { authenticated: true, user, audiences: ["https://kubernetes.default.svc.cluster.local"] }
      : { user: {}, error: "[invalid bearer token, token lookup failed]" };
    return { code: 201, body: reviewReply(review, "authentication.k8s.io/v1", spec, status) };
  }

  /** Answers a SubjectAccessReview create. */
  subjectAccessReview(body: unknown): { code: number; body: unknown } {
    const review = asObject(body);
    const spec = asObject(review.spec);
    const user = typeof spec.user === "string" ? spec.user : "";
    const groups = Array.isArray(spec.groups) ? spec.groups.map(String) : [];
    const resource = spec.resourceAttributes as ResourceAttributes | undefined;
    const nonResource = spec.nonResourceAttributes as { path?: string; verb?: string } | undefined;
    const name = review.metadata && asObject(review.metadata).name;
    const problems: FieldError[] = [];
    if (!resource === !nonResource) {
      problems.push({
        type: "FieldValueInvalid",
        field: "spec.resourceAttributes",
        value: null,
        detail: "exactly one of nonResourceAttributes or resourceAttributes must be specified",
      });
    }
    if (!user && !groups.length) {
      problems.push({
        type: "FieldValueInvalid",
        field: "spec.user",
        value: "",
        detail: "at least one of user or group must be specified",
      });
    }
    if (problems.length) {
      throw invalid("SubjectAccessReview", "authorization.k8s.io", String(name ?? ""), problems);
    }
    const reason = this.#allowedBy(user, groups, resource, nonResource);
    const status = reason === undefined ? { allowed: false } : { allowed: true, reason };
    return { code: 201, body: reviewReply(review, "authorization.k8s.io/v1", spec, status) };
  }

  /** Answers a TokenRequest for the ServiceAccount `namespace/name`. */
  tokenRequest(namespace: string, name: string, body: unknown): { code: number; body: unknown } {
    const account = this.#store.get(SERVICE_ACCOUNTS, namespace, name);
    if (!account) throw notFound({ group: "", plural: "serviceaccounts" }, name);
    const request = asObject(body);
    const spec = asObject(request.spec);
    const seconds = typeof spec.expirationSeconds === "number" ? spec.expirationSeconds : 3600;
    if (seconds < 600) {
      throw invalid("TokenRequest", "authentication.k8s.io", name, [{
        type: "FieldValueInvalid",
        field: "spec.expirationSeconds",
        value: seconds,
        detail: "may not specify a duration less than 10 minutes",
      }]);
    }
    const expires = this.#now() + seconds * 1000;
    const token = randomToken();
    this.#tokens.set(token, {
      expires,
      serviceAccount: { namespace, name, uid: account.metadata.uid! },
      user: {
        username: `system:serviceaccount:${namespace}:${name}`,
        uid: account.metadata.uid,
        groups: [
          "system:serviceaccounts",
          `system:serviceaccounts:${namespace}`,
          "system:authenticated",
        ],
      },
    });
    return {
      code: 201,
      body: {
        kind: "TokenRequest",
        apiVersion: "authentication.k8s.io/v1",
        metadata: { name, namespace, creationTimestamp: new Date(this.#now()).toISOString() },
        spec: { audiences: ["https://kubernetes.default.svc.cluster.local"], ...spec },
        status: { token, expirationTimestamp: new Date(expires).toISOString() },
      },
    };
  }

  /** The reason a request is allowed, or undefined when RBAC has no rule for it. */
  #allowedBy(
    user: string,
    groups: string[],
    resource?: ResourceAttributes,
    nonResource?: { path?: string; verb?: string },
  ): string | undefined {
    if (groups.includes("system:masters")) return "";
    const matchesSubject = (subject: Subject) =>
      (subject.kind === "User" && subject.name === user) ||
      (subject.kind === "Group" && groups.includes(subject.name)) ||
      (subject.kind === "ServiceAccount" &&
        user === `system:serviceaccount:${subject.namespace}:${subject.name}`);
    const allows = (rule: PolicyRule) =>
      nonResource ? nonResourceRuleAllows(rule, nonResource) : resourceRuleAllows(rule, resource!);

    const clusterBindings = this.#store.list(resourceKey(RBAC, "clusterrolebindings")) as Binding[];
    for (const binding of clusterBindings) {
      if (!binding.subjects?.some(matchesSubject) || binding.roleRef?.kind !== "ClusterRole") {
        continue;
      }
      if (this.#rules("clusterroles", undefined, binding.roleRef.name).some(allows)) {
        return `RBAC: allowed by ClusterRoleBinding "${binding.metadata.name}" of ClusterRole ` +
          `"${binding.roleRef.name}" to ${describe(binding.subjects.find(matchesSubject)!)}`;
      }
    }
    // Namespaced bindings grant resources in their namespace only, never non-resource URLs.
    const namespace = resource?.namespace;
    if (!namespace) return undefined;
    const bindings = this.#store.list(resourceKey(RBAC, "rolebindings"), namespace) as Binding[];
    for (const binding of bindings) {
      if (!binding.subjects?.some(matchesSubject) || !binding.roleRef) continue;
      const rules = binding.roleRef.kind === "Role"
        ? this.#rules("roles", namespace, binding.roleRef.name)
        : this.#rules("clusterroles", undefined, binding.roleRef.name);
      if (rules.some(allows)) {
        return `RBAC: allowed by RoleBinding "${binding.metadata.name}/${namespace}" of ` +
          `${binding.roleRef.kind} "${binding.roleRef.name}" to ` +
          describe(binding.subjects.find(matchesSubject)!);
      }
    }
    return undefined;
  }

  #rules(plural: string, namespace: string | undefined, name: string): PolicyRule[] {
    const role = this.#store.get(resourceKey(RBAC, plural), namespace, name) as
      | (KubeObject & { rules?: PolicyRule[] })
      | undefined;
    return role?.rules ?? [];
  }
}

function verbMatches(rule: PolicyRule, verb: string): boolean {
  return (rule.verbs ?? []).some((v) => v === "*" || v === verb);
}

function nonResourceRuleAllows(rule: PolicyRule, request: { path?: string; verb?: string }) {
  const path = request.path ?? "";
  return verbMatches(rule, request.verb ?? "") &&
    (rule.nonResourceURLs ?? []).some((url) =>
      url === "*" || url === path || (url.endsWith("*") && path.startsWith(url.slice(0, -1)))
    );
}

function resourceRuleAllows(rule: PolicyRule, request: ResourceAttributes): boolean {
  const combined = request.subresource
    ? `${request.resource}/${request.subresource}`
    : request.resource ?? "";
  return verbMatches(rule, request.verb ?? "") &&
    (rule.apiGroups ?? []).some((g) => g === "*" || g === (request.group ?? "")) &&
    (rule.resources ?? []).some((r) =>
      r === "*" || r === combined ||
      (!!request.subresource && r === `*/${request.subresource}`)
    ) &&
    (!rule.resourceNames?.length || rule.resourceNames.includes(request.name ?? ""));
}

function describe(subject: Subject): string {
  return subject.kind === "ServiceAccount"
    ? `ServiceAccount "${subject.name}/${subject.namespace}"`
    : `${subject.kind} "${subject.name}"`;
}

function reviewReply(
  review: Record<string, unknown>,
  apiVersion: string,
  spec: Record<string, unknown>,
  status: unknown,
): unknown {
  return {
    kind: review.kind,
    apiVersion,
    metadata: { ...asObject(review.metadata), creationTimestamp: null },
    spec,
    status,
  };
}

function asObject(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "");
}
