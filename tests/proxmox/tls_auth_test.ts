import assert from "node:assert/strict";
import { ProviderUnavailableError } from "../../lib/image/provider.ts";
import {
  createProxmoxProvider,
  ProxmoxApiError,
  ProxmoxAuthError,
} from "../../providers/proxmox/mod.ts";
import { opensslAvailable, opensslMissing, testPki } from "../support/tls.ts";
import { FakeProxmox } from "./fake_proxmox/mod.ts";
import { image, location, proxmoxConfig } from "./_support.ts";

const ignore = !opensslAvailable();
const pki = ignore ? undefined : await testPki();
if (pki) addEventListener("unload", () => Deno.removeSync(pki.dir, { recursive: true }));
if (ignore) console.warn(`Proxmox TLS tests ignored: ${opensslMissing}`);
const signal = new AbortController().signal;

async function withFake(
  fn: (fake: FakeProxmox) => Promise<void>,
  options: { errorMessageInBody?: boolean } = {},
): Promise<void> {
  const fake = await FakeProxmox.start({
    ...options,
    tls: { cert: pki!.serverCert, key: pki!.serverKey },
  });
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

Deno.test({
  name: "a CA bundle in the credentials makes the fake's certificate trusted",
  ignore,
  fn: () =>
    withFake(async (fake) => {
      const provider = createProxmoxProvider(
        proxmoxConfig(fake.host, { l1: location("pve1") }, { caCert: pki!.caCert }),
      );
      try {
        await provider.probe(signal);
        assert.equal(fake.count("GET /version"), 1);
      } finally {
        await provider.close();
      }
    }),
});

Deno.test({
  name: "a certificate from an unknown CA is refused before any request is sent",
  ignore,
  fn: () =>
    withFake(async (fake) => {
      const provider = createProxmoxProvider(proxmoxConfig(fake.host, { l1: location("pve1") }));
      try {
        await assert.rejects(
          provider.probe(signal),
          (e: unknown) =>
            e instanceof ProviderUnavailableError &&
            e.message.startsWith(`Cannot reach Proxmox at https://${fake.host}/api2/json`),
        );
        assert.equal(fake.requests.length, 0);
      } finally {
        await provider.close();
      }
    }),
});

Deno.test({
  name: "insecure: true skips certificate verification only when asked",
  ignore,
  fn: () =>
    withFake(async (fake) => {
      const provider = createProxmoxProvider(
        proxmoxConfig(fake.host, { l1: location("pve1") }, { insecure: true }),
      );
      try {
        await provider.probe(signal);
        assert.equal(fake.count("GET /version"), 1);
      } finally {
        await provider.close();
      }
    }),
});

Deno.test({
  name: "a wrong token is refused with 401 and reported as unauthorised without the secret",
  ignore,
  fn: () =>
    withFake(async (fake) => {
      const wrong = "wrong-secret-Qx42";
      const provider = createProxmoxProvider(
        proxmoxConfig(fake.host, { l1: location("pve1") }, { caCert: pki!.caCert, secret: wrong }),
      );
      try {
        for (const call of [() => provider.probe(signal), () => provider.inventory("l1", signal)]) {
          const error = await call().then(() => assert.fail("accepted"), (e) => e);
          assert.ok(error instanceof ProxmoxAuthError, String(error));
          assert.ok(error instanceof ProviderUnavailableError);
          assert.match(error.message, /401 Authentication failed!/);
          assert.ok(!error.message.includes(wrong));
        }
        assert.deepEqual(fake.requests.map((r) => r.status), [401, 401]);
      } finally {
        await provider.close();
      }
    }),
});

Deno.test({
  name: "an older server's message only in the status line still reaches the error",
  ignore,
  fn: () =>
    withFake(async (fake) => {
      const provider = createProxmoxProvider(
        proxmoxConfig(fake.host, { l1: location("pve1") }, { caCert: pki!.caCert }),
      );
      try {
        fake.failRequest("GET", "/cluster/resources", 500, "cluster not ready - no quorum?");
        await assert.rejects(
          provider.inventory("l1", signal),
          (e: unknown) =>
            e instanceof ProxmoxApiError && e.detail === "cluster not ready - no quorum?",
        );
        await provider.remove(image(), "l1", signal);
      } finally {
        await provider.close();
      }
    }, { errorMessageInBody: false }),
});
