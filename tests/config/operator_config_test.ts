import assert from "node:assert/strict";
import {
  ConfigError,
  loadOperatorConfig,
  type OperatorConfig,
  parseOperatorConfig,
} from "../../lib/config/mod.ts";
import { capmoxOf, capvcdOf, capvOf, PROVIDER_MODULES } from "../support/provider_configs.ts";

const EXAMPLE = new URL("../fixtures/values-example.yaml", import.meta.url);
const CHART_DEFAULTS = new URL("../fixtures/values-chart-defaults.yaml", import.meta.url);
const FILE = "/etc/ido/values.yaml";

/** The smallest valid sections, as YAML lines to splice into tests. */
const VSPHERE = `vsphere:
  credentials: {vcenter: vc.example.com, username: u, password: p}
  locations:
    location1: {datacenter: dc, datastore: ds, folder: /dc/vm, cluster: c}
`;

function parse(text: string): OperatorConfig {
  return parseOperatorConfig(text, FILE, PROVIDER_MODULES);
}

function configError(text: string): ConfigError {
  try {
    parse(text);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail("the config was accepted");
}

Deno.test("the example values.yaml loads with every provider typed", async () => {
  const config = await loadOperatorConfig(EXAMPLE.pathname, { modules: PROVIDER_MODULES });
  assert.equal(config.file, EXAMPLE.pathname);
  assert.deepEqual(config.configuredProviderIds(), ["capv", "capvcd", "capmox"]);
  assert.deepEqual(config.s3, {
    bucket: "node-images",
    region: "us-west-2",
    http: false,
    timeoutMs: 90_000,
  });
  assert.equal(config.retentionMs, 720 * 3_600_000);

  const capv = capvOf(config)!;
  assert.equal(capv.pullFromURL, false);
  assert.equal(capv.credentials.vcenter, "vcenter.example.com");
  assert.equal(capv.credentials.password.reveal(), "my-password");
  assert.deepEqual(Object.keys(capv.locations), ["location1", "location2"]);
  assert.deepEqual(capv.locations.location1, {
    datacenter: "my-datacenter",
    datastore: "my-datastore",
    folder: "my-folder",
    cluster: "my-cluster",
    resourcepool: "",
    host: "",
    network: "",
    imagesuffix: "",
  });
  assert.equal(capv.locations.location2.imagesuffix, "my-suffix");

  const capvcd = capvcdOf(config)!;
  assert.equal(capvcd.downloadDir, "/tmp/images");
  assert.equal(capvcd.sessionRefreshThresholdMs, 20 * 3_600_000);
  // The Go operator's single location object; its `org` is kept only to warn when it differs.
  assert.deepEqual(capvcd.locations, {
    "my-location": {
      vdc: "my-vdc",
      catalog: "my-catalog",
      hardwareVersion: 19,
      storageProfile: "",
      org: "my-org",
    },
  });
  assert.equal(capvcd.credentials.org, "my-org");

  const capmox = capmoxOf(config)!;
  assert.equal(capmox.credentials.realm, "pve");
  assert.equal(capmox.credentials.secret.reveal(), "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
  assert.equal(capmox.locations.location1.importStorage, "local");
  assert.equal(capmox.locations.location2.importStorage, "local", "importStorage defaults");
  assert.equal(capmox.locations.location2.storagePool, "ceph-pool");
});

Deno.test("the Helm chart's own values.yaml loads with no provider configured", async () => {
  const config = await loadOperatorConfig(CHART_DEFAULTS.pathname, { modules: PROVIDER_MODULES });
  assert.deepEqual(config.configuredProviderIds(), []);
  assert.equal(config.retentionMs, 0);
  assert.deepEqual(config.clientSetup, { initialBackoffMs: 5_000, retryCount: 5 });
  assert.equal(config.s3.timeoutMs, 90_000, `s3.timeout: "" keeps the default`);
});

Deno.test("enabled: false drops a provider without validating its section", async (t) => {
  const text = (await Deno.readTextFile(EXAMPLE))
    .replace("vcd:\n  enabled: true", "vcd:\n  enabled: false")
    .replace(`url: "https://my-vcd-instance.example.com"`, "url: 42");
  assert.match(text, /url: 42/);
  const config = parse(text);
  assert.deepEqual(config.configuredProviderIds(), ["capv", "capmox"]);
  assert.equal(capvcdOf(config), undefined);
  await t.step("isConfigured answers for any provider string", () => {
    assert.equal(config.isConfigured("capv"), true);
    assert.equal(config.isConfigured("capvcd"), false);
    assert.equal(config.isConfigured("aws"), false);
    assert.equal(config.isConfigured("constructor"), false);
  });
});

Deno.test("a provider section without enabled counts as configured (older form)", () => {
  const config = parse(VSPHERE);
  assert.deepEqual(config.configuredProviderIds(), ["capv"]);
  assert.equal(capvOf(config)?.locations.location1.folder, "/dc/vm");
});

Deno.test("an absent or empty section configures nothing", () => {
  const config = parse("vsphere:\nproxmox: ~\n");
  assert.deepEqual(config.configuredProviderIds(), []);
  assert.equal(config.retentionMs, 0, "imageRetentionPeriod defaults to 0");
});

Deno.test("an empty values file is refused, naming the file", async (t) => {
  for (
    const [name, text] of [["empty file", ""], ["only comments", "# nothing\n"], [
      "null",
      "null\n",
    ], ["tilde", "~\n"]]
  ) {
    await t.step(name, () => {
      const error = configError(text);
      assert.equal(error.file, FILE);
      assert.equal(error.field, "");
      assert.match(error.message, /the file is empty/);
    });
  }
});

Deno.test("unknown top-level sections and a platform without a bucket load with warnings", () => {
  const config = parse(`s3: {region: r}\nopenstack: {}\nrbac: {enable: true}\n${VSPHERE}`);
  assert.deepEqual(config.configuredProviderIds(), ["capv"]);
  assert.deepEqual(config.warnings.map((w) => [w.file, w.path]), [
    [FILE, "openstack"],
    [FILE, "s3.bucket"],
  ]);
});

Deno.test("imageRetentionPeriod is a Go duration, also given as the number 0", async (t) => {
  const cases: [string, number][] = [
    [`imageRetentionPeriod: "0"`, 0],
    [`imageRetentionPeriod: 0`, 0],
    [`imageRetentionPeriod: "2160h"`, 2160 * 3_600_000],
    [`imageRetentionPeriod: 1h30m`, 5_400_000],
    [`imageRetentionPeriod: ""`, 0],
  ];
  for (const [line, ms] of cases) {
    await t.step(line, () => assert.equal(parse(line).retentionMs, ms));
  }
});

Deno.test("each validation error names the file and the field path", async (t) => {
  const cases: { name: string; text: string; path: string; message: RegExp }[] = [
    {
      name: "a missing vSphere datastore",
      text: VSPHERE.replace("datastore: ds, ", ""),
      path: "vsphere.locations.location1.datastore",
      message: /^required$/,
    },
    {
      name: "an empty vSphere password",
      text: VSPHERE.replace("password: p", 'password: ""'),
      path: "vsphere.credentials.password",
      message: /^required$/,
    },
    {
      name: "a vCenter with a scheme",
      text: VSPHERE.replace("vcenter: vc.example.com", "vcenter: https://vc.example.com"),
      path: "vsphere.credentials.vcenter",
      message: /without a scheme/,
    },
    {
      name: "a location that is not a mapping",
      text: VSPHERE.replace(/location1: .*/, "location1: [a]"),
      path: "vsphere.locations.location1",
      message: /expected a mapping, got a list/,
    },
    {
      name: "a location with no fields",
      text: VSPHERE.replace(/location1: .*/, "location1:"),
      path: "vsphere.locations.location1",
      message: /expected a mapping, got null/,
    },
    {
      name: "enabled as a string",
      text: VSPHERE.replace("vsphere:\n", 'vsphere:\n  enabled: "false"\n'),
      path: "vsphere.enabled",
      message: /expected true or false, got a string/,
    },
    {
      name: "a negative retention",
      text: `imageRetentionPeriod: "-1s"`,
      path: "imageRetentionPeriod",
      message: /must not be negative, got "-1s"/,
    },
    {
      name: "a retention in days",
      text: `imageRetentionPeriod: 30d`,
      path: "imageRetentionPeriod",
      message: /unknown unit "d"/,
    },
    {
      name: "a retention without unit",
      text: `imageRetentionPeriod: 5`,
      path: "imageRetentionPeriod",
      message: /missing unit/,
    },
    {
      name: "s3.http as a string",
      text: `s3: {http: "yes"}`,
      path: "s3.http",
      message: /expected true or false/,
    },
    {
      name: "a zero s3.timeout",
      text: `s3: {timeout: 0}`,
      path: "s3.timeout",
      message: /more than 0/,
    },
    {
      name: "a VCD location without catalog",
      text:
        "vcd:\n  credentials: {url: https://vcd.example.com, username: u, password: p, org: o}\n" +
        "  locations: {name: n, vdc: v}\n",
      path: "vcd.locations.catalog",
      message: /^required$/,
    },
    {
      name: "a VCD URL without scheme",
      text: "vcd:\n  credentials: {url: vcd.example.com, username: u, password: p, org: o}\n" +
        "  locations: {name: n, vdc: v, catalog: c}\n",
      path: "vcd.credentials.url",
      message: /http:\/\/ or https:\/\//,
    },
    {
      name: "a negative VCD hardware version",
      text:
        "vcd:\n  credentials: {url: https://vcd.example.com, username: u, password: p, org: o}\n" +
        "  locations: {name: n, vdc: v, catalog: c, hardwareVersion: -1}\n",
      path: "vcd.locations.hardwareVersion",
      message: /whole number/,
    },
    {
      name: "a Proxmox URL with a scheme",
      text: "proxmox:\n  credentials: {url: https://pve:8006, user: u, tokenId: t, secret: s}\n",
      path: "proxmox.credentials.url",
      message: /without a scheme/,
    },
    {
      name: "a Proxmox location without bridge",
      text: "proxmox:\n  credentials: {url: pve:8006, user: u, tokenId: t, secret: s}\n" +
        "  locations:\n    l1: {node: n, storagePool: sp}\n",
      path: "proxmox.locations.l1.bridge",
      message: /^required$/,
    },
    {
      name: "a top level that is a list",
      text: "- a\n- b\n",
      path: "",
      message: /top level/,
    },
    {
      name: "a YAML syntax error",
      text: "s3:\n  bucket: [unclosed\n",
      path: "",
      message: /YAML syntax error \(\w+\) at line \d+, column \d+/,
    },
    {
      name: "a duplicate key",
      text: "s3: {}\ns3: {}\n",
      path: "",
      message: /DUPLICATE_KEY/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const error = configError(c.text);
      assert.equal(error.file, FILE);
      assert.equal(error.field, c.path);
      assert.match(error.issues[0].message, c.message);
      const prefix = c.path ? `${c.path}: ` : "";
      assert.ok(
        error.message.startsWith(`Invalid config file "${FILE}": ${prefix}`),
        error.message,
      );
    });
  }
});

Deno.test("all problems of one file are reported together", () => {
  const error = configError(
    "imageRetentionPeriod: 1d\nproxmox:\n  credentials: {url: pve:8006}\n",
  );
  assert.deepEqual(error.issues.map((i) => i.path), [
    "imageRetentionPeriod",
    "proxmox.credentials.user",
    "proxmox.credentials.tokenId",
    "proxmox.credentials.secret",
  ]);
});

Deno.test("an unreadable file is a ConfigError naming it", async () => {
  await assert.rejects(
    loadOperatorConfig("/nonexistent/values.yaml", { modules: PROVIDER_MODULES }),
    (error: unknown) =>
      error instanceof ConfigError && error.file === "/nonexistent/values.yaml" &&
      /cannot read the file \(NotFound\)/.test(error.message),
  );
});

Deno.test("string fields get the YAML text as written, as yaml.v2 gave the Go operator", () => {
  const config = parse(
    "proxmox:\n  credentials: {url: pve:8006, user: 0123, tokenId: 1e3, secret: 0x1F}\n",
  );
  const credentials = capmoxOf(config)!.credentials;
  assert.equal(credentials.user, "0123");
  assert.equal(credentials.tokenId, "1e3");
  assert.equal(credentials.secret.reveal(), "0x1F");
});

Deno.test("a location named __proto__ is an ordinary location", () => {
  const config = parse(
    "proxmox:\n  credentials: {url: pve:8006, user: u, tokenId: t, secret: s}\n" +
      "  locations:\n    __proto__: {node: n, storagePool: sp, bridge: b}\n",
  );
  const locations = capmoxOf(config)!.locations;
  assert.deepEqual(Object.keys(locations), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(locations), Object.prototype);
});
