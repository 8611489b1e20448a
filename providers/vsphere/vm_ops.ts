/**
 * Operations on one VM of a location: finding it by name in the folder, destroying it.
 *
 * Guarantees: `findVm` costs two calls (SearchIndex.FindChild, then one property read);
 * `destroyVm` treats an object that is already gone as success.
 */
import type { Clock } from "../../lib/clock.ts";
import type { FolderVm } from "./inventory.ts";
import type { SoapClient } from "./soap/client.ts";
import { ManagedObjectNotFoundFault } from "./soap/faults.ts";
import { propText, readObject } from "./soap/properties.ts";
import { asMoRef, child, el, type MoRef, moref } from "./soap/xml.ts";
import { waitTask } from "./tasks.ts";

/** The VM named `name` directly in `folder`, or undefined. */
export async function findVm(
  client: SoapClient,
  folder: MoRef,
  name: string,
  signal: AbortSignal,
): Promise<FolderVm | undefined> {
  const { searchIndex } = await client.content(signal);
  const response = await client.call(
    "FindChild",
    searchIndex,
    moref("entity", folder) + el("name", name),
    signal,
  );
  const ref = asMoRef(child(response, "returnval"));
  if (!ref || ref.type !== "VirtualMachine") return undefined;
  const content = await readObject(client, ref, ["config.template", "config.annotation"], signal);
  if (!content) return undefined;
  return {
    ref,
    name,
    template: propText(content, "config.template") === "true",
    annotation: propText(content, "config.annotation"),
  };
}

/** Destroy_Task on `vm` and waits for it; a VM already gone is fine. */
export async function destroyVm(
  client: SoapClient,
  vm: MoRef,
  options: { clock: Clock; deadlineMs: number },
  signal: AbortSignal,
): Promise<void> {
  try {
    const response = await client.call("Destroy_Task", vm, "", signal);
    const task = asMoRef(child(response, "returnval"));
    if (!task) return;
    await waitTask(client, task, { ...options, what: `destroy ${vm.value}` }, signal);
  } catch (error) {
    if (error instanceof ManagedObjectNotFoundFault) return;
    throw error;
  }
}

/** VirtualMachine.MarkAsTemplate. */
export async function markAsTemplate(
  client: SoapClient,
  vm: MoRef,
  signal: AbortSignal,
): Promise<void> {
  await client.call("MarkAsTemplate", vm, "", signal);
}
