/**
 * A VMDK that looks streamOptimized to every reader that checks: a valid `SparseExtentHeader`
 * (magic `KDMV`, version 3, compressed grains with markers, the grain directory at the end), the
 * embedded descriptor with `createType="streamOptimized"`, incompressible "grain" bytes, and the
 * end-of-stream marker. The grains are not real deflate data, so it would not boot: platforms
 * in the demo are fakes and only store and hash it.
 */
import { fillPseudoRandom } from "./filler.ts";

const SECTOR = 512;
/** Flags: valid newline test (bit 0), compressed grains (16), markers (17). */
const STREAM_OPTIMIZED_FLAGS = 0x1 | 0x10000 | 0x20000;
/** `GD_AT_END`: the grain directory follows the grains, as in a stream. */
const GD_AT_END = 0xffff_ffff_ffff_ffffn;

/** What the VMDK claims about its disk. */
export interface VmdkOptions {
  /** Size of the file in bytes (rounded up to whole sectors, at least 3 sectors). */
  fileBytes: number;
  /** Capacity of the virtual disk, default 8 GiB. */
  capacityBytes?: number;
  /** Name in the descriptor's extent line. */
  fileName: string;
  seed?: number;
}

/** The VMDK's bytes. */
export function streamOptimizedVmdk(options: VmdkOptions): Uint8Array {
  const sectors = Math.max(3, Math.ceil(options.fileBytes / SECTOR));
  const capacitySectors = BigInt(Math.ceil((options.capacityBytes ?? 8 * 2 ** 30) / SECTOR));
  const out = new Uint8Array(sectors * SECTOR);
  const view = new DataView(out.buffer);
  out.set([0x4b, 0x44, 0x4d, 0x56], 0); // "KDMV"
  view.setUint32(4, 3, true); // version
  view.setUint32(8, STREAM_OPTIMIZED_FLAGS, true);
  view.setBigUint64(12, capacitySectors, true);
  view.setBigUint64(20, 128n, true); // grain size: 64 KiB
  view.setBigUint64(28, 1n, true); // descriptor at sector 1
  view.setBigUint64(36, 1n, true); // one sector long
  view.setUint32(44, 512, true); // grain table entries per table
  view.setBigUint64(48, 0n, true); // no redundant grain directory
  view.setBigUint64(56, GD_AT_END, true);
  view.setBigUint64(64, 2n, true); // overhead: header and descriptor
  out.set([0, 0x0a, 0x20, 0x0d, 0x0a], 72); // clean shutdown, then the newline-test characters
  view.setUint16(77, 1, true); // deflate
  const descriptor = new TextEncoder().encode(descriptorText(options.fileName, capacitySectors));
  out.set(descriptor.subarray(0, SECTOR), SECTOR);
  // Grains from sector 2 up to the end-of-stream marker (a zero sector: size 0, type 0).
  fillPseudoRandom(out.subarray(2 * SECTOR, out.byteLength - SECTOR), options.seed ?? 1);
  return out;
}

function descriptorText(fileName: string, capacitySectors: bigint): string {
  return [
    "# Disk DescriptorFile",
    "version=1",
    "CID=fffffffe",
    "parentCID=ffffffff",
    'createType="streamOptimized"',
    "",
    "# Extent description",
    `RDONLY ${capacitySectors} SPARSE "${fileName}"`,
    "",
    "# The Disk Data Base",
    'ddb.adapterType = "lsilogic"',
    'ddb.virtualHWVersion = "4"',
    "",
  ].join("\n");
}
