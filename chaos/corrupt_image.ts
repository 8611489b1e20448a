/**
 * A corrupt image: the object in S3 does not match its `.sha256` sidecar (Proxmox checks the
 * digest of what it downloads). Every location of that image must end in Error naming the
 * mismatch, with nothing left on the platform, while the other images are unaffected. Then the
 * object is fixed, and (catalogue only, `repair: 1`) the retry after the failure backoff makes
 * it Available.
 */
import { createHash } from "node:crypto";
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import type { LocationStatus } from "../lib/image/status.ts";
import { baseline, type ChaosCase, retryApi, settle, withOperator } from "./_case.ts";
import { converge } from "./_check.ts";
import {
  BUCKET,
  flatcarVersion,
  imageNameFor,
  imageSpecName,
  proxmoxRelease,
  qcow2Image,
} from "./_env.ts";

interface Params {
  /** 1: fix the object afterwards and wait for the retry (the default 30 s failure backoff). */
  repair: number;
}

const CORRUPT = flatcarVersion(9);

export const corruptImage: ChaosCase<Params> = {
  name: "corrupt-image",
  summary: "an image whose bytes do not match its .sha256 digest",
  defaults: { repair: 1 },
  quick: { repair: 0 },
  run: (p) =>
    withOperator({}, async (running) => {
      const { env } = running;
      const good = qcow2Image(65_536);
      const digest = createHash("sha256").update(good).digest("hex");
      const key = await env.putImage(imageSpecName(CORRUPT), good);
      // The sidecar describes the good image; the object then gets one byte changed.
      const file = key.slice(key.lastIndexOf("/") + 1);
      await env.s3.put(
        BUCKET,
        `${key}.sha256`,
        new TextEncoder().encode(`${digest}  ${file}\n`),
      );
      const corrupt = good.slice();
      corrupt[corrupt.length - 1] ^= 0xff;
      await env.putImage(imageSpecName(CORRUPT), corrupt);
      const b = await baseline(running);
      for (
        const [name, flatcar] of [["proxmox-1.0.0", CORRUPT], ["proxmox-1.1.0", flatcarVersion(0)]]
      ) {
        await retryApi(
          () => env.releases.create(proxmoxRelease(name, flatcar)),
          AlreadyExistsError,
        );
      }
      const broken = imageNameFor(CORRUPT);
      await converge(env, { ...running.check, failing: new Set([broken]), deadlineMs: 120_000 });
      const image = await env.nodeImages.get(broken, "giantswarm");
      const messages = (image.status?.locations as LocationStatus[]).map((l) => l.message ?? "");
      if (!messages.every((m) => /checksum|digest|sha256/i.test(m))) {
        throw new Error(`Error messages do not name the digest mismatch: ${messages.join(" | ")}`);
      }
      const figures = { "time to Error (s)": Math.round((performance.now() - b.at) / 100) / 10 };
      if (!p.repair) return figures;
      await env.putImage(imageSpecName(CORRUPT), good);
      return { ...figures, ...await settle(running, b) };
    }),
};
