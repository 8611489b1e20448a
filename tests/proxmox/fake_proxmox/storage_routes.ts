/**
 * Storage handlers of the fake: download-url (which really fetches the URL and checks the
 * qcow2 magic and the checksum), content listing and volume deletion.
 */
import { createHash } from "node:crypto";
import { HttpError, node, type RouteContext, storageOf } from "./context.ts";
import { normaliseFilename } from "./validate.ts";

export function downloadUrl(ctx: RouteContext): string {
  const { params } = ctx;
  const storage = storageOf(ctx, params.storage);
  const content = params.content;
  if (!storage.content.has(content)) {
    throw new HttpError(
      500,
      `storage '${storage.name}' is not configured for content-type '${content}'`,
    );
  }
  if (storage.type !== "dir") {
    throw new HttpError(
      500,
      `can't upload to storage type '${storage.type}', not a file based storage!`,
    );
  }
  const filename = normaliseFilename(params.filename);
  if (content === "import" && !/\.(ova|qcow2|raw|vmdk)$/.test(filename)) {
    throw new HttpError(400, "Parameter verification failed.", {
      filename: "invalid filename or wrong extension",
    });
  }
  const volid = `${storage.name}:${content}/${filename}`;
  const path = `/var/lib/vz/${content === "vztmpl" ? "template/cache" : content}/${filename}`;
  if (storage.files.has(volid)) {
    throw new HttpError(500, `refusing to override existing file '${path}'`);
  }
  const algorithm = params["checksum-algorithm"];
  const expected = params.checksum?.toLowerCase();
  return ctx.tasks.start(node(ctx), "download", filename, ctx.user, {
    work: async (log) => {
      if (params.compression && content !== "iso") {
        throw new Error(`compression is only supported for content 'iso'`);
      }
      log(`downloading ${params.url} to ${path}`);
      let bytes: Uint8Array;
      try {
        const response = await ctx.fetch(params.url);
        if (!response.ok) {
          await response.body?.cancel();
          throw new Error(`${response.status} ${response.statusText}`);
        }
        bytes = new Uint8Array(await response.arrayBuffer());
      } catch (error) {
        throw new Error(`download failed: ${(error as Error).message}`);
      }
      log(`${bytes.length} bytes downloaded`);
      if (algorithm && expected) {
        const got = createHash(algorithm).update(bytes).digest("hex");
        log(`calculating checksum...`);
        if (got !== expected) {
          throw new Error(`checksum mismatch: got '${got}' != expect '${expected}'`);
        }
        log(`checksum verified`);
      }
      if (filename.endsWith(".qcow2") && !isQcow2(bytes)) {
        throw new Error(`download failed: '${filename}' is not a valid qcow2 image`);
      }
      storage.files.set(volid, {
        size: bytes.length,
        ctime: Math.floor(Date.now() / 1000),
        format: filename.split(".").pop()!,
        content,
      });
      log(`download of '${params.url}' to '${path}' finished`);
    },
  });
}

function isQcow2(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x51 && bytes[1] === 0x46 && bytes[2] === 0x49 &&
    bytes[3] === 0xfb;
}

export function listContent(ctx: RouteContext): unknown[] {
  const storage = storageOf(ctx, ctx.params.storage);
  return [...storage.files].filter(([, f]) =>
    !ctx.params.content || f.content === ctx.params.content
  )
    .map(([volid, f]) => ({
      volid,
      format: f.format,
      size: f.size,
      ctime: f.ctime,
      content: f.content,
    }));
}

export function deleteContent(ctx: RouteContext): string {
  const storage = storageOf(ctx, ctx.params.storage);
  let volid = ctx.params.volume;
  const prefix = /^([a-zA-Z][a-zA-Z0-9._-]*):/.exec(volid)?.[1];
  if (prefix && prefix !== storage.name) {
    throw new HttpError(400, "Parameter verification failed.", {
      volume: `storage ID mismatch (${prefix} != ${storage.name})`,
    });
  }
  if (!prefix) volid = `${storage.name}:${volid}`;
  // Proxmox names the task after the storage (`[<owner vmid>@]<storage>`), not the volume.
  return ctx.tasks.start(node(ctx), "imgdel", storage.name, ctx.user, {
    work: (log) => {
      if (!storage.files.delete(volid)) throw new Error(`volume '${volid}' does not exist`);
      log(`Removed volume '${volid}'`);
    },
  });
}
