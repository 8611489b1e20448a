import assert from "node:assert/strict";
import { parse } from "yaml";
import {
  buildImageName,
  componentVersion,
  deriveNodeImage,
  duplicateComponents,
  flatcarChannelFor,
  InvalidObjectNameError,
  nodeImageObjectName,
  providerNameOf,
  type ReleaseLike,
  ReleaseParseError,
  s3KeyFor,
  validateFlatcarChannel,
} from "../../lib/release/derive.ts";
import { FLATCAR_CHANNEL_ANNOTATION } from "../../lib/names.ts";
import { layoutFor, NAMING } from "../support/provider_configs.ts";
import { providerIdOf } from "../../lib/release/naming.ts";

/** A Release with the three image components; `components` replaces them when given. */
function release(
  name: string,
  versions: { flatcar?: string; kubernetes?: string; tooling?: string } = {},
  extra: {
    annotations?: Record<string, string>;
    components?: { name: string; version?: string }[];
  } = {},
): ReleaseLike {
  const components = extra.components ?? [
    { name: "flatcar", version: versions.flatcar ?? "3975.2.0" },
    { name: "kubernetes", version: versions.kubernetes ?? "1.30.4" },
    { name: "os-tooling", version: versions.tooling ?? "1.18.1" },
  ];
  return { metadata: { name, annotations: extra.annotations }, spec: { components } };
}

const fixtures = new URL("../fixtures/", import.meta.url);

Deno.test("provider prefix is the name before the first semver, as the Go regex takes it", async (t) => {
  const cases: [string, string][] = [
    ["vsphere-1.2.3", "vsphere"],
    ["vsphere-20.0.0", "vsphere"],
    ["vsphere-35.0.0", "vsphere"],
    ["cloud-director-1.2.3", "cloud-director"],
    ["cloud-director-0.10.5", "cloud-director"],
    ["proxmox-1.2.3", "proxmox"],
    ["capa-31.0.0", "capa"],
    ["aws-25.0.0", "aws"],
    ["vsphere-30.0.0-alpha.1", "vsphere"],
  ];
  for (const [name, expected] of cases) {
    await t.step(`${name} gives ${expected}`, () => assert.equal(providerNameOf(name), expected));
  }
});

Deno.test("release names without a provider prefix are errors naming the Release", async (t) => {
  for (
    const name of ["vsphere", "invalid-release-name", "v20.1.0", "20.1.0", "VSphere-1.2.3", ""]
  ) {
    await t.step(`"${name}" is rejected`, () => {
      assert.throws(() => providerNameOf(name), (error: unknown) => {
        assert.ok(error instanceof ReleaseParseError);
        assert.equal(error.release, name);
        assert.equal(error.field, "metadata.name");
        assert.match(error.message, new RegExp(`Release name "${name}"`));
        return true;
      });
    });
  }
});

Deno.test("provider names map to provider ids and unknown ones pass through", async (t) => {
  const cases: [string, string][] = [
    ["vsphere", "capv"],
    ["cloud-director", "capvcd"],
    ["proxmox", "capmox"],
    ["aws", "aws"],
    ["test", "test"],
    ["capa", "capa"],
    ["constructor", "constructor"],
  ];
  for (const [name, id] of cases) {
    await t.step(`${name} maps to ${id}`, () => assert.equal(providerIdOf(NAMING, name), id));
  }
});

Deno.test("image names strip a leading v from kubernetes and tooling only", async (t) => {
  const cases: { name: string; input: Parameters<typeof buildImageName>[0]; expected: string }[] = [
    {
      name: "v prefixes are stripped",
      input: { channel: "stable", flatcar: "3975.2.0", kubernetes: "v1.30.4", tooling: "v1.18.1" },
      expected: "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
    },
    {
      name: "versions without v are used as they are",
      input: { channel: "stable", flatcar: "3975.2.0", kubernetes: "1.30.4", tooling: "1.18.1" },
      expected: "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
    },
    {
      name: "the beta channel appears in the name",
      input: { channel: "beta", flatcar: "3975.2.0", kubernetes: "v1.30.4", tooling: "v1.18.1" },
      expected: "flatcar-beta-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
    },
    {
      name: "a v on the flatcar version is kept",
      input: { channel: "stable", flatcar: "v3975.2.0", kubernetes: "1.30.4", tooling: "1.18.1" },
      expected: "flatcar-stable-v3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
    },
    {
      name: "only one leading v is stripped",
      input: { channel: "stable", flatcar: "1.0.0", kubernetes: "vv1.30.4", tooling: "1.18.1" },
      expected: "flatcar-stable-1.0.0-kube-v1.30.4-tooling-1.18.1-gs",
    },
    {
      name: "the vsphere-35.0.0 release of the spec",
      input: { channel: "stable", flatcar: "4593.2.3", kubernetes: "1.35.6", tooling: "1.32.1" },
      expected: "flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.equal(buildImageName(c.input), c.expected));
  }
});

Deno.test("S3 keys follow the Go operator's layout per provider", async (t) => {
  const image = "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs";
  const cases: [string, string, string, string][] = [
    ["capv", "capv", image, `capv/${image}/flatcar-stable-3975.2.0-kube-v1.30.4.ova`],
    [
      "capvcd shares the capv directory",
      "capvcd",
      image,
      `capv/${image}/flatcar-stable-3975.2.0-kube-v1.30.4.ova`,
    ],
    [
      "capmox uses qcow2",
      "capmox",
      image,
      `capmox/${image}/flatcar-stable-3975.2.0-kube-v1.30.4.qcow2`,
    ],
    [
      "another kubernetes version",
      "capv",
      "flatcar-stable-3975.2.0-kube-1.29.0-tooling-1.18.1-gs",
      "capv/flatcar-stable-3975.2.0-kube-1.29.0-tooling-1.18.1-gs/flatcar-stable-3975.2.0-kube-v1.29.0.ova",
    ],
    [
      "other providers use their own directory",
      "vsphere",
      image,
      `vsphere/${image}/flatcar-stable-3975.2.0-kube-v1.30.4.ova`,
    ],
    ["aws passes through", "aws", image, `aws/${image}/flatcar-stable-3975.2.0-kube-v1.30.4.ova`],
    [
      "the example release",
      "capv",
      "flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs",
      "capv/flatcar-stable-4459.2.4-kube-1.34.5-tooling-1.27.0-gs/flatcar-stable-4459.2.4-kube-v1.34.5.ova",
    ],
    [
      "a name without -tooling keeps all of it",
      "capv",
      "flatcar-stable-1.0.0-kube-1.2.3-gs",
      "capv/flatcar-stable-1.0.0-kube-1.2.3-gs/flatcar-stable-1.0.0-kube-v1.2.3-gs.ova",
    ],
    [
      "an already v-prefixed kube version is left alone",
      "capv",
      "flatcar-stable-1.0.0-kube-v1.2.3-tooling-1.0.0-gs",
      "capv/flatcar-stable-1.0.0-kube-v1.2.3-tooling-1.0.0-gs/flatcar-stable-1.0.0-kube-v1.2.3.ova",
    ],
  ];
  for (const [name, provider, imageName, expected] of cases) {
    await t.step(name, () => assert.equal(s3KeyFor(imageName, layoutFor(provider)), expected));
  }
});

Deno.test("components are found by exact name and a missing or empty one names Release and component", async (t) => {
  await t.step("the first component with the exact name wins", () => {
    const r = release("vsphere-1.2.3", {}, {
      components: [
        { name: "flatcar-extra", version: "9.9.9" },
        { name: "flatcar", version: "1.1.1" },
        { name: "flatcar", version: "2.2.2" },
      ],
    });
    assert.equal(componentVersion(r, "flatcar"), "1.1.1");
  });
  const broken: [string, ReleaseLike, string, string][] = [
    [
      "missing flatcar",
      release("vsphere-1.2.3", {}, {
        components: [{ name: "kubernetes", version: "1.30.4" }, {
          name: "os-tooling",
          version: "1.18.1",
        }],
      }),
      "flatcar",
      "spec.components[flatcar]",
    ],
    [
      "missing kubernetes",
      release("cloud-director-0.10.5", {}, {
        components: [{ name: "flatcar", version: "3975.2.0" }, {
          name: "os-tooling",
          version: "1.18.1",
        }],
      }),
      "kubernetes",
      "spec.components[kubernetes]",
    ],
    [
      "missing os-tooling",
      release("vsphere-1.2.3", {}, {
        components: [{ name: "flatcar", version: "3975.2.0" }, {
          name: "kubernetes",
          version: "1.30.4",
        }],
      }),
      "os-tooling",
      "spec.components[os-tooling]",
    ],
    [
      "empty flatcar version",
      release("vsphere-1.2.3", { flatcar: "" }),
      "flatcar",
      "spec.components[flatcar].version",
    ],
    [
      "empty kubernetes version",
      release("vsphere-1.2.3", { kubernetes: "" }),
      "kubernetes",
      "spec.components[kubernetes].version",
    ],
    [
      "absent tooling version",
      release("vsphere-1.2.3", {}, {
        components: [{ name: "flatcar", version: "1.0.0" }, {
          name: "kubernetes",
          version: "1.0.0",
        }, { name: "os-tooling" }],
      }),
      "os-tooling",
      "spec.components[os-tooling].version",
    ],
    [
      "no spec at all",
      { metadata: { name: "vsphere-1.2.3" } },
      "flatcar",
      "spec.components[flatcar]",
    ],
  ];
  for (const [name, r, component, field] of broken) {
    await t.step(`${name} is a ReleaseParseError`, () => {
      assert.throws(
        () => deriveNodeImage(r, { channel: "stable", naming: NAMING }),
        (error: unknown) => {
          assert.ok(error instanceof ReleaseParseError);
          assert.equal(error.field, field);
          assert.equal(error.release, r.metadata.name);
          assert.ok(error.message.includes(`"${r.metadata.name}"`), error.message);
          assert.ok(error.message.includes(`"${component}"`), error.message);
          return true;
        },
      );
    });
  }
});

Deno.test("node image object names are <providerId>-<imageName> and must be DNS-1123 subdomains", async (t) => {
  await t.step("a normal name is accepted", () => {
    assert.equal(
      nodeImageObjectName("capv", "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs"),
      "capv-flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
    );
  });
  const invalid: [string, string, string][] = [
    ["upper case", "capv", "flatcar-stable-1.0.0-kube-1.0.0-RC-tooling-1.0.0-gs"],
    ["semver build metadata", "capv", "flatcar-stable-1.0.0+abc-kube-1.0.0-tooling-1.0.0-gs"],
    ["longer than 253 characters", "capv", "x".repeat(249)],
    ["an empty label between dots", "capv", "flatcar-stable-1..0-gs"],
  ];
  for (const [name, provider, image] of invalid) {
    await t.step(`${name} is rejected`, () => {
      assert.throws(() => nodeImageObjectName(provider, image), InvalidObjectNameError);
    });
  }
  await t.step("exactly 253 characters is accepted", () => {
    assert.equal(nodeImageObjectName("capv", "x".repeat(248)).length, 253);
  });
  await t.step("deriveNodeImage turns an invalid name into a ReleaseParseError", () => {
    const r = release("vsphere-1.2.3", { kubernetes: "1.30.4+build" });
    assert.throws(() => deriveNodeImage(r, { naming: NAMING }), (error: unknown) => {
      assert.ok(error instanceof ReleaseParseError);
      assert.ok(error.cause instanceof InvalidObjectNameError);
      assert.match(error.message, /Release "vsphere-1\.2\.3".*DNS-1123/);
      return true;
    });
  });
});

Deno.test("the Flatcar channel comes from the option unless the Release annotation overrides it", async (t) => {
  await t.step("without option or annotation it is stable", () => {
    assert.equal(
      deriveNodeImage(release("vsphere-1.2.3"), { naming: NAMING }).imageName.split("-")[1],
      "stable",
    );
  });
  await t.step("the option sets it", () => {
    assert.equal(flatcarChannelFor(release("vsphere-1.2.3"), "beta"), "beta");
  });
  await t.step("the annotation beats the option", () => {
    const r = release("vsphere-1.2.3", {}, {
      annotations: { [FLATCAR_CHANNEL_ANNOTATION]: "alpha" },
    });
    assert.equal(
      deriveNodeImage(r, { channel: "beta", naming: NAMING }).imageName,
      "flatcar-alpha-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
    );
  });
  for (const bad of ["", "Stable", "beta-1", "lts 2024"]) {
    await t.step(`annotation "${bad}" is rejected naming the annotation`, () => {
      const r = release("vsphere-1.2.3", {}, {
        annotations: { [FLATCAR_CHANNEL_ANNOTATION]: bad },
      });
      assert.throws(() => deriveNodeImage(r, { naming: NAMING }), (error: unknown) => {
        assert.ok(error instanceof ReleaseParseError);
        assert.equal(error.field, `metadata.annotations[${FLATCAR_CHANNEL_ANNOTATION}]`);
        assert.ok(error.message.includes(`"${bad}"`));
        return true;
      });
    });
    await t.step(`flag value "${bad}" is rejected naming the flag`, () => {
      assert.throws(() => validateFlatcarChannel(bad), /--flatcar-channel/);
    });
  }
  await t.step(
    "a valid flag value is returned",
    () => assert.equal(validateFlatcarChannel("lts"), "lts"),
  );
});

Deno.test("deriveNodeImage reproduces every worked example of the spec", async (t) => {
  const cases: {
    name: string;
    release: ReleaseLike;
    channel?: string;
    expected: Record<string, string>;
  }[] = [
    {
      name: "vsphere-1.2.3 with v-prefixed versions",
      release: release("vsphere-1.2.3", { kubernetes: "v1.30.4", tooling: "v1.18.1" }),
      expected: {
        providerName: "vsphere",
        providerId: "capv",
        imageName: "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
        objectName: "capv-flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
        s3Key:
          "capv/flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs/flatcar-stable-3975.2.0-kube-v1.30.4.ova",
      },
    },
    {
      name: "cloud-director-0.10.5",
      release: release("cloud-director-0.10.5", { kubernetes: "v1.30.4", tooling: "v1.18.1" }),
      expected: {
        providerName: "cloud-director",
        providerId: "capvcd",
        imageName: "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
        objectName: "capvcd-flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
        s3Key:
          "capv/flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs/flatcar-stable-3975.2.0-kube-v1.30.4.ova",
      },
    },
    {
      name: "proxmox-1.2.3",
      release: release("proxmox-1.2.3"),
      expected: {
        providerName: "proxmox",
        providerId: "capmox",
        imageName: "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
        objectName: "capmox-flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
        s3Key:
          "capmox/flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs/flatcar-stable-3975.2.0-kube-v1.30.4.qcow2",
      },
    },
    {
      name: "vsphere-35.0.0 from giantswarm/releases",
      release: release("vsphere-35.0.0", {
        flatcar: "4593.2.3",
        kubernetes: "1.35.6",
        tooling: "1.32.1",
      }),
      expected: {
        providerName: "vsphere",
        providerId: "capv",
        imageName: "flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs",
        objectName: "capv-flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs",
        s3Key:
          "capv/flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs/flatcar-stable-4593.2.3-kube-v1.35.6.ova",
      },
    },
    {
      name: "an aws release passes its prefix through",
      release: release("aws-25.0.0"),
      channel: "beta",
      expected: {
        providerName: "aws",
        providerId: "aws",
        imageName: "flatcar-beta-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
        objectName: "aws-flatcar-beta-3975.2.0-kube-1.30.4-tooling-1.18.1-gs",
        s3Key:
          "aws/flatcar-beta-3975.2.0-kube-1.30.4-tooling-1.18.1-gs/flatcar-beta-3975.2.0-kube-v1.30.4.ova",
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepEqual(
        { ...deriveNodeImage(c.release, { channel: c.channel, naming: NAMING }) },
        c.expected,
      );
    });
  }
  await t.step("the example release.yaml gives the names written in its header", async () => {
    const text = await Deno.readTextFile(new URL("release-vsphere-34.1.0.yaml", fixtures));
    const header = Object.fromEntries(
      [...text.matchAll(/^# (Image derived from it|NodeImage name|S3 key): (\S+)$/gm)].map((
        m,
      ) => [m[1], m[2]]),
    );
    assert.equal(Object.keys(header).length, 3, "the example's header lines were found");
    const derived = deriveNodeImage(parse(text) as ReleaseLike, {
      channel: "stable",
      naming: NAMING,
    });
    assert.equal(derived.imageName, header["Image derived from it"]);
    assert.equal(derived.objectName, header["NodeImage name"]);
    assert.equal(derived.s3Key, header["S3 key"]);
  });
  await t.step("a vintage release is rejected before its components are looked at", () => {
    assert.throws(
      () =>
        deriveNodeImage({ metadata: { name: "v20.1.0" }, spec: { components: [] } }, {
          naming: NAMING,
        }),
      (error: unknown) => error instanceof ReleaseParseError && error.field === "metadata.name",
    );
  });
});

Deno.test("components of a shape no CRD allows are a ReleaseParseError naming the field, not a crash", async (t) => {
  // A relaxed or outdated Release CRD lets these through; they used to throw TypeErrors that
  // were retried for ever without an Event.
  const broken: [string, unknown, string, RegExp][] = [
    ["components a string", "flatcar=4593.2.0", "spec.components", /not a list/],
    ["components an object", { flatcar: "4593.2.0" }, "spec.components", /not a list/],
    ["a null entry", [null, { name: "flatcar", version: "1.0.0" }], "spec.components[0]", /null/],
    [
      "a string entry",
      [{ name: "flatcar", version: "1" }, "kubernetes"],
      "spec.components[1]",
      /not an object/,
    ],
    [
      "a numeric version",
      [{ name: "flatcar", version: 4593 }],
      "spec.components[flatcar].version",
      /not a string: 4593/,
    ],
  ];
  for (const [name, components, field, says] of broken) {
    await t.step(name, () => {
      const r = { metadata: { name: "vsphere-1.2.3" }, spec: { components } } as never;
      assert.throws(
        () => deriveNodeImage(r, { channel: "stable", naming: NAMING }),
        (error: unknown) => {
          assert.ok(error instanceof ReleaseParseError, String(error));
          assert.equal(error.field, field);
          assert.match(error.message, /"vsphere-1\.2\.3"/);
          assert.match(error.message, says);
          return true;
        },
      );
      assert.deepEqual(duplicateComponents(r), []);
    });
  }
});
