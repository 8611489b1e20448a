/**
 * Finding and loading the configuration: flag, KUBECONFIG (merged like kubectl), ~/.kube/config,
 * in-cluster service account; context selection; clear errors; token files re-read on rotation.
 */
import assert from "node:assert/strict";
import { KubeConfigError, loadKubeConfig } from "../../lib/kube/config.ts";
import { CredentialsError } from "../../lib/kube/errors.ts";
import { opensslAvailable, opensslMissing, startHttpsServer, testPki } from "../support/tls.ts";

/** A kubeconfig with one cluster/user/context per entry, as YAML text. */
function kubeconfigYaml(options: {
  current?: string;
  contexts: { name: string; cluster: string; user?: string; namespace?: string }[];
  clusters: { name: string; server: string }[];
  users?: { name: string; fields: string }[];
}): string {
  const lines = ["apiVersion: v1", "kind: Config"];
  if (options.current) lines.push(`current-context: ${options.current}`);
  lines.push("clusters:");
  for (const c of options.clusters) {
    lines.push(`- name: ${c.name}`, "  cluster:", `    server: ${c.server}`);
  }
  lines.push("contexts:");
  for (const c of options.contexts) {
    lines.push(`- name: ${c.name}`, "  context:", `    cluster: ${c.cluster}`);
    if (c.user) lines.push(`    user: ${c.user}`);
    if (c.namespace) lines.push(`    namespace: ${c.namespace}`);
  }
  lines.push("users:");
  for (const u of options.users ?? []) lines.push(`- name: ${u.name}`, "  user:", u.fields);
  return lines.join("\n") + "\n";
}

/** A kubeconfig with a single context `name` pointing at `server`. */
function single(name: string, server: string, namespace?: string, userFields = "    token: t") {
  return kubeconfigYaml({
    current: name,
    clusters: [{ name: `${name}-cluster`, server }],
    contexts: [{ name, cluster: `${name}-cluster`, user: `${name}-user`, namespace }],
    users: [{ name: `${name}-user`, fields: userFields }],
  });
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kube-config-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A recording plain-HTTP server; `tokens` holds each request's Authorization header. */
function startTokenServer() {
  const tokens: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    tokens.push(req.headers.get("authorization"));
    return Response.json({ kind: "APIVersions", versions: ["v1"] });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    tokens,
    close: () => server.shutdown(),
  };
}

async function send(kube: ReturnType<typeof loadKubeConfig>): Promise<void> {
  const response = await kube.transport.fetch({ method: "GET", path: "/api" });
  await response.body?.cancel();
}

Deno.test("--kubeconfig wins over KUBECONFIG and ~/.kube/config", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/home/.kube`, { recursive: true });
    await Deno.writeTextFile(`${dir}/home/.kube/config`, single("home", "http://home.invalid"));
    await Deno.writeTextFile(`${dir}/env.yaml`, single("env", "http://env.invalid"));
    await Deno.writeTextFile(`${dir}/flag.yaml`, single("flag", "http://flag.invalid", "team-a"));
    const kube = loadKubeConfig({
      kubeconfig: `${dir}/flag.yaml`,
      env: { KUBECONFIG: `${dir}/env.yaml`, HOME: `${dir}/home` },
    });
    try {
      assert.equal(kube.source, "flag");
      assert.equal(kube.contextName, "flag");
      assert.equal(kube.namespace, "team-a");
      assert.equal(kube.transport.server, "http://flag.invalid");
      assert.deepEqual(kube.files, [`${dir}/flag.yaml`]);
    } finally {
      kube.transport.close();
    }
  });
});

Deno.test("KUBECONFIG wins over ~/.kube/config", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/home/.kube`, { recursive: true });
    await Deno.writeTextFile(`${dir}/home/.kube/config`, single("home", "http://home.invalid"));
    await Deno.writeTextFile(`${dir}/env.yaml`, single("env", "http://env.invalid"));
    const kube = loadKubeConfig({ env: { KUBECONFIG: `${dir}/env.yaml`, HOME: `${dir}/home` } });
    kube.transport.close();
    assert.equal(kube.source, "env");
    assert.equal(kube.contextName, "env");
    assert.equal(kube.namespace, "default");
  });
});

Deno.test("KUBECONFIG files merge like kubectl: first definition and first current-context win", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/a.yaml`,
      kubeconfigYaml({
        current: "a",
        clusters: [{ name: "shared", server: "http://from-a.invalid" }],
        contexts: [{ name: "a", cluster: "shared", user: "ua" }],
        users: [{ name: "ua", fields: "    token: ta" }],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/b.yaml`,
      kubeconfigYaml({
        current: "b",
        clusters: [
          { name: "shared", server: "http://from-b.invalid" },
          { name: "only-b", server: "http://only-b.invalid" },
        ],
        contexts: [
          { name: "a", cluster: "only-b" },
          { name: "b", cluster: "only-b", user: "ub", namespace: "ns-b" },
          { name: "b-shared", cluster: "shared" },
        ],
        users: [{ name: "ub", fields: "    token: tb" }],
      }),
    );
    // A listed file that does not exist is skipped, as kubectl does; so are empty entries.
    const env = { KUBECONFIG: `${dir}/missing.yaml:${dir}/a.yaml::${dir}/b.yaml` };

    const first = loadKubeConfig({ env });
    first.transport.close();
    assert.equal(first.contextName, "a", "current-context from the first file that sets it");
    assert.equal(first.transport.server, "http://from-a.invalid", "context a from a.yaml");
    assert.deepEqual(first.files, [`${dir}/a.yaml`, `${dir}/b.yaml`]);

    const second = loadKubeConfig({ env, context: "b" });
    second.transport.close();
    assert.equal(second.transport.server, "http://only-b.invalid");
    assert.equal(second.namespace, "ns-b");
    assert.equal(second.config.getCurrentUser()?.token, "tb");

    const shared = loadKubeConfig({ env, context: "b-shared" });
    shared.transport.close();
    assert.equal(shared.transport.server, "http://from-a.invalid", "cluster shared from a.yaml");
  });
});

Deno.test("~/.kube/config is used when there is no flag and no KUBECONFIG", async (t) => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/home/.kube`, { recursive: true });
    await Deno.writeTextFile(`${dir}/home/.kube/config`, single("home", "http://home.invalid"));
    await t.step("from env.HOME", () => {
      const kube = loadKubeConfig({ env: { HOME: `${dir}/home`, KUBECONFIG: "" } });
      kube.transport.close();
      assert.equal(kube.source, "home");
      assert.deepEqual(kube.files, [`${dir}/home/.kube/config`]);
    });
    await t.step("from homeDir, which wins over env.HOME", () => {
      const kube = loadKubeConfig({ homeDir: `${dir}/home`, env: { HOME: "/nonexistent" } });
      kube.transport.close();
      assert.equal(kube.source, "home");
    });
  });
});

Deno.test("the in-cluster service account is used last, with its namespace and CA", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/token`, "sa-token\n");
    await Deno.writeTextFile(`${dir}/namespace`, "operators\n");
    const kube = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443", HOME: dir },
      inClusterRoot: dir,
    });
    kube.transport.close();
    assert.equal(kube.source, "in-cluster");
    assert.equal(kube.contextName, "in-cluster");
    assert.equal(kube.namespace, "operators");
    assert.equal(kube.transport.server, "https://10.96.0.1:443");
    assert.equal(kube.config.getCurrentCluster()?.caFile, undefined, "no ca.crt: system roots");

    await Deno.writeTextFile(`${dir}/ca.crt`, "");
    await Deno.remove(`${dir}/namespace`);
    const v6 = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" },
      inClusterRoot: dir,
    });
    v6.transport.close();
    assert.equal(v6.transport.server, "https://[fd00::1]:6443");
    assert.equal(v6.namespace, "default");
    assert.equal(v6.config.getCurrentCluster()?.caFile, `${dir}/ca.crt`);
  });
});

Deno.test("configuration problems are KubeConfigErrors naming the file or variable", async (t) => {
  await withTempDir(async (dir) => {
    const secret = "kubeconfig-secret-token-0123456789";
    await Deno.writeTextFile(`${dir}/two.yaml`, single("one", "http://one.invalid"));
    await Deno.writeTextFile(
      `${dir}/broken.yaml`,
      `apiVersion: v1\nusers:\n- name: u\n  user:\n    token: ${secret}\n  bad: [unclosed\n`,
    );
    await Deno.writeTextFile(`${dir}/list.yaml`, "- just\n- a list\n");
    await Deno.writeTextFile(
      `${dir}/no-server.yaml`,
      "clusters:\n- name: c\n  cluster: {}\ncontexts: []\n",
    );
    await Deno.writeTextFile(
      `${dir}/dangling.yaml`,
      kubeconfigYaml({
        current: "x",
        clusters: [{ name: "c", server: "http://c.invalid" }],
        contexts: [{ name: "x", cluster: "gone" }, { name: "y", cluster: "c", user: "nobody" }],
      }),
    );
    await Deno.writeTextFile(
      `${dir}/no-current.yaml`,
      kubeconfigYaml({
        clusters: [{ name: "c", server: "http://c.invalid" }],
        contexts: [{ name: "p", cluster: "c" }, { name: "q", cluster: "c" }],
      }),
    );
    const cases: [string, Parameters<typeof loadKubeConfig>[0], RegExp][] = [
      [
        "an unknown --context, listing the available ones",
        { kubeconfig: `${dir}/two.yaml`, context: "prod" },
        /^Context "prod" not found in kubeconfig .*two\.yaml; available contexts: "one"$/,
      ],
      [
        "a missing --kubeconfig file",
        { kubeconfig: `${dir}/nope.yaml` },
        /^Cannot read kubeconfig .*nope\.yaml \(--kubeconfig\): no such file$/,
      ],
      [
        "broken YAML, without quoting the file",
        { kubeconfig: `${dir}/broken.yaml` },
        /^Cannot parse kubeconfig .*broken\.yaml: /,
      ],
      [
        "YAML that is not a mapping",
        { kubeconfig: `${dir}/list.yaml` },
        /^Cannot parse kubeconfig .*list\.yaml: expected a YAML mapping$/,
      ],
      [
        "a cluster without a server",
        { kubeconfig: `${dir}/no-server.yaml` },
        /^Invalid kubeconfig .*no-server\.yaml: clusters\[0\]\.cluster\.server is missing$/,
      ],
      [
        "a context naming an undefined cluster",
        { kubeconfig: `${dir}/dangling.yaml` },
        /^Context "x" names cluster "gone", which kubeconfig .*dangling\.yaml does not define$/,
      ],
      [
        "a context naming an undefined user",
        { kubeconfig: `${dir}/dangling.yaml`, context: "y" },
        /^Context "y" names user "nobody", which kubeconfig .*dangling\.yaml does not define$/,
      ],
      [
        "no current-context and no --context",
        { kubeconfig: `${dir}/no-current.yaml` },
        /sets no current-context; pass --context \(available contexts: "p", "q"\)$/,
      ],
      [
        "KUBECONFIG listing only missing files",
        { env: { KUBECONFIG: `${dir}/x.yaml:${dir}/y.yaml` } },
        /^Cannot read kubeconfig: none of the KUBECONFIG files exist \(.*x\.yaml, .*y\.yaml\)$/,
      ],
      [
        "nothing at all",
        { env: { HOME: dir } },
        /^No Kubernetes configuration found: .*\.kube\/config does not exist, and KUBERNETES_SERVICE_HOST\/PORT are unset/,
      ],
      [
        "in-cluster without a token file",
        {
          env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" },
          inClusterRoot: `${dir}/sa`,
        },
        /^Cannot use the in-cluster service account: token file .*\/sa\/token does not exist/,
      ],
    ];
    for (const [name, options, message] of cases) {
      await t.step(name, () => {
        assert.throws(() => loadKubeConfig(options), (error: Error) => {
          assert.ok(error instanceof KubeConfigError, String(error));
          assert.match(error.message, message);
          assert.ok(!error.message.includes(secret), error.message);
          return true;
        });
      });
    }
  });
});

Deno.test("a kubeconfig token is sent as a bearer token", async () => {
  await withTempDir(async (dir) => {
    const server = startTokenServer();
    await Deno.writeTextFile(
      `${dir}/config`,
      single("ctx", server.url, undefined, "    token: abc123"),
    );
    const kube = loadKubeConfig({ kubeconfig: `${dir}/config` });
    try {
      await send(kube);
      assert.deepEqual(server.tokens, ["Bearer abc123"]);
    } finally {
      kube.transport.close();
      await server.close();
    }
  });
});

Deno.test("a kubeconfig tokenFile is read relative to the kubeconfig and re-read when it changes", async () => {
  await withTempDir(async (dir) => {
    const server = startTokenServer();
    await Deno.mkdir(`${dir}/conf/secrets`, { recursive: true });
    await Deno.writeTextFile(`${dir}/conf/secrets/token`, "first-token\n");
    // tokenFile wins over token, as in client-go.
    await Deno.writeTextFile(
      `${dir}/conf/config`,
      single("ctx", server.url, undefined, "    token: ignored\n    tokenFile: secrets/token"),
    );
    const kube = loadKubeConfig({ kubeconfig: `${dir}/conf/config` });
    try {
      await send(kube);
      await send(kube);
      await Deno.writeTextFile(`${dir}/conf/secrets/token`, "second-token-longer\n");
      await send(kube);
      assert.deepEqual(server.tokens, [
        "Bearer first-token",
        "Bearer first-token",
        "Bearer second-token-longer",
      ]);
    } finally {
      kube.transport.close();
      await server.close();
    }
  });
});

Deno.test("client-node's token-file spelling works too", async () => {
  await withTempDir(async (dir) => {
    const server = startTokenServer();
    await Deno.writeTextFile(`${dir}/tok`, "dashed-token");
    await Deno.writeTextFile(
      `${dir}/config`,
      single("ctx", server.url, undefined, "    token-file: tok"),
    );
    const kube = loadKubeConfig({ kubeconfig: `${dir}/config` });
    try {
      await send(kube);
      assert.deepEqual(server.tokens, ["Bearer dashed-token"]);
    } finally {
      kube.transport.close();
      await server.close();
    }
  });
});

Deno.test("a relative exec plugin command is resolved against the kubeconfig's directory", async () => {
  await withTempDir(async (dir) => {
    const server = startTokenServer();
    await Deno.mkdir(`${dir}/bin`);
    await Deno.writeTextFile(
      `${dir}/bin/plugin.sh`,
      `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"from-plugin"}}'\n`,
    );
    await Deno.chmod(`${dir}/bin/plugin.sh`, 0o755);
    const exec = [
      "    exec:",
      "      apiVersion: client.authentication.k8s.io/v1",
      "      command: ./bin/plugin.sh",
    ].join("\n");
    await Deno.writeTextFile(`${dir}/config`, single("ctx", server.url, undefined, exec));
    const kube = loadKubeConfig({ kubeconfig: `${dir}/config` });
    try {
      await send(kube);
      assert.deepEqual(server.tokens, ["Bearer from-plugin"]);
    } finally {
      kube.transport.close();
      await server.close();
    }
  });
});

Deno.test("an unreadable token file fails the request with a CredentialsError naming it", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/config`,
      single("ctx", "http://127.0.0.1:1", undefined, "    tokenFile: gone"),
    );
    const kube = loadKubeConfig({ kubeconfig: `${dir}/config` });
    try {
      await assert.rejects(send(kube), (error: Error) => {
        assert.ok(error instanceof CredentialsError, String(error));
        assert.ok(error.message.includes(`${dir}/gone`), error.message);
        return true;
      });
    } finally {
      kube.transport.close();
    }
  });
});

const hasOpenssl = opensslAvailable();
if (!hasOpenssl) console.warn(`Skipping the in-cluster HTTPS test: ${opensslMissing}`);

Deno.test({
  name: "the in-cluster token is re-read as soon as the kubelet rotates it",
  ignore: !hasOpenssl,
  fn: async () => {
    const pki = await testPki();
    const server = await startHttpsServer({ pki });
    const root = await Deno.makeTempDir({ prefix: "serviceaccount-" });
    try {
      // The kubelet's layout: files are symlinks through ..data, swapped atomically on rotation.
      const publish = async (generation: string, token: string) => {
        await Deno.mkdir(`${root}/..${generation}`);
        await Deno.writeTextFile(`${root}/..${generation}/token`, token);
        await Deno.writeTextFile(`${root}/..${generation}/ca.crt`, pki.caCert);
        await Deno.writeTextFile(`${root}/..${generation}/namespace`, "operators");
        await Deno.symlink(`..${generation}`, `${root}/..data_tmp`);
        await Deno.rename(`${root}/..data_tmp`, `${root}/..data`);
      };
      await publish("gen1", "token-one");
      for (const file of ["token", "ca.crt", "namespace"]) {
        await Deno.symlink(`..data/${file}`, `${root}/${file}`);
      }
      const port = new URL(server.url).port;
      const kube = loadKubeConfig({
        env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port },
        inClusterRoot: root,
      });
      try {
        assert.equal(kube.namespace, "operators");
        await send(kube);
        await send(kube);
        await publish("gen2", "token-two");
        await send(kube);
        assert.deepEqual(server.requests.map((r) => r.headers.authorization), [
          "Bearer token-one",
          "Bearer token-one",
          "Bearer token-two",
        ]);
      } finally {
        kube.transport.close();
      }
    } finally {
      await server.close();
      await Deno.remove(root, { recursive: true });
      await pki.remove();
    }
  },
});
