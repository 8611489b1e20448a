/**
 * Version tags through the vSphere Automation REST API: one category per component (cardinality
 * SINGLE, associable to VirtualMachine), created when missing; one tag per version, created
 * when missing; attached to the template.
 *
 * Both flavours of the API are spoken: `/api` (vSphere 7.0 U2 and later: plain JSON, `?action=`)
 * and, where that is not served (404 on `/api/session`), the legacy `/rest` (`{"value": …}`
 * wrapping, `create_spec`, `?~action=`), which older vCenters and vcsim serve.
 *
 * Guarantees: category and tag ids are cached per process (names → ids); a 401 creates a new
 * session once and repeats the call; the password is sent only as Basic auth to the session
 * endpoint and never appears in errors. Callers treat any failure as a warning.
 */
import type { Secret } from "../../lib/config/secret.ts";
import { type Logger, silentLogger } from "../../lib/log.ts";
import { type HttpClient, type HttpMethod, HttpTransportError } from "../_http/mod.ts";
import { PlatformError } from "../types.ts";
import type { VersionTag } from "./names.ts";
import type { MoRef } from "./soap/xml.ts";

export interface TaggingClientOptions {
  /** `https://<vcenter>` */
  origin: string;
  username: string;
  password: Secret;
  http: HttpClient;
  log?: Logger;
}

type Flavour = "api" | "rest";
const SESSION_HEADER = "vmware-api-session-id";

/** A REST call that was answered with an error. */
export class TaggingError extends PlatformError {
  override name = "TaggingError";
  constructor(message: string, readonly status: number, readonly errorType?: string) {
    super(message, "tag");
  }
}

export class TaggingClient {
  readonly #options: TaggingClientOptions;
  readonly #log: Logger;
  #flavour?: Flavour;
  #session?: string;
  readonly #categories = new Map<string, string>();
  /** `<category id>/<tag name>` → tag id. */
  readonly #tags = new Map<string, string>();
  /** Requests sent (tests, bench). */
  requests = 0;

  constructor(options: TaggingClientOptions) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
  }

  /** Which flavour the server speaks, once a session was made. */
  get flavour(): Flavour | undefined {
    return this.#flavour;
  }

  #queue: Promise<unknown> = Promise.resolve();

  /**
   * Attaches the version tags to `vm`, creating categories and tags as needed. Calls run one
   * after another, so concurrent imports never race to create the same category or tag.
   */
  attach(vm: MoRef, tags: readonly VersionTag[], signal: AbortSignal): Promise<void> {
    const run = this.#queue.then(() => this.#attach(vm, tags, signal));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #attach(vm: MoRef, tags: readonly VersionTag[], signal: AbortSignal): Promise<void> {
    for (const wanted of tags) {
      const category = await this.#category(wanted.category, signal);
      const tag = await this.#tag(category, wanted, signal);
      const objectId = { object_id: { type: vm.type, id: vm.value } };
      if (this.#flavour === "api") {
        await this.#call(
          "POST",
          `/api/cis/tagging/tag-association/${enc(tag)}?action=attach`,
          objectId,
          signal,
        );
      } else {
        await this.#call(
          "POST",
          `/rest/com/vmware/cis/tagging/tag-association/id:${enc(tag)}?~action=attach`,
          objectId,
          signal,
        );
      }
    }
  }

  /** Deletes the REST session (best effort). */
  async close(): Promise<void> {
    if (!this.#session) return;
    const path = this.#flavour === "api" ? "/api/session" : "/rest/com/vmware/cis/session";
    try {
      await this.#options.http.request({
        method: "DELETE",
        url: this.#options.origin + path,
        headers: { [SESSION_HEADER]: this.#session },
        signal: AbortSignal.timeout(5_000),
      });
    } catch {
      // The session expires on its own.
    }
    this.#session = undefined;
  }

  async #category(name: string, signal: AbortSignal): Promise<string> {
    const cached = this.#categories.get(name);
    if (cached) return cached;
    await this.#loadCategories(signal);
    const found = this.#categories.get(name);
    if (found) return found;
    const spec = {
      name,
      description: `${name} version of node images (image-distribution-operator)`,
      cardinality: "SINGLE",
      associable_types: ["VirtualMachine"],
    };
    try {
      const id = this.#flavour === "api"
        ? await this.#call("POST", "/api/cis/tagging/category", spec, signal)
        : await this.#call(
          "POST",
          "/rest/com/vmware/cis/tagging/category",
          { create_spec: spec },
          signal,
        );
      this.#categories.set(name, String(id));
      this.#log.info("created vSphere tag category", { category: name });
      return String(id);
    } catch (error) {
      // Another writer created it in between: read the list again.
      if (!(error instanceof TaggingError) || !/already_exists/i.test(error.errorType ?? "")) {
        throw error;
      }
      await this.#loadCategories(signal);
      const again = this.#categories.get(name);
      if (!again) throw error;
      return again;
    }
  }

  async #loadCategories(signal: AbortSignal): Promise<void> {
    const base = this.#flavour === "api"
      ? "/api/cis/tagging/category"
      : "/rest/com/vmware/cis/tagging/category";
    await this.#ensureSession(signal);
    const ids = (await this.#call("GET", base, undefined, signal)) as string[] ?? [];
    for (const id of ids) {
      if ([...this.#categories.values()].includes(id)) continue;
      const path = this.#flavour === "api" ? `${base}/${enc(id)}` : `${base}/id:${enc(id)}`;
      const category = (await this.#call("GET", path, undefined, signal)) as { name?: string };
      if (category?.name) this.#categories.set(category.name, id);
    }
  }

  async #tag(category: string, wanted: VersionTag, signal: AbortSignal): Promise<string> {
    const key = `${category}/${wanted.tag}`;
    const cached = this.#tags.get(key);
    if (cached) return cached;
    const api = this.#flavour === "api";
    const ids =
      (api
        ? await this.#call("POST", "/api/cis/tagging/tag?action=list-tags-for-category", {
          category_id: category,
        }, signal)
        : await this.#call(
          "POST",
          `/rest/com/vmware/cis/tagging/tag/id:${enc(category)}?~action=list-tags-for-category`,
          undefined,
          signal,
        )) as string[] ?? [];
    for (const id of ids) {
      const path = api
        ? `/api/cis/tagging/tag/${enc(id)}`
        : `/rest/com/vmware/cis/tagging/tag/id:${enc(id)}`;
      const tag = (await this.#call("GET", path, undefined, signal)) as { name?: string };
      if (tag?.name) this.#tags.set(`${category}/${tag.name}`, id);
    }
    const found = this.#tags.get(key);
    if (found) return found;
    const spec = { name: wanted.tag, description: wanted.description, category_id: category };
    const id = String(
      api ? await this.#call("POST", "/api/cis/tagging/tag", spec, signal) : await this.#call(
        "POST",
        "/rest/com/vmware/cis/tagging/tag",
        { create_spec: spec },
        signal,
      ),
    );
    this.#tags.set(key, id);
    return id;
  }

  #creating?: Promise<void>;

  /** One session for every caller: concurrent imports share the creation. */
  async #ensureSession(signal: AbortSignal): Promise<void> {
    if (this.#session) return;
    this.#creating ??= this.#createSession(signal).finally(() => (this.#creating = undefined));
    await this.#creating;
  }

  async #createSession(signal: AbortSignal): Promise<void> {
    const basic = btoa(
      String.fromCharCode(
        ...new TextEncoder().encode(
          `${this.#options.username}:${this.#options.password.reveal()}`,
        ),
      ),
    );
    const tryCreate = async (flavour: Flavour) => {
      const path = flavour === "api" ? "/api/session" : "/rest/com/vmware/cis/session";
      this.requests++;
      const response = await this.#send({
        method: "POST",
        url: this.#options.origin + path,
        headers: { authorization: `Basic ${basic}` },
        signal,
      });
      return { response, path };
    };
    let flavour: Flavour = this.#flavour ?? "api";
    let { response, path } = await tryCreate(flavour);
    if (response.status === 404 && !this.#flavour) {
      flavour = "rest";
      ({ response, path } = await tryCreate(flavour));
    }
    if (response.status !== 200 && response.status !== 201) {
      throw new TaggingError(
        `vSphere REST session at ${path} refused: HTTP ${response.status}`,
        response.status,
      );
    }
    const body = parseJson(response.body);
    const id = flavour === "api" ? body : (body as { value?: unknown })?.value;
    if (typeof id !== "string" || id === "") {
      throw new TaggingError(`vSphere REST session at ${path} returned no id`, response.status);
    }
    this.#flavour = flavour;
    this.#session = id;
  }

  /** One call; unwraps `/rest`'s `{"value": …}`; a 401 renews the session once. */
  async #call(
    method: HttpMethod,
    path: string,
    body: unknown,
    signal: AbortSignal,
    retried = false,
  ): Promise<unknown> {
    await this.#ensureSession(signal);
    this.requests++;
    const response = await this.#send({
      method,
      url: this.#options.origin + path,
      headers: {
        [SESSION_HEADER]: this.#session!,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (response.status === 401 && !retried) {
      this.#session = undefined;
      return await this.#call(method, path, body, signal, true);
    }
    const parsed = parseJson(response.body);
    if (response.status < 200 || response.status > 299) {
      const errorType = (parsed as { error_type?: string; type?: string })?.error_type ??
        (parsed as { type?: string })?.type;
      const messages = (parsed as { messages?: { default_message?: string }[] })?.messages
        ?.map((m) => m.default_message).filter(Boolean).join("; ");
      throw new TaggingError(
        `vSphere REST ${method} ${path.replace(/\?.*$/, "")}: HTTP ${response.status}` +
          `${errorType ? ` ${errorType}` : ""}${messages ? `: ${messages}` : ""}`,
        response.status,
        errorType,
      );
    }
    return this.#flavour === "rest" && parsed && typeof parsed === "object" && "value" in parsed
      ? (parsed as { value: unknown }).value
      : parsed;
  }

  async #send(request: Parameters<HttpClient["request"]>[0]) {
    try {
      return await this.#options.http.request(request);
    } catch (error) {
      if (error instanceof HttpTransportError) {
        throw new PlatformError(`vSphere REST: ${error.message}`, "tag", { cause: error });
      }
      throw error;
    }
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

function parseJson(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
