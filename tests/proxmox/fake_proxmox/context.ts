/**
 * What every fake Proxmox handler gets and gives back: the request context, the error answer,
 * and the lookups of node and storage that fail the way Proxmox does.
 */
import type { FakeCluster, FakeStorage } from "./state.ts";
import type { TaskRunner } from "./tasks.ts";
import type { Params } from "./validate.ts";

/** A handler's error answer. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

/** A `data` value with a `total` next to it (task logs). */
export class WithTotal {
  constructor(readonly data: unknown, readonly total: number) {}
}

export interface RouteContext {
  cluster: FakeCluster;
  tasks: TaskRunner;
  /** The token user (`root@pam!ido`), as UPIDs show it. */
  user: string;
  /** Path parameters and request parameters together. */
  params: Params;
  /** How download-url fetches (the fake uses the global fetch unless a test swaps it). */
  fetch: typeof fetch;
  /** Fault: the next `nextid` answers are taken by another client right away. */
  takeNextId(): boolean;
}

export type Handler = (ctx: RouteContext) => unknown | Promise<unknown>;

export interface Route {
  method: string;
  /** Path template as in the API schema, e.g. `/nodes/{node}/qemu/{vmid}/config`. */
  template: string;
  handler: Handler;
}

export function node(ctx: RouteContext): string {
  const name = ctx.params.node;
  if (!ctx.cluster.nodes.has(name)) {
    throw new HttpError(
      500,
      `hostname lookup '${name}' failed - failed to get address info for: ${name}: ` +
        `Name or service not known`,
    );
  }
  return name;
}

export function storageOf(ctx: RouteContext, name: string): FakeStorage {
  const storage = ctx.cluster.storage(node(ctx), name);
  if (!storage) throw new HttpError(500, `storage '${name}' does not exist`);
  return storage;
}
