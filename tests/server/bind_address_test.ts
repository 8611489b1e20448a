import assert from "node:assert/strict";
import { BindAddressError, parseBindAddress } from "../../lib/server/bind_address.ts";

Deno.test("bind addresses parse like the Go operator's flags", async (t) => {
  const cases: [string, ReturnType<typeof parseBindAddress>][] = [
    [":8081", { hostname: "0.0.0.0", port: 8081 }],
    ["127.0.0.1:8080", { hostname: "127.0.0.1", port: 8080 }],
    ["[::1]:9000", { hostname: "::1", port: 9000 }],
    ["localhost:0", { hostname: "localhost", port: 0 }],
    ["0", undefined],
    [" 0 ", undefined],
  ];
  for (const [input, expected] of cases) {
    await t.step(JSON.stringify(input), () => assert.deepEqual(parseBindAddress(input), expected));
  }
});

Deno.test("malformed bind addresses are rejected with the value in the message", async (t) => {
  for (const input of ["8080", "host:", ":http", ":70000", "::1:80", ""]) {
    await t.step(JSON.stringify(input), () => {
      assert.throws(() => parseBindAddress(input), (error: unknown) => {
        assert.ok(error instanceof BindAddressError);
        assert.ok(error.message.includes(`"${input}"`));
        return true;
      });
    });
  }
});
