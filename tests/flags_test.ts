import assert from "node:assert/strict";
import { FlagError, type FlagSpec, parseFlags } from "../lib/flags.ts";

const specs: Record<string, FlagSpec> = {
  "leader-elect": { kind: "bool", usage: "", default: false },
  "namespace": { kind: "string", usage: "", default: "giantswarm" },
  "metrics-bind-address": { kind: "string", usage: "", default: "0" },
};

Deno.test("flags accept the Go flag package's spellings", async (t) => {
  const cases: [string[], Record<string, unknown>][] = [
    [[], { "leader-elect": false, namespace: "giantswarm", "metrics-bind-address": "0" }],
    [["--leader-elect"], { "leader-elect": true }],
    [["-leader-elect"], { "leader-elect": true }],
    [["--leader-elect=false"], { "leader-elect": false }],
    [["--leader-elect=1"], { "leader-elect": true }],
    [["--namespace", "other"], { namespace: "other" }],
    [["--namespace=other"], { namespace: "other" }],
    [["-namespace=a=b"], { namespace: "a=b" }],
    [["--metrics-bind-address=:8443"], { "metrics-bind-address": ":8443" }],
  ];
  for (const [args, expected] of cases) {
    await t.step(args.join(" ") || "(none)", () => {
      const values = parseFlags(args, specs);
      for (const [k, v] of Object.entries(expected)) assert.equal(values[k], v);
    });
  }
});

Deno.test("flag errors name the flag", async (t) => {
  const cases: [string[], RegExp][] = [
    [["--nmespace=x"], /Unknown flag "--nmespace"/],
    [["--namespace"], /"--namespace" needs a value/],
    [["--leader-elect=yes"], /"--leader-elect" takes true or false, not "yes"/],
    [["stray"], /Unexpected argument "stray"/],
  ];
  for (const [args, message] of cases) {
    await t.step(args.join(" "), () => {
      assert.throws(
        () => parseFlags(args, specs),
        (e) => e instanceof FlagError && message.test(e.message),
      );
    });
  }
});
