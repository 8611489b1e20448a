import assert from "node:assert/strict";
import { parseCompactJson } from "../../lib/kube/compact_json.ts";

Deno.test("parseCompactJson decodes exactly what JSON.parse does", () => {
  const texts = [
    `{"type":"ADDED","object":{"metadata":{"name":"flatcar-stable-4152.2.3-kube-1.33.3","uid":` +
    `"6c1f5a0e-7d0b-4c5e-9f0e-1b2c3d4e5f60","labels":{"123":"numeric key","":"empty"}},` +
    `"spec":{"n":[1,2.5,-3e2,true,false,null,"x",["nested","ünïcödé ✓ \\u00e9 \\"q\\""]]}}}`,
    `[]`,
    `"a string on its own that is long"`,
    `42`,
    `null`,
    `{"a":{"b":{"c":{"d":[{"e":"deep enough to be a slice"}]}}}}`,
  ];
  for (const text of texts) assert.deepEqual(parseCompactJson(text), JSON.parse(text), text);
});

Deno.test("parseCompactJson keeps a __proto__ key as data, never as the prototype", () => {
  const value = parseCompactJson(`{"__proto__":{"polluted":"yes, a long string"},"x":"y"}`) as
    & Record<string, unknown>
    & { polluted?: string };
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.equal(value.polluted, undefined);
  assert.deepEqual(Object.getOwnPropertyDescriptor(value, "__proto__")?.value, {
    polluted: "yes, a long string",
  });
  assert.equal(({} as { polluted?: string }).polluted, undefined);
});

Deno.test("parseCompactJson rejects invalid JSON as JSON.parse does", () => {
  assert.throws(() => parseCompactJson(`{"a":`), SyntaxError);
});
