/**
 * A minimal ustar writer: what `tar --format=ustar -cf x.ova a b c` produces for regular files,
 * which is how OVAs are packed (the OVF spec asks for plain ustar members in a fixed order).
 */

const BLOCK = 512;
const encoder = new TextEncoder();

/** One regular file of the archive. */
export interface TarFile {
  name: string;
  data: Uint8Array;
}

/** Bytes of the archive: each member's header and data (padded to 512), then two zero blocks. */
export function ustar(files: readonly TarFile[], mtimeSeconds = 1_767_225_600): Uint8Array {
  const size = files.reduce((n, f) => n + BLOCK + paddedLength(f.data.byteLength), 2 * BLOCK);
  const out = new Uint8Array(size);
  let at = 0;
  for (const file of files) {
    out.set(header(file.name, file.data.byteLength, mtimeSeconds), at);
    at += BLOCK;
    out.set(file.data, at);
    at += paddedLength(file.data.byteLength);
  }
  return out;
}

function paddedLength(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

function header(name: string, size: number, mtime: number): Uint8Array {
  if (encoder.encode(name).byteLength > 100) {
    throw new RangeError(`Cannot store "${name}" in a ustar header: names are at most 100 bytes`);
  }
  const block = new Uint8Array(BLOCK);
  const put = (text: string, at: number) => block.set(encoder.encode(text), at);
  const octal = (value: number, width: number) => value.toString(8).padStart(width - 1, "0") + "\0";
  put(name, 0);
  put(octal(0o644, 8), 100); // mode
  put(octal(0, 8), 108); // uid
  put(octal(0, 8), 116); // gid
  put(octal(size, 12), 124);
  put(octal(mtime, 12), 136);
  put("        ", 148); // checksum field counts as spaces while summing
  put("0", 156); // regular file
  put("ustar\0" + "00", 257);
  put("root", 265);
  put("root", 297);
  const sum = block.reduce((n, b) => n + b, 0);
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148);
  return block;
}
