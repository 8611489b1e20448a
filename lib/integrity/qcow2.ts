/**
 * qcow2 header check: the first four bytes must be the magic `QFI\xfb`.
 *
 * It proves the object is a qcow2 image and not, say, an HTML error page or an OVA uploaded
 * under the wrong key; it does not prove the image is complete (the size check does that).
 */
import { IntegrityError } from "../image/provider.ts";
import type { VerifierOptions } from "./verification_log.ts";

/** `QFI\xfb`. */
export const QCOW2_MAGIC: Readonly<Uint8Array> = new Uint8Array([0x51, 0x46, 0x49, 0xfb]);
/** Magic (4) plus the big-endian version (4). */
const HEADER_BYTES = 8;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A pass-through stream that errors with `IntegrityError` as soon as the first four bytes are
 * known not to be the qcow2 magic (or at the end if fewer arrive). Logs `qcow2 v<N> magic ok`.
 */
export function qcow2Verifier(options: VerifierOptions): TransformStream<Uint8Array, Uint8Array> {
  const head = new Uint8Array(HEADER_BYTES);
  let filled = 0;
  let decided = false;

  function decide(): void {
    decided = true;
    const magic = head.subarray(0, Math.min(filled, 4));
    if (filled < 4 || magic.some((b, i) => b !== QCOW2_MAGIC[i])) {
      throw new IntegrityError(
        `Not a qcow2 image: ${options.subject} starts with ${hex(magic) || "nothing"}, ` +
          `expected ${hex(QCOW2_MAGIC)} ("QFI\\xfb")`,
      );
    }
    const version = filled >= HEADER_BYTES ? ` v${new DataView(head.buffer).getUint32(4)}` : "";
    options.log?.add(`qcow2${version} magic ok`);
  }

  return new TransformStream({
    transform(chunk, controller) {
      if (!decided) {
        const take = Math.min(HEADER_BYTES - filled, chunk.byteLength);
        head.set(chunk.subarray(0, take), filled);
        filled += take;
        if (filled === HEADER_BYTES) decide();
      }
      controller.enqueue(chunk);
    },
    flush() {
      if (!decided) decide();
    },
  });
}
