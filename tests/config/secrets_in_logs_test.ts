/**
 * Secrets never reach logs (issue 5 §9): the example configuration and the mounted-files form are
 * loaded with known secret values, every way we print configs and config errors is exercised, and
 * the captured output is searched for each secret.
 */
import assert from "node:assert/strict";
import {
  ConfigError,
  configFilesOf,
  configFingerprint,
  loadConfigFromSources,
  type OperatorConfig,
  watchConfig,
} from "../../lib/config/mod.ts";
import { type LogFormat, Logger } from "../../lib/log.ts";
import { capmoxOf, capvcdOf, capvOf, PROVIDER_MODULES } from "../support/provider_configs.ts";

const EXAMPLE = new URL("../fixtures/values-example.yaml", import.meta.url).pathname;

// Distinct values, so a leak of any one of them is found by a plain substring search.
const VSPHERE_PASSWORD = "vsphere-pw-Qa71";
const VCD_PASSWORD = "vcd-pw-Lm20";
const PROXMOX_SECRET = "pve-secret-Ty94";
const S3_SECRET_KEY = "s3-secret-Hn38";
const S3_SESSION_TOKEN = "s3-token-Zc52";
const ROTATED_PASSWORD = "rotated-pw-Bx66";
const SECRETS = [
  VSPHERE_PASSWORD,
  VCD_PASSWORD,
  PROXMOX_SECRET,
  S3_SECRET_KEY,
  S3_SESSION_TOKEN,
  ROTATED_PASSWORD,
];

/** Everything printed during one test. */
class Capture {
  readonly lines: string[] = [];

  logger(format: LogFormat): Logger {
    return new Logger({ level: "debug", format, sink: (line) => this.lines.push(line) });
  }

  /** Logs `fields` through both formats and records the text forms we print elsewhere. */
  everyWay(what: string, value: unknown): void {
    for (const format of ["json", "text"] as const) {
      const log = this.logger(format);
      log.info(what, { value });
      log.error(what, { error: value });
      log.with({ context: value }).warn(what);
    }
    this.lines.push(String(value), Deno.inspect(value, { depth: 20 }));
    try {
      this.lines.push(JSON.stringify(value) ?? "");
    } catch {
      // Not serialisable; the logger's own fallback was exercised above.
    }
    if (value instanceof Error) this.lines.push(value.message, value.stack ?? "");
  }

  assertNoSecret(): void {
    assert.ok(this.lines.length > 0, "nothing was captured");
    const all = this.lines.join("\n");
    for (const secret of SECRETS) {
      assert.ok(!all.includes(secret), `a secret leaked: ${secret}`);
    }
  }
}

/** A temporary tree with the example values and its mounted-files form, secrets replaced. */
async function writeConfigTree(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const example = await Deno.readTextFile(EXAMPLE);
  const values = example
    .replace(`password: "my-password"`, `password: "${VSPHERE_PASSWORD}"`)
    .replace(`password: "my-password"`, `password: "${VCD_PASSWORD}"`)
    .replace(`"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"`, `"${PROXMOX_SECRET}"`)
    .replace(`http: false`, `http: false\n  credentialsFile: ${dir}/s3/keys`);
  assert.ok(values.includes(VCD_PASSWORD) && values.includes(PROXMOX_SECRET));
  await Deno.writeTextFile(`${dir}/values.yaml`, values);
  const files: Record<string, string> = {
    "s3/keys":
      `accessKeyId: AKIAEXAMPLE\nsecretAccessKey: ${S3_SECRET_KEY}\nsessionToken: ${S3_SESSION_TOKEN}\n`,
    "vsphere/credentials": `vcenter: vc\nusername: u\npassword: ${VSPHERE_PASSWORD}\n`,
    "vsphere/locations": "l1: {datacenter: dc, datastore: ds, folder: f, cluster: c}\n",
    "vcd/credentials": `url: https://vcd\nusername: u\npassword: ${VCD_PASSWORD}\norg: o\n`,
    "vcd/locations": "name: n\nvdc: v\ncatalog: c\n",
    "proxmox/credentials": `url: pve:8006\nuser: u\ntokenId: t\nsecret: ${PROXMOX_SECRET}\n`,
    "proxmox/locations": "l1: {node: n, storagePool: sp, bridge: b}\n",
  };
  for (const [name, text] of Object.entries(files)) {
    await Deno.mkdir(`${dir}/${name.split("/")[0]}`, { recursive: true });
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

function mountedSources(dir: string) {
  return {
    s3Bucket: "node-images",
    s3CredentialsFile: `${dir}/s3/keys`,
    providerFlags: {
      "enable-vsphere": true,
      "vsphere-credentials": `${dir}/vsphere/credentials`,
      "vsphere-locations": `${dir}/vsphere/locations`,
      "enable-cloud-director": true,
      "vcd-credentials": `${dir}/vcd/credentials`,
      "vcd-locations": `${dir}/vcd/locations`,
      "enable-proxmox": true,
      "proxmox-credentials": `${dir}/proxmox/credentials`,
      "proxmox-locations": `${dir}/proxmox/locations`,
    },
  };
}

/** Every printable part of a loaded configuration. */
function partsOf(config: OperatorConfig): [string, unknown][] {
  const [capv, capvcd, capmox] = [capvOf(config), capvcdOf(config), capmoxOf(config)];
  return [
    ["config", config],
    ["redacted view", config.redacted()],
    ["providers", config.providers],
    ["s3", config.s3],
    ["s3 credentials", config.s3.credentials],
    ["s3 secret key", config.s3.credentials!.secretAccessKey],
    ["capv", capv],
    ["capv credentials", capv!.credentials],
    ["capv password", capv!.credentials.password],
    ["capvcd credentials", capvcd!.credentials],
    ["capmox credentials", capmox!.credentials],
    ["capmox secret", capmox!.credentials.secret],
  ];
}

Deno.test("no way of printing a loaded configuration shows a secret", async (t) => {
  const dir = await writeConfigTree();
  try {
    const forms: [string, OperatorConfig][] = [
      [
        "values.yaml",
        await loadConfigFromSources({ config: `${dir}/values.yaml` }, {
          modules: PROVIDER_MODULES,
        }),
      ],
      [
        "mounted files",
        await loadConfigFromSources(mountedSources(dir), { modules: PROVIDER_MODULES }),
      ],
    ];
    for (const [form, config] of forms) {
      await t.step(form, async () => {
        // The secrets are loaded, so a clean capture means they were kept out, not missing.
        assert.equal(capvOf(config)!.credentials.password.reveal(), VSPHERE_PASSWORD);
        assert.equal(config.s3.credentials!.sessionToken!.reveal(), S3_SESSION_TOKEN);
        const capture = new Capture();
        for (const [what, value] of partsOf(config)) capture.everyWay(what, value);
        capture.lines.push(await configFingerprint(config));
        capture.assertNoSecret();
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("no config error shows a secret, whatever is wrong next to it", async (t) => {
  const dir = await writeConfigTree();
  const sources = mountedSources(dir);
  const breakages: [string, string, string][] = [
    ["a missing username", "vsphere/credentials", `vcenter: vc\npassword: ${VSPHERE_PASSWORD}\n`],
    [
      "a secret of the wrong type",
      "vcd/credentials",
      `url: https://vcd\nusername: u\npassword: [${VCD_PASSWORD}]\norg: o\n`,
    ],
    [
      "a secret as a mapping key",
      "proxmox/credentials",
      `url: pve:8006\nuser: u\ntokenId: t\nsecret: {${PROXMOX_SECRET}: 1}\n`,
    ],
    [
      "a YAML syntax error on the secret's line",
      "s3/keys",
      `accessKeyId: a\nsecretAccessKey: "${S3_SECRET_KEY}\nsessionToken: ${S3_SESSION_TOKEN}\n`,
    ],
    [
      "a duplicate secret key",
      "s3/keys",
      `accessKeyId: a\nsecretAccessKey: ${S3_SECRET_KEY}\nsecretAccessKey: ${S3_SESSION_TOKEN}\n`,
    ],
    [
      "a scheme in a URL next to a secret",
      "proxmox/credentials",
      `url: https://pve\nuser: u\ntokenId: t\nsecret: ${PROXMOX_SECRET}\n`,
    ],
    ["a secret in a file that is a list", "vsphere/credentials", `- ${VSPHERE_PASSWORD}\n`],
  ];
  try {
    for (const [name, file, text] of breakages) {
      await t.step(name, async () => {
        const original = await Deno.readTextFile(`${dir}/${file}`);
        await Deno.writeTextFile(`${dir}/${file}`, text);
        try {
          const error = await loadConfigFromSources(sources, { modules: PROVIDER_MODULES }).then(
            () => assert.fail("the configuration was accepted"),
            (error) => error,
          );
          assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
          assert.equal(error.file, `${dir}/${file}`, "the error names the broken file");
          const capture = new Capture();
          capture.everyWay(name, error);
          capture.everyWay("issues", error.issues);
          capture.assertNoSecret();
        } finally {
          await Deno.writeTextFile(`${dir}/${file}`, original);
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reload logs show neither the failed nor the rotated secret", async () => {
  const dir = await writeConfigTree();
  const sources = mountedSources(dir);
  const capture = new Capture();
  const stop = new AbortController();
  let resolveError!: () => void;
  let resolveChange!: (config: OperatorConfig) => void;
  const failed = new Promise<void>((resolve) => (resolveError = resolve));
  const changed = new Promise<OperatorConfig>((resolve) => (resolveChange = resolve));
  const load = () => loadConfigFromSources(sources, { modules: PROVIDER_MODULES });
  const done = watchConfig(load, configFilesOf(sources, PROVIDER_MODULES), {
    signal: stop.signal,
    initial: await load(),
    log: capture.logger("json"),
    debounceMs: 20,
    pollMs: 3_600_000,
    onError: (error) => {
      capture.everyWay("reload error", error);
      resolveError();
    },
    onChange: (config) => resolveChange(config),
  });
  try {
    const credentials = `${dir}/vsphere/credentials`;
    // Broken on the secret's own line: the YAML error must not quote it.
    await Deno.writeTextFile(
      credentials,
      `vcenter: vc\nusername: u\npassword: "${ROTATED_PASSWORD}\n`,
    );
    await failed;
    await Deno.writeTextFile(
      credentials,
      `vcenter: vc\nusername: u\npassword: ${ROTATED_PASSWORD}\n`,
    );
    const config = await changed;
    assert.equal(capvOf(config)!.credentials.password.reveal(), ROTATED_PASSWORD);
    assert.ok(capture.lines.some((line) => line.includes("keeping the previous configuration")));
    assert.ok(capture.lines.some((line) => line.includes("Configuration changed")));
    capture.assertNoSecret();
  } finally {
    stop.abort();
    await done;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the capture does find a secret that is printed", () => {
  const capture = new Capture();
  capture.everyWay("leak", { password: VSPHERE_PASSWORD });
  assert.throws(() => capture.assertNoSecret(), /a secret leaked: vsphere-pw-Qa71/);
});
