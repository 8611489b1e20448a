import assert from "node:assert/strict";
import { ConfigError, parseOperatorConfig } from "../../lib/config/mod.ts";
import { Logger } from "../../lib/log.ts";
import { vcd } from "../../providers/vcd/mod.ts";
import { capvcdOf, PROVIDER_MODULES } from "../support/provider_configs.ts";

const CREDENTIALS =
  "  credentials: {url: https://vcd.example.com, username: u, password: p, org: o}\n";

function parse(text: string) {
  return capvcdOf(parseOperatorConfig(text, "values.yaml", PROVIDER_MODULES))!;
}

function issuesOf(text: string): string[] {
  try {
    parseOperatorConfig(text, "values.yaml", PROVIDER_MODULES);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
  }
  assert.fail("the config was accepted");
}

Deno.test("the Go operator's single location object is one named location; its org is kept aside", () => {
  const config = parse(
    `vcd:\n${CREDENTIALS}  locations: {name: dc1, org: other, vdc: v, catalog: c}\n`,
  );
  assert.deepEqual(config.locations, {
    dc1: { vdc: "v", catalog: "c", hardwareVersion: 19, storageProfile: "", org: "other" },
  });
  assert.equal(config.downloadDir, undefined, "no downloadDir given");
  assert.equal(config.uploadPieceBytes, 64 * 1024 * 1024);
});

Deno.test("a map of named locations, with storage profiles and hardware versions", () => {
  const config = parse(
    `vcd:\n${CREDENTIALS}  uploadPieceSizeMiB: 16\n  locations:\n` +
      `    a: {vdc: v1, catalog: c1}\n    b: {vdc: v2, catalog: c2, storageProfile: fast, hardwareVersion: 0}\n`,
  );
  assert.deepEqual(Object.keys(config.locations), ["a", "b"]);
  assert.deepEqual(config.locations.b, {
    vdc: "v2",
    catalog: "c2",
    hardwareVersion: 0,
    storageProfile: "fast",
  });
  assert.equal(config.uploadPieceBytes, 16 * 1024 * 1024);
});

Deno.test("an API token replaces username and password; a CA bundle is kept", () => {
  const ca = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n";
  const config = parse(
    `vcd:\n  credentials: {url: https://vcd, org: o, refreshToken: tok, caCert: "${ca}"}\n` +
      `  locations: {name: n, vdc: v, catalog: c}\n`,
  );
  assert.equal(config.credentials.refreshToken?.reveal(), "tok");
  assert.equal(config.credentials.password.reveal(), "");
  assert.match(config.credentials.caCert ?? "", /BEGIN CERTIFICATE/);
});

Deno.test("invalid VCD settings name their field", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "no password and no token",
      `vcd:\n  credentials: {url: https://vcd, username: u, org: o}\n  locations: {name: n, vdc: v, catalog: c}\n`,
      /^vcd\.credentials\.password: required$/,
    ],
    [
      "both a password and a token",
      `vcd:\n  credentials: {url: https://vcd, username: u, password: p, refreshToken: t, org: o}\n` +
      `  locations: {name: n, vdc: v, catalog: c}\n`,
      /^vcd\.credentials\.refreshToken: give either password or refreshToken, not both$/,
    ],
    [
      "a CA bundle that is not PEM",
      `vcd:\n  credentials: {url: https://vcd, username: u, password: p, org: o, caCert: nope}\n` +
      `  locations: {name: n, vdc: v, catalog: c}\n`,
      /^vcd\.credentials\.caCert: expected PEM/,
    ],
    [
      "a map location without a catalog",
      `vcd:\n${CREDENTIALS}  locations:\n    a: {vdc: v}\n`,
      /^vcd\.locations\.a\.catalog: required$/,
    ],
    [
      "a piece size of 0",
      `vcd:\n${CREDENTIALS}  uploadPieceSizeMiB: 0\n  locations: {name: n, vdc: v, catalog: c}\n`,
      /^vcd\.uploadPieceSizeMiB: must be between 1 and 4096, got 0$/,
    ],
  ];
  for (const [name, text, issue] of cases) {
    await t.step(name, () => {
      const issues = issuesOf(text);
      assert.ok(issues.some((i) => issue.test(i)), issues.join("\n"));
    });
  }
});

Deno.test("building the client warns that downloadDir is ignored and when a location names another org", () => {
  const lines: string[] = [];
  const log = new Logger({ level: "warn", format: "json", sink: (line) => lines.push(line) });
  const config = parse(
    `vcd:\n  downloadDir: /tmp/images\n${CREDENTIALS}  locations: {name: n, org: other, vdc: v, catalog: c}\n`,
  );
  const provider = vcd.configure(config).create({ log });
  const messages = lines.map((l) => JSON.parse(l).msg as string);
  assert.ok(
    messages.some((m) => /downloadDir.*\/tmp\/images.*nothing is written to disk/.test(m)),
    messages.join("\n"),
  );
  assert.ok(
    messages.some((m) => /location "n" names org "other"; credentials\.org "o" is used/.test(m)),
  );
  return provider.close();
});
