/**
 * OvfManager.CreateImportSpec and what the import needs from its answer: the import spec (sent
 * back to ImportVApp with our annotation added) and the file items (which OVA member goes to
 * which device).
 *
 * Guarantees: spec errors abort with every message; warnings are returned for logging; an OVF
 * network named `nic0` is mapped to the location's network when one is configured (without a
 * configured network no mapping is sent and vCenter applies its default, reported as a
 * warning); disks are provisioned thin.
 */
import { PlatformError } from "../types.ts";
import type { SoapClient } from "./soap/client.ts";
import {
  child,
  children,
  el,
  type MoRef,
  moref,
  parseXml,
  textOf,
  type XmlNode,
} from "./soap/xml.ts";

/** One file of the import: an OVA member and the device it becomes. */
export interface FileItem {
  /** Matches the lease's `deviceUrl.importKey`. */
  deviceId: string;
  /** Member name inside the OVA. */
  path: string;
  size?: number;
  /** PUT (`create`) instead of POST (disks). */
  create: boolean;
}

export interface ImportSpec {
  /** The `importSpec` element, annotation added. */
  spec: XmlNode;
  fileItems: FileItem[];
  warnings: string[];
}

/** The OVF network every Giant Swarm image uses for its NIC. */
export const OVF_NETWORK = "nic0";

/** Network names declared in the OVF's NetworkSection. */
export function ovfNetworks(ovf: string): string[] {
  const envelope = parseXml(ovf);
  return children(child(envelope, "NetworkSection"), "Network")
    .map((n) => n.attrs.name)
    .filter((n): n is string => n !== undefined);
}

export interface ImportSpecRequest {
  ovf: string;
  entityName: string;
  pool: MoRef;
  datastore: MoRef;
  host: MoRef;
  network?: MoRef;
  annotation: string;
}

/** Calls CreateImportSpec; throws with the spec's errors, returns its warnings. */
export async function createImportSpec(
  client: SoapClient,
  request: ImportSpecRequest,
  signal: AbortSignal,
): Promise<ImportSpec> {
  const { ovfManager } = await client.content(signal);
  const mapping = request.network && ovfNetworks(request.ovf).includes(OVF_NETWORK)
    ? `<networkMapping>${el("name", OVF_NETWORK)}${moref("network", request.network)}` +
      `</networkMapping>`
    : "";
  const body = el("ovfDescriptor", request.ovf) + moref("resourcePool", request.pool) +
    moref("datastore", request.datastore) +
    `<cisp>${el("locale", "US")}${el("deploymentOption", "")}` +
    `${el("entityName", request.entityName)}${moref("hostSystem", request.host)}${mapping}` +
    `${el("ipAllocationPolicy", "dhcpPolicy")}${el("ipProtocol", "IPv4")}` +
    `${el("diskProvisioning", "thin")}</cisp>`;
  const response = await client.call("CreateImportSpec", ovfManager, body, signal);
  const result = child(response, "returnval");
  const errors = children(result, "error").map(localized);
  if (errors.length > 0) {
    throw new PlatformError(`the OVF cannot be imported: ${errors.join("; ")}`, "import spec");
  }
  const spec = child(result, "importSpec");
  if (!spec) throw new PlatformError("CreateImportSpec returned no import spec", "import spec");
  if (spec.xsiType !== "VirtualMachineImportSpec") {
    throw new PlatformError(
      `the OVF describes a ${spec.xsiType ?? "unknown"} import; only single-VM OVAs are supported`,
      "import spec",
    );
  }
  const warnings = children(result, "warning").map(localized);
  if (request.network && !ovfNetworks(request.ovf).includes(OVF_NETWORK)) {
    warnings.push(`the OVF declares no network "${OVF_NETWORK}"; the configured network is unused`);
  }
  return {
    spec: withAnnotation(spec, request.annotation),
    fileItems: children(result, "fileItem").map((item) => ({
      deviceId: textOf(item, "deviceId") ?? "",
      path: textOf(item, "path") ?? "",
      size: textOf(item, "size") === undefined ? undefined : Number(textOf(item, "size")),
      create: textOf(item, "create") === "true",
    })),
    warnings,
  };
}

/**
 * The import spec with `text` as the VM annotation (ahead of any the OVF brought). The WSDL's
 * sequence puts `annotation` right before `files` in a VirtualMachineConfigSpec.
 */
export function withAnnotation(spec: XmlNode, text: string): XmlNode {
  const config = child(spec, "configSpec");
  if (!config) throw new PlatformError("the import spec has no configSpec", "import spec");
  const existing = child(config, "annotation");
  const annotation: XmlNode = {
    name: "annotation",
    attrs: {},
    text: existing?.text ? `${text}\n${existing.text}` : text,
    children: [],
  };
  let configChildren: XmlNode[];
  if (existing) {
    configChildren = config.children.map((c) => c === existing ? annotation : c);
  } else {
    const at = config.children.findIndex((c) => c.name === "files");
    configChildren = [...config.children];
    configChildren.splice(at === -1 ? configChildren.length : at, 0, annotation);
  }
  return {
    ...spec,
    children: spec.children.map((c) => c === config ? { ...config, children: configChildren } : c),
  };
}

function localized(node: XmlNode): string {
  return (textOf(node, "localizedMessage") ?? child(node, "fault")?.xsiType ?? "unknown").trim();
}
