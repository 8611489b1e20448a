/**
 * Request routing: URL → resource target and verb, then discovery, OpenAPI, health, or the
 * registry/lister/watch hub. Every failure leaves as a `Status` (see status.ts).
 *
 * Deviations: only JSON is spoken (a request accepting neither JSON nor a Table gets 406);
 * health endpoints never need the bearer token; `gracePeriodSeconds` and `propagationPolicy`
 * are accepted and ignored.
 */
import { parse as parseYaml } from "yaml";
import type { KubeObject } from "../../lib/kube/resource.ts";
import { apiVersionFor } from "./codec.ts";
import { decodeProtobuf, PROTOBUF, protobufDecodable } from "./protobuf.ts";
import { unsupportedMediaType } from "./status.ts";
import { Catalog, type ServedType } from "./catalog.ts";
import {
  acceptsPlainJson,
  coreVersions,
  group,
  groupList,
  resourceList,
  SERVER_VERSION,
} from "./discovery.ts";
import { Faults, type RequestInfo } from "./faults.ts";
import { validateListOptions } from "./list_options.ts";
import { listBody, Lister } from "./list.ts";
import { V2_PROTOBUF_ACCEPT, V2_PROTOBUF_TYPE, v2Empty, v3Document, v3Root } from "./openapi.ts";
import {
  APPLY_PATCH,
  type FieldValidation,
  Registry,
  type Target,
  type WriteOptions,
  type WriteResult,
} from "./registry.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import {
  ApiFailure,
  badRequest,
  methodNotAllowed,
  pathNotFound,
  type StatusBody,
} from "./status.ts";
import { ObjectStore } from "./store.ts";
import {
  type IncludeObject,
  negotiate,
  partialMetadata,
  type Representation,
  toTable,
} from "./table.ts";
import { WatchHub } from "./watch.ts";
import { AccessReviews } from "./access_review.ts";

export interface ApiHandlerOptions {
  bookmarkIntervalMs: number;
  /** How long a sendInitialEvents watch waits for a resourceVersion the server has not reached. */
  freshnessTimeoutMs?: number;
  historyLimit: number;
  token?: string;
  now?: () => number;
}

/** Request counters for benchmarks: Kubernetes verbs, plus `nonresource` for everything else. */
export class RequestStats {
  total = 0;
  byVerb: Record<string, number> = {};

  count(verb: string): void {
    this.total += 1;
    this.byVerb[verb] = (this.byVerb[verb] ?? 0) + 1;
  }

  reset(): void {
    this.total = 0;
    this.byVerb = {};
  }
}

interface Route {
  served: ServedType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const JSON_HEADERS = { "content-type": "application/json" };

/** The create-only review endpoints (access_review.ts). */
const REVIEW_PATHS: Record<string, "token" | "access"> = {
  "/apis/authentication.k8s.io/v1/tokenreviews": "token",
  "/apis/authorization.k8s.io/v1/subjectaccessreviews": "access",
};

function json(body: unknown, code = 200, extra: HeadersInit = {}): Response {
  const headers = new Headers(JSON_HEADERS);
  for (const [k, v] of new Headers(extra)) headers.append(k, v);
  return new Response(JSON.stringify(body), { status: code, headers });
}

function failureResponse(failure: ApiFailure): Response {
  return json(failure.status, failure.status.code, failure.headers);
}

export class ApiHandler {
  readonly store: ObjectStore;
  readonly catalog = new Catalog();
  readonly registry: Registry;
  readonly lister: Lister;
  readonly watches: WatchHub;
  readonly faults: Faults;
  readonly stats = new RequestStats();
  /** Tokens and the TokenReview, SubjectAccessReview and TokenRequest answers. */
  readonly reviews: AccessReviews;
  /** host:port for `/api` serverAddressByClientCIDRs; set once listening. */
  serverAddress = "127.0.0.1:0";
  readonly #token?: string;
  readonly #now: () => number;
  readonly #delays = new Set<() => void>();

  constructor(options: ApiHandlerOptions) {
    this.#now = options.now ?? Date.now;
    this.#token = options.token;
    this.store = new ObjectStore({ historyLimit: options.historyLimit });
    this.registry = new Registry(this.store, this.catalog, this.#now);
    this.reviews = new AccessReviews(this.store, this.#now, options.token);
    this.lister = new Lister(this.store);
    this.watches = new WatchHub(
      this.store,
      options.bookmarkIntervalMs,
      options.freshnessTimeoutMs,
    );
    this.faults = new Faults({
      dropWatches: () => this.watches.dropAll(),
      closeWatches: () => this.watches.closeAll(),
      compact: () => {
        this.store.compact();
        this.lister.compact();
      },
    });
  }

  /** The Deno.serve handler. */
  handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    if (["/healthz", "/readyz", "/livez"].includes(path)) {
      this.stats.count("nonresource");
      return new Response("ok", { headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    const route = this.#route(path);
    const review = REVIEW_PATHS[path];
    const verb = route
      ? this.#verb(request.method, route, url)
      : review && request.method === "POST"
      ? "create"
      : "nonresource";
    this.stats.count(verb);
    if (this.#token !== undefined && !this.#authenticated(request)) {
      return json({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "Unauthorized",
        reason: "Unauthorized",
        code: 401,
      }, 401);
    }
    if (this.faults.latencyMs > 0) await this.#delay(this.faults.latencyMs);
    try {
      if (review) {
        if (request.method !== "POST") throw methodNotAllowed();
        const body = await this.#body(request);
        const answer = review === "token"
          ? this.reviews.tokenReview(body)
          : this.reviews.subjectAccessReview(body);
        return json(answer.body, answer.code);
      }
      if (
        route?.served.def.plural === "serviceaccounts" && route.subresource === "token" &&
        route.namespace && route.name
      ) {
        if (request.method !== "POST") throw methodNotAllowed();
        const answer = this.reviews.tokenRequest(
          route.namespace,
          route.name,
          await this.#body(request),
        );
        return json(answer.body, answer.code);
      }
      if (!route) return this.#nonResource(request, path);
      const info: RequestInfo = {
        verb,
        resource: route.served.def.plural,
        subresource: route.subresource,
      };
      const injected = this.faults.take(info);
      if (injected) {
        if (injected.inStream && verb === "watch") {
          const line = JSON.stringify({ type: "ERROR", object: injected.failure.status }) + "\n";
          return new Response(line, { headers: JSON_HEADERS });
        }
        throw injected.failure;
      }
      return await this.#resource(request, url, route, verb);
    } catch (error) {
      if (error instanceof ApiFailure) return failureResponse(error);
      throw error;
    }
  };

  /** The admin token, or a token the server issued and still honours. */
  #authenticated(request: Request): boolean {
    const match = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "");
    return match !== null && this.reviews.authenticate(match[1]) !== undefined;
  }

  /** Ends every pending latency wait at once (server close/restart), so no timer outlives it. */
  releaseDelays(): void {
    for (const release of [...this.#delays]) release();
  }

  #delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const release = () => {
        clearTimeout(id);
        this.#delays.delete(release);
        resolve();
      };
      const id = setTimeout(release, ms);
      this.#delays.add(release);
    });
  }

  #nonResource(request: Request, path: string): Response {
    if (request.method !== "GET") throw methodNotAllowed();
    const accept = request.headers.get("accept");
    if (path === "/version") return json(SERVER_VERSION);
    if (path === "/openapi/v2") {
      if (accept && V2_PROTOBUF_ACCEPT.test(accept)) {
        return new Response(v2Empty(true) as Uint8Array<ArrayBuffer>, {
          headers: { "content-type": V2_PROTOBUF_TYPE },
        });
      }
      return json(v2Empty(false));
    }
    if (path === "/openapi/v3") return json(v3Root(this.catalog));
    const v3 = /^\/openapi\/v3\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))$/.exec(path);
    if (v3) {
      const [groupName, version] = v3[1] ? ["", v3[1]] : [v3[2], v3[3]];
      if (!this.catalog.inGroupVersion(groupName, version).length) throw pathNotFound();
      return json(v3Document(this.catalog, groupName, version));
    }
    const isDiscovery = path === "/api" || path === "/apis" || path.startsWith("/api/") ||
      path.startsWith("/apis/");
    if (isDiscovery && !acceptsPlainJson(accept)) {
      throw new ApiFailure({
        message:
          "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
        reason: "NotAcceptable",
        code: 406,
      });
    }
    if (path === "/api") return json(coreVersions(this.serverAddress));
    if (path === "/apis") return json(groupList(this.catalog));
    const parts = path.split("/").filter(Boolean);
    if (parts[0] === "api" && parts.length === 2) {
      const list = resourceList(this.catalog, "", parts[1]);
      if (list) return json(list);
    }
    if (parts[0] === "apis" && parts.length === 2) {
      const g = group(this.catalog, parts[1]);
      if (g) return json(g);
    }
    if (parts[0] === "apis" && parts.length === 3) {
      const list = resourceList(this.catalog, parts[1], parts[2]);
      if (list) return json(list);
    }
    throw pathNotFound();
  }

  /** Resolves a resource URL; undefined for non-resource paths and unknown resources. */
  #route(path: string): Route | undefined {
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    let groupName: string, version: string, rest: string[];
    if (parts[0] === "api" && parts.length >= 3) {
      [groupName, version, rest] = ["", parts[1], parts.slice(2)];
    } else if (parts[0] === "apis" && parts.length >= 4) {
      [groupName, version, rest] = [parts[1], parts[2], parts.slice(3)];
    } else return undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      const served = this.catalog.find(groupName, version, rest[2]);
      if (served?.def.namespaced && rest.length <= 5) {
        return { served, namespace: rest[1], name: rest[3], subresource: rest[4] };
      }
    }
    const served = this.catalog.find(groupName, version, rest[0]);
    if (!served || rest.length > 3) return undefined;
    if (served.def.namespaced && rest.length > 1) return undefined;
    return { served, name: rest[1], subresource: rest[2] };
  }

  #verb(method: string, route: Route, url: URL): string {
    const named = route.name !== undefined;
    switch (method) {
      case "GET": {
        if (named) return "get";
        const w = url.searchParams.get("watch");
        return w === "true" || w === "1" ? "watch" : "list";
      }
      case "POST":
        return "create";
      case "PUT":
        return "update";
      case "PATCH":
        return "patch";
      case "DELETE":
        return named ? "delete" : "deletecollection";
      default:
        return method.toLowerCase();
    }
  }

  async #resource(request: Request, url: URL, route: Route, verb: string): Promise<Response> {
    const { def, version } = route.served;
    const q = url.searchParams;
    const target: Target = {
      def,
      version,
      namespace: def.namespaced ? route.namespace : undefined,
      name: route.name,
      subresource: route.subresource,
    };
    const named = route.name !== undefined;
    if (!named && route.subresource) throw pathNotFound();
    const writeOptions: WriteOptions = {
      dryRun: q.getAll("dryRun").includes("All"),
      fieldValidation: (q.get("fieldValidation") ?? "Warn") as FieldValidation,
    };
    if (!["Ignore", "Warn", "Strict"].includes(writeOptions.fieldValidation!)) {
      throw badRequest(
        `fieldValidation: Unsupported value: "${writeOptions.fieldValidation}": supported values: "Ignore", "Strict", "Warn"`,
      );
    }
    switch (verb) {
      case "get": {
        if (route.subresource && !(route.subresource === "status" && version.statusSubresource)) {
          throw pathNotFound();
        }
        return this.#present(request, q, route.served, [this.registry.get(target)], undefined);
      }
      case "list":
      case "watch": {
        validateListOptions(q, verb === "watch");
        const labels = parseLabelSelector(q.get("labelSelector"));
        const fields = parseFieldSelector(q.get("fieldSelector"), def.extraFieldLabels);
        if (verb === "watch") return this.#watch(request, q, target, labels, fields);
        const limit = q.get("limit") ? Number(q.get("limit")) : undefined;
        const page = this.lister.list({
          def,
          version,
          namespace: target.namespace,
          labels,
          fields,
          limit,
          continueToken: q.get("continue") ?? undefined,
          resourceVersion: q.get("resourceVersion") ?? undefined,
        });
        return this.#present(request, q, route.served, page.items, page.metadata, page);
      }
      case "create":
        if (named) throw methodNotAllowed();
        return this.#written(
          this.registry.create(target, await this.#body(request, route.served), writeOptions),
        );
      case "update":
        return this.#written(
          this.registry.update(target, await this.#body(request, route.served), writeOptions),
        );
      case "patch": {
        const type = request.headers.get("content-type") ?? "";
        const body = type.startsWith(APPLY_PATCH) ? undefined : parseJson(await request.text());
        return this.#written(this.registry.patch(target, type, body, writeOptions));
      }
      case "delete": {
        const text = await request.text();
        const body = text.trim() ? parseJson(text) : undefined;
        return this.#written(this.registry.delete(target, body, writeOptions));
      }
      case "deletecollection": {
        const labels = parseLabelSelector(q.get("labelSelector"));
        const fields = parseFieldSelector(q.get("fieldSelector"), def.extraFieldLabels);
        const page = this.lister.list({
          def,
          version,
          namespace: target.namespace,
          labels,
          fields,
        });
        const items = page.items.map((o) =>
          this.registry.delete(
            { ...target, namespace: o.metadata.namespace, name: o.metadata.name },
            {},
            writeOptions,
          ).body
        );
        return json({ ...listBody(def, version, page), items });
      }
      default:
        throw methodNotAllowed();
    }
  }

  /**
   * Decodes a create/update body (a patch's type is checked by the patch code). JSON and YAML
   * as on every type; protobuf for the built-in types kubectl and client-go send it for
   * (protobuf.ts); anything else gets the 415 a real server gives, naming what it accepts.
   */
  async #body(request: Request, served?: ServedType): Promise<unknown> {
    const type = (request.headers.get("content-type") ?? "application/json").split(";")[0].trim();
    if (type === "application/json" || type === "*/*") return parseJson(await request.text());
    if (type === "application/yaml") return parseYamlBody(await request.text());
    const apiVersion = served ? apiVersionFor(served.def, served.version.name) : "";
    const protobuf = served !== undefined && protobufDecodable(apiVersion, served.def.kind);
    if (type === PROTOBUF && protobuf) {
      return decodeProtobuf(new Uint8Array(await request.arrayBuffer()), {
        apiVersion,
        kind: served.def.kind,
      });
    }
    await request.body?.cancel();
    throw unsupportedMediaType(
      type,
      ["application/json", "application/yaml", ...protobuf ? [PROTOBUF] : []],
    );
  }

  #written(result: WriteResult): Response {
    const headers = new Headers();
    for (const w of result.warnings) headers.append("Warning", `299 - ${JSON.stringify(w)}`);
    return json(result.body, result.code, headers);
  }

  /** Answers get/list in the representation the client asked for. */
  #present(
    request: Request,
    q: URLSearchParams,
    served: ServedType,
    objects: KubeObject[],
    listMeta: Record<string, unknown> | undefined,
    page?: Parameters<typeof listBody>[2],
  ): Response {
    const rep = this.#representation(request);
    const { def, version } = served;
    if (rep.as === "Table") {
      return json(toTable(version, objects, {
        now: this.#now(),
        tableVersion: rep.version,
        includeObject: (q.get("includeObject") ?? undefined) as IncludeObject | undefined,
        listMeta: listMeta ?? {},
      }));
    }
    if (rep.as === "PartialObjectMetadata") {
      if (!page) return json(partialMetadata(objects[0], rep.version));
      return json({
        kind: "PartialObjectMetadataList",
        apiVersion: `meta.k8s.io/${rep.version}`,
        metadata: page.metadata,
        items: objects.map((o) => partialMetadata(o, rep.version)),
      });
    }
    return json(page ? listBody(def, version, page) : objects[0]);
  }

  #representation(request: Request): Representation {
    const rep = negotiate(request.headers.get("accept"));
    if (!rep) {
      throw new ApiFailure({
        message:
          "only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io",
        reason: "NotAcceptable",
        code: 406,
      });
    }
    return rep;
  }

  #watch(
    request: Request,
    q: URLSearchParams,
    target: Target,
    labels: ReturnType<typeof parseLabelSelector>,
    fields: ReturnType<typeof parseFieldSelector>,
  ): Response {
    const rep = this.#representation(request);
    const { def, version } = target;
    const timeout = q.get("timeoutSeconds");
    const includeObject = (q.get("includeObject") ?? undefined) as IncludeObject | undefined;
    const stream = this.watches.open({
      def,
      version,
      namespace: target.namespace,
      labels,
      fields,
      resourceVersion: q.get("resourceVersion") ?? undefined,
      allowBookmarks: q.get("allowWatchBookmarks") === "true",
      sendInitialEvents: q.has("sendInitialEvents")
        ? q.get("sendInitialEvents") === "true"
        : undefined,
      timeoutSeconds: timeout !== null && /^\d+$/.test(timeout) ? Number(timeout) : undefined,
      render: rep.as === "Table"
        ? (object, first) =>
          toTable(version, [object], {
            now: this.#now(),
            tableVersion: rep.version,
            includeObject,
            withColumns: first,
          })
        : rep.as === "PartialObjectMetadata"
        ? (object) => partialMetadata(object, rep.version)
        : undefined,
    });
    return new Response(stream, {
      headers: { ...JSON_HEADERS, "cache-control": "no-cache, private" },
    });
  }
}

function parseYamlBody(text: string): unknown {
  try {
    return parseYaml(text);
  } catch (error) {
    throw badRequest(`error decoding YAML request body: ${(error as Error).message}`);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`error decoding request body: ${(error as Error).message}`);
  }
}

export type { StatusBody };
