/**
 * The fake Proxmox itself, spoken to with plain undici requests over HTTP: the wire shapes our client and
 * other tests rely on (wire-facts §A).
 */
import assert from "node:assert/strict";
import { request } from "undici";
import { DEFAULT_TOKEN, FakeProxmox } from "./fake_proxmox/mod.ts";
import { GARBAGE, qcow2Bytes, startFileServer } from "./_support.ts";

const AUTH = `PVEAPIToken=${DEFAULT_TOKEN.user}!${DEFAULT_TOKEN.tokenId}=${DEFAULT_TOKEN.secret}`;

interface Answer {
  status: number;
  statusText: string;
  text: string;
  json?: { data: unknown; errors?: Record<string, string>; message?: string; total?: number };
}

async function call(
  fake: FakeProxmox,
  method: string,
  path: string,
  params?: Record<string, string | number>,
  options: { auth?: string | null; body?: string } = {},
): Promise<Answer> {
  const query = method === "GET" || method === "DELETE";
  const encoded = params
    ? new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString()
    : "";
  const headers: Record<string, string> = {};
  if (options.auth !== null) headers.Authorization = options.auth ?? AUTH;
  let body = options.body;
  if (!query && encoded) {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = encoded;
  }
  const url = `http://${fake.host}/api2/json${path}${query && encoded ? `?${encoded}` : ""}`;
  // undici, not fetch: Deno's fetch replaces the reason phrase with the standard one.
  const response = await request(url, {
    method: method as "GET" | "POST" | "PUT" | "DELETE",
    headers,
    body,
  });
  const text = await response.body.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch { /* plain text answers */ }
  return { status: response.statusCode, statusText: response.statusText, text, json };
}

/** Polls a task until it stops. */
async function finish(fake: FakeProxmox, upid: string): Promise<Record<string, unknown>> {
  const node = upid.split(":")[1];
  for (;;) {
    const answer = await call(
      fake,
      "GET",
      `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`,
    );
    const status = answer.json!.data as Record<string, unknown>;
    if (status.status === "stopped") return status;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function withFake(
  fn: (fake: FakeProxmox) => Promise<void>,
  options: Parameters<typeof FakeProxmox.start>[0] = {},
): Promise<void> {
  const fake = await FakeProxmox.start(options);
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

Deno.test("requests without a valid API token get 401 with an empty body", () =>
  withFake(async (fake) => {
    const none = await call(fake, "GET", "/version", undefined, { auth: null });
    assert.deepEqual([none.status, none.statusText, none.text], [401, "No ticket", ""]);
    const wrong = await call(fake, "GET", "/version", undefined, {
      auth: "PVEAPIToken=root@pam!ido=nope",
    });
    assert.deepEqual([wrong.status, wrong.statusText], [401, "Authentication failed!"]);
    const good = await call(fake, "GET", "/version");
    assert.equal(good.status, 200);
    assert.deepEqual(good.json, {
      data: { version: "9.2.11", release: "9.2", repoid: "1b0d7d2f5e9c4a31" },
    });
  }));

Deno.test("nextid is a string, and a taken id asked for explicitly is a 400", () =>
  withFake(async (fake) => {
    fake.cluster.addVm({ vmid: 100, node: "pve1", name: "x" });
    assert.deepEqual((await call(fake, "GET", "/cluster/nextid")).json, { data: "101" });
    const taken = await call(fake, "GET", "/cluster/nextid", { vmid: 100 });
    assert.equal(taken.status, 400);
    assert.deepEqual(taken.json!.errors, { vmid: "VM 100 already exists\n" });
  }));

Deno.test("a missing VM is a 500 naming its config file, never a 404", () =>
  withFake(async (fake) => {
    const answer = await call(fake, "GET", "/nodes/pve1/qemu/999/config");
    assert.equal(answer.status, 500);
    assert.equal(
      answer.statusText,
      "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist",
    );
    assert.equal(
      answer.json!.message,
      "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n",
    );
  }));

Deno.test("older-server mode keeps the message out of the JSON body", () =>
  withFake(async (fake) => {
    const answer = await call(fake, "GET", "/nodes/pve1/qemu/999/config");
    assert.deepEqual(answer.json, { data: null });
    assert.match(answer.statusText, /does not exist/);
  }, { errorMessageInBody: false }));

Deno.test("a body on DELETE is refused with 501, parameters in the query are fine", () =>
  withFake(async (fake) => {
    fake.cluster.addVm({ vmid: 100, node: "pve1", name: "x" });
    const withBody = await call(fake, "DELETE", "/nodes/pve1/qemu/100", undefined, {
      body: "purge=1",
    });
    assert.deepEqual([withBody.status, withBody.text], [
      501,
      "Unexpected content for method 'DELETE'",
    ]);
    const ok = await call(fake, "DELETE", "/nodes/pve1/qemu/100", { purge: 1 });
    assert.equal((await finish(fake, ok.json!.data as string)).exitstatus, "OK");
    assert.equal(fake.cluster.vms.size, 0);
  }));

Deno.test("unknown routes are 501 and unknown parameters a 400 from the schema", () =>
  withFake(async (fake) => {
    const route = await call(fake, "GET", "/nodes/pve1/nothing");
    assert.deepEqual([route.status, route.text], [
      501,
      "Method 'GET /nodes/pve1/nothing' not implemented",
    ]);
    const param = await call(fake, "POST", "/nodes/pve1/qemu", { vmid: 100, colour: "blue" });
    assert.equal(param.status, 400);
    assert.equal(param.statusText, "Parameter verification failed.");
    assert.deepEqual(param.json!.errors, {
      colour:
        "property is not defined in schema and the schema does not allow additional properties\n",
    });
  }));

Deno.test("VM parameters are validated with Proxmox's messages", async (t) => {
  await withFake(async (fake) => {
    const cases: [string, Record<string, string | number>, Record<string, string>][] = [
      ["a name that is not a DNS name", { vmid: 100, name: "a_b" }, {
        name: "invalid format - value does not look like a valid DNS name\n",
      }],
      ["a vmid below 100", { vmid: 99 }, { vmid: "value must have a minimum value of 100\n" }],
      ["an unknown scsihw", { vmid: 100, scsihw: "ide" }, {
        scsihw:
          "value 'ide' does not have a value in the enumeration 'lsi, lsi53c810, virtio-scsi-pci, virtio-scsi-single, megasas, pvscsi'\n",
      }],
      ["an invalid tag", { vmid: 100, tags: "ok;-bad" }, {
        tags: "invalid format - invalid characters in tag '-bad'\n",
      }],
      ["a NIC model that does not exist", { vmid: 100, net0: "virtio-net,bridge=vmbr0" }, {
        net0:
          "invalid format - format error\nnet0.model: value 'virtio-net' does not have a value in the enumeration\n",
      }],
    ];
    for (const [name, params, errors] of cases) {
      await t.step(name, async () => {
        const answer = await call(fake, "POST", "/nodes/pve1/qemu", params);
        assert.equal(answer.status, 400);
        assert.deepEqual(answer.json!.errors, errors);
      });
    }
  });
});

Deno.test("a new VM shows in the sparse shape until its create task ends, then in full", () =>
  withFake(async (fake) => {
    // Held, not timed: the task stays running until the checks below are done, however slow
    // the machine is.
    const release = fake.holdTasks("qmcreate");
    const created = await call(fake, "POST", "/nodes/pve1/qemu", {
      vmid: 100,
      name: "img",
      tags: "B;a",
    });
    const upid = created.json!.data as string;
    assert.match(
      upid,
      /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmcreate:100:root@pam!ido:$/,
    );
    const during = await call(fake, "GET", "/cluster/resources", { type: "vm" });
    assert.deepEqual(during.json!.data, [
      { id: "qemu/100", vmid: 100, node: "pve1", type: "qemu", status: "unknown" },
    ]);
    const running = await call(fake, "GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`);
    assert.equal((running.json!.data as { status: string }).status, "running");
    assert.equal("exitstatus" in (running.json!.data as object), false);

    release();
    assert.equal((await finish(fake, upid)).exitstatus, "OK");
    const after = (await call(fake, "GET", "/cluster/resources", { type: "vm" })).json!
      .data as Record<string, unknown>[];
    assert.equal(after[0].name, "img");
    assert.equal(after[0].template, 0);
    assert.equal(after[0].tags, "a;b", "tags are stored lower-case and sorted");
  }));

Deno.test("tasks report bad and unknown UPIDs as 400 and keep a log ending in TASK ERROR", () =>
  withFake(async (fake) => {
    const bad = await call(fake, "GET", "/nodes/pve1/tasks/garbage/status");
    assert.deepEqual(bad.json!.errors, { upid: "unable to parse worker upid\n" });
    const unknown = await call(
      fake,
      "GET",
      `/nodes/pve1/tasks/${
        encodeURIComponent("UPID:pve1:00000001:00000002:00000003:qmcreate:1:root@pam:")
      }/status`,
    );
    assert.deepEqual(unknown.json!.errors, { upid: "no such task\n" });

    fake.failTask("qmcreate", "unable to create VM 100 - no space left");
    const upid = (await call(fake, "POST", "/nodes/pve1/qemu", { vmid: 100 })).json!.data as string;
    const status = await finish(fake, upid);
    assert.equal(status.exitstatus, "unable to create VM 100 - no space left");
    assert.equal(fake.cluster.vms.size, 0, "a failed create removes its config");
    const log = await call(fake, "GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`);
    assert.deepEqual(log.json!.data, [
      { n: 1, t: "TASK ERROR: unable to create VM 100 - no space left" },
    ]);
    assert.equal(log.json!.total, 1);
  }));

Deno.test("download-url fetches the URL, checks the qcow2 magic and the checksum", async (t) => {
  const files = startFileServer({ "/good.qcow2": qcow2Bytes(), "/bad.qcow2": GARBAGE });
  try {
    await withFake(async (fake) => {
      const download = async (params: Record<string, string>) => {
        const answer = await call(fake, "POST", "/nodes/pve1/storage/local/download-url", {
          content: "import",
          ...params,
        });
        return answer.status === 200 ? await finish(fake, answer.json!.data as string) : answer;
      };
      await t.step("a good image lands in the import storage", async () => {
        const status = await download({ url: files.url("/good.qcow2"), filename: "good.qcow2" });
        assert.equal((status as Record<string, unknown>).exitstatus, "OK");
        const list = await call(fake, "GET", "/nodes/pve1/storage/local/content", {
          content: "import",
        });
        assert.deepEqual(
          (list.json!.data as { volid: string; size: number; format: string }[]).map((f) => [
            f.volid,
            f.size,
            f.format,
          ]),
          [["local:import/good.qcow2", 512, "qcow2"]],
        );
      });
      await t.step("the same file again is refused", async () => {
        const answer = await download({ url: files.url("/good.qcow2"), filename: "good.qcow2" });
        assert.equal((answer as Answer).status, 500);
        assert.equal(
          (answer as Answer).statusText,
          "refusing to override existing file '/var/lib/vz/import/good.qcow2'",
        );
      });
      await t.step("bytes that are not qcow2 fail the task", async () => {
        const status = await download({ url: files.url("/bad.qcow2"), filename: "bad.qcow2" });
        assert.match(String((status as Record<string, unknown>).exitstatus), /not a valid qcow2/);
      });
      await t.step("a wrong checksum fails the task", async () => {
        const status = await download({
          url: files.url("/good.qcow2"),
          filename: "other.qcow2",
          checksum: "ab".repeat(32),
          "checksum-algorithm": "sha256",
        });
        assert.match(String((status as Record<string, unknown>).exitstatus), /^checksum mismatch/);
      });
      await t.step("checksum needs checksum-algorithm", async () => {
        const answer = await download({
          url: files.url("/good.qcow2"),
          filename: "c.qcow2",
          checksum: "ab",
        }) as Answer;
        assert.deepEqual(answer.json!.errors, {
          "checksum-algorithm": "property is missing and it is not optional\n",
        });
      });
      await t.step("import files need an image extension", async () => {
        const answer = await download({
          url: files.url("/good.qcow2"),
          filename: "x.iso",
        }) as Answer;
        assert.deepEqual(answer.json!.errors, {
          filename: "invalid filename or wrong extension\n",
        });
      });
      await t.step("a storage without the import content type is refused", async () => {
        const answer = await call(fake, "POST", "/nodes/pve1/storage/local-lvm/download-url", {
          content: "import",
          url: files.url("/good.qcow2"),
          filename: "y.qcow2",
        });
        assert.equal(answer.status, 500);
        assert.equal(
          answer.json!.message,
          "storage 'local-lvm' is not configured for content-type 'import'\n",
        );
      });
      await t.step(
        "the file is deleted through its volid, with the storage in the path",
        async () => {
          const mismatch = await call(
            fake,
            "DELETE",
            `/nodes/pve1/storage/local-lvm/content/${
              encodeURIComponent("local:import/good.qcow2")
            }`,
          );
          assert.deepEqual(mismatch.json!.errors, {
            volume: "storage ID mismatch (local != local-lvm)\n",
          });
          // The volid's "/" may come raw or escaped: Proxmox joins the rest of the path.
          const answer = await call(
            fake,
            "DELETE",
            "/nodes/pve1/storage/local/content/local:import/good.qcow2",
          );
          const status = await finish(fake, answer.json!.data as string);
          assert.equal(status.type, "imgdel");
          assert.equal(status.id, "local");
          assert.equal(status.exitstatus, "OK");
          assert.deepEqual(fake.cluster.allFiles(), []);
        },
      );
    });
  } finally {
    await files.close();
  }
});

Deno.test("a template cannot be made a template again, nor have its disks changed", () =>
  withFake(async (fake) => {
    fake.cluster.addVm({ vmid: 100, node: "pve1", name: "t", template: true });
    const again = await call(fake, "POST", "/nodes/pve1/qemu/100/template");
    assert.deepEqual([again.status, again.statusText], [
      500,
      "you can't convert a template to a template",
    ]);
    const disk = await call(fake, "POST", "/nodes/pve1/qemu/100/config", { scsi0: "local-lvm:1" });
    assert.equal(disk.statusText, "you can't change disks of a template");
    const none = await call(fake, "POST", "/nodes/pve1/qemu/100/config");
    assert.equal(none.statusText, "no options specified");
  }));
