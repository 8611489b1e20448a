import assert from "node:assert/strict";
import { s3KeyFor } from "../../lib/release/derive.ts";
import {
  formatOfKey,
  presigns,
  publicObjectUrl,
  resolveAddressing,
  type S3SourceOptions,
  validateS3Options,
} from "../../providers/s3/mod.ts";
import { Secret } from "../../lib/config/secret.ts";
import { layoutFor } from "../support/provider_configs.ts";

const IMAGE = "flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs";
const OVA_KEY = s3KeyFor(IMAGE, layoutFor("capv"));
const QCOW2_KEY = s3KeyFor(IMAGE, layoutFor("capmox"));

Deno.test("public URLs match the Go operator byte for byte and extend it where it failed", async (t) => {
  const cases: [string, S3SourceOptions, string, string][] = [
    [
      "Go default: https, virtual-hosted",
      { bucket: "giantswarm-images", region: "eu-west-1" },
      OVA_KEY,
      "https://giantswarm-images.s3.eu-west-1.amazonaws.com/capv/flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs/flatcar-stable-3975.2.0-kube-v1.30.4.ova",
    ],
    [
      "Go s3.http: plain http",
      { bucket: "giantswarm-images", region: "eu-west-1", http: true },
      QCOW2_KEY,
      "http://giantswarm-images.s3.eu-west-1.amazonaws.com/capmox/flatcar-stable-3975.2.0-kube-1.30.4-tooling-1.18.1-gs/flatcar-stable-3975.2.0-kube-v1.30.4.qcow2",
    ],
    [
      "dotted bucket over https: path-style (virtual-hosted TLS would fail)",
      { bucket: "images.example.com", region: "eu-central-1" },
      "capv/a/b.ova",
      "https://s3.eu-central-1.amazonaws.com/images.example.com/capv/a/b.ova",
    ],
    [
      "dotted bucket over http: virtual-hosted still works",
      { bucket: "images.example.com", region: "eu-central-1", http: true },
      "capv/a/b.ova",
      "http://images.example.com.s3.eu-central-1.amazonaws.com/capv/a/b.ova",
    ],
    [
      "dotted bucket asking for virtual-hosted over https is still path-style",
      { bucket: "images.example.com", region: "eu-central-1", pathStyle: false },
      "capv/a/b.ova",
      "https://s3.eu-central-1.amazonaws.com/images.example.com/capv/a/b.ova",
    ],
    [
      "AWS with path-style asked for",
      { bucket: "images", region: "us-east-2", pathStyle: true },
      "capv/a/b.ova",
      "https://s3.us-east-2.amazonaws.com/images/capv/a/b.ova",
    ],
    [
      "custom endpoint: path-style by default, its scheme wins over s3.http",
      { bucket: "images", region: "", endpoint: "http://minio.storage:9000", http: false },
      "capv/a/b.ova",
      "http://minio.storage:9000/images/capv/a/b.ova",
    ],
    [
      "custom endpoint with a base path and trailing slash",
      { bucket: "images", region: "", endpoint: "https://gw.example.com/s3/" },
      "capv/a/b.ova",
      "https://gw.example.com/s3/images/capv/a/b.ova",
    ],
    [
      "custom endpoint, virtual-hosted asked for",
      { bucket: "images", region: "", endpoint: "https://objects.example.com", pathStyle: false },
      "capv/a/b.ova",
      "https://images.objects.example.com/capv/a/b.ova",
    ],
    [
      "characters that need it are percent-encoded per segment",
      { bucket: "images", region: "eu-west-1" },
      "capv/a b+c/d(1).ova",
      "https://images.s3.eu-west-1.amazonaws.com/capv/a%20b%2Bc/d%281%29.ova",
    ],
  ];
  for (const [name, options, key, expected] of cases) {
    await t.step(name, () => {
      validateS3Options(options);
      assert.equal(publicObjectUrl(options, key), expected);
    });
  }
});

Deno.test("the SDK gets an explicit endpoint only where its default would differ", () => {
  assert.deepEqual(resolveAddressing({ bucket: "b-1", region: "eu-west-1" }), {
    scheme: "https",
    pathStyle: false,
    endpoint: "https://s3.eu-west-1.amazonaws.com",
    explicitEndpoint: false,
    region: "eu-west-1",
  });
  assert.equal(
    resolveAddressing({ bucket: "b-1", region: "eu-west-1", http: true }).explicitEndpoint,
    true,
  );
  assert.deepEqual(
    resolveAddressing({ bucket: "b-1", region: "", endpoint: "http://127.0.0.1:4568" }),
    {
      scheme: "http",
      pathStyle: true,
      endpoint: "http://127.0.0.1:4568",
      explicitEndpoint: true,
      region: "us-east-1",
    },
  );
});

Deno.test("invalid options are refused with the field and value named", async (t) => {
  const cases: [string, S3SourceOptions, RegExp][] = [
    ["empty bucket", { bucket: "", region: "eu-west-1" }, /bucket is empty/],
    ["bad bucket", { bucket: "a/b", region: "eu-west-1" }, /"a\/b" is not a valid bucket name/],
    ["no region without endpoint", { bucket: "images", region: "" }, /region is empty/],
    [
      "endpoint not a URL",
      { bucket: "images", region: "", endpoint: "minio:9000x" },
      /is not a URL|must be http/,
    ],
    [
      "endpoint with user info",
      { bucket: "images", region: "", endpoint: "http://u:p@minio:9000" },
      /user info/,
    ],
    ["ftp endpoint", { bucket: "images", region: "", endpoint: "ftp://minio" }, /must be http/],
    [
      "presigned without credentials",
      { bucket: "images", region: "x", urlMode: "presigned" },
      /need credentials/,
    ],
    ["zero timeout", { bucket: "images", region: "x", timeoutMs: 0 }, /must be positive/],
  ];
  for (const [name, options, pattern] of cases) {
    await t.step(name, () => assert.throws(() => validateS3Options(options), pattern));
  }
});

Deno.test("url mode: public when anonymous, presigned with credentials or when asked", () => {
  const keys = {
    source: "static" as const,
    accessKeyId: "AKIA",
    secretAccessKey: new Secret("s"),
  };
  assert.equal(presigns({ bucket: "b-1", region: "r" }), false);
  assert.equal(presigns({ bucket: "b-1", region: "r", credentials: keys }), true);
  assert.equal(
    presigns({ bucket: "b-1", region: "r", credentials: keys, urlMode: "public" }),
    false,
  );
  assert.equal(
    presigns({
      bucket: "b-1",
      region: "r",
      credentials: { source: "default-chain" },
      urlMode: "presigned",
    }),
    true,
  );
});

Deno.test("the image format comes from the key's extension", () => {
  assert.equal(formatOfKey(OVA_KEY), "ova");
  assert.equal(formatOfKey(QCOW2_KEY), "qcow2");
  assert.throws(
    () => formatOfKey("capv/x/y.vmdk"),
    /Cannot tell the image format of S3 key "capv\/x\/y\.vmdk"/,
  );
});
