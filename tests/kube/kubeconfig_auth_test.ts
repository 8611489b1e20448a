/**
 * The kubeconfig auth our own loader does without client-node: client certificates and CAs
 * (inline data and files, relative to the kubeconfig), insecure-skip-tls-verify, basic auth,
 * impersonation; and client-node still doing exec plugins when one is configured.
 */
import assert from "node:assert/strict";
import { loadKubeConfig } from "../../lib/kube/config.ts";
import {
  opensslAvailable,
  opensslMissing,
  startHttpsServer,
  type TestPki,
  testPki,
} from "../support/tls.ts";

const hasOpenssl = opensslAvailable();
if (!hasOpenssl) console.warn(`Skipping the kubeconfig TLS tests: ${opensslMissing}`);

function base64(text: string): string {
  return btoa(text);
}

/** A one-context kubeconfig as JSON (valid YAML) with the given cluster and user fields. */
function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
    "current-context": "ctx",
  });
}

async function withPki(fn: (pki: TestPki, dir: string) => Promise<void>): Promise<void> {
  const pki = await testPki();
  const dir = await Deno.makeTempDir({ prefix: "kubeconfig-auth-" });
  try {
    await fn(pki, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await pki.remove();
  }
}

async function get(file: string): Promise<number> {
  const kube = loadKubeConfig({ kubeconfig: file });
  try {
    const response = await kube.transport.fetch({ method: "GET", path: "/api" });
    await response.body?.cancel();
    return response.status;
  } finally {
    kube.transport.close();
  }
}

Deno.test({
  name:
    "client certificates and the CA work as inline data and as files relative to the kubeconfig",
  ignore: !hasOpenssl,
  fn: () =>
    withPki(async (pki, dir) => {
      const server = await startHttpsServer({ pki, requireClientCert: true });
      try {
        await Deno.mkdir(`${dir}/pki`);
        await Deno.writeTextFile(`${dir}/pki/ca.crt`, pki.caCert);
        await Deno.writeTextFile(`${dir}/pki/client.crt`, pki.ecClient.cert);
        await Deno.writeTextFile(`${dir}/pki/client.key`, pki.ecClient.key);
        await Deno.writeTextFile(
          `${dir}/data.yaml`,
          kubeconfig(
            { server: server.url, "certificate-authority-data": base64(pki.caCert) },
            {
              "client-certificate-data": base64(pki.rsaClient.cert),
              "client-key-data": base64(pki.rsaClient.key),
            },
          ),
        );
        await Deno.writeTextFile(
          `${dir}/files.yaml`,
          kubeconfig(
            { server: server.url, "certificate-authority": "pki/ca.crt" },
            { "client-certificate": "pki/client.crt", "client-key": "pki/client.key" },
          ),
        );
        assert.equal(await get(`${dir}/data.yaml`), 200);
        assert.equal(await get(`${dir}/files.yaml`), 200);
        assert.deepEqual(server.requests.map((r) => r.clientCommonName), [
          pki.rsaClient.commonName,
          pki.ecClient.commonName,
        ]);
      } finally {
        await server.close();
      }
    }),
});

Deno.test({
  name: "insecure-skip-tls-verify reaches a server whose CA is unknown; without it, it is refused",
  ignore: !hasOpenssl,
  fn: () =>
    withPki(async (pki, dir) => {
      const server = await startHttpsServer({ pki });
      try {
        await Deno.writeTextFile(
          `${dir}/insecure.yaml`,
          kubeconfig({ server: server.url, "insecure-skip-tls-verify": true }, { token: "t" }),
        );
        await Deno.writeTextFile(
          `${dir}/verified.yaml`,
          kubeconfig({ server: server.url }, { token: "t" }),
        );
        assert.equal(await get(`${dir}/insecure.yaml`), 200);
        await assert.rejects(get(`${dir}/verified.yaml`), /Cannot reach the Kubernetes API server/);
      } finally {
        await server.close();
      }
    }),
});

Deno.test("basic auth and impersonation are sent as headers", async () => {
  const seen: Headers[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push(req.headers);
    return Response.json({ kind: "APIVersions" });
  });
  const dir = await Deno.makeTempDir({ prefix: "kubeconfig-auth-" });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    await Deno.writeTextFile(
      `${dir}/basic.yaml`,
      kubeconfig({ server: url }, { username: "admin", password: "pä:ss", as: "jane" }),
    );
    assert.equal(await get(`${dir}/basic.yaml`), 200);
    const bytes = new TextEncoder().encode("admin:pä:ss");
    assert.equal(
      seen[0].get("authorization"),
      `Basic ${btoa(String.fromCharCode(...bytes))}`,
    );
    assert.equal(seen[0].get("impersonate-user"), "jane");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a CA file that cannot be read fails the request with an error naming the user", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubeconfig-auth-" });
  try {
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      kubeconfig({ server: "https://127.0.0.1:1", "certificate-authority": "missing-ca.crt" }, {
        token: "secret-token-value",
      }),
    );
    await assert.rejects(get(`${dir}/config.yaml`), (error: Error) => {
      assert.match(error.message, /^Cannot get credentials of user "u" for .*missing-ca\.crt/);
      assert.ok(!error.message.includes("secret-token-value"), error.message);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
