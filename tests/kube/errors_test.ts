import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  ApiError,
  apiErrorFor,
  apiErrorFromResponse,
  type ApiStatus,
  BadRequestError,
  ConflictError,
  ConnectionError,
  CredentialsError,
  ForbiddenError,
  GoneError,
  InvalidError,
  isTransient,
  MethodNotAllowedError,
  NotFoundError,
  redactSecrets,
  ServerError,
  TooManyRequestsError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
} from "../../lib/kube/errors.ts";

function status(code: number, reason: string, message: string): ApiStatus {
  return { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message };
}

Deno.test("apiErrorFor maps each HTTP status and reason to its error class", async (t) => {
  const cases: [number, string, new (...args: never[]) => ApiError][] = [
    [400, "BadRequest", BadRequestError],
    [401, "Unauthorized", UnauthorizedError],
    [403, "Forbidden", ForbiddenError],
    [404, "NotFound", NotFoundError],
    [405, "MethodNotAllowed", MethodNotAllowedError],
    [409, "Conflict", ConflictError],
    [409, "AlreadyExists", AlreadyExistsError],
    [410, "Expired", GoneError],
    [410, "Gone", GoneError],
    [415, "UnsupportedMediaType", UnsupportedMediaTypeError],
    [422, "Invalid", InvalidError],
    [429, "TooManyRequests", TooManyRequestsError],
    [500, "InternalError", ServerError],
    [503, "ServiceUnavailable", ServerError],
    [504, "Timeout", ServerError],
    [418, "", ApiError],
  ];
  for (const [code, reason, expected] of cases) {
    await t.step(`${code} ${reason || "(no reason)"} → ${expected.name}`, () => {
      const message = `the message for ${code}`;
      const error = apiErrorFor(code, status(code, reason, message));
      assert.equal(error.constructor, expected);
      assert.ok(error instanceof ApiError);
      assert.equal(error.code, code);
      assert.equal(error.reason, reason);
      assert.equal(error.message, message);
      assert.equal(error.name, expected.name);
    });
  }
});

Deno.test("an error without a Status message still says which HTTP status it was", () => {
  const error = apiErrorFor(500, {});
  assert.match(error.message, /HTTP 500/);
});

Deno.test("apiErrorFromResponse decodes API server answers and proxy bodies", async (t) => {
  const cases: {
    name: string;
    response: () => Response;
    type: new (...args: never[]) => ApiError;
    message: RegExp;
    retryAfterSeconds?: number;
  }[] = [
    {
      name: "a Status object keeps its message and reason",
      response: () =>
        Response.json(status(404, "NotFound", 'nodeimages.x.io "a" not found'), { status: 404 }),
      type: NotFoundError,
      message: /^nodeimages\.x\.io "a" not found$/,
    },
    {
      name: "an HTML page from a proxy becomes a message quoting its start",
      response: () =>
        new Response("<html><body><h1>502 Bad Gateway</h1>\n</body></html>", {
          status: 502,
          statusText: "Bad Gateway",
          headers: { "content-type": "text/html" },
        }),
      type: ServerError,
      message:
        /^API server answered HTTP 502 Bad Gateway without a Status object: ".*502 Bad Gateway/,
    },
    {
      name: "an empty body says so",
      response: () => new Response(null, { status: 503 }),
      type: ServerError,
      message: /^API server answered HTTP 503 with an empty body$/,
    },
    {
      name: "JSON that is not a Status is quoted, not trusted",
      response: () => Response.json({ error: "rate limited" }, { status: 429 }),
      type: TooManyRequestsError,
      message: /without a Status object: "\{\\"error\\":\\"rate limited\\"\}"/,
    },
    {
      name: "Retry-After in seconds fills retryAfterSeconds",
      response: () =>
        Response.json(status(429, "TooManyRequests", "slow down"), {
          status: 429,
          headers: { "retry-after": "7" },
        }),
      type: TooManyRequestsError,
      message: /^slow down$/,
      retryAfterSeconds: 7,
    },
    {
      name: "retryAfterSeconds from the Status wins over the header",
      response: () =>
        Response.json(
          { ...status(429, "TooManyRequests", "slow down"), details: { retryAfterSeconds: 3 } },
          { status: 429, headers: { "retry-after": "9" } },
        ),
      type: TooManyRequestsError,
      message: /^slow down$/,
      retryAfterSeconds: 3,
    },
    {
      name: "Retry-After as an HTTP date in the past means retry now",
      response: () =>
        new Response("busy", {
          status: 429,
          headers: { "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" },
        }),
      type: TooManyRequestsError,
      message: /"busy"/,
      retryAfterSeconds: 0,
    },
    {
      name: "a 409 Status with reason AlreadyExists is not a conflict",
      response: () =>
        Response.json(status(409, "AlreadyExists", 'namespaces "a" already exists'), {
          status: 409,
        }),
      type: AlreadyExistsError,
      message: /already exists/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const error = await apiErrorFromResponse(c.response());
      assert.equal(error.constructor, c.type);
      assert.match(error.message, c.message);
      assert.equal(error.retryAfterSeconds, c.retryAfterSeconds);
    });
  }
});

Deno.test("isTransient is true only for throttling, server and network failures", async (t) => {
  const cases: [string, unknown, boolean][] = [
    ["429", apiErrorFor(429, {}), true],
    ["500", apiErrorFor(500, {}), true],
    ["503", apiErrorFor(503, {}), true],
    ["409 conflict", apiErrorFor(409, { reason: "Conflict" }), false],
    ["404", apiErrorFor(404, {}), false],
    ["410", apiErrorFor(410, {}), false],
    ["422", apiErrorFor(422, {}), false],
    [
      "connection refused",
      new ConnectionError("https://x", "GET /api", new Error("refused")),
      true,
    ],
    ["bad credentials", new CredentialsError("https://x", "u", new Error("exit 1")), false],
    ["a bug", new RangeError("oops"), false],
  ];
  for (const [name, error, expected] of cases) {
    await t.step(`${name} → ${expected}`, () => assert.equal(isTransient(error), expected));
  }
});

Deno.test("ConnectionError names the server URL, the request and the low-level cause", () => {
  const cause = new TypeError("fetch failed", {
    cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }),
  });
  const error = new ConnectionError("https://127.0.0.1:1", "GET /api/v1/namespaces", cause);
  assert.equal(error.server, "https://127.0.0.1:1");
  assert.match(
    error.message,
    /^Cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1 \(GET \/api\/v1\/namespaces\): fetch failed: connect ECONNREFUSED/,
  );
  assert.equal(error.cause, cause);
});

Deno.test("error messages and causes never carry tokens or private keys", async (t) => {
  const token = "sEcReT-t0ken-abcdef0123456789";
  const key =
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
  const cases: [string, () => Error | Promise<Error>][] = [
    [
      "an exec plugin that prints a non-JSON token",
      () => new CredentialsError("https://x", "u", new SyntaxError(`Unexpected token "${token}"`)),
    ],
    [
      "an exec plugin whose stderr echoes an ExecCredential",
      () =>
        new CredentialsError(
          "https://x",
          "u",
          new Error(`bad: {"status":{"token":"${token}","clientKeyData":"${key}"}}`),
        ),
    ],
    [
      "a low-level error quoting an Authorization header",
      () =>
        new ConnectionError("https://x", "GET /api", new Error(`header Bearer ${token} refused`)),
    ],
    [
      "a low-level error quoting a key",
      () => new CredentialsError("https://x", "u", new Error(`cannot decode ${key}`)),
    ],
    [
      "a proxy body echoing the request headers",
      () =>
        apiErrorFromResponse(
          new Response(`You sent: Authorization: Bearer ${token}`, { status: 400 }),
        ),
    ],
  ];
  for (const [name, make] of cases) {
    await t.step(name, async () => {
      const error = await make();
      let text = "";
      for (let e: unknown = error; e instanceof Error; e = e.cause) text += `${e.message}\n`;
      assert.ok(!text.includes(token), `token leaked: ${text}`);
      assert.ok(!text.includes("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), `key leaked: ${text}`);
      assert.match(text, /redacted|not valid JSON/);
    });
  }
});

Deno.test("redactSecrets removes known secret values but leaves short words alone", () => {
  const text = redactSecrets("user admin with password hunter2-very-long", [
    "hunter2-very-long",
    "admin",
  ]);
  assert.equal(text, "user admin with password [redacted]");
});
