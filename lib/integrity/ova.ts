/**
 * OVA verification while streaming: reads the tar structure on the fly, finds the `.mf` manifest
 * and checks every member it lists against its digest.
 *
 * The manifest normally follows the `.ovf` and precedes the disks, so members after it are hashed
 * once with the algorithm it names. Members that pass before it (usually just the `.ovf`) are
 * hashed with every supported algorithm and compared when the manifest arrives; an OVA that puts
 * its manifest last therefore costs three hashes per byte, but is still verified.
 *
 * Guarantees:
 * - A member whose digest differs errors the stream as soon as that member ends (or the manifest
 *   arrives), naming the member and both digests; later bytes are not passed on.
 * - A member the manifest lists but the OVA lacks, a malformed tar or manifest, and a stream that
 *   stops inside a member all error the stream with `IntegrityError`.
 * - An OVA without a manifest passes and is logged as "no manifest".
 * Caveats: members not listed in the manifest (other than `.mf`/`.cert`) are reported in the log,
 * not rejected; the `.cert` signature itself is not checked.
 */
import type { Hash } from "node:crypto";
import { IntegrityError, type SourceDigest } from "../image/provider.ts";
import { createHasher, type DigestAlgorithm } from "./digest.ts";
import { MAX_MANIFEST_BYTES, type OvaManifest, parseOvaManifest } from "./ova_manifest.ts";
import { type TarEntry, type TarHandler, TarReader } from "./_tar.ts";
import type { VerifierOptions } from "./verification_log.ts";

const ALL_ALGORITHMS: readonly DigestAlgorithm[] = ["sha256", "sha1", "sha512"];

/** Regular-file type flags (old tar "\0", ustar "0", contiguous "7"). */
function isRegular(entry: TarEntry): boolean {
  return entry.type === "" || entry.type === "0" || entry.type === "7";
}

/** Manifest names are relative to the archive root; some tools store `./name`. */
function memberName(entry: TarEntry): string {
  return entry.name.replace(/^(\.\/)+/, "");
}

class OvaChecker implements TarHandler {
  readonly #subject: string;
  #manifestName?: string;
  #manifest?: OvaManifest;
  #manifestBytes: Uint8Array[] = [];
  #current?: { name: string; kind: "manifest" | "hash"; hashes: Map<DigestAlgorithm, Hash> };
  /** Digests of members that passed before the manifest, by every algorithm. */
  readonly #early = new Map<string, Map<DigestAlgorithm, string>>();
  readonly #verified = new Set<string>();
  readonly #algorithmsUsed = new Set<DigestAlgorithm>();
  readonly #unlisted: string[] = [];
  #members = 0;

  constructor(subject: string) {
    this.#subject = subject;
  }

  entry(entry: TarEntry): void {
    this.#current = undefined;
    if (!isRegular(entry)) return;
    const name = memberName(entry);
    this.#members++;
    if (this.#manifestName === undefined && name.endsWith(".mf")) {
      if (entry.size > MAX_MANIFEST_BYTES) {
        throw new IntegrityError(
          `Malformed OVA ${this.#subject}: manifest "${name}" is ${entry.size} bytes, ` +
            `more than ${MAX_MANIFEST_BYTES}`,
        );
      }
      this.#manifestName = name;
      this.#current = { name, kind: "manifest", hashes: new Map() };
      return;
    }
    const algorithms = this.#algorithmsFor(name);
    const hashes = new Map(algorithms.map((a) => [a, createHasher(a)] as const));
    this.#current = { name, kind: "hash", hashes };
  }

  data(chunk: Uint8Array): void {
    const current = this.#current;
    if (!current) return;
    if (current.kind === "manifest") this.#manifestBytes.push(chunk.slice());
    else for (const hash of current.hashes.values()) hash.update(chunk);
  }

  entryEnd(): void {
    const current = this.#current;
    this.#current = undefined;
    if (!current) return;
    if (current.kind === "manifest") {
      this.#onManifest(new TextDecoder().decode(concat(this.#manifestBytes)));
      this.#manifestBytes = [];
      return;
    }
    const digests = new Map([...current.hashes].map(([a, h]) => [a, h.digest("hex")] as const));
    if (this.#manifest) this.#check(current.name, digests);
    else this.#early.set(current.name, digests);
  }

  /** Called after the tar ended cleanly; returns the log statement. */
  finish(): string {
    if (this.#members === 0) {
      throw new IntegrityError(`Malformed OVA ${this.#subject}: the archive has no files`);
    }
    if (!this.#manifest) return `no manifest (${this.#members} members)`;
    const missing = [...this.#manifest.keys()].filter((name) => !this.#verified.has(name));
    if (missing.length > 0) {
      throw new IntegrityError(
        `Manifest mismatch in ${this.#subject}: ${this.#manifestName} lists ` +
          `${missing.map((m) => `"${m}"`).join(", ")}, not found in the OVA`,
      );
    }
    const algorithms = [...this.#algorithmsUsed].sort().join("/");
    const files = this.#verified.size === 1 ? "1 file" : `${this.#verified.size} files`;
    const unlisted = this.#unlisted.length > 0
      ? `, not in manifest: ${this.#unlisted.join(", ")}`
      : "";
    return `manifest ${algorithms} of ${files} ok${unlisted}`;
  }

  #algorithmsFor(name: string): readonly DigestAlgorithm[] {
    if (!this.#manifest) return ALL_ALGORITHMS;
    const listed = this.#manifest.get(name);
    if (!listed) {
      this.#noteUnlisted(name);
      return [];
    }
    return [listed.algorithm];
  }

  #noteUnlisted(name: string): void {
    if (!name.endsWith(".cert")) this.#unlisted.push(name);
  }

  #onManifest(text: string): void {
    const manifest = parseOvaManifest(text, `${this.#manifestName} in ${this.#subject}`);
    this.#manifest = manifest;
    for (const [name, digests] of this.#early) {
      if (manifest.has(name)) this.#check(name, digests);
      else this.#noteUnlisted(name);
    }
    this.#early.clear();
  }

  #check(name: string, digests: Map<DigestAlgorithm, string>): void {
    const expected: SourceDigest | undefined = this.#manifest!.get(name);
    if (!expected) return; // unlisted, already noted when its hashing was decided
    const actual = digests.get(expected.algorithm);
    if (actual !== expected.hex) {
      throw new IntegrityError(
        `Manifest mismatch in ${this.#subject}: member "${name}" ${expected.algorithm} ` +
          `expected ${expected.hex} (${this.#manifestName}), got ${actual}`,
      );
    }
    this.#verified.add(name);
    this.#algorithmsUsed.add(expected.algorithm);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * A pass-through stream that verifies an OVA's manifest on the way (see the module doc).
 * Logs e.g. `manifest sha256 of 2 files ok` or `no manifest (2 members)`.
 */
export function ovaManifestVerifier(
  options: VerifierOptions,
): TransformStream<Uint8Array, Uint8Array> {
  const checker = new OvaChecker(options.subject);
  const reader = new TarReader(checker, options.subject);
  return new TransformStream({
    transform(chunk, controller) {
      // Verify first: a chunk that completes a bad member must not be passed on.
      reader.push(chunk);
      controller.enqueue(chunk);
    },
    flush() {
      reader.end();
      options.log?.add(checker.finish());
    },
  });
}
