/**
 * One OVA from the object store into a VCD catalog as a vApp template, streamed: no scratch
 * disk, memory flat whatever the size (the Go operator kept three copies on disk, §6 5b–d).
 *
 * 1. read descriptor: open the OVA stream and take the `.ovf` member (the first one in a
 *    well-formed OVA; members before it are noted and re-read later), then the manifest when it
 *    comes next, so the descriptor's digest has been checked before anything is created;
 * 2. create catalog item: `POST <catalog>/action/upload` with the name, description and the
 *    VDC's storage profile (201 CatalogItem → the vApp template's href);
 * 3. upload descriptor: the descriptor, with `VirtualSystemType` set to `vmx-<hardwareVersion>`
 *    (0 leaves it alone), PUT whole to the template's `descriptor.ovf` link;
 * 4. wait for upload links: until VCD lists every file the descriptor references;
 * 5. upload files: the rest of the OVA streamed into ranged PUTs as its members pass, then the
 *    held-back tails and anything out of order re-read by byte range (see `upload.ts`);
 * 6. wait for import: until the template is resolved (status 8), or failed / its task errors.
 *
 * Guarantees: every wait has a deadline. Any failure after step 2 deletes the template (and
 * with it the catalog item) before the error is thrown; the error names the step and says
 * whether the removal worked. When the signal aborts nothing is rolled back (the process is
 * probably stopping); `cleanupPartial` removes the leftover later.
 */
import type { Clock } from "../../lib/clock.ts";
import type { Logger } from "../../lib/log.ts";
import {
  type ImageSource,
  type ImageSpec,
  IntegrityError,
  PlatformError,
  ProviderUnavailableError,
  type TransferProgress,
} from "../types.ts";
import type { VcdClient } from "./client.ts";
import type { ResolvedLocation } from "./location.ts";
import { type OvfDescriptor, patchHardwareVersion, readOvf } from "./ovf.ts";
import { OvaMemberReader, readHead } from "./ova_reader.ts";
import {
  deleteTemplate,
  getTemplate,
  poll,
  TEMPLATE_FAILED,
  TEMPLATE_RESOLVED,
  type TemplateFile,
  type TemplateInfo,
  VcdTaskError,
} from "./tasks.ts";
import { FileUploader, type UploadTarget } from "./upload.ts";
import { escapeXml, VCLOUD_NS } from "./xml.ts";
import { UPLOAD_PARAMS_TYPE } from "./location.ts";

export interface CreateOptions {
  pieceBytes: number;
  clock: Clock;
  /** Deadline for VCD to list the upload links after the descriptor. */
  filesDeadlineMs: number;
  /** Deadline for the import after the last byte. */
  importDeadlineMs: number;
  /** Deadline for short tasks (the rollback's delete). */
  taskDeadlineMs: number;
  pollDelaysMs?: readonly number[];
  maxPieceFailures: number;
  log?: Logger;
  onStep?: (step: string, event: "start" | "end") => void;
}

export interface CreateRequest {
  image: ImageSpec;
  location: ResolvedLocation;
  source: ImageSource;
  progress: TransferProgress;
}

export interface Created {
  href: string;
  /** What the source verified while it was read (size, digest, manifest). */
  verified: string[];
  /** The hardware version the descriptor asked for after patching, e.g. `vmx-19`. */
  hardware: string[];
}

/** The description of templates we create; it starts like the Go operator's. */
export function templateDescription(image: ImageSpec): string {
  return `Node image ${image.name}, uploaded by image-distribution-operator for NodeImage ` +
    `${image.objectKey}`;
}

/** Runs the whole sequence; returns the template's href. */
export async function createTemplate(
  client: VcdClient,
  request: CreateRequest,
  options: CreateOptions,
  signal: AbortSignal,
): Promise<Created> {
  const { image, location, source, progress } = request;
  let step = "read descriptor";
  let templateHref: string | undefined;
  let reader: OvaMemberReader | undefined;
  const wait = (what: string, deadlineMs: number) => ({
    clock: options.clock,
    deadlineMs,
    delaysMs: options.pollDelaysMs,
    signal,
    what,
  });
  const run = async <T>(name: string, phase: string, fn: () => Promise<T>): Promise<T> => {
    step = name;
    progress.phase(phase);
    options.onStep?.(name, "start");
    const result = await fn();
    options.onStep?.(name, "end");
    return result;
  };

  try {
    reader = new OvaMemberReader(await source.open({ signal }), source.key);
    const ova = reader;
    const head = await run(
      "read descriptor",
      `reading the descriptor of ${source.key}`,
      () => readHead(ova, source.key),
    );
    const descriptor = readOvf(head.descriptor, `${head.descriptorName} in ${source.key}`);
    const version = location.config.hardwareVersion;
    const upload = version > 0
      ? new TextEncoder().encode(patchHardwareVersion(descriptor, version))
      : head.descriptor;

    templateHref = await run(
      "create catalog item",
      `creating catalog item ${image.name} in ${location.config.catalog}`,
      () => createItem(client, location, image, signal),
    );
    progress.reference(templateHref);
    const href = templateHref;

    await run("upload descriptor", "uploading the descriptor", async () => {
      const template = await getTemplate(client, href, signal, "upload descriptor");
      checkTasks(template);
      const file = template.files.find((f) => f.uploadHref && f.name === "descriptor.ovf") ??
        template.files.find((f) => f.uploadHref);
      if (!file) {
        throw new PlatformError(
          "VCD listed no upload link for the descriptor",
          "upload descriptor",
        );
      }
      await client.putDescriptor(file.uploadHref!, upload, signal);
    });

    const files = await run(
      "wait for upload links",
      "waiting for VCD to list the files",
      () =>
        poll(async () => {
          const template = await getTemplate(client, href, signal, "wait for upload links");
          checkTasks(template);
          return uploadLinks(template, descriptor);
        }, wait("the upload links", options.filesDeadlineMs)),
    );

    const targets = files.map(({ ref, file }): UploadTarget => ({
      name: ref.href,
      size: file.size >= 0 ? file.size : ref.size ?? -1,
      url: file.uploadHref ?? "",
      ...(ref.chunkSize ? { chunkSize: ref.chunkSize } : {}),
      uploaded: file.bytesTransferred,
      uncertain: false,
      failures: 0,
      layout: [],
    }));
    const uploader = new FileUploader(targets, {
      client,
      templateHref: href,
      pieceBytes: options.pieceBytes,
      maxFailures: options.maxPieceFailures,
      signal,
      log: options.log,
      progress: (done) => {
        const total = targets.reduce((n, t) => n + Math.max(t.size, 0), upload.byteLength);
        progress.bytes(upload.byteLength + done, total);
      },
    });

    const verified = await run("upload files", `uploading ${names(targets)}`, async () => {
      for (const member of head.before) await uploader.fromMember(member, undefined);
      for (let member = head.next; member; member = await ova.next()) {
        if (member.regular) await uploader.fromMember(member, ova);
      }
      // The stream has ended: every verifier of the source has passed.
      return source.verified?.() ?? [];
    });
    reader = undefined;

    await run("upload held-back bytes", "uploading the last bytes of each file", async () => {
      for (const target of targets) {
        await uploader.complete(target, (offset) => source.open({ signal, offset }));
      }
    });

    await run("wait for import", "waiting for VCD to import the template", () =>
      poll(async () => {
        const template = await getTemplate(client, href, signal, "wait for import");
        checkTasks(template);
        if (template.status === TEMPLATE_FAILED) {
          throw new PlatformError("VCD marked the template failed (status -1)", "wait for import");
        }
        return template.status === TEMPLATE_RESOLVED ? template : undefined;
      }, wait("the import", options.importDeadlineMs)));

    return {
      href,
      verified,
      // Only what the descriptor VCD got says: one without VirtualSystemType was not patched.
      hardware: version > 0 && descriptor.hardwareSpans.length > 0
        ? [`vmx-${version}`]
        : descriptor.hardwareTypes,
    };
  } catch (error) {
    await reader?.cancel(error);
    if (signal.aborted) throw signal.reason;
    const rollback = templateHref
      ? await rollBack(client, templateHref, wait("the rollback", options.taskDeadlineMs))
      : "nothing was created";
    throw stepError(location, image, step, error, rollback);
  }
}

async function createItem(
  client: VcdClient,
  location: ResolvedLocation,
  image: ImageSpec,
  signal: AbortSignal,
): Promise<string> {
  const profile = location.storageProfile;
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<UploadVAppTemplateParams xmlns="${VCLOUD_NS}" name="${escapeXml(image.name)}">\n` +
    `  <Description>${escapeXml(templateDescription(image))}</Description>\n` +
    `  <VdcStorageProfile href="${escapeXml(profile.href)}" name="${escapeXml(profile.name)}" ` +
    `type="application/vnd.vmware.vcloud.vdcStorageProfile+xml"/>\n` +
    `</UploadVAppTemplateParams>\n`;
  const { node } = await client.api("POST", location.uploadHref, {
    body,
    contentType: UPLOAD_PARAMS_TYPE,
    signal,
    step: "create catalog item",
  });
  const entity = (node.Entity ?? {}) as Record<string, unknown>;
  const href = String(entity["@href"] ?? "");
  if (!href) {
    throw new PlatformError(
      "VCD created the catalog item without naming its vApp template",
      "create catalog item",
    );
  }
  return href;
}

/** Throws when a task of the template failed (VCD's way of failing an upload). */
function checkTasks(template: TemplateInfo): void {
  const failed = template.tasks.find((t) => t.status === "error" || t.status === "aborted");
  if (failed) throw new VcdTaskError(failed, "upload");
}

/** VCD's file entries for every file the descriptor references, once all are listed. */
function uploadLinks(
  template: TemplateInfo,
  descriptor: OvfDescriptor,
): { ref: OvfDescriptor["files"][number]; file: TemplateFile }[] | undefined {
  const files = template.files.filter((f) => f.name !== "descriptor.ovf");
  if (descriptor.files.length === 0) return [];
  // VCD lists nothing but the descriptor until it has read it (go-vcd waits for > 1 File).
  if (files.length === 0) return undefined;
  const unknown = files.filter((f) => !descriptor.files.some((r) => r.href === f.name));
  if (unknown.length) {
    throw new PlatformError(
      `VCD expects ${unknown.map((f) => `"${f.name}"`).join(", ")}, which the descriptor does ` +
        `not reference`,
      "wait for upload links",
    );
  }
  const pairs = descriptor.files.map((ref) => ({
    ref,
    file: files.find((f) => f.name === ref.href),
  }));
  // A file with nothing left to send (an empty one) may come without an upload link.
  if (pairs.some((p) => !p.file || (!p.file.uploadHref && p.file.bytesTransferred < p.file.size))) {
    return undefined;
  }
  return pairs as { ref: OvfDescriptor["files"][number]; file: TemplateFile }[];
}

/** Deletes the template; says how that went. */
async function rollBack(
  client: VcdClient,
  href: string,
  options: { clock: Clock; deadlineMs: number; signal: AbortSignal },
): Promise<string> {
  try {
    await deleteTemplate(client, href, options);
    return "the catalog item was removed";
  } catch (error) {
    return `removing the catalog item failed: ${(error as Error).message}`;
  }
}

function stepError(
  location: ResolvedLocation,
  image: ImageSpec,
  step: string,
  error: unknown,
  rollback: string,
): Error {
  const cause = error as Error;
  const message = `Cannot upload "${image.name}" to VCD location "${location.name}" (catalog ` +
    `"${location.config.catalog}"): step "${step}" failed: ${cause.message}; ${rollback}`;
  if (error instanceof IntegrityError) return new IntegrityError(message, { cause });
  if (error instanceof ProviderUnavailableError) {
    return new ProviderUnavailableError(message, { cause });
  }
  return new PlatformError(message, step, { cause });
}

function names(targets: UploadTarget[]): string {
  return targets.map((t) => t.name).join(", ") || "no files";
}
