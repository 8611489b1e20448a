/**
 * The fake's route table, plus the cluster and task handlers. Handlers answer as Proxmox does
 * (wire-facts §A): sync errors as 500 with the handler's message, parameter problems as 400
 * `errors`, a UPID for every write that Proxmox runs as a task, `nextid` as a string, 500 for a
 * missing VM.
 */
import { HttpError, type Route, type RouteContext, WithTotal } from "./context.ts";
import { deleteContent, downloadUrl, listContent } from "./storage_routes.ts";
import { createVm, destroy, getConfig, postConfig, putConfig, template } from "./vm_routes.ts";

export { HttpError, type Route, type RouteContext, WithTotal };

export const ROUTES: Route[] = [
  {
    method: "GET",
    template: "/version",
    handler: () => ({ version: "9.2.11", release: "9.2", repoid: "1b0d7d2f5e9c4a31" }),
  },
  { method: "GET", template: "/cluster/resources", handler: clusterResources },
  { method: "GET", template: "/cluster/nextid", handler: nextId },
  {
    method: "POST",
    template: "/nodes/{node}/storage/{storage}/download-url",
    handler: downloadUrl,
  },
  { method: "GET", template: "/nodes/{node}/storage/{storage}/content", handler: listContent },
  {
    method: "DELETE",
    template: "/nodes/{node}/storage/{storage}/content/{volume}",
    handler: deleteContent,
  },
  { method: "POST", template: "/nodes/{node}/qemu", handler: createVm },
  { method: "GET", template: "/nodes/{node}/qemu/{vmid}/config", handler: getConfig },
  { method: "POST", template: "/nodes/{node}/qemu/{vmid}/config", handler: postConfig },
  { method: "PUT", template: "/nodes/{node}/qemu/{vmid}/config", handler: putConfig },
  { method: "POST", template: "/nodes/{node}/qemu/{vmid}/template", handler: template },
  { method: "DELETE", template: "/nodes/{node}/qemu/{vmid}", handler: destroy },
  { method: "GET", template: "/nodes/{node}/tasks/{upid}/status", handler: taskStatus },
  { method: "GET", template: "/nodes/{node}/tasks/{upid}/log", handler: taskLog },
];

function clusterResources({ cluster, params }: RouteContext): unknown[] {
  const vms = [...cluster.vms.values()].sort((a, b) => a.vmid - b.vmid).map((vm) =>
    cluster.resource(vm)
  );
  const nodes = [...cluster.nodes.keys()].map((node) => ({
    id: `node/${node}`,
    node,
    type: "node",
    status: "online",
  }));
  const storages = [...cluster.nodes].flatMap(([node, storages]) =>
    [...storages.values()].map((s) => ({
      id: `storage/${node}/${s.name}`,
      node,
      storage: s.name,
      type: "storage",
      plugintype: s.type,
      content: [...s.content].join(","),
      status: "available",
    }))
  );
  switch (params.type) {
    case "vm":
      return vms;
    case "node":
      return nodes;
    case "storage":
      return storages;
    default:
      return [...nodes, ...storages, ...vms];
  }
}

function nextId(ctx: RouteContext): string {
  const { cluster, params } = ctx;
  if (params.vmid !== undefined) {
    const vmid = Number(params.vmid);
    if (cluster.vms.has(vmid)) {
      throw new HttpError(400, "Parameter verification failed.", {
        vmid: `VM ${vmid} already exists`,
      });
    }
    return String(vmid);
  }
  const vmid = cluster.nextFreeVmid();
  if (ctx.takeNextId()) {
    cluster.addVm({ vmid, node: [...cluster.nodes.keys()][0], name: "someone-else" });
  }
  return String(vmid);
}

function taskOf(ctx: RouteContext) {
  const upid = ctx.params.upid;
  if (!/^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:$/.test(upid)) {
    throw new HttpError(400, "Parameter verification failed.", {
      upid: "unable to parse worker upid",
    });
  }
  const task = ctx.tasks.tasks.get(upid);
  if (!task || task.node !== ctx.params.node) {
    throw new HttpError(400, "Parameter verification failed.", { upid: "no such task" });
  }
  return task;
}

function taskStatus(ctx: RouteContext): Record<string, unknown> {
  const task = taskOf(ctx);
  const status: Record<string, unknown> = {
    upid: task.upid,
    node: task.node,
    pid: task.pid,
    pstart: task.pstart,
    starttime: task.starttime,
    type: task.type,
    id: task.id,
    user: task.user,
    status: task.status,
  };
  if (task.status === "stopped") status.exitstatus = task.exitstatus;
  return status;
}

function taskLog(ctx: RouteContext): WithTotal {
  const task = taskOf(ctx);
  const start = Number(ctx.params.start ?? 0);
  const limit = Number(ctx.params.limit ?? 50);
  const lines = task.log.length ? task.log : ["no content"];
  const page = lines.slice(start, start + limit).map((t, i) => ({ n: start + i + 1, t }));
  return new WithTotal(page, lines.length);
}
