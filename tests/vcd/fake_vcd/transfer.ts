/**
 * The fake's transfer service (wire facts §B.3): no session needed and none refreshed. The
 * descriptor is taken whole and inspected; disk files take ranged PUTs that must start at the
 * last byte stored and stay within the declared size, else 416 with an empty body
 * (terraform-provider-vcd#403, pyvcloud#310). Bytes are hashed, not stored.
 */
import { createHash } from "node:crypto";
import { xmlError } from "./responses.ts";
import type { FakeTemplate } from "./state.ts";
import { UNRESOLVED } from "./state.ts";
import type { World } from "./world.ts";

const MAX_DESCRIPTOR_BYTES = 16 * 1024 * 1024;

/** A transfer PUT that stores `afterBytes` of its body, then answers 500. */
export interface TransferFault {
  afterBytes: number;
  times: number;
}

export interface TransferHooks {
  faults: TransferFault[];
  onTransfer?: (info: { template: FakeTemplate; file: string; start: number }) => void;
}

/** `PUT /transfer/<id>/<file>`: the descriptor whole, disk files in ranged pieces. */
export async function transferRoute(
  world: World,
  hooks: TransferHooks,
  req: Request,
  target: { id: string; name: string },
  seen: { contentRange?: string; stored?: number },
): Promise<Response> {
  const { id, name } = target;
  const template = world.state.templates.get(world.state.transfers.get(id) ?? "");
  const file = template?.files.find((f) => f.transferId === id && f.name === name);
  if (!template || !file || template.status !== UNRESOLVED) {
    await req.body?.cancel();
    return new Response(null, { status: 404 });
  }
  const range = req.headers.get("content-range");
  seen.contentRange = range ?? undefined;
  const length = Number(req.headers.get("content-length"));
  if (!req.headers.has("content-length") || !Number.isSafeInteger(length)) {
    await req.body?.cancel();
    return new Response(null, { status: 411 });
  }
  const notSatisfiable = async () => {
    await req.body?.cancel();
    return new Response(null, { status: 416 });
  };
  if (name === "descriptor.ovf") {
    if (template.descriptorUploaded) return notSatisfiable();
    if (length > MAX_DESCRIPTOR_BYTES) return notSatisfiable();
    const bytes = new Uint8Array(await req.arrayBuffer());
    seen.stored = bytes.byteLength;
    const fault = world.receiveDescriptor(template, bytes);
    return fault ? xmlError(400, fault) : new Response(null, { status: 200 });
  }
  let start = 0;
  let end = length - 1;
  let total = file.size >= 0 ? file.size : length;
  if (range) {
    const parsed = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range);
    if (!parsed) {
      await req.body?.cancel();
      return xmlError(400, {
        majorErrorCode: 400,
        minorErrorCode: "BAD_REQUEST",
        message: `Malformed Content-Range "${range}"`,
      });
    }
    [start, end, total] = [Number(parsed[1]), Number(parsed[2]), Number(parsed[3])];
  }
  hooks.onTransfer?.({ template, file: name, start });
  // "Content-Range not satisfiable: Request must begin at the last byte stored" (§B.3).
  if (start !== file.bytesTransferred) return notSatisfiable();
  if (file.size >= 0 && (total !== file.size || end >= file.size)) return notSatisfiable();
  if (end < start || end >= total || end - start + 1 !== length) {
    await req.body?.cancel();
    return xmlError(400, {
      majorErrorCode: 400,
      minorErrorCode: "BAD_REQUEST",
      message: `Content-Length ${length} does not match Content-Range ${range}`,
    });
  }
  if (file.size < 0) file.size = total;
  file.hash ??= createHash("sha256");
  const fault = hooks.faults.find((f) => f.times > 0);
  if (fault) fault.times--;
  const limit = fault ? Math.min(fault.afterBytes, length) : length;
  let received = 0;
  const reader = req.body!.getReader();
  try {
    while (received < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = value.subarray(0, Math.min(value.byteLength, limit - received));
      file.hash.update(take);
      received += take.byteLength;
      file.bytesTransferred += take.byteLength;
      if (take.byteLength < value.byteLength) break;
    }
  } catch {
    // The client went away mid-body; what arrived is stored, as VCD stores it.
  } finally {
    seen.stored = received;
    if (received < length) await reader.cancel().catch(() => {});
    else reader.releaseLock();
  }
  world.touchTransfer(template);
  if (fault) {
    return xmlError(500, {
      majorErrorCode: 500,
      minorErrorCode: "INTERNAL_SERVER_ERROR",
      message: "The transfer was interrupted (injected failure)",
    });
  }
  if (received < length) return new Response(null, { status: 400 });
  if (file.bytesTransferred === file.size) {
    file.sha256 = file.hash.digest("hex");
    file.hash = undefined;
  }
  world.fileProgress(template);
  return new Response(null, { status: 200 });
}
