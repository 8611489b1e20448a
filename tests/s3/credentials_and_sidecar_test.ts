import assert from "node:assert/strict";
import { IntegrityError } from "../../lib/image/provider.ts";
import {
  parseS3CredentialsFile,
  parseSha256Sidecar,
  readS3CredentialsFile,
  S3CredentialsFileError,
  sidecarKeyFor,
} from "../../providers/s3/mod.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const KEY = "capv/flatcar-x-gs/flatcar-x.ova";

Deno.test("credentials files in AWS INI form load the chosen profile", () => {
  const text = [
    "# mounted from Secret s3-credentials",
    "[default]",
    "aws_access_key_id = AKIADEFAULT",
    `aws_secret_access_key = ${SECRET}`,
    "",
    "[profile images]",
    "aws_access_key_id=AKIAIMAGES",
    `aws_secret_access_key="${SECRET}2"`,
    "aws_session_token = token-1",
  ].join("\n");
  const fallback = parseS3CredentialsFile(text, "/etc/s3/credentials");
  assert.equal(fallback.accessKeyId, "AKIADEFAULT");
  assert.equal(fallback.secretAccessKey.reveal(), SECRET);
  assert.equal(fallback.sessionToken, undefined);
  const images = parseS3CredentialsFile(text, "/etc/s3/credentials", "images");
  assert.equal(images.accessKeyId, "AKIAIMAGES");
  assert.equal(images.secretAccessKey.reveal(), `${SECRET}2`);
  assert.equal(images.sessionToken?.reveal(), "token-1");
  assert.ok(!Deno.inspect(images).includes(SECRET));
});

Deno.test("a two-line YAML credentials file loads too", () => {
  const keys = parseS3CredentialsFile(
    `accessKeyId: AKIAYAML\nsecretAccessKey: '${SECRET}'\n`,
    "/etc/s3/credentials.yaml",
  );
  assert.equal(keys.accessKeyId, "AKIAYAML");
  assert.equal(keys.secretAccessKey.reveal(), SECRET);
});

Deno.test("credentials file errors name the file, profile and field but never a value", async (t) => {
  await t.step("missing secret", () => {
    const error = assertThrowsCredentials(() =>
      parseS3CredentialsFile("aws_access_key_id = AKIA\n", "/etc/s3/credentials")
    );
    assert.match(
      error.message,
      /\/etc\/s3\/credentials, profile "default": aws_secret_access_key is missing/,
    );
  });
  await t.step("unknown profile", () => {
    const error = assertThrowsCredentials(() =>
      parseS3CredentialsFile(
        `aws_access_key_id = AKIA\naws_secret_access_key = ${SECRET}\n`,
        "f",
        "prod",
      )
    );
    assert.match(error.message, /no profile "prod" \(found: default\)/);
    assert.ok(!error.message.includes(SECRET));
  });
  await t.step("unreadable file", async () => {
    const error = await readS3CredentialsFile("/nonexistent/s3/credentials").then(
      () => undefined,
      (e) => e,
    );
    assert.ok(error instanceof S3CredentialsFileError);
    assert.match(error.message, /Cannot read S3 credentials file \/nonexistent\/s3\/credentials/);
  });
});

function assertThrowsCredentials(fn: () => unknown): S3CredentialsFileError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof S3CredentialsFileError, String(error));
    return error;
  }
  assert.fail("expected S3CredentialsFileError");
}

Deno.test("sidecars in sha256sum forms are parsed", async (t) => {
  const cases: [string, string][] = [
    ["bare digest", `${HEX}\n`],
    ["digest and file name", `${HEX}  flatcar-x.ova\n`],
    ["binary-mode marker", `${HEX} *flatcar-x.ova`],
    ["file name with a path", `${HEX}  ./out/flatcar-x.ova\r\n`],
    ["upper-case hex", `${HEX.toUpperCase()}`],
  ];
  for (const [name, text] of cases) {
    await t.step(name, () => {
      assert.deepEqual(parseSha256Sidecar(text, KEY, "s3://b/k.sha256"), {
        algorithm: "sha256",
        hex: HEX,
      });
    });
  }
});

Deno.test("sidecars that are malformed or name another file are integrity errors", () => {
  assert.throws(
    () => parseSha256Sidecar("<html>NoSuchKey</html>", KEY, "s3://b/k.sha256"),
    (e) => e instanceof IntegrityError && /Malformed sidecar s3:\/\/b\/k\.sha256/.test(e.message),
  );
  assert.throws(
    () => parseSha256Sidecar(`${HEX}  flatcar-y.ova`, KEY, "s3://b/k.sha256"),
    (e) =>
      e instanceof IntegrityError &&
      /is for "flatcar-y\.ova", not for "flatcar-x\.ova"/.test(e.message),
  );
  assert.equal(sidecarKeyFor(KEY), `${KEY}.sha256`);
});
