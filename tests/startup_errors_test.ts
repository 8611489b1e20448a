/**
 * Start-up mistakes end the process with status 2 and a message naming the file or flag and the
 * field, before anything talks to the cluster or a platform; mistakes the Go operator accepted
 * are warned about once and the operator goes on.
 */
import assert from "node:assert/strict";
import { FakeApiServer } from "./fake_apiserver/mod.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** The smallest enabled platform section, to combine with the cases' S3 settings. */
const PROXMOX = `proxmox:
  credentials: {url: "pve.example.com:8006", user: u, tokenId: t, secret: s}
  locations:
    one: {node: n, storagePool: p, bridge: b}
`;

interface Outcome {
  code: number;
  stderr: string;
}

async function run(args: string[], files: Record<string, string> = {}): Promise<Outcome> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const expanded = args.map((arg) => arg.replaceAll("$DIR", dir));
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "--health-probe-bind-address=0", ...expanded],
      stdout: "null",
      stderr: "piped",
      env: { KUBECONFIG: `${dir}/no-kubeconfig` },
    }).output();
    return { code, stderr: new TextDecoder().decode(stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Lines of the JSON log whose message matches. */
function logLines(stderr: string, msg: RegExp): Record<string, unknown>[] {
  return stderr.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
    .filter((line) => msg.test(String(line.msg)));
}

Deno.test("an invalid --namespace exits with status 2 and says what a namespace name is", async () => {
  for (const namespace of ["Giant_Swarm", "-images", "a".repeat(64), ""]) {
    const { code, stderr } = await run([`--namespace=${namespace}`]);
    assert.equal(code, 2, `--namespace=${namespace}: ${stderr}`);
    assert.match(stderr, /--namespace/);
    assert.match(stderr, /DNS-1123 label/);
  }
});

Deno.test("every start-up configuration mistake exits with status 2 naming file or flag and field", async (t) => {
  const cases: { name: string; args: string[]; files?: Record<string, string>; says: RegExp[] }[] =
    [
      {
        name: "an empty values file",
        args: ["--config=$DIR/values.yaml"],
        files: { "values.yaml": "" },
        says: [/values\.yaml/, /empty/],
      },
      {
        name: "a values file holding only comments",
        args: ["--config=$DIR/values.yaml"],
        files: { "values.yaml": "# s3:\n#   bucket: images\n" },
        says: [/values\.yaml/, /empty/],
      },
      {
        name: "a values file of null",
        args: ["--config=$DIR/values.yaml"],
        files: { "values.yaml": "null\n" },
        says: [/values\.yaml/, /empty/],
      },
      {
        name: "a Proxmox URL whose port is not a number",
        args: ["--config=$DIR/values.yaml"],
        files: {
          "values.yaml": `s3: {bucket: images}\n${PROXMOX.replace("8006", "80o6")}`,
        },
        says: [/values\.yaml/, /proxmox\.credentials\.url/, /port/],
      },
      {
        name: "a VCD URL whose port is not a number",
        args: ["--config=$DIR/values.yaml"],
        files: {
          "values.yaml": `s3: {bucket: images}
vcd:
  credentials: {url: "https://vcd.example.com:44x3", username: u, password: p, org: o}
  locations: {name: l, vdc: v, catalog: c}
`,
        },
        says: [/vcd\.credentials\.url/, /port/],
      },
      {
        name: "a vCenter whose port is not a number",
        args: ["--config=$DIR/values.yaml"],
        files: {
          "values.yaml": `s3: {bucket: images}
vsphere:
  credentials: {vcenter: "vc.example.com:https", username: u, password: p}
  locations:
    one: {datacenter: dc, datastore: ds, folder: /dc/vm, cluster: c}
`,
        },
        says: [/vsphere\.credentials\.vcenter/, /port/],
      },
      {
        name: "an S3 endpoint whose port is not a number",
        args: ["--config=$DIR/values.yaml"],
        files: { "values.yaml": `s3: {bucket: images, endpoint: "http://minio:9ooo"}\n` },
        says: [/s3\.endpoint/, /port/],
      },
      {
        name: "a malformed metrics bind address",
        args: ["--metrics-bind-address=:80a0"],
        says: [/--metrics-bind-address/, /port/],
      },
      {
        name: "a metrics certificate directory without the key",
        args: ["--metrics-bind-address=127.0.0.1:0", "--metrics-cert-path=$DIR"],
        files: { "tls.crt": "-----BEGIN CERTIFICATE-----\n" },
        says: [/Cannot read --metrics-cert-key file \\?".*\/tls\.key/],
      },
      {
        name: "a malformed health probe bind address",
        args: ["--health-probe-bind-address=localhost"],
        says: [/--health-probe-bind-address/],
      },
      {
        name: "a sync period too short to be a repair",
        args: ["--sync-period=10s"],
        says: [/--sync-period/, /at least 1m/],
      },
      {
        name: "a kubeconfig that does not exist",
        args: ["--kubeconfig=$DIR/missing-kubeconfig"],
        says: [/missing-kubeconfig/],
      },
      {
        name: "a kubeconfig that is not YAML",
        args: ["--kubeconfig=$DIR/kubeconfig"],
        files: { kubeconfig: "clusters: [\n" },
        says: [/kubeconfig/],
      },
    ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { code, stderr } = await run(c.args, c.files);
      assert.equal(code, 2, `exit status; stderr:\n${stderr}`);
      for (const pattern of c.says) assert.match(stderr, pattern);
    });
  }
  await t.step("a metrics address another process holds", async () => {
    const server = await FakeApiServer.start();
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const { code, stderr } = await run([
        "--kubeconfig=$DIR/kubeconfig",
        `--metrics-bind-address=127.0.0.1:${(taken.addr as Deno.NetAddr).port}`,
      ], { kubeconfig: server.kubeconfigYaml() });
      assert.equal(code, 2, `exit status; stderr:\n${stderr}`);
      assert.match(stderr, /--metrics-bind-address/);
    } finally {
      taken.close();
      await server.close();
    }
  });
});

Deno.test("what the Go operator accepted is warned about once, and the operator goes on", async (t) => {
  const cases: { name: string; args: string[]; files: Record<string, string>; warns: RegExp[] }[] =
    [
      {
        name: "an unknown values section (the Go chart's own keys are not warned about)",
        args: ["--config=$DIR/values.yaml"],
        files: {
          "values.yaml": `s3: {bucket: images}
openstack:
  credentials: {url: "https://keystone.example.com"}
controllerManager: {replicas: 1}
rbac: {enable: true}
crd: {enable: true, keep: true}
metrics: {enable: true}
prometheus: {enable: false}
certmanager: {enable: false}
networkPolicy: {enable: false}
global: {podSecurityStandards: {enforced: true}}
`,
        },
        warns: [/values\.yaml/, /openstack: unknown section/],
      },
      {
        name: "no s3.bucket while a platform is configured",
        args: ["--config=$DIR/values.yaml"],
        files: { "values.yaml": `s3: {region: eu-west-1}\n${PROXMOX}` },
        warns: [/values\.yaml/, /s3\.bucket: not set/, /capmox/],
      },
      {
        name: "no --s3-bucket while a platform is enabled by flag",
        args: [
          "--enable-proxmox",
          "--proxmox-credentials=$DIR/credentials",
          "--proxmox-locations=$DIR/locations",
        ],
        files: {
          credentials: "{url: pve.example.com:8006, user: u, tokenId: t, secret: s}\n",
          locations: "one: {node: n, storagePool: p, bridge: b}\n",
        },
        warns: [/--s3-bucket/, /not set/],
      },
      {
        name: "an empty locations file of an enabled platform",
        args: [
          "--s3-bucket=images",
          "--enable-proxmox",
          "--proxmox-credentials=$DIR/credentials",
          "--proxmox-locations=$DIR/locations",
        ],
        files: {
          credentials: "{url: pve.example.com:8006, user: u, tokenId: t, secret: s}\n",
          locations: "",
        },
        warns: [/locations/, /no locations/],
      },
    ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      // Past the configuration, stopped by the missing kubeconfig.
      const { code, stderr } = await run(c.args, c.files);
      assert.equal(code, 2, stderr);
      assert.match(stderr, /no-kubeconfig/);
      const warnings = logLines(stderr, /Configuration warning/);
      assert.equal(warnings.length, 1, stderr);
      for (const pattern of c.warns) assert.match(String(warnings[0].warning), pattern);
      for (const key of ["controllerManager", "rbac", "crd", "networkPolicy", "global"]) {
        assert.doesNotMatch(stderr, new RegExp(`${key}: unknown`));
      }
    });
  }
});

Deno.test("a file outside the paths Deno may read is named, with Deno's reason", async (t) => {
  // The container's situation (Containerfile: --allow-read lists the mount points): the
  // checkout and the Deno cache are readable, the directory holding the file is not.
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const denoDir = JSON.parse(new TextDecoder().decode(info.stdout)).denoDir as string;
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const cases = [
    {
      name: "values.yaml (--config)",
      flag: "--config",
      text: PROXMOX,
      msg: /^Invalid configuration$/,
      error: (file: string) =>
        `Invalid config file "${file}": cannot read the file (NotCapable: ` +
        `Requires read access to "${file}", run again with the --allow-read flag)`,
    },
    {
      name: "a kubeconfig (--kubeconfig), which is there but not readable, not missing",
      flag: "--kubeconfig",
      text: "apiVersion: v1\nkind: Config\n",
      msg: /^Invalid start-up configuration$/,
      error: (file: string) =>
        `Cannot read kubeconfig ${file}: ` +
        `Requires read access to "${file}", run again with the --allow-read flag`,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const dir = await Deno.makeTempDir();
      try {
        const file = `${dir}/file.yaml`;
        await Deno.writeTextFile(file, c.text);
        const { code, stderr } = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            `--allow-read=${root},${denoDir}`,
            "--allow-env",
            "--allow-net",
            "--allow-sys",
            MAIN,
            "--health-probe-bind-address=0",
            `${c.flag}=${file}`,
          ],
          stdout: "null",
          stderr: "piped",
          env: { NO_COLOR: "1", DENO_NO_PROMPT: "1" },
        }).output();
        const text = new TextDecoder().decode(stderr);
        assert.equal(code, 2, `exit status; stderr:\n${text}`);
        const [line] = logLines(text, c.msg);
        assert.ok(line, text);
        assert.equal(line.error, c.error(file));
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});
