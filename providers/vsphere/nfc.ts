/**
 * Streaming OVA members to an import lease's device URLs (ESXi NFC), one member at a time in
 * archive order, from one verified download of the OVA.
 *
 * Guarantees:
 * - Disks (`create=false`) are POSTed as `application/x-vnd.vmware-streamVmdk`, other files
 *   PUT with `Overwrite: t`, each with Content-Length from the tar header; the session cookie
 *   goes along; a `*` host in a device URL becomes the vCenter host.
 * - A device URL with an `sslThumbprint` is reached through a client pinned to that certificate
 *   (`pinnedClient`), one per thumbprint; others through the vCenter client (its CA/insecure).
 * - Memory stays flat: bytes go from the S3 stream to the socket (see `ova.ts`), nothing is
 *   buffered whole and nothing touches the disk.
 * - Device URLs never appear in errors or logs (they carry the NFC ticket: `secretPath`).
 * - Any failure (source, integrity, upload) stops the download and rejects with the first error.
 */
import { type HttpClient, HttpTransportError } from "../_http/mod.ts";
import { PlatformError } from "../types.ts";
import type { FileItem } from "./import_spec.ts";
import type { DeviceUrl } from "./lease.ts";
import { type MemberStream, splitMembers } from "./ova.ts";

export interface UploadPlan {
  /** The file items of the import spec. */
  items: readonly FileItem[];
  deviceUrls: readonly DeviceUrl[];
  /** vCenter `host[:port]`, for `*` device URL hosts. */
  vcenterHost: string;
  cookie?: string;
}

export interface UploadTargets {
  /** Client for a device URL: pinned when it has a thumbprint. */
  clientFor(device: DeviceUrl): HttpClient;
}

export interface UploadHooks {
  /** Bytes of the members uploaded so far (all members), and their total. */
  uploaded(done: number, total: number): void;
  /** Bytes of the OVA read so far. */
  read?(done: number): void;
}

/** One member and where it goes. */
interface Target {
  item: FileItem;
  device: DeviceUrl;
  url: string;
}

/** Matches file items to device URLs (`deviceUrl.importKey == fileItem.deviceId`). */
export function targetsOf(plan: UploadPlan): Map<string, Target> {
  const targets = new Map<string, Target>();
  for (const item of plan.items) {
    const device = plan.deviceUrls.find((d) => d.importKey === item.deviceId);
    if (!device) {
      throw new PlatformError(
        `the import lease has no device URL for "${item.path}" (${item.deviceId})`,
        "upload",
      );
    }
    targets.set(item.path, { item, device, url: withHost(device.url, plan.vcenterHost) });
  }
  return targets;
}

/** A device URL with a `*` host replaced by the vCenter host. */
export function withHost(url: string, vcenterHost: string): string {
  return url.replace(/^(https?:\/\/)\*(:\d+)?(?=\/|$)/, (_, scheme: string, port?: string) => {
    const hostOnly = vcenterHost.replace(/:\d+$/, "");
    return `${scheme}${port ? hostOnly + port : vcenterHost}`;
  });
}

/**
 * Reads `source` (the whole OVA) once and uploads each file item's member to its device URL.
 * `total` is the sum of the members' sizes once known (for the lease percentage).
 */
export async function uploadMembers(
  source: ReadableStream<Uint8Array>,
  plan: UploadPlan,
  targets: UploadTargets,
  hooks: UploadHooks,
  subject: string,
  signal: AbortSignal,
): Promise<void> {
  const byPath = targetsOf(plan);
  const total = plan.items.reduce((n, i) => n + (i.size ?? 0), 0);
  const failed = new AbortController();
  const both = AbortSignal.any([signal, failed.signal]);
  let uploadedBefore = 0;
  let chain = Promise.resolve();
  let firstError: unknown;
  const fail = (error: unknown) => {
    firstError ??= error;
    if (!failed.signal.aborted) failed.abort(error);
  };
  const onMember = (member: MemberStream) => {
    const target = byPath.get(member.name)!;
    // Members upload one after another; the splitter waits for each to be pulled.
    chain = chain.then(async () => {
      if (both.aborted) {
        member.body.cancel().catch(() => {});
        return;
      }
      const base = uploadedBefore;
      await putMember(member, target, plan.cookie, targets.clientFor(target.device), {
        progress: (sent) => hooks.uploaded(base + sent, Math.max(total, base + member.size)),
      }, both);
      uploadedBefore += member.size;
      hooks.uploaded(uploadedBefore, Math.max(total, uploadedBefore));
    }).catch(fail);
  };
  let read = 0;
  const counted = source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        read += chunk.byteLength;
        hooks.read?.(read);
        controller.enqueue(chunk);
      },
    }),
  );
  try {
    await splitMembers(counted, new Set(byPath.keys()), onMember, subject, both);
  } catch (error) {
    // The source's own error (integrity, network) explains more than the upload it cut short.
    if (!failed.signal.aborted || firstError === undefined) firstError = error;
    fail(error);
  }
  await chain;
  if (firstError !== undefined) throw firstError;
}

async function putMember(
  member: MemberStream,
  target: Target,
  cookie: string | undefined,
  http: HttpClient,
  hooks: { progress(sent: number): void },
  signal: AbortSignal,
): Promise<void> {
  const create = target.item.create;
  const headers: Record<string, string> = {
    "content-type": create ? "application/octet-stream" : "application/x-vnd.vmware-streamVmdk",
  };
  if (create) headers.overwrite = "t";
  if (cookie) headers.cookie = cookie;
  let response;
  try {
    response = await http.request({
      method: create ? "PUT" : "POST",
      url: target.url,
      headers,
      body: member.body,
      contentLength: member.size,
      onUploadProgress: (sent) => hooks.progress(sent),
      signal,
      secretPath: true,
      // ESXi answers once the disk is written; a large one can take a while after the last byte.
      timeouts: { responseMs: 15 * 60_000 },
    });
  } catch (error) {
    if (error instanceof HttpTransportError) {
      throw new PlatformError(`upload of "${member.name}" failed: ${error.message}`, "upload", {
        cause: error,
      });
    }
    throw error;
  }
  if (response.status !== 200 && response.status !== 201) {
    const detail = response.body.trim().slice(0, 200).replace(/https?:\/\/\S+/g, "<url>");
    throw new PlatformError(
      `upload of "${member.name}" answered HTTP ${response.status}${detail ? `: ${detail}` : ""}`,
      "upload",
    );
  }
}
