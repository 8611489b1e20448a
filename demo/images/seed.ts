/**
 * The images the sample Releases need, at the keys the operator derives (the Go operator's
 * bucket layout: `capmox/<image>/<base>.qcow2`, `capv/<image>/<base>.ova` for vSphere and VCD
 * alike), generated at the requested size.
 */
import { deriveNodeImage } from "../../lib/release/derive.ts";
import { releaseNaming } from "../../lib/release/naming.ts";
import { PROVIDER_MODULES } from "../../providers/mod.ts";
import type { SampleRelease } from "../releases.ts";
import { ovaImage } from "./ova.ts";
import { qcow2Image } from "./qcow2.ts";

const NAMING = releaseNaming(PROVIDER_MODULES);

/** The NodeImage a Release maps to, and the S3 key of its image. */
export function nodeImageOf(release: SampleRelease): { name: string; s3Key: string } {
  const derived = deriveNodeImage(release, { naming: NAMING });
  return { name: derived.objectName, s3Key: derived.s3Key };
}

/** An object to put in the bucket. */
export interface SeedObject {
  key: string;
  bytes: Uint8Array;
}

/** One object per distinct key the Releases need (OVA or qcow2 by extension). */
export function seedObjects(releases: readonly SampleRelease[], imageBytes: number): SeedObject[] {
  const keys = [...new Set(releases.map((r) => nodeImageOf(r).s3Key))].sort();
  return keys.map((key, index) => {
    const file = key.slice(key.lastIndexOf("/") + 1);
    const base = file.replace(/\.(ova|qcow2)$/, "");
    if (file.endsWith(".qcow2")) {
      return { key, bytes: qcow2Image({ fileBytes: imageBytes, seed: index + 1 }) };
    }
    return {
      key,
      bytes: ovaImage({ baseName: base, totalBytes: imageBytes, seed: index + 1 }).bytes,
    };
  });
}
