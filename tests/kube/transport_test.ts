/**
 * The transport against real local servers: bearer tokens, basic auth, client certificates
 * (mTLS, verified by the server) with RSA and EC keys, custom CAs, insecure-skip-tls-verify,
 * exec credential plugins, streaming bodies cancelled midway, and failure messages.
 */
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { ConnectionError, CredentialsError } from "../../lib/kube/errors.ts";
import { KubeConfigTransport } from "../../lib/kube/transport.ts";
import {
  type ClientCredential,
  opensslAvailable,
  opensslMissing,
  startHttpsServer,
  testPki,
} from "../support/tls.ts";

const hasOpenssl = opensslAvailable();
if (!hasOpenssl) console.warn(`Skipping TLS transport tests: ${opensslMissing}`);
const pki = hasOpenssl ? await testPki() : undefined;
globalThis.addEventListener("unload", () => {
  if (pki) Deno.removeSync(pki.dir, { recursive: true });
});

const b64 = (text: string) => btoa(text);

interface ClusterFields {
  server: string;
  caData?: string;
  caFile?: string;
  skipTLSVerify?: boolean;
}

/** A one-context KubeConfig, as client-node would load it from a file. */
function kubeConfig(cluster: ClusterFields, user: Record<string, unknown> = {}): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: "test-cluster", skipTLSVerify: false, ...cluster }],
    users: [{ name: "test-user", ...user }],
    contexts: [{ name: "test", cluster: "test-cluster", user: "test-user" }],
    currentContext: "test",
  });
  return config;
}

function clientCertUser(credential: ClientCredential) {
  return { certData: b64(credential.cert), keyData: b64(credential.key) };
}

/** One request as the plain-HTTP server saw it (Deno's Request is unusable after answering). */
interface Recorded {
  method: string;
  url: string;
  headers: Headers;
}

/** A plain-HTTP recording server built on Deno.serve. */
function startHttpServer() {
  const seen: Recorded[] = [];
  const bodies: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    seen.push({ method: req.method, url: req.url, headers: new Headers(req.headers) });
    bodies.push(await req.text());
    return Response.json({ kind: "Namespace", metadata: { name: "a" } });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    bodies,
    close: () => server.shutdown(),
  };
}

Deno.test("a kubeconfig token is sent as a bearer token with JSON headers to an http:// server", async () => {
  const server = startHttpServer();
  const transport = new KubeConfigTransport(
    kubeConfig({ server: server.url }, { token: "token-from-kubeconfig" }),
    { userAgent: "transport-test" },
  );
  try {
    const response = await transport.fetch({
      method: "PATCH",
      path: "/api/v1/namespaces/a",
      query: { fieldManager: "me", dryRun: undefined, limit: 5 },
      body: { metadata: { labels: { x: "y" } } },
      contentType: "application/merge-patch+json",
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
    const [request] = server.seen;
    assert.equal(request.method, "PATCH");
    assert.equal(new URL(request.url).pathname, "/api/v1/namespaces/a");
    assert.equal(new URL(request.url).search, "?fieldManager=me&limit=5");
    assert.equal(request.headers.get("authorization"), "Bearer token-from-kubeconfig");
    assert.equal(request.headers.get("accept"), "application/json");
    assert.equal(request.headers.get("content-type"), "application/merge-patch+json");
    assert.equal(request.headers.get("user-agent"), "transport-test");
    assert.deepEqual(JSON.parse(server.bodies[0]), { metadata: { labels: { x: "y" } } });
  } finally {
    transport.close();
    await server.close();
  }
});

Deno.test("username and password are sent as basic auth", async () => {
  const server = startHttpServer();
  const transport = new KubeConfigTransport(
    kubeConfig({ server: server.url }, { username: "admin", password: "pässword" }),
  );
  try {
    await (await transport.fetch({ method: "GET", path: "/api" })).body?.cancel();
    const header = server.seen[0].headers.get("authorization")!;
    assert.match(header, /^Basic /);
    const decoded = new TextDecoder().decode(
      Uint8Array.from(atob(header.slice(6)), (c) => c.charCodeAt(0)),
    );
    assert.equal(decoded, "admin:pässword");
  } finally {
    transport.close();
    await server.close();
  }
});

Deno.test({
  name: "client certificates authenticate over HTTPS with a custom CA, for RSA and EC keys",
  ignore: !pki,
  fn: async (t) => {
    const server = await startHttpsServer({ pki: pki!, requireClientCert: true });
    try {
      const cases: [string, ClientCredential][] = [
        ["RSA key in PKCS#8 form", pki!.rsaClient],
        ["RSA key in PKCS#1 form", pki!.rsaPkcs1Client],
        ["EC key", pki!.ecClient],
      ];
      for (const [name, credential] of cases) {
        await t.step(`${name}, inline data`, async () => {
          const transport = new KubeConfigTransport(
            kubeConfig(
              { server: server.url, caData: b64(pki!.caCert) },
              clientCertUser(credential),
            ),
          );
          try {
            const response = await transport.fetch({ method: "GET", path: "/version" });
            assert.equal(response.status, 200);
            assert.equal((await response.json()).status, "Success");
            assert.equal(server.requests.at(-1)?.clientCommonName, credential.commonName);
          } finally {
            transport.close();
          }
        });
      }
      await t.step("EC key and CA from files", async () => {
        const transport = new KubeConfigTransport(
          kubeConfig({ server: server.url, caFile: pki!.caCertPath }, {
            certFile: pki!.ecClient.certPath,
            keyFile: pki!.ecClient.keyPath,
          }),
        );
        try {
          await (await transport.fetch({ method: "GET", path: "/version" })).body?.cancel();
          assert.equal(server.requests.at(-1)?.clientCommonName, "ec-user");
        } finally {
          transport.close();
        }
      });
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "a server demanding client certificates refuses a foreign or missing one",
  ignore: !pki,
  fn: async (t) => {
    const server = await startHttpsServer({ pki: pki!, requireClientCert: true });
    try {
      const cases: [string, Record<string, unknown>][] = [
        ["certificate from another CA", clientCertUser(pki!.strangerClient)],
        ["no certificate", { token: "not-enough" }],
      ];
      for (const [name, user] of cases) {
        await t.step(name, async () => {
          const transport = new KubeConfigTransport(
            kubeConfig({ server: server.url, caData: b64(pki!.caCert) }, user),
          );
          try {
            const error = await transport.fetch({ method: "GET", path: "/version" }).then(
              () => undefined,
              (e) => e,
            );
            assert.ok(error instanceof ConnectionError, String(error));
            assert.equal(error.server, server.url);
          } finally {
            transport.close();
          }
        });
      }
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "a server certificate from an unknown CA is refused with an error naming the server",
  ignore: !pki,
  fn: async () => {
    const server = await startHttpsServer({ pki: pki! });
    const transport = new KubeConfigTransport(kubeConfig({ server: server.url }, { token: "t" }));
    try {
      await assert.rejects(
        transport.fetch({ method: "GET", path: "/api/v1/namespaces" }),
        (error: Error) => {
          assert.ok(error instanceof ConnectionError);
          assert.ok(error.message.includes(server.url), error.message);
          assert.ok(error.message.includes("GET /api/v1/namespaces"), error.message);
          return true;
        },
      );
      assert.equal(server.requests.length, 0);
    } finally {
      transport.close();
      await server.close();
    }
  },
});

Deno.test({
  name:
    "insecure-skip-tls-verify accepts an untrusted server certificate, with or without a client certificate",
  ignore: !pki,
  fn: async (t) => {
    await t.step("token", async () => {
      const server = await startHttpsServer({ pki: pki! });
      const transport = new KubeConfigTransport(
        kubeConfig({ server: server.url, skipTLSVerify: true }, { token: "insecure-token" }),
      );
      try {
        const response = await transport.fetch({ method: "GET", path: "/version" });
        assert.ok(
          response instanceof Response,
          "the undici answer is re-wrapped as a Deno Response",
        );
        assert.equal((await response.json()).status, "Success");
        assert.equal(server.requests[0].headers.authorization, "Bearer insecure-token");
      } finally {
        transport.close();
        await server.close();
      }
    });
    await t.step("client certificate", async () => {
      const server = await startHttpsServer({ pki: pki!, requireClientCert: true });
      const transport = new KubeConfigTransport(
        kubeConfig({ server: server.url, skipTLSVerify: true }, clientCertUser(pki!.ecClient)),
      );
      try {
        await (await transport.fetch({ method: "GET", path: "/version" })).body?.cancel();
        assert.equal(server.requests[0].clientCommonName, "ec-user");
      } finally {
        transport.close();
        await server.close();
      }
    });
  },
});

/** Streams a line every few milliseconds until the client goes away. */
function streamForever(closed: PromiseWithResolvers<void>) {
  return (_req: unknown, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"type":"ADDED"}\n');
    const timer = setInterval(() => res.write('{"type":"BOOKMARK"}\n'), 5);
    res.on("close", () => {
      clearInterval(timer);
      closed.resolve();
    });
  };
}

for (
  const [label, insecure] of [["insecure-skip-tls-verify (undici)", true], [
    "verified TLS (Deno fetch)",
    false,
  ]] as const
) {
  Deno.test({
    name:
      `aborting a streaming response midway errors its pending read and closes the connection: ${label}`,
    ignore: !pki,
    fn: async () => {
      const closed = Promise.withResolvers<void>();
      const server = await startHttpsServer({ pki: pki!, handler: streamForever(closed) });
      const cluster = insecure
        ? { server: server.url, skipTLSVerify: true }
        : { server: server.url, caData: b64(pki!.caCert) };
      const transport = new KubeConfigTransport(kubeConfig(cluster, { token: "t" }));
      try {
        const abort = new AbortController();
        const response = await transport.fetch({
          method: "GET",
          path: "/api/v1/namespaces",
          query: { watch: true },
          signal: abort.signal,
        });
        const reader = response.body!.getReader();
        assert.equal((await reader.read()).done, false);
        const pending = reader.read().then(() => reader.read()).then(() => reader.read());
        const reason = new Error("watch stopped by test");
        abort.abort(reason);
        await assert.rejects(
          pending,
          (error) => error === reason || (error as Error).name === "AbortError",
        );
        await closed.promise;
      } finally {
        transport.close();
        await server.close();
      }
    },
  });

  Deno.test({
    name: `cancelling a streaming body midway closes the connection: ${label}`,
    ignore: !pki,
    fn: async () => {
      const closed = Promise.withResolvers<void>();
      const server = await startHttpsServer({ pki: pki!, handler: streamForever(closed) });
      const cluster = insecure
        ? { server: server.url, skipTLSVerify: true }
        : { server: server.url, caData: b64(pki!.caCert) };
      const transport = new KubeConfigTransport(kubeConfig(cluster, { token: "t" }));
      try {
        const response = await transport.fetch({ method: "GET", path: "/api/v1/namespaces" });
        const reader = response.body!.getReader();
        assert.equal((await reader.read()).done, false);
        await reader.cancel();
        await closed.promise;
      } finally {
        transport.close();
        await server.close();
      }
    },
  });
}

Deno.test("an abort before the answer rethrows the signal's reason, not a ConnectionError", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Promise<Response>(() => {}),
  );
  const transport = new KubeConfigTransport(
    kubeConfig({ server: `http://127.0.0.1:${server.addr.port}` }, { token: "t" }),
  );
  try {
    const abort = new AbortController();
    const reason = new Error("shutting down");
    const pending = transport.fetch({ method: "GET", path: "/api", signal: abort.signal });
    abort.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
  } finally {
    transport.close();
    await server.shutdown();
  }
});

Deno.test("an unreachable server fails with a ConnectionError naming its URL and no secret", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const url = `http://127.0.0.1:${port}`;
  const token = "very-secret-token-value-123456";
  const transport = new KubeConfigTransport(kubeConfig({ server: url }, { token }));
  try {
    const error = await transport.fetch({ method: "GET", path: "/api" }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(error instanceof ConnectionError);
    assert.equal(error.server, url);
    assert.match(
      error.message,
      new RegExp(`^Cannot reach the Kubernetes API server at ${url} \\(GET /api\\): .+`),
    );
    assert.ok(!errorText(error).includes(token));
  } finally {
    transport.close();
  }
});

Deno.test({
  name: "a malformed client key fails with a CredentialsError that does not quote the key",
  ignore: !pki,
  fn: async () => {
    const brokenKey = pki!.rsaClient.key.replace(/\n[A-Za-z0-9+/]{10}/, "\n!!!!!!!!!!");
    const transport = new KubeConfigTransport(
      kubeConfig({ server: "https://127.0.0.1:1", caData: b64(pki!.caCert) }, {
        certData: b64(pki!.rsaClient.cert),
        keyData: b64(brokenKey),
      }),
    );
    try {
      const error = await transport.fetch({ method: "GET", path: "/api" }).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(
        error instanceof CredentialsError || error instanceof ConnectionError,
        String(error),
      );
      const text = errorText(error);
      const keyBody = pki!.rsaClient.key.split("\n")[3];
      assert.ok(!text.includes(keyBody), `key leaked: ${text}`);
      assert.ok(!text.includes("PRIVATE KEY-----\n"), `key leaked: ${text}`);
    } finally {
      transport.close();
    }
  },
});

// ---- exec credential plugins ----

/**
 * Writes an exec plugin that counts its runs in `<dir>/runs` and prints an ExecCredential with
 * token `exec-token-<run>` and the given expiry.
 */
async function writeTokenPlugin(dir: string, expirationTimestamp?: string): Promise<string> {
  const path = `${dir}/token-plugin.sh`;
  const expiry = expirationTimestamp ? `,"expirationTimestamp":"${expirationTimestamp}"` : "";
  await Deno.writeTextFile(
    path,
    `#!/bin/sh
runs=$(( $(cat "${dir}/runs" 2>/dev/null || echo 0) + 1 ))
echo "$runs" > "${dir}/runs"
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-token-%s"${expiry}}}' "$runs"
`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

function execUser(command: string, env: { name: string; value: string }[] = []) {
  return {
    exec: { apiVersion: "client.authentication.k8s.io/v1", command, args: [], env },
  };
}

async function bearerTokensSent(
  transport: KubeConfigTransport,
  server: { seen: Recorded[] },
  n: number,
) {
  for (let i = 0; i < n; i++) {
    await (await transport.fetch({ method: "GET", path: "/api" })).body?.cancel();
  }
  return server.seen.map((r) => r.headers.get("authorization"));
}

Deno.test("an exec plugin's token is used and cached while it has no expiry", async () => {
  const dir = await Deno.makeTempDir();
  const server = startHttpServer();
  const plugin = await writeTokenPlugin(dir);
  const transport = new KubeConfigTransport(kubeConfig({ server: server.url }, execUser(plugin)));
  try {
    assert.deepEqual(await bearerTokensSent(transport, server, 2), [
      "Bearer exec-token-1",
      "Bearer exec-token-1",
    ]);
  } finally {
    transport.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an exec plugin's token is reused until its expirationTimestamp", async () => {
  const dir = await Deno.makeTempDir();
  const server = startHttpServer();
  const inAnHour = new Date(Date.now() + 3600_000).toISOString();
  const plugin = await writeTokenPlugin(dir, inAnHour);
  const transport = new KubeConfigTransport(kubeConfig({ server: server.url }, execUser(plugin)));
  try {
    assert.deepEqual(await bearerTokensSent(transport, server, 2), [
      "Bearer exec-token-1",
      "Bearer exec-token-1",
    ]);
    assert.equal((await Deno.readTextFile(`${dir}/runs`)).trim(), "1");
  } finally {
    transport.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an exec plugin is run again once its credential has expired", async () => {
  const dir = await Deno.makeTempDir();
  const server = startHttpServer();
  // Already expired when issued: every request needs a fresh credential.
  const plugin = await writeTokenPlugin(dir, "2020-01-01T00:00:00Z");
  const transport = new KubeConfigTransport(kubeConfig({ server: server.url }, execUser(plugin)));
  try {
    assert.deepEqual(await bearerTokensSent(transport, server, 3), [
      "Bearer exec-token-1",
      "Bearer exec-token-2",
      "Bearer exec-token-3",
    ]);
  } finally {
    transport.close();
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "an exec plugin can hand out a client certificate and key",
  ignore: !pki,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const server = await startHttpsServer({ pki: pki!, requireClientCert: true });
    const credential = {
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { clientCertificateData: pki!.ecClient.cert, clientKeyData: pki!.ecClient.key },
    };
    await Deno.writeTextFile(`${dir}/credential.json`, JSON.stringify(credential));
    const plugin = `${dir}/cert-plugin.sh`;
    await Deno.writeTextFile(plugin, `#!/bin/sh\ncat "$CREDENTIAL"\n`);
    await Deno.chmod(plugin, 0o755);
    const transport = new KubeConfigTransport(
      kubeConfig(
        { server: server.url, caData: b64(pki!.caCert) },
        execUser(plugin, [{ name: "CREDENTIAL", value: `${dir}/credential.json` }]),
      ),
    );
    try {
      await (await transport.fetch({ method: "GET", path: "/version" })).body?.cancel();
      assert.equal(server.requests[0].clientCommonName, "ec-user");
    } finally {
      transport.close();
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a failing or garbled exec plugin gives a CredentialsError without the secret", async (t) => {
  const dir = await Deno.makeTempDir();
  const token = "plugin-secret-token-0123456789";
  const scripts: [string, string, RegExp][] = [
    [
      "exit status 1, credential echoed on stderr",
      `echo '{"status":{"token":"${token}"}}' >&2; exit 1`,
      /Cannot get credentials of user "test-user" for the Kubernetes API server at http:\/\/127\.0\.0\.1:1/,
    ],
    ["a bare token instead of JSON", `echo '${token}'`, /output is not valid JSON/],
  ];
  try {
    for (const [name, body, message] of scripts) {
      await t.step(name, async () => {
        const plugin = `${dir}/plugin-${scripts.findIndex((s) => s[0] === name)}.sh`;
        await Deno.writeTextFile(plugin, `#!/bin/sh\n${body}\n`);
        await Deno.chmod(plugin, 0o755);
        const transport = new KubeConfigTransport(
          kubeConfig({ server: "http://127.0.0.1:1" }, execUser(plugin)),
        );
        try {
          const error = await transport.fetch({ method: "GET", path: "/api" }).then(
            () => undefined,
            (e) => e,
          );
          assert.ok(error instanceof CredentialsError, String(error));
          assert.match(error.message, message);
          assert.ok(!errorText(error).includes(token), errorText(error));
        } finally {
          transport.close();
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Messages of an error and its causes, the text a log line would show. */
function errorText(error: unknown): string {
  let text = "";
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    text += `${e.message}\n${e.stack}\n`;
  }
  return text;
}
