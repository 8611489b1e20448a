/**
 * 10 malformed configurations, each given to the real `main()`: every one must be refused at
 * start with exit code 2 and a log line naming the file and the field, and no secret of the
 * file may appear in what is printed (a password inside a URL included).
 */
import { stringify as toYaml } from "yaml";
import type { ChaosCase, Figures } from "./_case.ts";
import { runMainOnce } from "./_operator.ts";

const SECRET = `chaos-config-secret-${crypto.randomUUID()}`;

type Values = Record<string, unknown>;

function base(): Values {
  return {
    s3: { bucket: "images", region: "us-east-1" },
    proxmox: {
      credentials: {
        url: "pve.example.com:8006",
        user: "root",
        realm: "pam",
        tokenId: "ido",
        secret: SECRET,
      },
      locations: { one: { node: "pve1", storagePool: "local-lvm", bridge: "vmbr0" } },
    },
  };
}

function edit(
  fn: (v: Values & { proxmox: Values & { credentials: Values; locations: Values } }) => void,
) {
  const values = base() as Values & {
    proxmox: Values & { credentials: Values; locations: Values };
  };
  fn(values);
  return toYaml(values);
}

/**
 * `[what, file contents, what the message must name besides the file, the file at fault when
 * not the values file]`.
 */
const CONFIGS: [string, (dir: string) => string, RegExp, string?][] = [
  ["a password inside the Proxmox URL", () =>
    edit((v) => {
      v.proxmox.credentials.url = `root:${SECRET}@pve.example.com:8006`;
    }), /proxmox\.credentials\.url/],
  ["YAML that does not parse", () => "s3:\n  bucket: [images\n", /line|yaml|parse/i],
  ["a retention period that is not a duration", () =>
    edit((v) => {
      v.imageRetentionPeriod = "forever";
    }), /imageRetentionPeriod/],
  ["a Proxmox location without its node", () =>
    edit((v) => {
      v.proxmox.locations = { one: { storagePool: "local-lvm" } };
    }), /proxmox\.locations\.one\.node/],
  ["a CA certificate that is not PEM", () =>
    edit((v) => {
      v.proxmox.credentials.caCert = "MIIB...not pem";
    }), /proxmox\.credentials\.caCert/],
  [
    "an S3 credentials file that does not exist",
    (dir) =>
      edit((v) => {
        (v.s3 as Values).credentialsFile = `${dir}/no-such-credentials.yaml`;
      }),
    /credentialsFile|no-such-credentials/,
    "no-such-credentials.yaml",
  ],
  [
    "an S3 credentials file without its secret key",
    (dir) => {
      Deno.writeTextFileSync(`${dir}/s3-credentials.yaml`, "accessKeyId: AKIA\n");
      return edit((v) => {
        (v.s3 as Values).credentialsFile = `${dir}/s3-credentials.yaml`;
      });
    },
    /secretAccessKey/,
    "s3-credentials.yaml",
  ],
  ["a negative retry count", () =>
    edit((v) => {
      v.clientSetup = { retryCount: -3 };
    }), /clientSetup\.retryCount/],
  ["an s3 section that is not a mapping", () =>
    edit((v) => {
      v.s3 = "images";
    }), /s3/],
  ["a Proxmox token id with a secret missing", () =>
    edit((v) => {
      delete v.proxmox.credentials.secret;
    }), /proxmox\.credentials\.secret/],
];

export const malformedConfigurations: ChaosCase<Record<string, never>> = {
  name: "malformed-configurations",
  summary: "10 malformed configurations, each refused at start (exit 2, file and field named)",
  defaults: {},
  quick: {},
  run: async () => {
    const dir = await Deno.makeTempDir({ prefix: "chaos-config-" });
    const problems: string[] = [];
    try {
      for (const [i, [what, contents, field, atFault]] of CONFIGS.entries()) {
        const file = `${dir}/values-${i}.yaml`;
        await Deno.writeTextFile(file, contents(dir));
        const { code, logs } = await runMainOnce([
          `--config=${file}`,
          `--kubeconfig=${dir}/no-kubeconfig`,
          "--health-probe-bind-address=0",
          "--metrics-bind-address=0",
        ]);
        const text = logs.join("\n");
        if (code !== 2) problems.push(`${what}: exit code ${code}, expected 2`);
        const named = atFault ?? `values-${i}.yaml`;
        if (!text.includes(named)) problems.push(`${what}: ${named} is not named in: ${text}`);
        if (!field.test(text)) {
          problems.push(`${what}: ${field} not named in: ${text.slice(0, 300)}`);
        }
        if (text.includes(SECRET)) problems.push(`${what}: the secret appears in the output`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    if (problems.length) throw new Error(`Configurations:\n  ${problems.join("\n  ")}`);
    const figures: Figures = { configurations: CONFIGS.length };
    return figures;
  },
};
