/**
 * A configured location resolved to vCenter objects: datacenter, VM folder, cluster, resource
 * pool, datastore, network and (optionally) host, each looked up by inventory path.
 *
 * Guarantees:
 * - A missing object is a `LocationError` naming the location, the field and the path tried
 *   (found when the provider is probed, not half-way through an import).
 * - The resource pool defaults to the cluster's root pool (`Resources`); a pool may be given
 *   as `Resources/child`, `child`, or a path under the cluster.
 * - An explicit host must be one of the cluster's hosts (the Go operator searched the whole
 *   datacenter, §11.6); its state is checked at each import by `pickHost`.
 * Assumptions: paths are inventory paths; `folder` is absolute (`/DC0/vm/x`) or relative to the
 * datacenter's VM folder (`x`, as govmomi's finder resolves it).
 */
import { PlatformError } from "../types.ts";
import type { VsphereLocation } from "./config.ts";
import type { SoapClient } from "./soap/client.ts";
import {
  findByInventoryPath,
  objectSpec,
  propRef,
  propSpec,
  propText,
  readObject,
  retrieve,
  traversal,
} from "./soap/properties.ts";
import type { MoRef } from "./soap/xml.ts";

/** A location's objects. */
export interface ResolvedLocation {
  name: string;
  config: VsphereLocation;
  /** Inventory path of the datacenter, without a leading `/`. */
  datacenterPath: string;
  datacenter: MoRef;
  folder: MoRef;
  /** Inventory path of the folder (messages, govc). */
  folderPath: string;
  cluster: MoRef;
  pool: MoRef;
  datastore: MoRef;
  network?: MoRef;
}

/** A location that does not match the vCenter inventory. */
export class LocationError extends PlatformError {
  override name = "LocationError";
}

const NETWORK_TYPES = new Set(["Network", "DistributedVirtualPortgroup", "OpaqueNetwork"]);

/** Looks every object of the location up (a handful of FindByInventoryPath calls). */
export async function resolveLocation(
  client: SoapClient,
  name: string,
  config: VsphereLocation,
  signal: AbortSignal,
): Promise<ResolvedLocation> {
  const missing = (field: string, what: string, path: string) =>
    new LocationError(
      `vSphere location "${name}": ${field} "${what}" not found (inventory path ${path})`,
      "resolve location",
    );
  const find = async (field: string, what: string, path: string, types: Set<string>) => {
    const ref = await findByInventoryPath(client, path, signal);
    if (!ref) throw missing(field, what, path);
    if (!types.has(ref.type)) {
      throw new LocationError(
        `vSphere location "${name}": ${field} "${what}" at ${path} is a ${ref.type}, not a ` +
          `${[...types].join(" or ")}`,
        "resolve location",
      );
    }
    return ref;
  };

  const datacenterPath = trimSlashes(config.datacenter);
  const datacenter = await find(
    "datacenter",
    config.datacenter,
    datacenterPath,
    new Set(["Datacenter"]),
  );
  const folderPath = config.folder.startsWith("/")
    ? trimSlashes(config.folder)
    : `${datacenterPath}/vm/${trimSlashes(config.folder)}`;
  const folder = await find("folder", config.folder, folderPath, new Set(["Folder"]));
  const clusterPath = `${datacenterPath}/host/${trimSlashes(config.cluster)}`;
  const cluster = await find(
    "cluster",
    config.cluster,
    clusterPath,
    new Set(["ClusterComputeResource", "ComputeResource"]),
  );
  const pool = await resolvePool(
    client,
    config,
    cluster,
    clusterPath,
    signal,
    (path) =>
      find("resourcepool", config.resourcepool, path, new Set(["ResourcePool", "VirtualApp"])),
  );
  const datastore = await find(
    "datastore",
    config.datastore,
    `${datacenterPath}/datastore/${trimSlashes(config.datastore)}`,
    new Set(["Datastore"]),
  );
  const network = config.network
    ? await find(
      "network",
      config.network,
      `${datacenterPath}/network/${trimSlashes(config.network)}`,
      NETWORK_TYPES,
    )
    : undefined;
  const resolved: ResolvedLocation = {
    name,
    config,
    datacenterPath,
    datacenter,
    folder,
    folderPath,
    cluster,
    pool,
    datastore,
    network,
  };
  if (config.host) {
    const hosts = await clusterHosts(client, resolved, signal);
    if (!hosts.some((h) => h.name === config.host)) {
      throw new LocationError(
        `vSphere location "${name}": host "${config.host}" is not a host of cluster ` +
          `"${config.cluster}" (its hosts: ${hosts.map((h) => h.name).join(", ") || "none"})`,
        "resolve location",
      );
    }
  }
  return resolved;
}

async function resolvePool(
  client: SoapClient,
  config: VsphereLocation,
  cluster: MoRef,
  clusterPath: string,
  signal: AbortSignal,
  find: (path: string) => Promise<MoRef>,
): Promise<MoRef> {
  const wanted = trimSlashes(config.resourcepool);
  if (wanted === "" || wanted === "Resources") {
    const root = propRef(
      await readObject(client, cluster, ["resourcePool"], signal),
      "resourcePool",
    );
    if (!root) {
      throw new LocationError(`cluster at ${clusterPath} has no root resource pool`, "resolve");
    }
    return root;
  }
  const under = wanted.startsWith("Resources/") ? wanted : `Resources/${wanted}`;
  return await find(`${clusterPath}/${under}`);
}

/** One host of the location's cluster and the state that decides whether it can import. */
export interface HostState {
  ref: MoRef;
  name: string;
  connectionState: string;
  powerState: string;
  inMaintenanceMode: boolean;
}

/** The hosts of the location's cluster with their runtime state, in one retrieval. */
export async function clusterHosts(
  client: SoapClient,
  location: ResolvedLocation,
  signal: AbortSignal,
): Promise<HostState[]> {
  const objects = await retrieve(client, {
    propSets: [
      propSpec("HostSystem", [
        "name",
        "runtime.connectionState",
        "runtime.powerState",
        "runtime.inMaintenanceMode",
      ]),
    ],
    objectSets: [
      objectSpec(location.cluster, {
        skip: true,
        selectSet: [traversal("ComputeResource", "host")],
      }),
    ],
  }, signal);
  return objects.filter((o) => o.obj.type === "HostSystem").map((o) => ({
    ref: o.obj,
    name: propText(o, "name") ?? o.obj.value,
    connectionState: propText(o, "runtime.connectionState") ?? "unknown",
    powerState: propText(o, "runtime.powerState") ?? "unknown",
    inMaintenanceMode: propText(o, "runtime.inMaintenanceMode") === "true",
  }));
}

/** Why a host cannot take an import, or undefined when it can. */
export function hostProblem(host: HostState): string | undefined {
  const problems = [];
  if (host.connectionState !== "connected") problems.push(host.connectionState);
  if (host.powerState !== "poweredOn") problems.push(host.powerState);
  if (host.inMaintenanceMode) problems.push("in maintenance mode");
  return problems.length > 0 ? problems.join(", ") : undefined;
}

/**
 * The host to import on: the configured one (which must be usable), or the first usable host
 * of the cluster by name (connected, powered on, not in maintenance).
 * @throws {PlatformError} naming the host(s) and why none can be used.
 */
export function pickHost(
  hosts: readonly HostState[],
  location: { name: string; config: VsphereLocation },
): HostState {
  const { config } = location;
  if (config.host) {
    const host = hosts.find((h) => h.name === config.host);
    if (!host) {
      throw new LocationError(
        `vSphere location "${location.name}": host "${config.host}" is not a host of cluster ` +
          `"${config.cluster}"`,
        "pick host",
      );
    }
    const problem = hostProblem(host);
    if (problem) {
      throw new PlatformError(
        `vSphere location "${location.name}": host "${host.name}" cannot import (${problem})`,
        "pick host",
      );
    }
    return host;
  }
  const usable = hosts.filter((h) => !hostProblem(h)).sort((a, b) => a.name < b.name ? -1 : 1);
  if (usable.length === 0) {
    const states = hosts.map((h) => `${h.name}: ${hostProblem(h)}`).join("; ");
    throw new PlatformError(
      `vSphere location "${location.name}": no host of cluster "${config.cluster}" can import ` +
        `(${states || "the cluster has no hosts"})`,
      "pick host",
    );
  }
  return usable[0];
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, "");
}
