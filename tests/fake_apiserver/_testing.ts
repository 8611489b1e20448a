/** Helpers for the fake API server's own tests: a test CRD, a JSON client, a watch reader. */
import { FakeApiServer, type FakeApiServerOptions } from "./mod.ts";

/** A namespaced CRD with status subresource, a short name, printer columns and a schema. */
export const WIDGET_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget", shortNames: ["wd"] },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      subresources: { status: {} },
      additionalPrinterColumns: [
        { name: "Size", type: "integer", jsonPath: ".spec.size" },
        {
          name: "Ready",
          type: "string",
          jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
      schema: {
        openAPIV3Schema: {
          type: "object",
          properties: {
            spec: {
              type: "object",
              required: ["size"],
              properties: {
                size: { type: "integer", minimum: 0 },
                color: { type: "string", enum: ["red", "blue"], default: "red" },
                note: { type: "string", nullable: true },
                tags: { type: "array", items: { type: "string" } },
                extra: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
              },
            },
            status: {
              type: "object",
              properties: {
                phase: { type: "string" },
                conditions: {
                  type: "array",
                  items: {
                    type: "object",
                    properties: { type: { type: "string" }, status: { type: "string" } },
                  },
                },
              },
            },
          },
        },
      },
    }],
  },
};

/** A cluster-scoped CRD without status subresource or schema beyond preserve-unknown. */
export const GADGET_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "gadgets.example.com" },
  spec: {
    group: "example.com",
    scope: "Cluster",
    names: { plural: "gadgets", singular: "gadget", kind: "Gadget" },
    versions: [{
      name: "v1",
      served: true,
      storage: true,
      schema: {
        openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
      },
    }],
  },
};

export const WIDGETS = "/apis/example.com/v1/namespaces/default/widgets";
export const GADGETS = "/apis/example.com/v1/gadgets";

// deno-lint-ignore no-explicit-any
export type Json = any;

export interface Reply {
  status: number;
  body: Json;
  headers: Headers;
}

/** Starts a server with both test CRDs; dispose with `await using`. */
export async function startServer(options: FakeApiServerOptions = {}) {
  const server = await FakeApiServer.start({ crds: [WIDGET_CRD, GADGET_CRD], ...options });
  return Object.assign(server, { [Symbol.asyncDispose]: () => server.close() });
}

/** One JSON request; always reads the body. */
export async function call(
  server: FakeApiServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      accept: "application/json",
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Json = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // plain text (health endpoints)
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export function widget(name: string, spec: Json = { size: 1 }, metadata: Json = {}): Json {
  return { apiVersion: "example.com/v1", kind: "Widget", metadata: { name, ...metadata }, spec };
}

/** Creates a widget and returns the stored object. */
export async function createWidget(
  server: FakeApiServer,
  name: string,
  spec?: Json,
  metadata?: Json,
) {
  const reply = await call(server, "POST", WIDGETS, widget(name, spec, metadata));
  if (reply.status !== 201) throw new Error(`create ${name}: ${JSON.stringify(reply.body)}`);
  return reply.body;
}

export interface WatchEvent {
  type: string;
  object: Json;
}

/** Reads newline-delimited watch events from a streaming response. */
export class WatchReader {
  readonly response: Response;
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  private constructor(response: Response) {
    this.response = response;
    this.#reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  }

  static async open(server: FakeApiServer, path: string, headers: Record<string, string> = {}) {
    const response = await fetch(`${server.url}${path}`, { headers });
    return new WatchReader(response);
  }

  /** The next event, or "end" when the server ended the stream cleanly. Throws when torn down. */
  async next(): Promise<WatchEvent | "end"> {
    while (true) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        if (line.trim()) return JSON.parse(line);
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) return "end";
      this.#buffer += value;
    }
  }

  /** Reads events until one satisfies `predicate` (skipping, e.g., bookmarks). */
  async until(predicate: (e: WatchEvent) => boolean): Promise<WatchEvent> {
    while (true) {
      const e = await this.next();
      if (e === "end") throw new Error("watch ended before the expected event");
      if (predicate(e)) return e;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
