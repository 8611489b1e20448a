/**
 * The fault catalogue's world: the fake API server with `crds/` (or a modified copy) and the
 * NodeImage namespace, a local S3 (s3rver) holding the images at the Go operator's keys, and the
 * fake Proxmox over HTTPS with two nodes (the platform the API-server cases run against), plus a
 * values.yaml that configures the operator for all of it with secrets the checker hunts for.
 *
 * The other platforms (fake VCD, vcsim) are started by the cases that need them and add their
 * section through `extraValues`.
 *
 * Guarantees: every object change is observed through the fake API server's commit hook (which
 * no injected API fault can blind), so a Release registered into a Terminating NodeImage is caught
 * whenever it happens, not only if it is still visible at the end.
 */
import { stringify as toYaml } from "yaml";
import { ResourceClient } from "../lib/kube/client.ts";
import { EVENTS, type KubeEvent } from "../lib/kube/events.ts";
import { NAMESPACES } from "../lib/kube/resource.ts";
import type { KubeConfigTransport, KubeRequest, KubeTransport } from "../lib/kube/transport.ts";
import { NODE_IMAGES, RELEASES } from "../lib/names.ts";
import type { NodeImage, Release } from "../lib/release/objects.ts";
import { s3KeyFor } from "../lib/release/derive.ts";
import { FakeApiServer, loadCrdDir } from "../tests/fake_apiserver/mod.ts";
import { FakeProxmox, type FakeProxmoxOptions } from "../tests/proxmox/fake_proxmox/mod.ts";
import { release, TEST_NAMESPACE } from "../tests/support/builders.ts";
import { concatBytes, qcow2 } from "../tests/support/images.ts";
import { layoutFor } from "../tests/support/provider_configs.ts";
import { type S3rver, S3RVER_KEYS, startS3rver } from "../tests/support/s3rver.ts";
import { opensslAvailable, type TestPki, testPki } from "../tests/support/tls.ts";

export const CRD_DIR = new URL("../crds", import.meta.url).pathname;
export const NAMESPACE = TEST_NAMESPACE;
export const BUCKET = "chaos-images";
/** Proxmox nodes, and the location on each. */
export const PVE_LOCATIONS: Record<string, string> = { "pve-a": "pve1", "pve-b": "pve2" };

/** A fixed, distinctive secret per run: found anywhere it must not be means a leak. */
function secretValue(what: string): string {
  return `chaos-${what}-${crypto.randomUUID()}`;
}

/** The NodeImage name of the image built from flatcar `version` (other components fixed). */
export function imageNameFor(flatcar: string, provider = "capmox"): string {
  return `${provider}-${imageSpecName(flatcar)}`;
}

/** `spec.name` of that NodeImage: the catalog name of the image. */
export function imageSpecName(flatcar: string): string {
  return `flatcar-stable-${flatcar}-kube-1.35.6-tooling-1.32.1-gs`;
}

/** The flatcar versions the catalogue uses: `4593.2.<n>`. */
export function flatcarVersion(n: number): string {
  return `4593.2.${n}`;
}

/** A Proxmox Release (`proxmox-0.<minor>.<patch>`) using flatcar `flatcar`. */
export function proxmoxRelease(name: string, flatcar: string): Release {
  return release(name).withoutComponent("cluster-vsphere")
    .withComponent("cluster-proxmox", "0.9.0").withFlatcar(flatcar).build();
}

export interface EnvOptions {
  /** CRDs to install instead of `crds/` (e.g. a relaxed Release CRD). */
  crds?: unknown[];
  /** Flatcar versions whose qcow2 image is put in S3 (default 4593.2.0 … 4593.2.4). */
  flatcarVersions?: string[];
  /** Task run time of the fake Proxmox, ms, for all or per task type (a transfer's length). */
  taskDurationMs?: FakeProxmoxOptions["taskDurationMs"];
  /** Bytes of each qcow2 image (default 64 KiB). */
  imageBytes?: number;
}

/** Everything a case runs against; `close()` when done. */
export class ChaosEnv {
  readonly api: FakeApiServer;
  readonly s3: S3rver;
  readonly pki: TestPki;
  readonly proxmox: FakeProxmox;
  readonly dir: string;
  readonly kubeconfig: string;
  readonly transport: KubeConfigTransport;
  /** Requests the catalogue itself (driver and checker) sent, to tell them from the operator's. */
  ownRequests = 0;
  readonly releases: ResourceClient<Release>;
  readonly nodeImages: ResourceClient<NodeImage>;
  readonly events: ResourceClient<KubeEvent>;
  /** Secrets configured for the operator, by what they are (platforms a case adds add theirs). */
  readonly secrets: Record<string, string>;
  /** Sections a case added to values.yaml (another platform). */
  extraValues: Record<string, unknown> = {};
  /** Every time a Terminating NodeImage gained a Release, as `image: +release`. */
  readonly dyingRegistrations: string[] = [];
  readonly #unsubscribe: () => void;
  readonly #closers: (() => Promise<void> | void)[] = [];

  private constructor(fields: {
    api: FakeApiServer;
    s3: S3rver;
    pki: TestPki;
    proxmox: FakeProxmox;
    dir: string;
    secrets: Record<string, string>;
  }) {
    this.api = fields.api;
    this.s3 = fields.s3;
    this.pki = fields.pki;
    this.proxmox = fields.proxmox;
    this.dir = fields.dir;
    this.secrets = fields.secrets;
    this.kubeconfig = `${this.dir}/kubeconfig`;
    this.transport = this.api.transport();
    const counting: KubeTransport = {
      server: this.transport.server,
      fetch: (request: KubeRequest) => {
        this.ownRequests += 1;
        return this.transport.fetch(request);
      },
    };
    this.releases = new ResourceClient<Release>(counting, RELEASES);
    this.nodeImages = new ResourceClient<NodeImage>(counting, NODE_IMAGES);
    this.events = new ResourceClient<KubeEvent>(counting, EVENTS);
    this.#unsubscribe = this.api.onCommit((event) => {
      if (event.type !== "MODIFIED" || !event.storageKey.includes("nodeimages")) return;
      const now = event.object as NodeImage;
      if (!now.metadata.deletionTimestamp) return;
      const before = new Set((event.previous as NodeImage | undefined)?.status?.releases ?? []);
      for (const name of now.status?.releases ?? []) {
        if (!before.has(name)) this.dyingRegistrations.push(`${now.metadata.name}: +${name}`);
      }
    });
  }

  static async start(options: EnvOptions = {}): Promise<ChaosEnv> {
    if (!opensslAvailable()) throw new Error("The fault catalogue needs openssl (for the PKI)");
    const dir = await Deno.makeTempDir({ prefix: "chaos-" });
    const secrets = {
      proxmoxToken: secretValue("pve-token"),
      s3SecretKey: secretValue("s3-key"),
    };
    const crds = options.crds ?? await loadCrdDir(CRD_DIR);
    const api = await FakeApiServer.start({ crds });
    const s3 = await startS3rver();
    const pki = await testPki();
    const proxmox = await FakeProxmox.start({
      nodes: Object.values(PVE_LOCATIONS),
      tls: { cert: pki.serverCert, key: pki.serverKey },
      tokens: [{ user: "root@pam", tokenId: "chaos", secret: secrets.proxmoxToken }],
      taskDurationMs: options.taskDurationMs ?? 0,
    });
    const env = new ChaosEnv({ api, s3, pki, proxmox, dir, secrets });
    await api.writeKubeconfig(env.kubeconfig);
    await new ResourceClient(env.transport, NAMESPACES).create({ metadata: { name: NAMESPACE } });
    await s3.createBucket(BUCKET);
    const versions = options.flatcarVersions ?? [0, 1, 2, 3, 4].map(flatcarVersion);
    for (const version of versions) {
      await env.putImage(imageSpecName(version), qcow2Image(options.imageBytes ?? 65_536));
    }
    await Deno.writeTextFile(
      `${dir}/s3-credentials.yaml`,
      toYaml({ accessKeyId: S3RVER_KEYS.accessKeyId, secretAccessKey: secrets.s3SecretKey }),
    );
    await env.writeValues();
    return env;
  }

  /** Requests the operator(s) sent to the API server so far. */
  get operatorRequests(): number {
    return this.api.stats.total - this.ownRequests;
  }

  /** Uploads an image's object under the Go operator's key for `provider`. */
  async putImage(specName: string, bytes: Uint8Array, provider = "capmox"): Promise<string> {
    const key = s3KeyFor(specName, layoutFor(provider));
    await this.s3.put(BUCKET, key, bytes);
    return key;
  }

  get valuesPath(): string {
    return `${this.dir}/values.yaml`;
  }

  /** The values.yaml for the fakes; `extra` adds or replaces top-level sections. */
  values(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      s3: {
        bucket: BUCKET,
        region: "us-east-1",
        http: true,
        endpoint: this.s3.endpoint,
        credentialsFile: `${this.dir}/s3-credentials.yaml`,
      },
      imageRetentionPeriod: "0s",
      proxmox: {
        enabled: true,
        credentials: {
          url: this.proxmox.host,
          user: "root",
          realm: "pam",
          tokenId: "chaos",
          secret: this.secrets.proxmoxToken,
          caCert: this.pki.caCert,
        },
        locations: Object.fromEntries(
          Object.entries(PVE_LOCATIONS).map(([name, node]) => [name, {
            node,
            storagePool: "local-lvm",
            importStorage: "local",
            bridge: "vmbr0",
          }]),
        ),
      },
      ...this.extraValues,
      ...extra,
    };
  }

  async writeValues(extra: Record<string, unknown> = {}): Promise<void> {
    await Deno.writeTextFile(this.valuesPath, toYaml(this.values(extra)));
  }

  /** Runs `fn` at close (platform fakes a case started). */
  onClose(fn: () => Promise<void> | void): void {
    this.#closers.push(fn);
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    for (const fn of this.#closers.reverse()) await fn();
    this.transport.close();
    await this.api.close();
    await this.proxmox.close();
    await this.s3.stop();
    await Deno.remove(this.pki.dir, { recursive: true }).catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** A valid qcow2 of `size` bytes (header, then zeros). */
export function qcow2Image(size: number): Uint8Array {
  const header = qcow2().build();
  return concatBytes([header, new Uint8Array(Math.max(0, size - header.byteLength))]);
}
