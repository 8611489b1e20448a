/**
 * Deterministic incompressible bytes (xorshift32), so generated disks look like compressed
 * grains to anything that samples them, and the same options always give the same image.
 */

/** Fills `target` with pseudo-random bytes from `seed`. */
export function fillPseudoRandom(target: Uint8Array, seed: number): void {
  let x = (seed >>> 0) || 0x9e3779b9;
  // Word-wise where the view is aligned (64 MiB/s → ~1 GiB/s), byte-wise for the rest.
  const aligned = target.byteOffset % 4 === 0;
  const words = aligned
    ? new Uint32Array(target.buffer, target.byteOffset, target.byteLength >>> 2)
    : new Uint32Array(0);
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < target.byteLength; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    target[i] = x & 0xff;
  }
}
