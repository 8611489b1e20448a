/**
 * Pull mode (`pullFromURL`, Go flag `--vsphere-pull-from-url`): the ESXi hosts download the OVA
 * members themselves from the (presigned) S3 URL, through HttpNfcLeasePullFromUrls_Task.
 *
 * Guarantees:
 * - One source file per file item: the whole OVA's URL, `memberName` = the item's path,
 *   `targetDeviceId` = its device id, `create`, `size`, and the source's TLS thumbprint: the
 *   SHA-1 of the leaf certificate as colon-separated upper-case hex (govmomi's
 *   `soap.ThumbprintSHA1` format), taken from a verified TLS connection to the URL's own port
 *   (the Go operator always dialled 443, §11.17); for an `http` URL the placeholder `0000`
 *   the Go operator sends (an HTTP source "needs a dummy thumbprint", §10.4).
 * - The lease is kept alive with HttpNfcLeaseProgress (the task's percentage) while the hosts
 *   pull (the Go operator sent none, §5 step 9).
 * - The presigned URL never reaches logs, errors, Events or status.
 */
import { createHash } from "node:crypto";
import { connect, type TLSSocket } from "node:tls";
import { redactUrl } from "../../lib/redact.ts";
import { type ImageSource, PlatformError, type TransferProgress } from "../types.ts";
import type { CreateContext } from "./create.ts";
import type { ImportSpec } from "./import_spec.ts";
import { type LeaseInfo, LeaseKeeper } from "./lease.ts";
import { el, type MoRef } from "./soap/xml.ts";
import { asMoRef, child } from "./soap/xml.ts";
import { waitTask } from "./tasks.ts";

export interface PullOptions {
  /** Lifetime asked of the presigned URL (the pull must start within it). */
  urlTtlMs: number;
  /** PEM roots to verify the source's certificate with, instead of the system's. */
  sourceCa?: string;
  /** Deadline of the pull task. */
  deadlineMs: number;
}

/** The placeholder thumbprint for an `http` source. */
export const HTTP_SOURCE_THUMBPRINT = "0000";

/** Runs the pull; returns what was verified (nothing: the hosts read the bytes). */
export async function pullFromUrl(
  ctx: CreateContext,
  job: {
    lease: MoRef;
    info: LeaseInfo;
    spec: ImportSpec;
    source: ImageSource;
    progress: TransferProgress;
  },
  options: PullOptions,
  signal: AbortSignal,
): Promise<string[]> {
  const url = await job.source.url(options.urlTtlMs);
  const thumbprint = await sourceThumbprint(url, { ca: options.sourceCa, signal });
  const files = job.spec.fileItems.map((item) =>
    `<files>${el("targetDeviceId", item.deviceId)}${el("url", url)}` +
    `${el("memberName", item.path)}${el("create", item.create)}` +
    `${el("sslThumbprint", thumbprint)}${el("size", item.size)}</files>`
  ).join("");
  const response = await ctx.client.call("HttpNfcLeasePullFromUrls_Task", job.lease, files, signal);
  const task = asMoRef(child(response, "returnval"));
  if (!task) throw new PlatformError("HttpNfcLeasePullFromUrls_Task returned no task", "pull");
  let percent = 0;
  const stop = new AbortController();
  const keeper = new LeaseKeeper({
    client: ctx.client,
    lease: job.lease,
    clock: ctx.clock,
    intervalMs: ctx.progressIntervalMs,
    percent: () => percent,
    onFailure: (error) => stop.abort(error),
  });
  try {
    await waitTask(ctx.client, task, {
      clock: ctx.clock,
      deadlineMs: options.deadlineMs,
      what: `pull ${job.source.key}`,
      delaysMs: [250, 500, 1000, 2000],
      onProgress: (p) => {
        percent = p;
        job.progress.bytes(Math.floor((job.source.size * p) / 100), job.source.size);
      },
    }, AbortSignal.any([signal, stop.signal]));
  } catch (error) {
    throw keeper.failure ?? error;
  } finally {
    await keeper.stop();
  }
  job.progress.bytes(job.source.size, job.source.size);
  return [];
}

/**
 * The thumbprint to hand ESXi for `url`: `0000` for http, else the SHA-1 of the certificate
 * the server presents on a verified connection, as `AB:CD:…`.
 */
export async function sourceThumbprint(
  url: string,
  options: { ca?: string; signal: AbortSignal },
): Promise<string> {
  const parsed = new URL(url);
  if (parsed.protocol === "http:") return HTTP_SOURCE_THUMBPRINT;
  const port = Number(parsed.port || 443);
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const der = await new Promise<Uint8Array>((resolve, reject) => {
    const socket: TLSSocket = connect({
      host,
      port,
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
      ca: options.ca,
      rejectUnauthorized: true,
      timeout: 10_000,
    }, () => {
      const cert = socket.getPeerCertificate(false);
      socket.destroy();
      if (!cert?.raw) reject(new Error("the server sent no certificate"));
      else resolve(new Uint8Array(cert.raw));
    });
    const onAbort = () => socket.destroy(options.signal.reason);
    options.signal.addEventListener("abort", onAbort, { once: true });
    socket.on("timeout", () => socket.destroy(new Error("no TLS handshake within 10 s")));
    socket.on("error", reject);
    socket.on("close", () => options.signal.removeEventListener("abort", onAbort));
  }).catch((error) => {
    throw new PlatformError(
      `cannot take the TLS thumbprint of ${redactUrl(url)}: ${(error as Error).message}`,
      "pull",
    );
  });
  const hex = createHash("sha1").update(der).digest("hex").toUpperCase();
  return hex.match(/../g)!.join(":");
}
