/**
 * End-to-end set-up for VMware Cloud Director through the image controller: the fake VCD over
 * HTTPS (a throwaway PKI whose CA the provider trusts through `credentials.caCert`) with one org,
 * two VDCs and two catalogs, the real `createVcdProvider` in the real `ProviderRegistry` as
 * `main.ts` wires it, and the real `S3Resolver` over s3rver as the source the provider streams.
 */
import type { Logger } from "../../lib/log.ts";
import { Secret } from "../../lib/config/secret.ts";
import { type ConfiguredProvider, defineProvider } from "../../lib/provider_module.ts";
import {
  createVcdProvider,
  vcd,
  type VcdConfig,
  type VcdLocation,
  type VcdProviderOptions,
} from "../../providers/vcd/mod.ts";
import { type FakeTemplate, FakeVcd, type FakeVcdOptions } from "../vcd/fake_vcd/mod.ts";
import type { TestPki } from "../support/tls.ts";

export const ORG = "giantswarm";
export const USER = "image-operator";
/** Characters that break naive Basic-auth or URL handling: `:`, `@`, `/`, `%`, non-ASCII. */
export const PASSWORD = "p@ss:w0rd/%25ü&<x>";
export const API_TOKEN = "vcd-api-token-3f1d9a7e-REFRESH-SECRET";

/** Two locations: different VDCs and catalogs; the second asks for a named storage profile. */
export const LOCATIONS: Record<string, VcdLocation> = {
  "vcd-a": { vdc: "vdc-a", catalog: "catalog-a", hardwareVersion: 19, storageProfile: "" },
  "vcd-b": { vdc: "vdc-b", catalog: "catalog-b", hardwareVersion: 19, storageProfile: "fast" },
};
export const LOCATION_NAMES = Object.keys(LOCATIONS);
export const CATALOG_OF: Record<string, string> = { "vcd-a": "catalog-a", "vcd-b": "catalog-b" };

/** Bytes per ranged PUT in these tests: small, so every upload takes many pieces. */
export const PIECE_BYTES = 7_000;

/** The fake VCD over HTTPS with the org, VDCs, catalogs, user and API token above. */
export function startFakeVcd(
  pki: TestPki,
  options: Omit<FakeVcdOptions, "tls" | "orgs"> = {},
): Promise<FakeVcd> {
  return FakeVcd.start({
    ...options,
    tls: { cert: pki.serverCert, key: pki.serverKey },
    orgs: [{
      name: ORG,
      users: [{ name: USER, password: PASSWORD }],
      apiTokens: [{ user: USER, token: API_TOKEN }],
      vdcs: [
        { name: "vdc-a", profiles: [{ name: "standard", isDefault: true }] },
        { name: "vdc-b", profiles: [{ name: "standard", isDefault: true }, { name: "fast" }] },
      ],
      catalogs: [{ name: "catalog-a" }, { name: "catalog-b" }],
    }],
    timings: { descriptorDelayMs: 5, importDelayMs: 5, taskDelayMs: 2, ...options.timings },
  });
}

/** The `vcd` section for the fake: its URL, the PKI's CA, the password (or an API token). */
export function capvcdConfig(
  fake: FakeVcd,
  pki: TestPki,
  options: {
    password?: string;
    refreshToken?: string;
    locations?: Record<string, VcdLocation>;
  } = {},
): VcdConfig {
  const token = options.refreshToken;
  return {
    sessionRefreshThresholdMs: 20 * 3_600_000,
    uploadPieceBytes: 64 * 1024 * 1024,
    credentials: {
      url: `${fake.url}/api`,
      username: token ? "" : USER,
      password: new Secret(token ? "" : options.password ?? PASSWORD),
      ...(token ? { refreshToken: new Secret(token) } : {}),
      org: ORG,
      insecure: false,
      caCert: pki.caCert,
    },
    locations: options.locations ?? LOCATIONS,
  };
}

/**
 * `main.ts`'s registry wiring for capvcd (the shipped module with `config`), with small pieces
 * and quick polling so the suite stays fast.
 */
export function capvcdWiring(
  config: VcdConfig,
  log?: Logger,
  options: VcdProviderOptions = {},
): { providers: Record<string, ConfiguredProvider> } {
  const fast = defineProvider<VcdConfig>({
    ...vcd,
    create: (c, deps) =>
      createVcdProvider(c, {
        logger: log ?? deps.log,
        clock: deps.clock,
        pieceBytes: PIECE_BYTES,
        pollDelaysMs: [2, 5, 10, 20],
        inventoryMaxAgeMs: 20,
        ...options,
      }),
  });
  return { providers: { capvcd: fast.configure(config) } };
}

/** The fake's templates as `catalog/name status`, sorted. */
export function templatesOf(fake: FakeVcd): string[] {
  return [...fake.state.templates.values()].map((t) =>
    `${catalogOf(fake, t)}/${t.name} ${t.status}`
  )
    .sort();
}

/** The template named `name` in `catalog`. */
export function templateIn(fake: FakeVcd, catalog: string, name: string): FakeTemplate | undefined {
  return fake.templates(catalog).find((t) => t.name === name);
}

/** Requests the fake answered whose method and path match. */
export function requestsTo(fake: FakeVcd, method: string, path: RegExp): number {
  return fake.requests.filter((r) => r.method === method && path.test(r.path)).length;
}

function catalogOf(fake: FakeVcd, template: FakeTemplate): string {
  for (const org of fake.state.orgs) {
    const catalog = org.catalogs.find((c) => c.id === template.catalogId);
    if (catalog) return catalog.name;
  }
  return "?";
}
