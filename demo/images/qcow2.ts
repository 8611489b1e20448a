/**
 * A qcow2 image of a given file size: a valid version 3 header (magic `QFI\xfb`, 64 KiB
 * clusters, the virtual size, no backing file, refcount order 4, header length 104), then
 * incompressible bytes as if clusters were allocated. Readers that check the header (ours,
 * `qemu-img info` up to the tables) accept it; it would not boot.
 */
import { fillPseudoRandom } from "./filler.ts";

export const QCOW2_MAGIC = new Uint8Array([0x51, 0x46, 0x49, 0xfb]);
const HEADER_LENGTH = 104;

export interface Qcow2Options {
  /** Size of the file in bytes (at least one 512-byte header block). */
  fileBytes: number;
  /** Virtual disk size, default 8 GiB. */
  virtualBytes?: number;
  seed?: number;
}

/** The image's bytes. */
export function qcow2Image(options: Qcow2Options): Uint8Array {
  const out = new Uint8Array(Math.max(512, options.fileBytes));
  const view = new DataView(out.buffer);
  out.set(QCOW2_MAGIC, 0);
  view.setUint32(4, 3); // version
  view.setBigUint64(8, 0n); // no backing file
  view.setUint32(20, 16); // cluster_bits: 64 KiB
  view.setBigUint64(24, BigInt(options.virtualBytes ?? 8 * 2 ** 30));
  view.setUint32(32, 0); // no encryption
  view.setUint32(96, 4); // refcount_order: 16-bit refcounts
  view.setUint32(100, HEADER_LENGTH);
  fillPseudoRandom(out.subarray(512), options.seed ?? 2);
  return out;
}
