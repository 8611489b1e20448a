/** Decoding newline-delimited JSON watch streams, without a network. */
import assert from "node:assert/strict";
import { LineDecoder, parseWatchLine, WatchStreamError } from "../../lib/kube/watcher.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("lines split at every possible byte boundary decode to the same events", () => {
  const text = '{"type":"ADDED","object":{"metadata":{"name":"grüße"}}}\n{"type":"BOOKMARK"}\n';
  const all = bytes(text);
  for (let cut = 0; cut <= all.length; cut++) {
    const decoder = new LineDecoder();
    const lines = [...decoder.push(all.subarray(0, cut)), ...decoder.push(all.subarray(cut))];
    assert.deepEqual(lines, text.trim().split("\n"), `cut at byte ${cut}`);
    assert.equal(decoder.flush(), undefined);
  }
});

Deno.test("blank lines and CRLF endings are ignored", () => {
  const decoder = new LineDecoder();
  assert.deepEqual(decoder.push(bytes("\r\n{}\r\n\n\n{}\n")), ["{}", "{}"]);
});

Deno.test("an unterminated last line is returned by flush", () => {
  const decoder = new LineDecoder();
  assert.deepEqual(decoder.push(bytes('{"a":1}\n{"b"')), ['{"a":1}']);
  assert.deepEqual(decoder.push(bytes(":2}")), []);
  assert.equal(decoder.flush(), '{"b":2}');
});

Deno.test("watch lines that are not events are refused with the offending text", async (t) => {
  const bad = [
    "{oops",
    "[]",
    '{"type":"ADDED"}',
    '{"type":"ADDED","object":{}}',
    '{"type":"SURPRISE","object":{"metadata":{}}}',
  ];
  for (const line of bad) {
    await t.step(line, () => {
      assert.throws(() => parseWatchLine(line, "widgets"), (e: unknown) => {
        assert.ok(e instanceof WatchStreamError);
        assert.ok(e.message.includes(JSON.stringify(line)), e.message);
        return true;
      });
    });
  }
});

Deno.test("an ERROR event is accepted without object metadata", () => {
  const event = parseWatchLine('{"type":"ERROR","object":{"kind":"Status","code":410}}', "widgets");
  assert.equal(event.type, "ERROR");
});
