import assert from "node:assert/strict";
import { parse as parseYamlText, stringify } from "yaml";
import {
  ConfigError,
  configFilesOf,
  configFingerprint,
  type ConfigSources,
  configSourcesFromFlags,
  loadConfigFromSources,
  loadOperatorConfig,
  type OperatorConfig,
  type ReadTextFile,
} from "../../lib/config/mod.ts";
import { parseFlags } from "../../lib/flags.ts";
import {
  ALL_CONFIG_FLAGS,
  capmoxOf,
  capvcdOf,
  capvOf,
  PROVIDER_MODULES,
} from "../support/provider_configs.ts";

const EXAMPLE = new URL("../fixtures/values-example.yaml", import.meta.url).pathname;
const CHART_DEFAULTS = new URL("../fixtures/values-chart-defaults.yaml", import.meta.url).pathname;
const VALUES = "/etc/ido/values.yaml";

/** An in-memory filesystem; a missing file fails like Deno.readTextFile does. */
function files(contents: Record<string, string>): ReadTextFile {
  return (path) => {
    if (Object.hasOwn(contents, path)) return Promise.resolve(contents[path]);
    return Promise.reject(new Deno.errors.NotFound(`No such file: ${path}`));
  };
}

/** The Go chart's Secret and ConfigMap contents: each values subtree rendered as YAML. */
function mountedFilesOf(valuesText: string): Record<string, string> {
  const values = parseYamlText(valuesText);
  const out: Record<string, string> = {};
  for (const section of ["vsphere", "vcd", "proxmox"]) {
    out[`/home/.${section}/credentials`] = stringify(values[section].credentials);
    out[`/home/.${section}/locations`] = stringify(values[section].locations);
  }
  return out;
}

/** The arguments the Go chart renders from the example values (§8.2). */
const CHART_ARGS = [
  "--s3-bucket=node-images",
  "--s3-region=us-west-2",
  "--enable-vsphere=true",
  "--enable-cloud-director=true",
  "--enable-proxmox=true",
  "--vsphere-pull-from-url=false",
  "--vcd-download-dir=/tmp/images",
  "--vcd-session-refresh-threshold=20h",
  "--image-retention-period=720h",
];

function sourcesOf(args: string[]): ConfigSources {
  return configSourcesFromFlags(parseFlags(args, ALL_CONFIG_FLAGS), PROVIDER_MODULES);
}

async function loadError(
  sources: ConfigSources,
  contents: Record<string, string>,
): Promise<ConfigError> {
  try {
    await loadConfigFromSources(sources, {
      modules: PROVIDER_MODULES,
      readTextFile: files(contents),
    });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail("the configuration was accepted");
}

function issuesOf(error: ConfigError): string[] {
  return error.issues.map((issue) => `${issue.file} ${issue.path}: ${issue.message}`);
}

Deno.test("the Go operator's flags and mounted files give the same config as values.yaml", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  const fromValues = await loadConfigFromSources({ config: EXAMPLE }, {
    modules: PROVIDER_MODULES,
  });
  const fromFlags = await loadConfigFromSources(sourcesOf(CHART_ARGS), {
    modules: PROVIDER_MODULES,
    readTextFile: files(mountedFilesOf(text)),
  });
  assert.equal(await configFingerprint(fromFlags), await configFingerprint(fromValues));
  assert.equal(fromFlags.file, "flags");
  assert.deepEqual(fromFlags.files, [
    "/home/.vsphere/credentials",
    "/home/.vsphere/locations",
    "/home/.vcd/credentials",
    "/home/.vcd/locations",
    "/home/.proxmox/credentials",
    "/home/.proxmox/locations",
  ]);
  // Spot checks that the fingerprint compared real values.
  assert.equal(capvOf(fromFlags)!.credentials.password.reveal(), "my-password");
  assert.equal(capvOf(fromFlags)!.locations.location2.imagesuffix, "my-suffix");
  assert.equal(capvcdOf(fromFlags)!.locations["my-location"].catalog, "my-catalog");
  assert.equal(capmoxOf(fromFlags)!.locations.location2.importStorage, "local");
  assert.equal(fromFlags.retentionMs, 720 * 3_600_000);
});

Deno.test("loadOperatorConfig and --config alone load the same config", async () => {
  const a = await loadOperatorConfig(EXAMPLE, { modules: PROVIDER_MODULES });
  const b = await loadConfigFromSources({ config: EXAMPLE }, { modules: PROVIDER_MODULES });
  assert.equal(await configFingerprint(a), await configFingerprint(b));
  assert.equal(b.file, EXAMPLE);
  assert.deepEqual(b.files, [EXAMPLE]);
});

Deno.test("the fingerprint changes with a secret and ignores where the config came from", async () => {
  const text = await Deno.readTextFile(EXAMPLE);
  const base = await loadConfigFromSources({ config: VALUES }, {
    modules: PROVIDER_MODULES,
    readTextFile: files({ [VALUES]: text }),
  });
  const rotated = await loadConfigFromSources({ config: VALUES }, {
    modules: PROVIDER_MODULES,
    readTextFile: files({ [VALUES]: text.replace(`"xxxxxxxx-`, `"yyyyyyyy-`) }),
  });
  assert.notEqual(await configFingerprint(rotated), await configFingerprint(base));
  assert.equal(
    await configFingerprint(base),
    await configFingerprint(await loadOperatorConfig(EXAMPLE, { modules: PROVIDER_MODULES })),
  );
});

Deno.test("a flag overrides values.yaml, like helm --set", async (t) => {
  const valuesText = await Deno.readTextFile(EXAMPLE);
  const load = (args: string[], extra: Record<string, string> = {}) =>
    loadConfigFromSources(sourcesOf([`--config=${VALUES}`, ...args]), {
      modules: PROVIDER_MODULES,
      readTextFile: files({ [VALUES]: valuesText, ...extra }),
    });

  await t.step("S3, retention and client set-up flags replace their fields only", async () => {
    const config = await load([
      "--s3-bucket=other.bucket",
      "--s3-timeout-seconds=30",
      "--image-retention-period=0",
      "--client-setup-retry-duration=1s",
      "--client-setup-retry-steps=2",
    ]);
    assert.equal(config.s3.bucket, "other.bucket");
    assert.equal(config.s3.region, "us-west-2", "region kept from values.yaml");
    assert.equal(config.s3.timeoutMs, 30_000);
    assert.equal(config.retentionMs, 0);
    assert.deepEqual(config.clientSetup, { initialBackoffMs: 1_000, retryCount: 2 });
  });

  await t.step("--enable-<provider>=false drops a provider values.yaml enables", async () => {
    const config = await load(["--enable-vsphere=false", "--enable-proxmox=false"]);
    assert.deepEqual(config.configuredProviderIds(), ["capvcd"]);
  });

  await t.step("a credentials file flag replaces only the credentials subtree", async () => {
    const config = await load(["--vsphere-credentials=/run/vsphere/credentials"], {
      "/run/vsphere/credentials": "vcenter: vc2\nusername: u2\npassword: rotated\n",
    });
    const capv = capvOf(config)!;
    assert.equal(capv.credentials.vcenter, "vc2");
    assert.equal(capv.credentials.password.reveal(), "rotated");
    assert.deepEqual(Object.keys(capv.locations), ["location1", "location2"]);
    assert.ok(config.files.includes("/run/vsphere/credentials"));
  });

  await t.step("provider scalar flags win over the section", async () => {
    const config = await load([
      "--vsphere-pull-from-url",
      "--vcd-download-dir=/var/tmp/vcd",
      "--vcd-session-refresh-threshold=1h",
    ]);
    assert.equal(capvOf(config)!.pullFromURL, true);
    assert.equal(capvcdOf(config)!.downloadDir, "/var/tmp/vcd");
    assert.equal(capvcdOf(config)!.sessionRefreshThresholdMs, 3_600_000);
  });

  await t.step("a threshold ≤ 0 falls back to 20h, as in the Go operator", async () => {
    const config = await load(["--vcd-session-refresh-threshold=-1s"]);
    assert.equal(capvcdOf(config)!.sessionRefreshThresholdMs, 20 * 3_600_000);
  });
});

Deno.test("a provider enabled by flag reads its section, else its mounted files", async (t) => {
  const chart = await Deno.readTextFile(CHART_DEFAULTS);
  const mounted = {
    "/home/.proxmox/credentials": "url: pve:8006\nuser: u\ntokenId: t\nsecret: s\n",
    "/home/.proxmox/locations": "l1: {node: n, storagePool: sp, bridge: b}\n",
  };

  await t.step("the chart's disabled section, enabled by flag, is validated", async () => {
    const error = await loadError(
      { config: VALUES, providerFlags: { "enable-proxmox": true } },
      { [VALUES]: chart, ...mounted },
    );
    assert.ok(
      error.issues.some((i) => i.file === VALUES && i.path === "proxmox.credentials.url"),
      issuesOf(error).join("\n"),
    );
  });

  await t.step("file flags replace the section's empty subtrees", async () => {
    const config = await loadConfigFromSources({
      config: VALUES,
      providerFlags: {
        "enable-proxmox": true,
        "proxmox-credentials": "/home/.proxmox/credentials",
        "proxmox-locations": "/home/.proxmox/locations",
      },
    }, { modules: PROVIDER_MODULES, readTextFile: files({ [VALUES]: chart, ...mounted }) });
    assert.deepEqual(config.configuredProviderIds(), ["capmox"]);
    assert.equal(capmoxOf(config)!.credentials.secret.reveal(), "s");
    assert.equal(capmoxOf(config)!.credentials.realm, "pam");
    assert.equal(capmoxOf(config)!.locations.l1.importStorage, "local");
  });

  await t.step("no section: the default mounted files", async () => {
    const config = await loadConfigFromSources({
      config: VALUES,
      providerFlags: { "enable-proxmox": true },
    }, {
      modules: PROVIDER_MODULES,
      readTextFile: files({ [VALUES]: "s3: {bucket: b}\n", ...mounted }),
    });
    assert.deepEqual(config.files, [VALUES, ...Object.keys(mounted)]);
    assert.equal(capmoxOf(config)!.locations.l1.node, "n");
  });
});

Deno.test("errors name the mounted file or flag and the field", async (t) => {
  const cases: {
    name: string;
    sources: ConfigSources;
    files: Record<string, string>;
    file: string;
    path: string;
    message: RegExp;
    text: RegExp;
  }[] = [
    {
      name: "a missing default mounted file",
      sources: { providerFlags: { "enable-vsphere": true } },
      files: { "/home/.vsphere/locations": "{}" },
      file: "/home/.vsphere/credentials",
      path: "",
      message: /cannot read the file \(NotFound\)/,
      text: /^Invalid config file "\/home\/.vsphere\/credentials": cannot read/,
    },
    {
      name: "a credentials file without a password",
      sources: { providerFlags: { "enable-vsphere": true } },
      files: {
        "/home/.vsphere/credentials": "vcenter: vc\nusername: u\n",
        "/home/.vsphere/locations": "{}",
      },
      file: "/home/.vsphere/credentials",
      path: "password",
      message: /^required$/,
      text: /"\/home\/.vsphere\/credentials": password: required/,
    },
    {
      name: "a location without a datastore, path relative to the file",
      sources: { providerFlags: { "enable-vsphere": true, "vsphere-locations": "/cfg/locations" } },
      files: {
        "/home/.vsphere/credentials": "vcenter: vc\nusername: u\npassword: p\n",
        "/cfg/locations": "location1: {datacenter: dc, folder: f, cluster: c}\n",
      },
      file: "/cfg/locations",
      path: "location1.datastore",
      message: /^required$/,
      text: /"\/cfg\/locations": location1.datastore: required/,
    },
    {
      name: "a VCD location file without a catalog",
      sources: { providerFlags: { "enable-cloud-director": true } },
      files: {
        "/home/.vcd/credentials": "url: https://vcd\nusername: u\npassword: p\norg: o\n",
        "/home/.vcd/locations": "name: n\nvdc: v\n",
      },
      file: "/home/.vcd/locations",
      path: "catalog",
      message: /^required$/,
      text: /catalog: required/,
    },
    {
      name: "a locations file that is a list",
      sources: { providerFlags: { "enable-proxmox": true } },
      files: {
        "/home/.proxmox/credentials": "url: pve:8006\nuser: u\ntokenId: t\nsecret: s\n",
        "/home/.proxmox/locations": "- node: n\n",
      },
      file: "/home/.proxmox/locations",
      path: "",
      message: /expected a mapping, got a list/,
      text: /"\/home\/.proxmox\/locations": expected a mapping/,
    },
    {
      name: "a non-numeric --s3-timeout-seconds",
      sources: { s3TimeoutSeconds: "abc" },
      files: {},
      file: "--s3-timeout-seconds",
      path: "",
      message: /whole seconds > 0, got "abc"/,
      text: /^Invalid flag "--s3-timeout-seconds": expected whole seconds/,
    },
    {
      name: "a negative --image-retention-period",
      sources: { imageRetentionPeriod: "-1h" },
      files: {},
      file: "--image-retention-period",
      path: "",
      message: /must not be negative/,
      text: /^Invalid flag "--image-retention-period"/,
    },
    {
      name: "a --client-setup-retry-duration without a unit",
      sources: { clientSetupRetryDuration: "5" },
      files: {},
      file: "--client-setup-retry-duration",
      path: "",
      message: /missing unit/,
      text: /^Invalid flag "--client-setup-retry-duration"/,
    },
    {
      name: "an --s3-endpoint that is not http(s)",
      sources: { s3Endpoint: "ftp://minio:9000" },
      files: {},
      file: "--s3-endpoint",
      path: "",
      message: /http:\/\/ or https:\/\//,
      text: /^Invalid flag "--s3-endpoint"/,
    },
    {
      name: "an s3.endpoint in values.yaml that is not a URL",
      sources: { config: VALUES },
      files: { [VALUES]: "s3: {endpoint: minio:9000}\n" },
      file: VALUES,
      path: "s3.endpoint",
      message: /http:\/\/ or https:\/\//,
      text: /s3.endpoint: expected/,
    },
    {
      name: "a bucket that is a path",
      sources: { config: VALUES },
      files: { [VALUES]: "s3: {bucket: bucket/prefix}\n" },
      file: VALUES,
      path: "s3.bucket",
      message: /expected a bucket name/,
      text: /s3.bucket: expected a bucket name/,
    },
    {
      name: "an S3 credentials file without the secret key",
      sources: { s3CredentialsFile: "/s3/keys" },
      files: { "/s3/keys": "accessKeyId: AKIA1\n" },
      file: "/s3/keys",
      path: "secretAccessKey",
      message: /^required$/,
      text: /"\/s3\/keys": secretAccessKey: required/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const error = await loadError(c.sources, c.files);
      assert.equal(error.file, c.file, issuesOf(error).join("\n"));
      assert.equal(error.field, c.path);
      assert.match(error.issues[0].message, c.message);
      assert.match(error.message, c.text);
    });
  }
});

Deno.test("every problem across values.yaml, mounted files and flags is reported at once", async () => {
  const error = await loadError(
    { config: VALUES, s3TimeoutSeconds: "0", providerFlags: { "enable-vsphere": true } },
    {
      [VALUES]: "imageRetentionPeriod: 3d\n",
      "/home/.vsphere/credentials": "vcenter: https://vc\nusername: u\npassword: p\n",
      "/home/.vsphere/locations": "l1: {datacenter: dc, datastore: ds, folder: f}\n",
    },
  );
  assert.deepEqual(error.issues.map((i) => `${i.file}|${i.path}`), [
    `${VALUES}|imageRetentionPeriod`,
    "--s3-timeout-seconds|",
    "/home/.vsphere/credentials|vcenter",
    "/home/.vsphere/locations|l1.cluster",
  ]);
});

Deno.test("S3 endpoint, path style, presign and a credentials file load from values or flags", async (t) => {
  const keys = "accessKeyId: AKIAEXAMPLE\nsecretAccessKey: s3-secret\nsessionToken: s3-token\n";
  await t.step("from values.yaml, with a dotted bucket", async () => {
    const config = await loadConfigFromSources({ config: VALUES }, {
      modules: PROVIDER_MODULES,
      readTextFile: files({
        [VALUES]: `s3:
  bucket: node.images.example
  region: eu-central-1
  endpoint: http://minio.local:9000
  forcePathStyle: true
  presign: true
  credentialsFile: /s3/keys
`,
        "/s3/keys": keys,
      }),
    });
    const { credentials, ...rest } = config.s3;
    assert.deepEqual(rest, {
      bucket: "node.images.example",
      region: "eu-central-1",
      http: false,
      timeoutMs: 90_000,
      endpoint: "http://minio.local:9000",
      forcePathStyle: true,
      presign: true,
      credentialsFile: "/s3/keys",
    });
    assert.equal(credentials!.accessKeyId, "AKIAEXAMPLE");
    assert.equal(credentials!.secretAccessKey.reveal(), "s3-secret");
    assert.equal(credentials!.sessionToken!.reveal(), "s3-token");
    assert.deepEqual(config.files, [VALUES, "/s3/keys"]);
  });
  await t.step("loadOperatorConfig reads the credentials file too", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/keys`, keys);
      await Deno.writeTextFile(`${dir}/values.yaml`, `s3: {credentialsFile: ${dir}/keys}\n`);
      const config = await loadOperatorConfig(`${dir}/values.yaml`, { modules: PROVIDER_MODULES });
      assert.equal(config.s3.credentials!.secretAccessKey.reveal(), "s3-secret");
      assert.deepEqual(config.files, [`${dir}/values.yaml`, `${dir}/keys`]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("from flags, over values.yaml", async () => {
    const config = await loadConfigFromSources(
      sourcesOf([
        `--config=${VALUES}`,
        "--s3-endpoint=https://s3.internal",
        "--s3-force-path-style=false",
        "--s3-credentials-file=/s3/keys",
      ]),
      {
        modules: PROVIDER_MODULES,
        readTextFile: files({
          [VALUES]: "s3: {bucket: b, forcePathStyle: true, endpoint: http://old:9000}\n",
          "/s3/keys": keys,
        }),
      },
    );
    assert.equal(config.s3.endpoint, "https://s3.internal");
    assert.equal(config.s3.forcePathStyle, false);
    assert.equal(config.s3.presign, undefined, "absent stays absent");
    assert.equal(config.s3.credentials!.sessionToken!.reveal(), "s3-token");
  });
  await t.step("an endpoint with user info is rejected without quoting it", async () => {
    const error = await loadError({ s3Endpoint: "https://user:pw-in-url@minio" }, {});
    assert.match(error.message, /must not contain user info/);
    assert.ok(!error.message.includes("pw-in-url"), error.message);
  });
});

Deno.test("the config flags keep only the flags that were given", () => {
  assert.deepEqual(sourcesOf([]), {});
  assert.deepEqual(sourcesOf(["--enable-proxmox", "--s3-bucket=", "--config", "v.yaml"]), {
    providerFlags: {
      "enable-proxmox": true,
    },
    s3Bucket: "",
    config: "v.yaml",
  });
  for (const [name, spec] of Object.entries(ALL_CONFIG_FLAGS)) {
    assert.equal(spec.default, undefined, `--${name} must not have a default`);
  }
});

Deno.test("configFilesOf lists what the sources and the loaded config read", async (t) => {
  await t.step("flags only: the default files of enabled providers and file flags", () => {
    assert.deepEqual(
      configFilesOf({
        providerFlags: {
          "enable-vsphere": true,
          "enable-proxmox": false,
          "proxmox-credentials": "/x/credentials",
          "vcd-locations": "/vcd/locations",
        },
        s3CredentialsFile: "/s3/keys",
      }, PROVIDER_MODULES),
      ["/home/.vsphere/credentials", "/home/.vsphere/locations", "/s3/keys", "/vcd/locations"],
    );
  });
  await t.step("with a loaded config: files named inside values.yaml too", async () => {
    const sources = { config: VALUES };
    const config: OperatorConfig = await loadConfigFromSources(sources, {
      modules: PROVIDER_MODULES,
      readTextFile: files({
        [VALUES]: "s3: {credentialsFile: /s3/keys}\n",
        "/s3/keys": "accessKeyId: a\nsecretAccessKey: b\n",
      }),
    });
    assert.deepEqual(configFilesOf(sources, PROVIDER_MODULES, config), [
      "/etc/ido/values.yaml",
      "/s3/keys",
    ]);
  });
  await t.step(
    "with a loaded config: not the default files of a section values.yaml holds",
    async () => {
      const sources = { config: VALUES, providerFlags: { "enable-vsphere": true } };
      const config = await loadConfigFromSources(sources, {
        modules: PROVIDER_MODULES,
        readTextFile: files({ [VALUES]: await Deno.readTextFile(EXAMPLE) }),
      });
      assert.deepEqual(configFilesOf(sources, PROVIDER_MODULES, config), [VALUES]);
      assert.ok(
        configFilesOf(sources, PROVIDER_MODULES).includes("/home/.vsphere/credentials"),
        "the estimate",
      );
    },
  );
});
