import assert from "node:assert/strict";
import { Secret } from "../../lib/config/secret.ts";
import { PlatformError, ProviderUnavailableError } from "../../lib/image/provider.ts";
import type { HttpRequest, HttpResponse } from "../../providers/_http/mod.ts";
import {
  apiPath,
  pathSegment,
  ProxmoxApiError,
  ProxmoxAuthError,
  ProxmoxClient,
} from "../../providers/proxmox/mod.ts";

const SECRET = "s3cr3t-Zz91";
const signal = new AbortController().signal;

/** What a scripted answer gives; the headers are added (Proxmox's client does not read them). */
type Answer = Omit<HttpResponse, "headers">;

/** A client over a scripted HTTP client that records requests. */
function scripted(
  answer: (req: HttpRequest) => Answer | Promise<Answer>,
  timeoutMs?: number,
) {
  const seen: HttpRequest[] = [];
  const client = new ProxmoxClient({
    host: "pve.example.com:8006",
    user: "ido",
    realm: "pve",
    tokenId: "operator",
    secret: new Secret(SECRET),
    timeoutMs,
    http: {
      request: async (req) => {
        seen.push(req);
        return { ...await answer(req), headers: new Headers() };
      },
      close: () => Promise.resolve(),
    },
  });
  return { client, seen };
}

const ok = (data: unknown): Answer => ({
  status: 200,
  statusText: "OK",
  body: JSON.stringify({ data }),
});

Deno.test("requests go to /api2/json with the API token header", async () => {
  const { client, seen } = scripted(() => ok({ version: "9.2.11" }));
  assert.deepEqual(await client.get("/version", undefined, signal), { version: "9.2.11" });
  assert.equal(seen[0].url, "https://pve.example.com:8006/api2/json/version");
  assert.equal(seen[0].headers?.Authorization, `PVEAPIToken=ido@pve!operator=${SECRET}`);
  assert.equal(seen[0].body, undefined);
});

Deno.test("POST and PUT send form-urlencoded bodies, booleans as 0/1", async () => {
  const { client, seen } = scripted(() => ok(null));
  await client.post("/nodes/pve1/qemu", {
    vmid: 100,
    net0: "e1000,bridge=vmbr0",
    agent: true,
    cpu: undefined,
  }, signal);
  await client.put("/nodes/pve1/qemu/100/config", { tags: "a;b" }, signal);
  assert.equal(seen[0].method, "POST");
  assert.equal(seen[0].headers?.["Content-Type"], "application/x-www-form-urlencoded");
  assert.equal(seen[0].body, "vmid=100&net0=e1000%2Cbridge%3Dvmbr0&agent=1");
  assert.equal(seen[0].url, "https://pve.example.com:8006/api2/json/nodes/pve1/qemu");
  assert.equal(seen[1].method, "PUT");
  assert.equal(seen[1].body, "tags=a%3Bb");
});

Deno.test("DELETE parameters go only in the query, never in a body", async () => {
  const { client, seen } = scripted(() =>
    ok("UPID:pve1:00000001:00000002:00000003:qmdestroy:100:ido@pve!operator:")
  );
  await client.delete(
    "/nodes/pve1/qemu/100",
    { purge: 1, "destroy-unreferenced-disks": 1 },
    signal,
  );
  assert.equal(seen[0].method, "DELETE");
  assert.equal(seen[0].body, undefined);
  assert.equal(seen[0].headers?.["Content-Type"], undefined);
  assert.ok(seen[0].url.endsWith("/nodes/pve1/qemu/100?purge=1&destroy-unreferenced-disks=1"));
});

Deno.test("path segments are escaped like Go's url.PathEscape", () => {
  const upid = "UPID:pve1:0003B4A2:01C8E4F2:66F1A2B3:qmcreate:100:root@pam!mytoken:";
  assert.equal(
    pathSegment(upid),
    "UPID:pve1:0003B4A2:01C8E4F2:66F1A2B3:qmcreate:100:root@pam%21mytoken:",
  );
  assert.equal(
    apiPath`/nodes/${"pve1"}/storage/${"local"}/content/${"local:import/x y.qcow2"}`,
    "/nodes/pve1/storage/local/content/local:import%2Fx%20y.qcow2",
  );
});

Deno.test("a 400 becomes a ProxmoxApiError with the errors map", async () => {
  const { client } = scripted(() => ({
    status: 400,
    statusText: "Parameter verification failed.",
    body: JSON.stringify({
      data: null,
      errors: { name: "invalid format - value does not look like a valid DNS name\n" },
      message: "Parameter verification failed.\n",
    }),
  }));
  const error = await client.post("/nodes/pve1/qemu", { name: "a_b" }, signal).catch((e) => e);
  assert.ok(error instanceof ProxmoxApiError);
  assert.ok(error instanceof PlatformError);
  assert.equal(error.status, 400);
  assert.deepEqual(error.errors, {
    name: "invalid format - value does not look like a valid DNS name",
  });
  assert.equal(
    error.message,
    "Proxmox POST /nodes/pve1/qemu failed: 400 Parameter verification failed. " +
      "(name: invalid format - value does not look like a valid DNS name)",
  );
});

Deno.test("a 500 message is read from the body, or from the status line of older servers", async (t) => {
  const message = "Configuration file 'nodes/pve1/qemu-server/100.conf' does not exist";
  const cases = [
    { name: "new server", body: JSON.stringify({ data: null, message: `${message}\n` }) },
    { name: "old server", body: JSON.stringify({ data: null }) },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const { client } = scripted(() => ({ status: 500, statusText: message, body: c.body }));
      const error = await client.get("/nodes/pve1/qemu/100/config", undefined, signal).catch((e) =>
        e
      );
      assert.ok(error instanceof ProxmoxApiError);
      assert.equal(error.detail, message);
      assert.equal(error.isMissing, true);
      assert.equal(error.message, `Proxmox GET /nodes/pve1/qemu/100/config failed: 500 ${message}`);
    });
  }
});

Deno.test("401 is a ProxmoxAuthError (provider unavailable) that never shows the secret", async () => {
  const { client } = scripted(() => ({
    status: 401,
    statusText: "Authentication failed!",
    body: "",
  }));
  const error = await client.get("/version", undefined, signal).catch((e) => e);
  assert.ok(error instanceof ProxmoxAuthError);
  assert.ok(error instanceof ProviderUnavailableError);
  assert.match(error.message, /401 Authentication failed!: the API token was refused/);
  assert.ok(!error.message.includes(SECRET));
  assert.ok(!Deno.inspect(error).includes(SECRET));
});

Deno.test("403 is a PlatformError naming the missing privilege", async () => {
  const { client } = scripted(() => ({
    status: 403,
    statusText: "Permission check failed (/vms/100, VM.Allocate)",
    body: JSON.stringify({ data: null }),
  }));
  const error = await client.post("/nodes/pve1/qemu", { vmid: 100 }, signal).catch((e) => e);
  assert.ok(error instanceof ProxmoxApiError);
  assert.equal(error.status, 403);
  assert.match(error.message, /403 Permission check failed \(\/vms\/100, VM\.Allocate\)/);
});

Deno.test("proxy errors and transport failures mean the provider is unavailable", async (t) => {
  await t.step("595 from pveproxy", async () => {
    const { client } = scripted(() => ({
      status: 595,
      statusText: "Connection refused",
      body: "",
    }));
    await assert.rejects(
      client.get("/cluster/resources", { type: "vm" }, signal),
      (e: unknown) =>
        e instanceof ProviderUnavailableError && /595 Connection refused/.test(String(e)),
    );
  });
  await t.step("connection refused", async () => {
    const { client } = scripted(() => {
      throw Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:8006"), {
        code: "ECONNREFUSED",
      });
    });
    await assert.rejects(
      client.get("/version", undefined, signal),
      (e: unknown) =>
        e instanceof ProviderUnavailableError &&
        e.message === "Cannot reach Proxmox at https://pve.example.com:8006/api2/json " +
            "(GET /version): connect ECONNREFUSED 10.0.0.1:8006",
    );
  });
});

Deno.test("a request that outlives its timeout is aborted and reported unavailable", async () => {
  const { client, seen } = scripted(
    (req) =>
      new Promise((_, reject) =>
        req.signal!.addEventListener("abort", () => reject(req.signal!.reason), { once: true })
      ),
    5,
  );
  await assert.rejects(
    client.get("/version", undefined, signal),
    (e: unknown) => e instanceof ProviderUnavailableError && /timed out after 5 ms/.test(String(e)),
  );
  assert.equal(seen[0].signal?.aborted, true);
});

Deno.test("the caller's abort is rethrown unchanged", async () => {
  const controller = new AbortController();
  const reason = new Error("shutting down");
  const { client } = scripted((req) =>
    new Promise((_, reject) => {
      req.signal!.addEventListener("abort", () => reject(new Error("socket closed")), {
        once: true,
      });
      controller.abort(reason);
    })
  );
  await assert.rejects(client.get("/version", undefined, controller.signal), (e) => e === reason);
});

Deno.test("nextid answers as a string are returned as Proxmox sent them", async () => {
  const { client } = scripted(() => ok("100"));
  assert.equal(await client.get<string>("/cluster/nextid", undefined, signal), "100");
});
