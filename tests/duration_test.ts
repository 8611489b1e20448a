import assert from "node:assert/strict";
import {
  DurationError,
  formatGoDuration,
  formatGoDurationNanos,
  parseGoDuration,
  parseGoDurationNanos,
  parseNonNegativeGoDuration,
} from "../lib/duration.ts";

const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);

Deno.test("Go duration strings parse to the same nanoseconds as time.ParseDuration", async (t) => {
  const cases: [string, bigint][] = [
    ["0", 0n],
    ["-0", 0n],
    ["+0", 0n],
    ["0s", 0n],
    ["0h", 0n],
    ["720h", 720n * 3_600_000_000_000n],
    ["2160h", 2160n * 3_600_000_000_000n],
    ["20h", 20n * 3_600_000_000_000n],
    ["1h30m", 5_400_000_000_000n],
    ["1.5h", 5_400_000_000_000n],
    ["300ms", 300_000_000n],
    ["-1s", -1_000_000_000n],
    ["+5s", 5_000_000_000n],
    ["1ns", 1n],
    ["1us", 1_000n],
    ["1\u00b5s", 1_000n],
    ["1\u03bcs", 1_000n],
    ["1h2m3s4ms5us6ns", 3_723_004_005_006n],
    [".5s", 500_000_000n],
    ["1.s", 1_000_000_000n],
    ["1.0000000001s", 1_000_000_000n],
    ["0.1ns", 0n],
    ["1.5ns", 1n],
    ["3m0.5s", 180_500_000_000n],
    ["9223372036854775807ns", MAX_INT64],
    ["-9223372036854775808ns", MIN_INT64],
    ["2562047h47m16.854775807s", MAX_INT64],
    ["-2562047h47m16.854775808s", MIN_INT64],
  ];
  for (const [text, nanos] of cases) {
    await t.step(`"${text}" is ${nanos}ns`, () => assert.equal(parseGoDurationNanos(text), nanos));
  }
});

Deno.test("Go durations convert to milliseconds, fractional below one millisecond", async (t) => {
  const cases: [string, number][] = [
    ["0", 0],
    ["720h", 2_592_000_000],
    ["1h30m", 5_400_000],
    ["300ms", 300],
    ["-1s", -1000],
    ["300us", 0.3],
    ["1h2m3s4ms5us6ns", 3_723_004.005006],
  ];
  for (const [text, ms] of cases) {
    await t.step(`"${text}" is ${ms}ms`, () => assert.equal(parseGoDuration(text), ms));
  }
});

Deno.test("strings time.ParseDuration rejects are rejected with the text quoted", async (t) => {
  const cases: [string, RegExp][] = [
    ["", /Invalid duration ""/],
    ["1d", /unknown unit "d"/],
    ["h", /Invalid duration "h"/],
    ["1h30", /missing unit/],
    ["1", /missing unit/],
    [".", /Invalid duration "\."/],
    [".s", /Invalid duration "\.s"/],
    ["-", /Invalid duration "-"/],
    ["+", /Invalid duration "\+"/],
    ["--1s", /Invalid duration "--1s"/],
    ["1..5s", /missing unit/],
    [" 1s", /Invalid duration " 1s"/],
    ["1s ", /unknown unit "s "/],
    ["1h 30m", /unknown unit "h "/],
    ["1H", /unknown unit "H"/],
    ["1e3s", /unknown unit "e"/],
    ["1sec", /unknown unit "sec"/],
    ["9223372036854775808ns", /out of range/],
    ["2562047h47m16.854775808s", /out of range/],
    ["3000000h", /out of range/],
    ["99999999999999999999h", /out of range/],
    ["constructor", /Invalid duration "constructor"/],
    ["1constructor", /unknown unit "constructor"/],
  ];
  for (const [text, message] of cases) {
    await t.step(`"${text}" is rejected`, () => {
      assert.throws(() => parseGoDurationNanos(text), (error: unknown) => {
        assert.ok(error instanceof DurationError);
        assert.equal(error.value, text);
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

Deno.test("a retention period must not be negative and its error names the setting", async (t) => {
  await t.step("zero and positive values pass", () => {
    assert.equal(parseNonNegativeGoDuration("0", "imageRetentionPeriod"), 0);
    assert.equal(parseNonNegativeGoDuration("24h", "imageRetentionPeriod"), 86_400_000);
  });
  await t.step("a negative value is rejected", () => {
    assert.throws(
      () => parseNonNegativeGoDuration("-1s", "--image-retention-period"),
      /Invalid --image-retention-period "-1s": must not be negative/,
    );
  });
  await t.step("a syntax error names the setting and keeps the cause", () => {
    assert.throws(
      () => parseNonNegativeGoDuration("30d", "imageRetentionPeriod"),
      (error: unknown) =>
        error instanceof DurationError &&
        /^Invalid imageRetentionPeriod: .*unit "d"/.test(error.message) &&
        error.cause instanceof DurationError,
    );
  });
});

Deno.test("durations format like Go's Duration.String()", async (t) => {
  const cases: [bigint, string][] = [
    [0n, "0s"],
    [1n, "1ns"],
    [1_000n, "1µs"],
    [1_100n, "1.1µs"],
    [1_500_000n, "1.5ms"],
    [300_000_000n, "300ms"],
    [1_000_000_000n, "1s"],
    [1_500_000_000n, "1.5s"],
    [61_000_000_000n, "1m1s"],
    [5_400_000_000_000n, "1h30m0s"],
    [720n * 3_600_000_000_000n, "720h0m0s"],
    [3_723_004_005_006n, "1h2m3.004005006s"],
    [-1_000_000_000n, "-1s"],
    [-1n, "-1ns"],
    [MAX_INT64, "2562047h47m16.854775807s"],
    [MIN_INT64, "-2562047h47m16.854775808s"],
  ];
  for (const [nanos, text] of cases) {
    await t.step(`${nanos}ns is "${text}"`, () => {
      assert.equal(formatGoDurationNanos(nanos), text);
      assert.equal(parseGoDurationNanos(text), nanos, "the formatted text parses back");
    });
  }
  await t.step("milliseconds are formatted too", () => {
    assert.equal(formatGoDuration(5_400_000), "1h30m0s");
    assert.equal(formatGoDuration(0.3), "300µs");
    assert.equal(formatGoDuration(-1000), "-1s");
  });
  await t.step("non-finite milliseconds are refused", () => {
    assert.throws(() => formatGoDuration(Infinity), RangeError);
  });
});
