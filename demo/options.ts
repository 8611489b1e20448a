/**
 * The demo's command line: `deno task demo [--image-size 4MiB] [--timeout 300s] [--keep]
 * [--providers proxmox,vcd,vsphere] [--real] [--retention 3s]`. Pure: arguments in, options or a
 * `RangeError` naming the flag and value out.
 */
import { parseArgs } from "node:util";
import { parseGoDuration } from "../lib/duration.ts";

/** Platforms in the order the demo shows them. */
export const PLATFORMS = ["proxmox", "vcd", "vsphere"] as const;
export type Platform = typeof PLATFORMS[number];

export interface DemoOptions {
  imageBytes: number;
  timeoutMs: number;
  keep: boolean;
  platforms: Platform[];
  /** The real etcd + kube-apiserver instead of the fake API server. */
  real: boolean;
  /** `--image-retention-period` handed to the operator. */
  retention: string;
  /** Where logs, values.yaml, kubeconfig and data go; undefined means `.tmp/demo`. */
  dir?: string;
  help: boolean;
}

export const USAGE = `Usage: deno task demo [flags]

Runs the operator end to end on this machine: an API server, a local S3 with generated images,
platform simulators, the operator; applies Releases, shows progress, deletes one, summarises.

  --image-size SIZE        size of each generated image, e.g. 4MiB, 512KiB, 1GiB (default 4MiB)
  --timeout DURATION       fail when the run takes longer (default 300s)
  --providers LIST         platforms to run: proxmox,vcd,vsphere (default all)
  --keep                   leave everything running at the end; Ctrl-C stops it
  --real                   use a real etcd + kube-apiserver (built by tools/kube-apiserver.sh)
  --retention DURATION     image retention period after a Release goes (default 3s)
  --dir DIR                logs, values.yaml, kubeconfig and data (default .tmp/demo; emptied first)
  --help                   show this help
`;

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/** `4MiB` → 4194304; `1.5GB` → 1500000000. */
export function parseSize(text: string, flag = "--image-size"): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new RangeError(
      `Cannot parse ${flag} "${text}": expected a number with an optional unit (KiB, MiB, GiB, kB, MB, GB)`,
    );
  }
  const bytes = Math.round(Number(match[1]) * unit);
  if (bytes < 4096) throw new RangeError(`Cannot use ${flag} "${text}": at least 4KiB is needed`);
  return bytes;
}

/** Parses the demo's arguments. */
export function parseDemoOptions(args: string[]): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        "image-size": { type: "string", default: "4MiB" },
        timeout: { type: "string", default: "300s" },
        providers: { type: "string", default: PLATFORMS.join(",") },
        keep: { type: "boolean", default: false },
        real: { type: "boolean", default: false },
        retention: { type: "string", default: "3s" },
        dir: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new RangeError((error as Error).message);
  }
  const platforms = values.providers.split(",").map((p) => p.trim()).filter(Boolean);
  const unknown = platforms.filter((p) => !(PLATFORMS as readonly string[]).includes(p));
  if (unknown.length || platforms.length === 0) {
    throw new RangeError(
      `Cannot use --providers "${values.providers}": expected some of ${PLATFORMS.join(",")}`,
    );
  }
  return {
    imageBytes: parseSize(values["image-size"]),
    timeoutMs: duration(values.timeout, "--timeout"),
    keep: values.keep,
    platforms: PLATFORMS.filter((p) => platforms.includes(p)),
    real: values.real,
    retention: (duration(values.retention, "--retention"), values.retention),
    dir: values.dir,
    help: values.help,
  };
}

function duration(text: string, flag: string): number {
  let ms: number;
  try {
    ms = parseGoDuration(/^\d+$/.test(text) ? `${text}s` : text);
  } catch (error) {
    throw new RangeError(`Cannot parse ${flag} "${text}": ${(error as Error).message}`);
  }
  if (ms <= 0) throw new RangeError(`Cannot use ${flag} "${text}": it must be positive`);
  return ms;
}
