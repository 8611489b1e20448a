/** Table tests of the image controller's pure deletion planner. */
import assert from "node:assert/strict";
import { DEFAULT_TIMINGS } from "../../lib/image/plan.ts";
import {
  type DeletionObservation,
  type DeletionProviderView,
  deletionProviderView,
  planImageDeletion,
  type RemovalOutcome,
} from "../../lib/image/plan_deletion.ts";
import type { Provider } from "../../lib/image/provider.ts";
import { statusDiff } from "../../lib/image/status.ts";
import { NODE_IMAGE_FINALIZER } from "../../lib/names.ts";
import type { NodeImage } from "../../lib/release/objects.ts";
import { defaultImageName, nodeImage, TEST_NAMESPACE } from "../support/builders.ts";

const NOW = Date.UTC(2025, 0, 1, 12);
const EARLIER = "2024-12-31T00:00:00Z";
const NAME = defaultImageName("capv");
const SPEC = NAME.slice("capv-".length);
const READY: DeletionProviderView = { phase: "ready", locations: ["a", "b"] };
const OK: RemovalOutcome = { ok: true };

/** A NodeImage being deleted, with our finalizer, as the image controller left it. */
function deleting(fields: { finalizers?: string[]; locations?: unknown[] } = {}): NodeImage {
  const image = nodeImage(NAME).withReleases("vsphere-35.0.0").withState("Available")
    .withDeletionTimestamp().withFinalizers(...fields.finalizers ?? [NODE_IMAGE_FINALIZER])
    .build();
  image.metadata.generation = 4;
  image.status = {
    ...image.status,
    locations: fields.locations ?? [
      { name: "a", state: "Available", lastTransitionTime: EARLIER },
      { name: "b", state: "Available", lastTransitionTime: EARLIER },
    ],
  };
  return image;
}

function observe(fields: Partial<DeletionObservation> = {}): DeletionObservation {
  return { image: deleting(), provider: READY, now: NOW, ...fields };
}

function removals(outcomes: Record<string, RemovalOutcome>): Map<string, RemovalOutcome> {
  return new Map(Object.entries(outcomes));
}

Deno.test("planImageDeletion", async (t) => {
  await t.step("without our finalizer: nothing at all", () => {
    const plan = planImageDeletion(observe({
      image: deleting({ finalizers: ["other.example.com/keep"] }),
      otherUser: "team-b/x",
    }));
    assert.equal(plan.kind, "not-ours");
    assert.deepEqual(plan.remove, []);
    assert.equal(plan.removeFinalizer, false);
    assert.equal(plan.status, undefined);
    assert.deepEqual(plan.events, []);
  });

  await t.step("another NodeImage uses the image: remove nothing, release, StillInUse", () => {
    for (
      const provider of [READY, { phase: "not-configured" }] as DeletionProviderView[]
    ) {
      const plan = planImageDeletion(observe({ provider, otherUser: "team-b/" + NAME }));
      assert.equal(plan.kind, "still-in-use");
      assert.deepEqual(plan.remove, []);
      assert.equal(plan.removeFinalizer, true);
      assert.equal(plan.status, undefined);
      assert.deepEqual(plan.events, [{
        type: "Normal",
        reason: "StillInUse",
        message: `${SPEC} was not removed from capv: it is still used by NodeImage team-b/${NAME}`,
      }]);
    }
  });

  await t.step("provider not configured: release, Warning naming the recorded locations", () => {
    const plan = planImageDeletion(observe({ provider: { phase: "not-configured" } }));
    assert.equal(plan.kind, "no-client");
    assert.equal(plan.removeFinalizer, true);
    assert.deepEqual(plan.remove, []);
    assert.equal(plan.status, undefined);
    assert.equal(plan.requeueAfterMs, undefined);
    assert.deepEqual(plan.events, [{
      type: "Warning",
      reason: "ProviderNotConfigured",
      message: `Provider capv is not configured, so ${SPEC} was not removed; it may remain in ` +
        `the capv catalog in locations a, b`,
    }]);
  });

  await t.step("no locations recorded: the Warning says they are unknown", () => {
    const plan = planImageDeletion(observe({
      image: deleting({ locations: [] }),
      provider: { phase: "not-configured" },
    }));
    assert.match(
      plan.events[0].message,
      /catalog in its locations \(unknown: none were recorded in status\)$/,
    );
  });

  await t.step("configured but no client can be built: release, Warning with the reason", () => {
    const plan = planImageDeletion(observe({
      provider: { phase: "no-client", reason: "invalid URL in host" },
    }));
    assert.equal(plan.kind, "no-client");
    assert.equal(plan.removeFinalizer, true);
    assert.match(
      plan.events[0].message,
      /^Provider capv has no usable client \(invalid URL in host\), so /,
    );
  });

  await t.step("provider not reachable: Error status, finalizer kept, looked at again", () => {
    const plan = planImageDeletion(observe({
      provider: { phase: "not-ready", reason: "dial tcp: refused" },
    }));
    assert.equal(plan.kind, "provider-down");
    assert.equal(plan.removeFinalizer, false);
    assert.deepEqual(plan.remove, []);
    assert.deepEqual(plan.events, []);
    assert.equal(plan.failure, undefined);
    assert.equal(plan.requeueAfterMs, DEFAULT_TIMINGS.errorRetryMs);
    assert.deepEqual(plan.status, {
      state: "Error",
      observedGeneration: 4,
      conditions: [{
        type: "Ready",
        status: "False",
        reason: "DeletionFailed",
        message: "provider capv not reachable: dial tcp: refused",
        lastTransitionTime: "2025-01-01T12:00:00Z",
        observedGeneration: 4,
      }],
      locations: deleting().status?.locations,
      ready: "0/2",
      releaseCount: 1,
    });
  });

  await t.step("still not reachable later: the same status, so nothing to write", () => {
    const provider: DeletionProviderView = { phase: "not-ready", reason: "dial tcp: refused" };
    const first = planImageDeletion(observe({ provider }));
    const image = deleting();
    image.status = { ...image.status, ...first.status };
    const later = planImageDeletion(observe({ image, provider, now: NOW + 3_600_000 }));
    assert.deepEqual(later.status, first.status);
    assert.equal(statusDiff(image, later.status!).changed, false);
  });

  await t.step("ready, removals not made yet: remove from every location, nothing else", () => {
    const plan = planImageDeletion(observe());
    assert.equal(plan.kind, "remove");
    assert.deepEqual(plan.remove, ["a", "b"]);
    assert.equal(plan.removeFinalizer, false);
    assert.equal(plan.status, undefined);
    assert.deepEqual(plan.events, []);
  });

  await t.step("removed everywhere: release, Removed naming the locations", () => {
    const plan = planImageDeletion(observe({ removals: removals({ a: OK, b: OK }) }));
    assert.equal(plan.kind, "removed");
    assert.deepEqual(plan.remove, []);
    assert.equal(plan.removeFinalizer, true);
    assert.equal(plan.status, undefined);
    assert.equal(plan.failure, undefined);
    assert.deepEqual(plan.events, [{
      type: "Normal",
      reason: "Removed",
      message: `Removed ${SPEC} from locations a, b`,
    }]);
  });

  await t.step("a ready provider with no locations: released at once, nothing to remove", () => {
    const plan = planImageDeletion(observe({ provider: { phase: "ready", locations: [] } }));
    assert.equal(plan.kind, "removed");
    assert.deepEqual(plan.remove, []);
    assert.equal(plan.removeFinalizer, true);
    assert.equal(plan.events[0].message, `Removed ${SPEC} from no locations`);
  });

  await t.step("one location failed: per-location status, Warning, finalizer kept, failure", () => {
    const plan = planImageDeletion(observe({
      removals: removals({ a: OK, b: { ok: false, message: "template is locked" } }),
    }));
    assert.equal(plan.kind, "remove-failed");
    assert.equal(plan.removeFinalizer, false);
    assert.deepEqual(plan.remove, []);
    assert.equal(plan.requeueAfterMs, undefined, "retried with backoff, by the failure");
    assert.equal(
      plan.failure,
      `Cannot remove NodeImage "${TEST_NAMESPACE}/${NAME}" (${SPEC}) from 1 of 2 locations: ` +
        "b: template is locked",
    );
    assert.deepEqual(plan.status?.locations, [
      { name: "a", state: "Deleted", lastTransitionTime: "2025-01-01T12:00:00Z" },
      {
        name: "b",
        state: "Error",
        lastTransitionTime: "2025-01-01T12:00:00Z",
        message: "remove failed: template is locked",
      },
    ]);
    assert.equal(plan.status?.state, "Error");
    assert.equal(plan.status?.ready, "0/2");
    assert.equal(plan.status?.conditions[0].reason, "DeletionFailed");
    assert.equal(plan.status?.conditions[0].message, "b: template is locked");
    assert.deepEqual(plan.events, [{
      type: "Warning",
      reason: "RemoveFailed",
      message: `Cannot remove ${SPEC}: b: template is locked`,
    }]);
  });

  await t.step("a location without an outcome counts as not removed", () => {
    const plan = planImageDeletion(observe({ removals: removals({ a: OK }) }));
    assert.equal(plan.kind, "remove-failed");
    assert.equal(plan.status?.locations[1].message, "remove failed: not attempted");
    assert.equal(plan.removeFinalizer, false);
  });

  await t.step("failing again the same way keeps each transition time", () => {
    const outcome = removals({ a: OK, b: { ok: false, message: "locked" } });
    const first = planImageDeletion(observe({ removals: outcome }));
    const image = deleting();
    image.status = { ...image.status, ...first.status };
    const again = planImageDeletion(observe({ image, removals: outcome, now: NOW + 60_000 }));
    assert.deepEqual(again.status, first.status);
  });
});

const LAYOUT = { directory: "capv", format: "ova" } as const;

Deno.test("deletionProviderView", async (t) => {
  const client = {} as Provider;
  const cases: [string, Parameters<typeof deletionProviderView>[0], DeletionProviderView][] = [
    ["not in the registry", undefined, { phase: "not-configured" }],
    [
      "no client could be built",
      {
        status: { id: "capv", phase: "unreachable", message: "bad URL", attempts: 3 },
        locations: [],
        layout: LAYOUT,
      },
      { phase: "no-client", reason: "bad URL" },
    ],
    [
      "a client, initialising",
      {
        provider: client,
        status: { id: "capv", phase: "initialising", attempts: 0 },
        locations: ["a"],
        layout: LAYOUT,
      },
      { phase: "not-ready", reason: "initialising" },
    ],
    [
      "a client, unreachable",
      {
        provider: client,
        status: { id: "capv", phase: "unreachable", message: "refused", attempts: 1 },
        locations: ["a"],
        layout: LAYOUT,
      },
      { phase: "not-ready", reason: "refused" },
    ],
    [
      "a client, ready",
      {
        provider: client,
        status: { id: "capv", phase: "ready", attempts: 0 },
        locations: ["a", "b"],
        layout: LAYOUT,
      },
      { phase: "ready", locations: ["a", "b"] },
    ],
  ];
  for (const [what, handle, expected] of cases) {
    await t.step(what, () => assert.deepEqual(deletionProviderView(handle), expected));
  }
});
