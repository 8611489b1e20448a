/**
 * The VCD client against the fake VCD: session discovery, login, refresh, re-login on 401,
 * error mapping and TLS, with a fake clock where the age of a session matters.
 */
import assert from "node:assert/strict";
import { Secret } from "../../lib/config/secret.ts";
import { ProviderUnavailableError } from "../../lib/image/provider.ts";
import { createHttpClient } from "../../providers/_http/mod.ts";
import { VcdApiError, type VcdAuth, VcdAuthError, VcdClient } from "../../providers/vcd/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { opensslAvailable, opensslMissing, testPki } from "../support/tls.ts";
import { FakeVcd, type FakeVcdOptions } from "./fake_vcd/mod.ts";

const PASSWORD: VcdAuth = {
  kind: "password",
  username: "operator",
  password: new Secret("operator-password"),
  org: "demo-org",
};

async function withClient(
  options: {
    fake?: FakeVcdOptions;
    auth?: VcdAuth;
    refreshThresholdMs?: number;
    clock?: FakeClock;
  },
  fn: (client: VcdClient, fake: FakeVcd) => Promise<void>,
): Promise<void> {
  const fake = await FakeVcd.start(options.fake);
  const client = new VcdClient({
    url: `${fake.url}/api/`,
    auth: options.auth ?? PASSWORD,
    http: createHttpClient(),
    clock: options.clock,
    refreshThresholdMs: options.refreshThresholdMs ?? 20 * 3_600_000,
  });
  try {
    await fn(client, fake);
  } finally {
    await client.close();
    await fake.close();
  }
}

const signal = () => AbortSignal.timeout(10_000);
const orgs = (client: VcdClient) => client.api("GET", client.url("/api/org"), { signal: signal() });
const requests = (fake: FakeVcd, method: string, path: string) =>
  fake.requests.filter((r) => r.method === method && r.path === path);

Deno.test("the session is found through /api/versions and reused by later calls", async () => {
  await withClient({}, async (client, fake) => {
    await orgs(client);
    await orgs(client);
    assert.equal(requests(fake, "GET", "/api/versions").length, 1);
    assert.equal(requests(fake, "POST", "/cloudapi/1.0.0/sessions").length, 1);
    assert.equal(requests(fake, "GET", "/api/org").length, 2);
  });
});

Deno.test("concurrent first calls share one login", async () => {
  await withClient({}, async (client, fake) => {
    await Promise.all([orgs(client), orgs(client), orgs(client)]);
    assert.equal(fake.logins, 1);
  });
});

Deno.test("a refused call (401) logs in again once and is retried", async () => {
  await withClient({}, async (client, fake) => {
    await orgs(client);
    fake.expireSessions();
    const { name } = await orgs(client);
    assert.equal(name, "OrgList");
    assert.equal(fake.logins, 2);
    assert.deepEqual(requests(fake, "GET", "/api/org").map((r) => r.status), [200, 401, 200]);
  });
});

Deno.test("the refresh threshold opens a new session and logs the old one out", async () => {
  const clock = new FakeClock();
  await withClient({ clock, refreshThresholdMs: 60_000 }, async (client, fake) => {
    await orgs(client);
    await clock.advance(59_000);
    await orgs(client);
    assert.equal(fake.logins, 1, "still young enough");
    await clock.advance(1_000);
    await orgs(client);
    assert.equal(fake.logins, 2, "a new session at the threshold");
    assert.equal(requests(fake, "DELETE", "/cloudapi/1.0.0/sessions/current").length, 1);
    assert.equal(fake.state.sessions.size, 1, "the old session was ended at VCD");
  });
});

Deno.test("a session about to idle out is replaced before a call, not after a 401", async () => {
  const clock = new FakeClock();
  // VCD says 30 minutes; a call 29.5 minutes later would race the timeout.
  await withClient({ clock }, async (client, fake) => {
    await orgs(client);
    await clock.advance(29.5 * 60_000);
    await orgs(client);
    assert.equal(fake.logins, 2);
    assert.ok(requests(fake, "GET", "/api/org").every((r) => r.status === 200));
  });
});

Deno.test("keepAlive calls VCD only when the session has been unused for a while", async () => {
  const clock = new FakeClock();
  await withClient({ clock }, async (client, fake) => {
    await orgs(client);
    const keepAlives = () => fake.requests.filter((r) => r.query.includes("type=task")).length;
    await client.keepAlive(signal());
    assert.equal(keepAlives(), 0);
    await clock.advance(10 * 60_000 + 1);
    await client.keepAlive(signal());
    assert.equal(keepAlives(), 1);
    assert.equal(fake.logins, 1, "the keep-alive kept the same session");
  });
});

Deno.test("org System logs in at the provider endpoint", async () => {
  await withClient({
    fake: { providerAdmin: { name: "admin", password: "s3cr:t@" } },
    auth: { kind: "password", username: "admin", password: new Secret("s3cr:t@"), org: "System" },
  }, async (client, fake) => {
    await orgs(client);
    assert.equal(requests(fake, "POST", "/cloudapi/1.0.0/sessions/provider").length, 1);
    assert.equal(client.session.isProvider, true);
  });
});

Deno.test("an API token logs in through /oauth/tenant/<org>/token", async () => {
  await withClient({
    fake: {
      orgs: [{
        name: "o",
        users: [{ name: "u", password: "p" }],
        apiTokens: [{ user: "u", token: "t-1" }],
      }],
    },
    auth: { kind: "token", refreshToken: new Secret("t-1"), org: "o" },
  }, async (client, fake) => {
    await orgs(client);
    assert.equal(requests(fake, "POST", "/oauth/tenant/o/token").length, 1);
    assert.equal(requests(fake, "POST", "/cloudapi/1.0.0/sessions").length, 0);
  });
});

Deno.test("refused credentials are a VcdAuthError that names user and org, not the secret", async () => {
  await withClient({
    auth: { ...PASSWORD, password: new Secret("wrong-Pa55") } as VcdAuth,
  }, async (client) => {
    const error = await orgs(client).catch((e) => e);
    assert.ok(error instanceof VcdAuthError);
    assert.ok(error instanceof ProviderUnavailableError);
    assert.match(error.message, /"operator" in org "demo-org" .*401 Invalid credentials/);
    assert.ok(!error.message.includes("wrong-Pa55"));
  });
  await withClient(
    { auth: { kind: "token", refreshToken: new Secret("tok-X"), org: "demo-org" } },
    async (client) => {
      const error = await orgs(client).catch((e) => e);
      assert.ok(error instanceof VcdAuthError);
      assert.match(
        error.message,
        /API token for org "demo-org" .*400 The refresh token is not valid/,
      );
      assert.ok(!error.message.includes("tok-X"));
    },
  );
});

Deno.test("a VCD without API version 37.0 is refused with the versions it has", async () => {
  await withClient({ fake: { versions: ["35.0", "36.0"] } }, async (client) => {
    const error = await orgs(client).catch((e) => e);
    assert.ok(error instanceof ProviderUnavailableError);
    assert.match(error.message, /does not offer API version 37\.0 .*it offers 35\.0, 36\.0/);
  });
});

Deno.test("<Error> bodies become VcdApiErrors with VCD's codes and message", async () => {
  await withClient({}, async (client, fake) => {
    const missing = await client.api(
      "GET",
      client.url(`/api/vAppTemplate/vappTemplate-${crypto.randomUUID()}`),
      {
        signal: signal(),
      },
    ).catch((e) => e);
    assert.ok(missing instanceof VcdApiError);
    assert.equal(missing.status, 403);
    assert.equal(missing.minorErrorCode, "ACCESS_TO_RESOURCE_IS_FORBIDDEN");
    assert.equal(missing.majorErrorCode, "403");
    assert.ok(missing.isMissing);
    assert.match(
      missing.message,
      /403 \(ACCESS_TO_RESOURCE_IS_FORBIDDEN, major 403\): Either you need/,
    );
    fake.failRequest("GET", /^\/api\/org$/, {
      status: 503,
      minorErrorCode: "SERVICE_UNAVAILABLE",
      message: "cell restarting",
    });
    const down = await orgs(client).catch((e) => e);
    assert.ok(down instanceof ProviderUnavailableError);
    assert.match(down.message, /503 cell restarting/);
  });
});

const pkiReason = opensslAvailable() ? undefined : opensslMissing;
Deno.test({
  name: "TLS: verified against the system roots by default, a CA bundle, or insecure when asked",
  ignore: pkiReason !== undefined,
  async fn() {
    const pki = await testPki();
    const fake = await FakeVcd.start({ tls: { cert: pki.serverCert, key: pki.serverKey } });
    const connect = async (tls: { ca?: string; insecure?: boolean }) => {
      const client = new VcdClient({
        url: fake.url,
        auth: PASSWORD,
        http: createHttpClient({ tls }),
        refreshThresholdMs: 3_600_000,
      });
      try {
        return await orgs(client).then(() => "ok", (e) => e);
      } finally {
        await client.close();
      }
    };
    try {
      const refused = await connect({});
      assert.ok(refused instanceof ProviderUnavailableError);
      assert.match(refused.message, /certificate|self-signed|issuer/i);
      assert.equal(await connect({ ca: pki.caCert }), "ok");
      assert.equal(await connect({ insecure: true }), "ok");
    } finally {
      await fake.close();
      await pki.remove();
    }
  },
});
