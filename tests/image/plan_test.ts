/** Table tests of the image controller's pure planner. */
import assert from "node:assert/strict";
import {
  aggregateState,
  DEFAULT_TIMINGS,
  type ImageObservation,
  type InventoryView,
  planImage,
  type ProviderView,
} from "../../lib/image/plan.ts";
import type { TransferView } from "../../lib/image/transfers.ts";
import type { NodeImage } from "../../lib/release/objects.ts";
import { defaultImageName, nodeImage } from "../support/builders.ts";

const NOW = Date.UTC(2025, 0, 1, 12);
const NAME = defaultImageName("capv");
const SPEC = NAME.slice("capv-".length);
const READY: ProviderView = { phase: "ready", locations: ["a", "b"] };
const present: InventoryView = {
  ok: true,
  item: { name: SPEC, reference: "vm-1", complete: true },
};
const absent: InventoryView = { ok: true };
const partial: InventoryView = {
  ok: true,
  item: { name: SPEC, reference: "vm-9", complete: false },
};
const SOURCE = { ok: true as const, size: 100, key: "capv/x/y.ova" };

function observe(fields: Partial<ImageObservation> & { inv?: [InventoryView, InventoryView] }) {
  const image = fields.image ?? nodeImage(NAME).withReleases("vsphere-35.0.0").withState("Pending")
    .build();
  image.metadata.generation = 3;
  return {
    image,
    provider: fields.provider ?? READY,
    inventory: new Map([["a", fields.inv?.[0] ?? absent], ["b", fields.inv?.[1] ?? absent]]),
    transfers: fields.transfers ?? new Map(),
    source: fields.source,
    now: NOW,
  };
}

function transfer(location: string, fields: Partial<TransferView>): TransferView {
  return {
    location,
    state: "running",
    queuedAt: NOW - 10_000,
    startedAt: NOW - 10_000,
    bytesDone: 40,
    bytesTotal: 100,
    failures: 0,
    reported: false,
    ...fields,
  };
}

function withLocations(image: NodeImage, locations: unknown[]): NodeImage {
  image.status = { ...image.status, locations };
  return image;
}

Deno.test("planImage", async (t) => {
  await t.step("present everywhere: Available, 2/2, Ready True, requeue at the resync", () => {
    const plan = planImage(observe({ inv: [present, present] }));
    assert.equal(plan.status.state, "Available");
    assert.equal(plan.status.ready, "2/2");
    assert.deepEqual(plan.start, []);
    assert.equal(plan.needsSource, false);
    assert.equal(plan.status.conditions[0].status, "True");
    assert.equal(plan.status.conditions[0].observedGeneration, 3);
    assert.equal(plan.status.observedGeneration, 3);
    assert.equal(plan.requeueAfterMs, DEFAULT_TIMINGS.resyncMs);
  });

  await t.step("absent somewhere without a source: asks for the source, starts nothing", () => {
    const plan = planImage(observe({ inv: [present, absent] }));
    assert.equal(plan.needsSource, true);
    assert.deepEqual(plan.start, []);
    assert.deepEqual(plan.events, []);
  });

  await t.step("absent with a source: starts only the missing location, Uploading", () => {
    const plan = planImage(observe({ inv: [present, absent], source: SOURCE }));
    assert.deepEqual(plan.start, [{ location: "b", cleanupFirst: false }]);
    assert.equal(plan.status.state, "Uploading");
    assert.equal(plan.status.locations[1].bytesTotal, 100);
    assert.equal(plan.events[0].reason, "TransferStarted");
    assert.equal(plan.requeueAfterMs, DEFAULT_TIMINGS.progressIntervalMs);
  });

  await t.step("a partial artefact in the inventory is cleaned before the transfer", () => {
    const plan = planImage(observe({ inv: [partial, present], source: SOURCE }));
    assert.deepEqual(plan.start, [{ location: "a", cleanupFirst: true }]);
  });

  await t.step("Uploading in status with no live transfer (a crash) cleans first", () => {
    const image = withLocations(
      nodeImage(NAME).withReleases("r").withState("Uploading").build(),
      [{ name: "a", state: "Uploading", reference: "vm-9" }],
    );
    const plan = planImage(observe({ image, source: SOURCE }));
    assert.deepEqual(plan.start.find((s) => s.location === "a"), {
      location: "a",
      cleanupFirst: true,
    });
  });

  await t.step("a running transfer is reported, not started again", () => {
    const plan = planImage(observe({
      transfers: new Map([["a", transfer("a", { reference: "vm-5" })]]),
      inv: [absent, present],
    }));
    assert.deepEqual(plan.start, []);
    assert.equal(plan.status.locations[0].state, "Uploading");
    assert.equal(plan.status.locations[0].bytesDone, 40);
    assert.equal(plan.status.locations[0].reference, "vm-5");
    assert.equal(plan.status.conditions[1].status, "True");
    assert.match(plan.status.conditions[1].message, /a \(40%\)/);
  });

  await t.step("a finished transfer is Available at once, acknowledged, with an Event", () => {
    const done = transfer("a", {
      state: "succeeded",
      finishedAt: NOW,
      result: { reference: "vm-7", verified: ["size"] },
    });
    const plan = planImage(observe({ transfers: new Map([["a", done]]), inv: [absent, present] }));
    assert.equal(plan.status.locations[0].state, "Available");
    assert.equal(plan.status.locations[0].reference, "vm-7");
    assert.deepEqual(plan.acknowledge, ["a"]);
    assert.equal(plan.events[0].reason, "TransferSucceeded");
  });

  await t.step(
    "a recent failure is Error until its backoff passes, then retried with cleanup",
    () => {
      const failed = transfer("a", {
        state: "failed",
        finishedAt: NOW - 1_000,
        failures: 1,
        error: "disk full",
      });
      const waiting = planImage(
        observe({ transfers: new Map([["a", failed]]), inv: [absent, present] }),
      );
      assert.equal(waiting.status.locations[0].state, "Error");
      assert.match(waiting.status.locations[0].message ?? "", /disk full/);
      assert.equal(waiting.status.state, "Error");
      assert.equal(waiting.requeueAfterMs, DEFAULT_TIMINGS.failureBackoffMs - 1_000);
      assert.equal(waiting.events[0].type, "Warning");
      const later = planImage({
        ...observe({ transfers: new Map([["a", failed]]), inv: [absent, present], source: SOURCE }),
        now: NOW + DEFAULT_TIMINGS.failureBackoffMs,
      });
      assert.deepEqual(later.start, [{ location: "a", cleanupFirst: true }]);
    },
  );

  await t.step(
    "source missing: Missing with a 5-minute requeue, other locations unaffected",
    () => {
      const plan = planImage(observe({
        inv: [absent, present],
        source: { ok: false, missing: true, message: "no such key" },
      }));
      assert.equal(plan.status.locations[0].state, "Missing");
      assert.equal(plan.status.locations[1].state, "Available");
      assert.equal(plan.status.state, "Missing");
      assert.equal(plan.requeueAfterMs, 5 * 60_000);
    },
  );

  await t.step("a listing error is that location's Error only", () => {
    const plan = planImage(observe({ inv: [{ ok: false, message: "timeout" }, present] }));
    assert.equal(plan.status.locations[0].state, "Error");
    assert.equal(plan.status.locations[1].state, "Available");
    assert.equal(plan.status.ready, "1/2");
  });

  await t.step("provider unreachable: every location Error naming it, retried", () => {
    const plan = planImage(observe({
      provider: { phase: "unreachable", message: "dial tcp: refused", locations: ["a", "b"] },
    }));
    assert.equal(plan.mode, "provider-down");
    assert.equal(
      plan.status.locations[0].message,
      "provider capv not reachable: dial tcp: refused",
    );
    assert.equal(plan.status.state, "Error");
    assert.equal(plan.requeueAfterMs, DEFAULT_TIMINGS.errorRetryMs);
  });

  await t.step("provider not configured: Error, no requeue", () => {
    const plan = planImage(observe({ provider: { phase: "not-configured" } }));
    assert.equal(plan.status.state, "Error");
    assert.equal(plan.requeueAfterMs, undefined);
    assert.match(plan.status.conditions[0].message, /not configured/);
  });

  await t.step("AwaitingDeletion: nothing uploaded and state not written", () => {
    const image = nodeImage(NAME).withState("AwaitingDeletion").build();
    const plan = planImage(observe({ image, source: SOURCE }));
    assert.equal(plan.mode, "hold");
    assert.deepEqual(plan.start, []);
    assert.equal("state" in plan.status, false);
    assert.equal(plan.needsSource, false);
  });

  for (
    const [what, provider] of [
      ["unreachable", { phase: "unreachable", message: "down", locations: ["a", "b"] }],
      ["initialising", { phase: "initialising", locations: ["a", "b"] }],
      ["not configured", { phase: "not-configured" }],
    ] as [string, ProviderView][]
  ) {
    await t.step(`unused image, provider ${what}: the state stays the collector's`, () => {
      // Writing Error/Pending here would fight the garbage collector's AwaitingDeletion write
      // for write (and a state other than "" on a never-registered image invites collection).
      for (
        const image of [
          nodeImage(NAME).withState("AwaitingDeletion").build(),
          nodeImage(NAME).build(),
        ]
      ) {
        const plan = planImage(observe({ image, provider }));
        assert.equal("state" in plan.status, false);
        assert.deepEqual(plan.start, []);
      }
    });
  }

  await t.step("unused with a crash leftover: cleaned up, not uploaded", () => {
    const image = nodeImage(NAME).withReleases().withState("AwaitingDeletion").build();
    const plan = planImage(observe({ image, inv: [partial, absent] }));
    assert.deepEqual(plan.cleanup, ["a"]);
    assert.deepEqual(plan.start, []);
  });

  await t.step("lastTransitionTime is kept while a location's state does not change", () => {
    const image = withLocations(
      nodeImage(NAME).withReleases("r").withState("Available").build(),
      [{ name: "a", state: "Available", lastTransitionTime: "2024-01-01T00:00:00Z" }],
    );
    const plan = planImage(observe({ image, inv: [present, present] }));
    assert.equal(plan.status.locations[0].lastTransitionTime, "2024-01-01T00:00:00Z");
    assert.equal(plan.status.locations[1].lastTransitionTime, "2025-01-01T12:00:00Z");
  });
});

Deno.test("aggregateState", async (t) => {
  const cases: [string[], string][] = [
    [["Available", "Available"], "Available"],
    [["Available", "Uploading"], "Uploading"],
    [["Uploading", "Missing"], "Missing"],
    [["Missing", "Error", "Uploading"], "Error"],
    [["Pending", "Available"], "Pending"],
    [[], "Error"],
  ];
  for (const [states, expected] of cases) {
    await t.step(`${states.join(", ") || "no locations"} → ${expected}`, () => {
      assert.equal(
        aggregateState(states.map((state, i) => ({ name: `l${i}`, state }))),
        expected,
      );
    });
  }
});
