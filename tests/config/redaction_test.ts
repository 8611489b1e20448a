import assert from "node:assert/strict";
import { ConfigError, parseOperatorConfig, Secret } from "../../lib/config/mod.ts";
import { capmoxOf, capvcdOf, capvOf, PROVIDER_MODULES } from "../support/provider_configs.ts";

// Distinct secrets, so a leak of any of them is found by a plain substring search.
const VSPHERE_PASSWORD = "vsphere-pw-Zq81";
const VCD_PASSWORD = "vcd-pw-Kx07";
const PROXMOX_SECRET = "pve-secret-Wm55";
const SECRETS = [VSPHERE_PASSWORD, VCD_PASSWORD, PROXMOX_SECRET];

const VALID = `
s3: {bucket: b, region: r}
imageRetentionPeriod: 24h
vsphere:
  credentials: {vcenter: vc, username: u, password: ${VSPHERE_PASSWORD}}
  locations:
    l1: {datacenter: dc, datastore: ds, folder: f, cluster: c}
vcd:
  credentials: {url: "https://vcd", username: u, password: ${VCD_PASSWORD}, org: o}
  locations: {name: n, vdc: v, catalog: c}
proxmox:
  credentials: {url: "pve:8006", user: u, tokenId: t, secret: ${PROXMOX_SECRET}}
  locations:
    l1: {node: n, storagePool: sp, bridge: b}
`;

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) {
    assert.ok(!text.includes(secret), `${where} leaks a secret: ${text}`);
  }
}

Deno.test("a Secret prints as [redacted] everywhere except reveal()", () => {
  const secret = new Secret("hunter2");
  assert.equal(secret.reveal(), "hunter2");
  assert.equal(String(secret), "[redacted]");
  assert.equal(`${secret}`, "[redacted]");
  assert.equal(JSON.stringify({ secret }), `{"secret":"[redacted]"}`);
  assert.equal(Deno.inspect({ secret }), `{ secret: [redacted] }`);
});

Deno.test("the redacted view, JSON, toString and inspect of the config hold no secret", async (t) => {
  const config = parseOperatorConfig(VALID, "values.yaml", PROVIDER_MODULES);
  await t.step("the secrets are still there for the clients", () => {
    assert.equal(capvOf(config)!.credentials.password.reveal(), VSPHERE_PASSWORD);
    assert.equal(capvcdOf(config)!.credentials.password.reveal(), VCD_PASSWORD);
    assert.equal(capmoxOf(config)!.credentials.secret.reveal(), PROXMOX_SECRET);
  });
  await t.step("redacted() marks each secret and keeps the rest", () => {
    const view = config.redacted();
    const at = (path: string) =>
      path.split(".").reduce((o: unknown, key) => (o as Record<string, unknown>)[key], view);
    assert.equal(at("providers.capv.credentials.password"), "[redacted]");
    assert.equal(at("providers.capvcd.credentials.password"), "[redacted]");
    assert.equal(at("providers.capmox.credentials.secret"), "[redacted]");
    assert.equal(at("providers.capv.credentials.username"), "u");
    assert.equal(at("imageRetentionPeriod"), "24h0m0s");
    assert.equal(at("s3.timeoutMs"), "1m30s");
    assert.equal(at("providers.capvcd.sessionRefreshThresholdMs"), "20h0m0s");
    assertNoSecret(JSON.stringify(view), "redacted()");
  });
  await t.step(
    "JSON.stringify of the config",
    () => assertNoSecret(JSON.stringify(config), "JSON"),
  );
  await t.step("String() of the config", () => {
    assert.equal(
      String(config),
      "OperatorConfig(values.yaml: providers capv, capvcd, capmox, retention 24h0m0s)",
    );
  });
  await t.step("Deno.inspect of the config and of a provider section", () => {
    assertNoSecret(Deno.inspect(config, { depth: 10 }), "inspect(config)");
    assertNoSecret(Deno.inspect(config.providers, { depth: 10 }), "inspect(providers)");
    assertNoSecret(JSON.stringify(config.providers), "JSON(providers)");
  });
});

Deno.test("no error message ever contains a configured secret", async (t) => {
  const broken: [string, string][] = [
    [
      "a secret of the wrong type",
      VALID.replace(`password: ${VSPHERE_PASSWORD}}`, `password: [${VSPHERE_PASSWORD}]}`),
    ],
    [
      "a secret as a mapping",
      VALID.replace(`secret: ${PROXMOX_SECRET}}`, `secret: {${PROXMOX_SECRET}: 1}}`),
    ],
    ["another field invalid next to the secrets", VALID.replace("username: u,", "username: [u],")],
    [
      "a YAML syntax error on the secret's line",
      VALID.replace(`password: ${VCD_PASSWORD}, org: o}`, `password: ${VCD_PASSWORD}, org: o`),
    ],
    ["a duplicate key next to a secret", VALID + `proxmox: {}\n`],
    ["a scheme in a URL next to a secret", VALID.replace(`url: "pve:8006"`, `url: "https://pve"`)],
  ];
  for (const [name, text] of broken) {
    await t.step(name, () => {
      let caught: unknown;
      try {
        parseOperatorConfig(text, "values.yaml", PROVIDER_MODULES);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${caught}`);
      assertNoSecret(caught.message, "message");
      assertNoSecret(caught.stack ?? "", "stack");
      assertNoSecret(JSON.stringify(caught.issues), "issues");
      assertNoSecret(Deno.inspect(caught, { depth: 10 }), "inspect(error)");
    });
  }
});
