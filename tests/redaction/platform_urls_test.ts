/**
 * Issue 15 defect 1: a password in a platform URL must never be accepted, and any URL that
 * reaches a log line, an Event, a status message or `/readyz` goes through `lib/redact.ts`,
 * whatever produced the message (a platform's error text, a task log, an exception).
 */
import assert from "node:assert/strict";
import { ConfigError, parseOperatorConfig } from "../../lib/config/mod.ts";
import { Logger } from "../../lib/log.ts";
import { errorMessage } from "../../lib/redact.ts";
import { renderReport } from "../../lib/server/health_checks.ts";
import { PROVIDER_MODULES } from "../support/provider_configs.ts";

const PASSWORD = "hunter2-in-url";

function refusal(text: string): ConfigError {
  try {
    parseOperatorConfig(text, "values.yaml", PROVIDER_MODULES);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail("a URL with user info was accepted");
}

Deno.test("user info in any platform or S3 URL is refused at load without quoting it", async (t) => {
  const cases: [string, string, string][] = [
    [
      "proxmox.credentials.url",
      `proxmox:\n  credentials: {url: "root:${PASSWORD}@pve:8006", user: u, tokenId: t, secret: s}\n` +
      "  locations: {l1: {node: n, storagePool: sp, bridge: b}}\n",
      "proxmox.credentials.url",
    ],
    [
      "vcd.credentials.url",
      `vcd:\n  credentials: {url: "https://admin:${PASSWORD}@vcd.example.com", username: u, ` +
      "password: p, org: o}\n  locations: {name: n, vdc: v, catalog: c}\n",
      "vcd.credentials.url",
    ],
    [
      "vsphere.credentials.vcenter",
      `vsphere:\n  credentials: {vcenter: "admin:${PASSWORD}@vc.example.com", username: u, ` +
      "password: p}\n  locations: {}\n",
      "vsphere.credentials.vcenter",
    ],
    [
      "s3.endpoint",
      `s3: {bucket: b, endpoint: "http://key:${PASSWORD}@minio:9000"}\n`,
      "s3.endpoint",
    ],
  ];
  for (const [name, text, path] of cases) {
    await t.step(name, () => {
      const error = refusal(text);
      assert.ok(
        error.issues.some((i) => i.path === path && /user info/.test(i.message)),
        error.message,
      );
      assert.ok(!error.message.includes(PASSWORD), error.message);
    });
  }
});

Deno.test("log lines lose userinfo and queries of every URL, in the message and in any field", () => {
  const lines: string[] = [];
  const log = new Logger({ sink: (line) => lines.push(line) });
  log.error(`GET https://op:${PASSWORD}@vc.example.com/sdk failed`, {
    error: new Error(`download of https://b.s3.example.com/k?X-Amz-Signature=${PASSWORD} failed`),
    nested: { url: `https://u:${PASSWORD}@pve:8006/api2/json` },
  });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes(PASSWORD), lines[0]);
  assert.match(lines[0], /https:\/\/<userinfo redacted>@vc\.example\.com\/sdk/);
  assert.match(lines[0], /k\?<query redacted>/);
});

Deno.test("/readyz reasons and error messages lose userinfo and queries of every URL", () => {
  const body = renderReport(
    {
      ok: false,
      checks: [{
        name: "provider-capmox",
        ok: false,
        excluded: false,
        reason:
          `Cannot reach https://root:${PASSWORD}@pve:8006/api2/json/version?ticket=${PASSWORD}`,
      }],
      unknownExcludes: [],
    },
    "readyz",
    true,
  );
  assert.ok(!body.includes(PASSWORD), body);
  assert.match(body, /pve:8006\/api2\/json\/version\?<query redacted>/);
  assert.equal(
    errorMessage(new Error(`GET https://u:${PASSWORD}@h/p?q=${PASSWORD} refused`)),
    "GET https://<userinfo redacted>@h/p?<query redacted> refused",
  );
});
