import assert from "node:assert/strict";
import { redactUrl, redactUrlsIn, redactUrlToOrigin } from "../lib/redact.ts";

Deno.test("redactUrl keeps scheme, host, port and path only", async (t) => {
  const cases: [string, string][] = [
    [
      "https://ops:hunter2@b.s3.eu-west-1.amazonaws.com:9000/capmox/x.qcow2?X-Amz-Signature=abc#f",
      "https://b.s3.eu-west-1.amazonaws.com:9000/capmox/x.qcow2",
    ],
    [
      "https://pve.example.com:8006/api2/json/version",
      "https://pve.example.com:8006/api2/json/version",
    ],
    ["https://vcd.example.com/api/sessions?x", "https://vcd.example.com/api/sessions"],
    ["https://vcd.example.com:443/", "https://vcd.example.com/"],
    ["http://[::1]:8080/a%20b", "http://[::1]:8080/a%20b"],
    ["not a url ?secret=1", "<invalid URL>"],
  ];
  for (const [input, expected] of cases) {
    await t.step(input.slice(0, 50), () => assert.equal(redactUrl(input), expected));
  }
});

Deno.test("redactUrlToOrigin drops the path too", () => {
  assert.equal(
    redactUrlToOrigin("https://u:p@esx1.example.com:443/nfc/52ab-ticket/disk-0.vmdk?x=1"),
    "https://esx1.example.com",
  );
  assert.equal(redactUrlToOrigin("::"), "<invalid URL>");
});

Deno.test("redactUrlsIn replaces the query and userinfo of every URL in free text", async (t) => {
  const cases: [string, string][] = [
    [
      "downloading https://b.s3.eu-west-1.amazonaws.com/capmox/x.qcow2?X-Amz-Signature=abc&X-Amz-Credential=k to /var/lib/vz/import/x.qcow2",
      "downloading https://b.s3.eu-west-1.amazonaws.com/capmox/x.qcow2?<query redacted> to /var/lib/vz/import/x.qcow2",
    ],
    ["url 'http://127.0.0.1:9000/b/k?sig=1'", "url 'http://127.0.0.1:9000/b/k?<query redacted>'"],
    ["no URL here", "no URL here"],
    ["https://host/path without query", "https://host/path without query"],
    [
      "GET https://ops:hunter2@host:8443/p#token and http://a@b/c?d",
      "GET https://<userinfo redacted>@host:8443/p?<query redacted> and " +
      "http://<userinfo redacted>@b/c?<query redacted>",
    ],
    ['"HTTPS://H/X?Y=1"', '"HTTPS://H/X?<query redacted>"'],
    ["mail me at ops@example.com", "mail me at ops@example.com"],
  ];
  for (const [input, expected] of cases) {
    await t.step(input.slice(0, 50), () => assert.equal(redactUrlsIn(input), expected));
  }
});
