/**
 * Shared set-up for the Proxmox tests: a fixture file server standing in for S3, image sources,
 * a recording progress sink, and a harness that starts the fake Proxmox over HTTPS (throwaway
 * PKI) and a provider configured for it.
 */
import { createHash } from "node:crypto";
import type { ProxmoxConfig, ProxmoxLocation } from "../../providers/proxmox/config.ts";
import { PROXMOX_VM_DEFAULTS } from "../../providers/proxmox/config.ts";
import { Secret } from "../../lib/config/secret.ts";
import type {
  ImageSource,
  ImageSpec,
  SourceDigest,
  TransferProgress,
} from "../../lib/image/provider.ts";
import {
  createProxmoxProvider,
  type ProxmoxProvider,
  type ProxmoxProviderOptions,
} from "../../providers/proxmox/mod.ts";
import { DEFAULT_TOKEN, FakeProxmox, type FakeProxmoxOptions } from "./fake_proxmox/mod.ts";
import type { TestPki } from "../support/tls.ts";

/** A 512-byte qcow2 header: magic `QFI\xfb`, version 3, zeros. */
export function qcow2Bytes(size = 512): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.set([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
  return bytes;
}

/** Bytes that are not a qcow2 image. */
export const GARBAGE = new TextEncoder().encode("this is not a disk image\n".repeat(20));

export interface FileServer {
  url(path: string): string;
  /** Paths requested so far. */
  readonly hits: string[];
  close(): Promise<void>;
}

/** Serves `files` (path → bytes) over plain HTTP on 127.0.0.1; other paths are 404. */
export function startFileServer(files: Record<string, Uint8Array>): FileServer {
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    hits.push(path);
    const bytes = files[path];
    return bytes
      ? new Response(bytes.slice(), { headers: { "content-type": "application/octet-stream" } })
      : new Response("NoSuchKey", { status: 404, statusText: "Not Found" });
  });
  return {
    url: (path) => `http://127.0.0.1:${server.addr.port}${path}`,
    hits,
    close: () => server.shutdown(),
  };
}

export const IMAGE_NAME = "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs";

export function image(name = IMAGE_NAME): ImageSpec {
  return { name, provider: "capmox", objectKey: `giantswarm/capmox-${name}` };
}

/** An `ImageSource` for a file on the fixture server (optionally with its digest). */
export function source(
  files: FileServer,
  path: string,
  options: { bytes?: Uint8Array; digest?: boolean | SourceDigest } = {},
): ImageSource {
  const bytes = options.bytes;
  let digest: SourceDigest | undefined;
  if (options.digest === true && bytes) {
    digest = { algorithm: "sha256", hex: createHash("sha256").update(bytes).digest("hex") };
  } else if (options.digest && options.digest !== true) {
    digest = options.digest;
  }
  return {
    key: path.slice(1),
    format: "qcow2",
    size: bytes?.length ?? 0,
    digest,
    url: () => Promise.resolve(files.url(path)),
    open: () => Promise.reject(new Error("the Proxmox provider must not stream the source")),
  };
}

/** A progress sink that records every call. */
export function recordingProgress(): TransferProgress & {
  phases: string[];
  references: string[];
  bytesSeen: number[];
} {
  const phases: string[] = [];
  const references: string[] = [];
  const bytesSeen: number[] = [];
  return {
    phases,
    references,
    bytesSeen,
    phase: (p) => phases.push(p),
    reference: (r) => references.push(r),
    bytes: (done) => bytesSeen.push(done),
  };
}

export function location(node: string, overrides: Partial<ProxmoxLocation> = {}): ProxmoxLocation {
  return {
    node,
    storagePool: "local-lvm",
    importStorage: "local",
    bridge: "vmbr0",
    vm: { ...PROXMOX_VM_DEFAULTS },
    ...overrides,
  };
}

export function proxmoxConfig(
  host: string,
  locations: Record<string, ProxmoxLocation>,
  overrides: { secret?: string; caCert?: string; insecure?: boolean; tokenId?: string } = {},
): ProxmoxConfig {
  return {
    credentials: {
      url: host,
      user: "root",
      realm: "pam",
      tokenId: overrides.tokenId ?? DEFAULT_TOKEN.tokenId,
      secret: new Secret(overrides.secret ?? DEFAULT_TOKEN.secret),
      insecure: overrides.insecure ?? false,
      ...(overrides.caCert ? { caCert: overrides.caCert } : {}),
    },
    locations,
  };
}

export interface Harness {
  fake: FakeProxmox;
  files: FileServer;
  provider: ProxmoxProvider;
  /** A fresh never-aborted signal. */
  signal: AbortSignal;
  close(): Promise<void>;
}

/**
 * The fake (HTTPS with `pki`), a file server with `/good.qcow2` and `/garbage.qcow2`, and a
 * provider with fast task polling, for `locations` (default: `l1` on `pve1`).
 */
export async function harness(
  pki: TestPki,
  options: {
    fake?: Omit<FakeProxmoxOptions, "tls">;
    locations?: Record<string, ProxmoxLocation>;
    provider?: ProxmoxProviderOptions;
  } = {},
): Promise<Harness> {
  const locations = options.locations ?? { l1: location("pve1") };
  const nodes = options.fake?.nodes ??
    [...new Set(Object.values(locations).map((l) => l.node))];
  const fake = await FakeProxmox.start({
    ...options.fake,
    nodes,
    tls: { cert: pki.serverCert, key: pki.serverKey },
  });
  const files = startFileServer({ "/good.qcow2": qcow2Bytes(), "/garbage.qcow2": GARBAGE });
  const provider = createProxmoxProvider(
    proxmoxConfig(fake.host, locations, { caCert: pki.caCert }),
    { taskDelaysMs: [1, 2, 5], inventoryMaxAgeMs: 60_000, ...options.provider },
  );
  return {
    fake,
    files,
    provider,
    signal: new AbortController().signal,
    close: async () => {
      await provider.close();
      await files.close();
      await fake.close();
    },
  };
}

/** VMs in the fake, as `node/vmid name template` strings, for compact assertions. */
export function vmSummary(fake: FakeProxmox): string[] {
  return [...fake.cluster.vms.values()].map((vm) =>
    `${vm.node}/${vm.vmid} ${vm.config.name ?? "-"}${vm.config.template === "1" ? " template" : ""}`
  );
}
