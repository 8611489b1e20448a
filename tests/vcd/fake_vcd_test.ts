/**
 * The fake VCD itself, spoken to with plain fetch over HTTP: the wire shapes of wire facts §B
 * that the client and the end-to-end tests rely on.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { XMLParser } from "fast-xml-parser";
import { FakeVcd, type FakeVcdOptions, RESOLVED } from "./fake_vcd/mod.ts";
import { ovfDescriptor } from "../support/images.ts";

const ACCEPT = "application/*+xml;version=37.0";
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  removeNSPrefix: true,
  parseTagValue: false,
  // Repeated children as lists; a root element (Org, Task) stays an object.
  isArray: (name, path) =>
    String(path).includes(".") &&
    ["Link", "File", "Task", "VAppTemplateRecord", "Org", "VersionInfo"].includes(name),
});

async function withFake(
  options: FakeVcdOptions,
  fn: (fake: FakeVcd) => Promise<void>,
): Promise<void> {
  const fake = await FakeVcd.start({
    timings: { descriptorDelayMs: 0, importDelayMs: 0, taskDelayMs: 0 },
    ...options,
  });
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

function basic(user: string, org: string, password: string): string {
  return `Basic ${
    btoa(String.fromCharCode(...new TextEncoder().encode(`${user}@${org}:${password}`)))
  }`;
}

async function login(fake: FakeVcd, password = "operator-password"): Promise<string> {
  const response = await fetch(`${fake.url}/cloudapi/1.0.0/sessions`, {
    method: "POST",
    headers: {
      Authorization: basic("operator", "demo-org", password),
      Accept: "application/*;version=37.0",
    },
  });
  await response.body?.cancel();
  assert.equal(response.status, 200);
  return response.headers.get("x-vmware-vcloud-access-token")!;
}

async function api(
  fake: FakeVcd,
  token: string,
  method: string,
  url: string,
  body?: { text: string; type: string },
): Promise<{ status: number; doc: Record<string, unknown>; text: string }> {
  const response = await fetch(url.startsWith("http") ? url : `${fake.url}${url}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: ACCEPT,
      ...(body ? { "Content-Type": body.type } : {}),
    },
    body: body?.text,
  });
  const text = await response.text();
  return { status: response.status, doc: text ? parser.parse(text) : {}, text };
}

async function put(url: string, body: Uint8Array<ArrayBuffer>, range?: string): Promise<Response> {
  const response = await fetch(url, {
    method: "PUT",
    headers: range ? { "Content-Range": range } : {},
    body,
  });
  await response.body?.cancel();
  return response;
}

/** action/upload of `name` into the default catalog; returns the template href. */
async function createItem(fake: FakeVcd, token: string, name: string): Promise<string> {
  const org = (await api(fake, token, "GET", "/api/org")).doc.OrgList as Record<string, unknown>;
  const orgHref = (org.Org as Record<string, string>[])[0].href;
  const links =
    ((await api(fake, token, "GET", orgHref)).doc.Org as { Link: Record<string, string>[] })
      .Link;
  const catalogHref = links.find((l) => l.type.endsWith("catalog+xml"))!.href;
  const created = await api(fake, token, "POST", `${catalogHref}/action/upload`, {
    type: "application/vnd.vmware.vcloud.uploadVAppTemplateParams+xml",
    text: `<UploadVAppTemplateParams xmlns="http://www.vmware.com/vcloud/v1.5" name="${name}">` +
      `<Description>d</Description></UploadVAppTemplateParams>`,
  });
  assert.equal(created.status, 201, created.text);
  return ((created.doc.CatalogItem as Record<string, unknown>).Entity as Record<string, string>)
    .href;
}

async function template(fake: FakeVcd, token: string, href: string) {
  const { doc } = await api(fake, token, "GET", href);
  const t = doc.VAppTemplate as Record<string, unknown>;
  const files = ((t.Files as { File?: Record<string, unknown>[] } | undefined)?.File ?? []).map((
    f,
  ) => ({
    name: String(f.name),
    size: Number(f.size),
    bytesTransferred: Number(f.bytesTransferred),
    upload: (f.Link as Record<string, string>[] | undefined)?.[0]?.href,
  }));
  return { status: Number(t.status), files, tasks: (t.Tasks as { Task?: unknown[] })?.Task ?? [] };
}

Deno.test("versions: 37.0 with the cloudapi login URL, without authentication", async () => {
  await withFake({}, async (fake) => {
    const response = await fetch(`${fake.url}/api/versions`);
    const doc = parser.parse(await response.text());
    const infos = doc.SupportedVersions.VersionInfo as { Version: string; LoginUrl: string }[];
    const v37 = infos.find((i) => String(i.Version) === "37.0");
    assert.equal(v37?.LoginUrl, `${fake.url}/cloudapi/1.0.0/sessions`);
  });
});

Deno.test("login: Basic user@org:password, token in a header; wrong ones get 401", async (t) => {
  await withFake({ providerAdmin: { name: "admin", password: "a:b@c" } }, async (fake) => {
    await t.step("a tenant user gets a token and the idle timeout", async () => {
      const response = await fetch(`${fake.url}/cloudapi/1.0.0/sessions`, {
        method: "POST",
        headers: {
          Authorization: basic("operator", "demo-org", "operator-password"),
          Accept: "application/*;version=37.0",
        },
      });
      const body = await response.json();
      assert.equal(response.status, 200);
      assert.ok((response.headers.get("x-vmware-vcloud-access-token") ?? "").length > 32);
      assert.equal(body.org.name, "demo-org");
      assert.equal(body.sessionIdleTimeoutMinutes, 30);
    });
    await t.step("a wrong password is 401 with a cloudapi JSON error", async () => {
      const response = await fetch(`${fake.url}/cloudapi/1.0.0/sessions`, {
        method: "POST",
        headers: {
          Authorization: basic("operator", "demo-org", "nope"),
          Accept: "application/*;version=37.0",
        },
      });
      assert.equal(response.status, 401);
      assert.equal((await response.json()).minorErrorCode, "UNAUTHORIZED");
    });
    await t.step("System logs in only at /provider; passwords may hold ':' and '@'", async () => {
      const tenant = await fetch(`${fake.url}/cloudapi/1.0.0/sessions`, {
        method: "POST",
        headers: {
          Authorization: basic("admin", "System", "a:b@c"),
          Accept: "application/*;version=37.0",
        },
      });
      await tenant.body?.cancel();
      assert.equal(tenant.status, 401);
      const provider = await fetch(`${fake.url}/cloudapi/1.0.0/sessions/provider`, {
        method: "POST",
        headers: {
          Authorization: basic("admin", "System", "a:b@c"),
          Accept: "application/*;version=37.0",
        },
      });
      await provider.body?.cancel();
      assert.equal(provider.status, 200);
    });
  });
});

Deno.test("refresh-token grant: an API token gives a bearer token; an unknown one is refused", async () => {
  await withFake({
    orgs: [{
      name: "o",
      users: [{ name: "u", password: "p" }],
      apiTokens: [{ user: "u", token: "tok-1" }],
      catalogs: [{ name: "c" }],
      vdcs: [{ name: "v" }],
    }],
  }, async (fake) => {
    const grant = (token: string) =>
      fetch(`${fake.url}/oauth/tenant/o/token`, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Accept: "application/json",
        },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token }),
      });
    const good = await grant("tok-1");
    const body = await good.json();
    assert.equal(good.status, 200);
    assert.equal(body.token_type, "Bearer");
    assert.ok(body.expires_in > 0);
    assert.equal((await api(fake, body.access_token, "GET", "/api/org")).status, 200);
    const bad = await grant("tok-2");
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error, "invalid_grant");
  });
});

Deno.test("sessions: no token, no version, expiry, idle timeout; transfers do not count as use", async (t) => {
  await withFake({ sessionIdleTimeoutMs: 300 }, async (fake) => {
    await t.step("without a session /api is 401 with an <Error>", async () => {
      const { status, doc } = await api(fake, "bogus", "GET", "/api/org");
      assert.equal(status, 401);
      assert.equal((doc.Error as Record<string, string>).minorErrorCode, "UNAUTHORIZED");
    });
    await t.step("an Accept header without a version is 406", async () => {
      const token = await login(fake);
      const response = await fetch(`${fake.url}/api/org`, {
        headers: { Authorization: `Bearer ${token}`, Accept: "application/*+xml" },
      });
      await response.body?.cancel();
      assert.equal(response.status, 406);
    });
    await t.step("expireSessions ends every session", async () => {
      const token = await login(fake);
      assert.equal((await api(fake, token, "GET", "/api/org")).status, 200);
      fake.expireSessions();
      assert.equal((await api(fake, token, "GET", "/api/org")).status, 401);
    });
    await t.step("a session idles out, and transfer PUTs do not keep it alive", async () => {
      const token = await login(fake);
      const href = await createItem(fake, token, "idle");
      const { files } = await template(fake, token, href);
      // Transfers for longer than the idle timeout, with no API call in between.
      const deadline = Date.now() + 450;
      while (Date.now() < deadline) {
        await put(files[0].upload!, new Uint8Array(0), "bytes 0-0/1").catch(() => {});
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal((await api(fake, token, "GET", "/api/org")).status, 401);
    });
  });
});

Deno.test("ids that do not exist answer 403 ACCESS_TO_RESOURCE_IS_FORBIDDEN", async () => {
  await withFake({}, async (fake) => {
    const token = await login(fake);
    const { status, doc } = await api(
      fake,
      token,
      "GET",
      `/api/vAppTemplate/vappTemplate-${crypto.randomUUID()}`,
    );
    assert.equal(status, 403);
    const error = doc.Error as Record<string, string>;
    assert.equal(error.minorErrorCode, "ACCESS_TO_RESOURCE_IS_FORBIDDEN");
    assert.equal(error.majorErrorCode, "403");
  });
});

Deno.test("upload: descriptor first, one File per reference, ranged PUTs in order, 416 otherwise", async (t) => {
  await withFake({}, async (fake) => {
    const token = await login(fake);
    const href = await createItem(fake, token, "tpl");
    const disk = new Uint8Array(1000).map((_, i) => i % 251) as Uint8Array<ArrayBuffer>;
    await t.step("right after action/upload: Tasks and only descriptor.ovf, size -1", async () => {
      const { status, files, tasks } = await template(fake, token, href);
      assert.equal(status, 0);
      assert.equal(tasks.length, 1);
      assert.deepEqual(files.map((f) => [f.name, f.size, f.bytesTransferred]), [[
        "descriptor.ovf",
        -1,
        0,
      ]]);
    });
    await t.step("a duplicate name is refused", async () => {
      await assert.rejects(() => createItem(fake, token, "tpl"), /DUPLICATE_NAME/);
    });
    await t.step("after the descriptor: the disk is listed before the descriptor", async () => {
      const { files } = await template(fake, token, href);
      const ovf = new TextEncoder().encode(ovfDescriptor("disk.vmdk", disk.byteLength));
      assert.equal((await put(files[0].upload!, ovf)).status, 200);
      await new Promise((r) => setTimeout(r, 20));
      const after = await template(fake, token, href);
      assert.deepEqual(after.files.map((f) => [f.name, f.size, f.bytesTransferred]), [
        ["disk.vmdk", 1000, 0],
        ["descriptor.ovf", ovf.byteLength, ovf.byteLength],
      ]);
      assert.deepEqual(fake.templates()[0].hardware, ["vmx-09"]);
    });
    await t.step(
      "ranges: not at the last byte stored, or past the size, are 416 with no body",
      async () => {
        const { files } = await template(fake, token, href);
        const url = files[0].upload!;
        assert.equal((await put(url, disk.subarray(0, 400), "bytes 0-399/1000")).status, 200);
        const skipped = await fetch(url, {
          method: "PUT",
          headers: { "Content-Range": "bytes 500-599/1000" },
          body: disk.subarray(500, 600),
        });
        assert.equal(skipped.status, 416);
        assert.equal(await skipped.text(), "");
        assert.equal((await put(url, disk.subarray(400, 1001), "bytes 400-1000/1001")).status, 416);
        const { files: now } = await template(fake, token, href);
        assert.equal(now[0].bytesTransferred, 400, "bytesTransferred tracks the stored bytes");
        assert.equal((await put(url, disk.subarray(400), "bytes 400-999/1000")).status, 200);
      },
    );
    await t.step("complete: resolved, the upload task succeeded, the bytes hashed", async () => {
      await new Promise((r) => setTimeout(r, 20));
      const { status, tasks } = await template(fake, token, href);
      assert.equal(status, RESOLVED);
      assert.equal(tasks.length, 0);
      assert.equal(
        fake.templates()[0].files[0].sha256,
        createHash("sha256").update(disk).digest("hex"),
      );
    });
  });
});

Deno.test("a malformed descriptor is 400 and fails the template with an error task", async () => {
  await withFake({}, async (fake) => {
    const token = await login(fake);
    const href = await createItem(fake, token, "bad");
    const { files } = await template(fake, token, href);
    const response = await fetch(files[0].upload!, {
      method: "PUT",
      body: "<Envelope><References></Envelope>",
    });
    assert.equal(response.status, 400);
    assert.match(await response.text(), /not well-formed/);
    const { doc } = await api(fake, token, "GET", href);
    const t = doc.VAppTemplate as { status: string; Tasks: { Task: { status: string }[] } };
    assert.equal(t.status, "-1");
    assert.equal(t.Tasks.Task[0].status, "error");
  });
});

Deno.test("a failed import: template -1, upload task in error with the fault", async () => {
  await withFake({}, async (fake) => {
    const token = await login(fake);
    fake.failNextImport("disk is not streamOptimized");
    const href = await createItem(fake, token, "broken");
    const { files } = await template(fake, token, href);
    await put(files[0].upload!, new TextEncoder().encode(ovfDescriptor("d.vmdk", 10)));
    await new Promise((r) => setTimeout(r, 20));
    const { files: listed } = await template(fake, token, href);
    await put(listed[0].upload!, new Uint8Array(10), "bytes 0-9/10");
    await new Promise((r) => setTimeout(r, 20));
    const { doc } = await api(fake, token, "GET", href);
    const t = doc.VAppTemplate as { status: string; Tasks: { Task: Record<string, unknown>[] } };
    assert.equal(t.status, "-1");
    const error = t.Tasks.Task[0].Error as Record<string, string>;
    assert.equal(error.message, "disk is not streamOptimized");
  });
});

Deno.test("queries: filters with encoded values, pages of at most 128, total and nextPage", async () => {
  await withFake({}, async (fake) => {
    const token = await login(fake);
    for (let i = 0; i < 130; i++) await createItem(fake, token, `t-${i}`);
    await createItem(fake, token, "a;b");
    const page = async (n: number, filter?: string) => {
      const params = new URLSearchParams({
        type: "vAppTemplate",
        format: "records",
        page: String(n),
        pageSize: "500",
      });
      if (filter) {
        params.set("filter", filter);
        params.set("filterEncoded", "true");
      }
      return (await api(fake, token, "GET", `/api/query?${params}`)).doc
        .QueryResultRecords as Record<string, unknown>;
    };
    const first = await page(1, "catalogName==images");
    assert.equal(first.total, "131");
    assert.equal(first.pageSize, "128");
    assert.equal((first.VAppTemplateRecord as unknown[]).length, 128);
    assert.ok((first.Link as Record<string, string>[]).some((l) => l.rel === "nextPage"));
    assert.equal(((await page(2)).VAppTemplateRecord as unknown[]).length, 3);
    const odd = await page(1, `name==${encodeURIComponent("a;b")}`);
    assert.equal(odd.total, "1");
    assert.equal((odd.VAppTemplateRecord as Record<string, string>[])[0].status, "UNRESOLVED");
    const bad = await api(fake, token, "GET", "/api/query?type=vAppTemplate&filter=nope==1");
    assert.equal(bad.status, 400);
  });
});

Deno.test("delete and metadata answer 202 with a task that does the work", async () => {
  await withFake({}, async (fake) => {
    const token = await login(fake);
    const href = await createItem(fake, token, "x");
    const metadata = await api(fake, token, "POST", `${href}/metadata`, {
      type: "application/vnd.vmware.vcloud.metadata+xml",
      text:
        `<Metadata xmlns="http://www.vmware.com/vcloud/v1.5" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
        `<MetadataEntry><Key>k</Key><TypedValue xsi:type="MetadataStringValue"><Value>v&amp;w</Value></TypedValue></MetadataEntry></Metadata>`,
    });
    assert.equal(metadata.status, 202);
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual([...fake.templates()[0].metadata], [["k", "v&w"]]);
    const deleted = await api(fake, token, "DELETE", href);
    assert.equal(deleted.status, 202);
    const task = deleted.doc.Task as Record<string, string>[] | Record<string, string>;
    assert.ok(task);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(fake.templates().length, 0);
    assert.equal((await api(fake, token, "GET", href)).status, 403);
  });
});

Deno.test("main.ts runs the fake as a process: a ready line with its URL, then a working API", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./fake_vcd/main.ts", import.meta.url).pathname,
      "--org",
      "acme",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let seen = "";
    while (!seen.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    const url = /^fake-vcd ready at (http:\/\/127\.0\.0\.1:\d+) /.exec(seen)?.[1];
    assert.ok(url, seen);
    const response = await fetch(`${url}/cloudapi/1.0.0/sessions`, {
      method: "POST",
      headers: {
        Authorization: basic("operator", "acme", "operator-password"),
        Accept: "application/*;version=37.0",
      },
    });
    await response.body?.cancel();
    assert.equal(response.status, 200);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel().catch(() => {});
  }
});
