/**
 * What a location's VM folder holds, in one PropertyCollector retrieval (the folder's direct
 * children of type VirtualMachine with `name`, `config.template`, `config.annotation`), and how
 * it maps to images.
 *
 * Guarantees of `classify` (pure):
 * - Only VMs whose name carries the location's suffix count; the item is named by the image.
 * - A template is a complete image (also one the Go operator made, identified by name only).
 * - A VM that is not a template counts, as partial, only when it carries our annotation
 *   marker (a half-made import of ours); any other same-named VM is somebody else's and is
 *   left out, so it is never destroyed (`foreign` lists them for messages).
 */
import type { Inventory, InventoryItem } from "../types.ts";
import { hasMarker, imageNameOf } from "./names.ts";
import type { SoapClient } from "./soap/client.ts";
import { objectSpec, propSpec, propText, retrieve, traversal } from "./soap/properties.ts";
import type { MoRef } from "./soap/xml.ts";

/** One VM of the folder as vCenter reports it. */
export interface FolderVm {
  ref: MoRef;
  name: string;
  template: boolean;
  annotation?: string;
}

/** The VMs directly in `folder`. */
export async function listFolderVms(
  client: SoapClient,
  folder: MoRef,
  signal: AbortSignal,
): Promise<FolderVm[]> {
  const objects = await retrieve(client, {
    propSets: [propSpec("VirtualMachine", ["name", "config.template", "config.annotation"])],
    objectSets: [
      objectSpec(folder, { skip: true, selectSet: [traversal("Folder", "childEntity")] }),
    ],
  }, signal);
  return objects.filter((o) => o.obj.type === "VirtualMachine").map((o) => ({
    ref: o.obj,
    name: propText(o, "name") ?? "",
    template: propText(o, "config.template") === "true",
    annotation: propText(o, "config.annotation"),
  }));
}

/** How one VM relates to our images. */
export type VmRole = "template" | "partial" | "foreign";

/** The role of a VM that bears an image's name. */
export function roleOf(vm: FolderVm): VmRole {
  if (vm.template) return "template";
  return hasMarker(vm.annotation) ? "partial" : "foreign";
}

/** The inventory of a folder's VMs for a location with `suffix`. */
export function classify(vms: readonly FolderVm[], suffix: string): Inventory {
  const items = new Map<string, InventoryItem>();
  for (const vm of vms) {
    const name = imageNameOf(vm.name, suffix);
    if (name === undefined) continue;
    const role = roleOf(vm);
    if (role === "foreign") continue;
    items.set(name, { name, reference: vm.ref.value, complete: role === "template" });
  }
  return { items };
}
