import assert from "node:assert/strict";
import { PlatformError } from "../../lib/image/provider.ts";
import { normaliseFilename } from "./fake_proxmox/validate.ts";
import {
  assertVmName,
  importFileName,
  importVolid,
  legacyImportFileName,
  sanitiseTag,
  splitTags,
  versionTags,
} from "../../providers/proxmox/names.ts";

Deno.test("version tags follow the Go operator's layout", () => {
  assert.deepEqual(versionTags("flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs"), [
    "flatcar_3975.2.0",
    "kubernetes_1.30.4",
    "os-tooling_1.18.1",
    "release-channel_stable",
  ]);
});

Deno.test("pre-release and build versions are kept as valid Proxmox tags", async (t) => {
  const cases: [string, string[]][] = [
    [
      "flatcar-beta-4152.1.0-kube-1.30.0-rc.1-tooling-1.20.0-gs",
      ["flatcar_4152.1.0", "kubernetes_1.30.0-rc.1", "os-tooling_1.20.0", "release-channel_beta"],
    ],
    [
      "flatcar-alpha-4230.0.0-kube-1.31.0-tooling-1.21.0-alpha.2-gs",
      [
        "flatcar_4230.0.0",
        "kubernetes_1.31.0",
        "os-tooling_1.21.0-alpha.2",
        "release-channel_alpha",
      ],
    ],
  ];
  for (const [name, tags] of cases) {
    await t.step(name, () => {
      const got = versionTags(name);
      assert.deepEqual(got, tags);
      for (const tag of got) assert.match(tag, /^[a-z0-9_][a-z0-9_\-+.]*$/);
    });
  }
});

Deno.test("characters Proxmox tags reject are replaced, not dropped", () => {
  assert.equal(sanitiseTag("kubernetes_1.30.0+build/7"), "kubernetes_1.30.0+build_7");
  assert.equal(sanitiseTag("-Leading"), "_-leading");
});

Deno.test("names of another shape get no version tags", () => {
  assert.deepEqual(versionTags("ubuntu-2204-kube-v1.30.4"), []);
  assert.deepEqual(versionTags(""), []);
});

Deno.test("tag lists are split on ; , and whitespace, lower-cased", () => {
  assert.deepEqual(splitTags("A;b, c  d"), ["a", "b", "c", "d"]);
  assert.deepEqual(splitTags(undefined), []);
});

Deno.test("the import file carries the location, and the volid is the name Proxmox stores", () => {
  const image = "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs";
  assert.equal(importFileName(image, "east"), `${image}_east.qcow2`);
  assert.equal(importFileName("flatcar-stable-1", "dc-1.b"), "flatcar-stable-1_dc-1.b.qcow2");
  assert.equal(importVolid("nfs", "img_east.qcow2"), "nfs:import/img_east.qcow2");
  // The Go operator's (and older builds') name, normalised as Proxmox does.
  assert.equal(legacyImportFileName("flatcar-stable-1"), "flatcar-stable-1.qcow2");
  assert.equal(legacyImportFileName("odd name+x"), "odd_name_x.qcow2");
});

Deno.test("import file names are valid, stable and distinct for distinct image and location pairs", () => {
  const long = "a".repeat(60);
  const pairs: [string, string][] = [
    ["img", "east"],
    ["img", "west"],
    ["img", "dc 1"], // Proxmox would turn the space into `_` …
    ["img", "dc_1"], // … which must not collide with this one
    ["img", "dc+1"],
    ["a.b", "c"],
    ["a", "b.c"],
    ["a_b", "c"], // not a VM name (no `_`), and must not name ("a", "b_c")'s file
    ["a", "b_c"],
    ["img", ""],
    [`${long}.${long}.${long}.${long}.x`, "east"], // > 255 characters with the location
    [`${long}.${long}.${long}.${long}.x`, "west"],
    ["img", "l".repeat(300)],
    ["img", `${"l".repeat(299)}m`],
  ];
  const names = pairs.map(([image, location]) => importFileName(image, location));
  assert.equal(new Set(names).size, names.length, names.join("\n"));
  for (const [i, name] of names.entries()) {
    assert.ok(name.length <= 255, `${name.length} characters`);
    assert.match(name, /^[a-zA-Z0-9_.-]+\.qcow2$/);
    assert.equal(normaliseFilename(name), name, "Proxmox stores it under this very name");
    assert.equal(importFileName(...pairs[i]), name, "stable");
    assert.notEqual(name, legacyImportFileName(pairs[i][0]), "never the legacy name");
  }
});

Deno.test("image names that are not DNS names are refused before any platform call", () => {
  assertVmName("flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs");
  for (const bad of ["a_b", "a+b", "a..b", "-a", "a-"]) {
    assert.throws(
      () => assertVmName(bad),
      (e: unknown) => e instanceof PlatformError && e.step === "validate name",
      bad,
    );
  }
});

Deno.test("URL query strings are redacted from Proxmox messages and task logs", async (t) => {
  // The redaction itself is `lib/redact.ts` (tests/redact_test.ts); these are the Proxmox
  // places that must use it.
  const { ProxmoxApiError, ProxmoxTaskError } = await import("../../providers/proxmox/mod.ts");
  const line =
    "downloading https://b.s3.eu-west-1.amazonaws.com/capmox/x.qcow2?X-Amz-Signature=abc&X-Amz-Credential=k to /var/lib/vz/import/x.qcow2";
  const clean =
    "downloading https://b.s3.eu-west-1.amazonaws.com/capmox/x.qcow2?<query redacted> to /var/lib/vz/import/x.qcow2";
  await t.step("task error message, exit status and log", () => {
    const error = new ProxmoxTaskError(`task failed: ${line}`, "UPID:x", line, [
      line,
      "TASK ERROR",
    ]);
    assert.equal(error.message, `task failed: ${clean}`);
    assert.equal(error.exitStatus, clean);
    assert.deepEqual(error.logTail, [clean, "TASK ERROR"]);
  });
  await t.step("API error detail and parameter errors", () => {
    const error = new ProxmoxApiError("POST /x", 500, line, {
      url: "url 'http://127.0.0.1:9000/b/k?sig=1'",
    });
    assert.equal(error.detail, clean);
    assert.equal(error.errors.url, "url 'http://127.0.0.1:9000/b/k?<query redacted>'");
    assert.ok(!error.message.includes("X-Amz-Signature") && !error.message.includes("sig=1"));
  });
});
