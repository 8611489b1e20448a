import assert from "node:assert/strict";
import {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
} from "../../lib/queue/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** 5, 10, 20, 40, … ms, capped at 1000 s: written out, not computed like the code does. */
const EXPECTED_BACKOFF_MS = [
  5,
  10,
  20,
  40,
  80,
  160,
  320,
  640,
  1_280,
  2_560,
  5_120,
  10_240,
  20_480,
  40_960,
  81_920,
  163_840,
  327_680,
  655_360,
  1_000_000,
  1_000_000,
  1_000_000,
];

Deno.test("exponential backoff runs 5, 10, 20, 40 ms … and caps at 1000 s", () => {
  const limiter = new ItemExponentialFailureRateLimiter();

  const delays = EXPECTED_BACKOFF_MS.map(() => limiter.when("ns/a"));

  assert.deepEqual(delays, EXPECTED_BACKOFF_MS);
  assert.equal(limiter.numRequeues("ns/a"), EXPECTED_BACKOFF_MS.length);
});

Deno.test("exponential backoff stays capped after very many failures", () => {
  const limiter = new ItemExponentialFailureRateLimiter(5, 1_000_000);
  let last = 0;
  for (let i = 0; i < 2_000; i++) last = limiter.when("ns/a");
  assert.equal(last, 1_000_000);
});

Deno.test("forget resets the exponential backoff", () => {
  const limiter = new ItemExponentialFailureRateLimiter();
  limiter.when("ns/a");
  limiter.when("ns/a");
  limiter.when("ns/a");

  limiter.forget("ns/a");

  assert.equal(limiter.numRequeues("ns/a"), 0);
  assert.deepEqual([limiter.when("ns/a"), limiter.when("ns/a")], [5, 10]);
});

Deno.test("exponential backoff is tracked per key", () => {
  const limiter = new ItemExponentialFailureRateLimiter();
  limiter.when("ns/a");
  limiter.when("ns/a");

  assert.equal(limiter.when("ns/b"), 5);
  assert.equal(limiter.when("ns/a"), 20);
});

Deno.test("bucket limiter lets the first 100 through at once, then one every 100 ms", () => {
  const clock = new FakeClock();
  const limiter = new BucketRateLimiter(10, 100, clock);

  const burst = Array.from({ length: 100 }, (_, i) => limiter.when(`ns/k${i}`));
  const after = Array.from({ length: 5 }, (_, i) => limiter.when(`ns/later${i}`));

  assert.deepEqual(burst, new Array(100).fill(0));
  assert.deepEqual(after, [100, 200, 300, 400, 500]);
  assert.equal(limiter.numRequeues("ns/k0"), 0, "the bucket tracks no key");
});

Deno.test("bucket limiter refills at its rate as time passes", async () => {
  const clock = new FakeClock();
  const limiter = new BucketRateLimiter(10, 100, clock);
  for (let i = 0; i < 100; i++) limiter.when("ns/a");

  await clock.advance(100);

  assert.equal(limiter.when("ns/a"), 0, "one token refilled after 100 ms");
  assert.equal(limiter.when("ns/a"), 100);
});

Deno.test("max-of limiter returns the longest delay of its limiters", () => {
  const clock = new FakeClock();
  const limiter = new MaxOfRateLimiter(
    new ItemExponentialFailureRateLimiter(5, 1_000_000),
    new BucketRateLimiter(1, 2, clock),
  );

  // Bucket: 0, 0, 1000, 2000 ms; exponential for one key: 5, 10, 20, 40 ms.
  const delays = [1, 2, 3, 4].map(() => limiter.when("ns/a"));

  assert.deepEqual(delays, [5, 10, 1000, 2000]);
  assert.equal(limiter.numRequeues("ns/a"), 4, "the highest count of the limiters");
  limiter.forget("ns/a");
  assert.equal(limiter.numRequeues("ns/a"), 0, "forget reaches every limiter");
});

Deno.test("the default controller rate limiter combines 5 ms → 1000 s backoff with a 10 qps, 100 burst bucket", () => {
  const clock = new FakeClock();
  const limiter = defaultControllerRateLimiter(clock);

  // 21 failures of one key stay within the burst: the per-key backoff decides.
  const oneKey = EXPECTED_BACKOFF_MS.map(() => limiter.when("ns/a"));
  assert.deepEqual(oneKey, EXPECTED_BACKOFF_MS);

  // 79 more fresh keys use up the burst at 5 ms each; then the bucket spaces keys 100 ms apart.
  const fresh = Array.from({ length: 79 }, (_, i) => limiter.when(`ns/k${i}`));
  assert.deepEqual(fresh, new Array(79).fill(5));
  const overBurst = [1, 2, 3].map((i) => limiter.when(`ns/over${i}`));
  assert.deepEqual(overBurst, [100, 200, 300]);
});
