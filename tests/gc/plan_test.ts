import assert from "node:assert/strict";
import { formatLastUsed, parseLastUsed } from "../../lib/gc/last_used.ts";
import { type GcPlan, planGc } from "../../lib/gc/plan.ts";
import { LAST_USED_ANNOTATION } from "../../lib/names.ts";
import type { NodeImage } from "../../lib/release/objects.ts";
import { defaultImageName, nodeImage } from "../support/builders.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2025, 5, 1, 12, 0, 0, 500);
const NOW_TEXT = "2025-06-01T12:00:00Z";
const NOW_SECONDS = Date.UTC(2025, 5, 1, 12, 0, 0);
const IMAGE = defaultImageName("capv");

function image() {
  return nodeImage(IMAGE).withVersion("uid-1", "42");
}

Deno.test("planGc decides from releases, state, last-used and retention", async (t) => {
  const preconditions = { uid: "uid-1", resourceVersion: "42" };
  const cases: { name: string; image: NodeImage; retentionMs: number; plan: GcPlan }[] = [
    {
      name: "in use: nothing, even when AwaitingDeletion has long expired (§11.5)",
      image: image().withReleases("vsphere-35.0.0").withState("AwaitingDeletion")
        .withLastUsed("2024-01-01T00:00:00Z").build(),
      retentionMs: DAY,
      plan: { action: "None", reason: "InUse" },
    },
    {
      name: "state empty: never collected (§10.10), retention 0",
      image: image().build(),
      retentionMs: 0,
      plan: { action: "None", reason: "NeverRegistered" },
    },
    {
      name: "state empty with an empty release list: never collected",
      image: image().withReleases().build(),
      retentionMs: DAY,
      plan: { action: "None", reason: "NeverRegistered" },
    },
    {
      name: "being deleted: left to the image controller",
      image: image().withReleases().withState("Available").withDeletionTimestamp().build(),
      retentionMs: 0,
      plan: { action: "None", reason: "Deleting" },
    },
    {
      name: "unused, retention 0: delete now, bound to uid and resourceVersion",
      image: image().withReleases().withState("Available").build(),
      retentionMs: 0,
      plan: { action: "Delete", reason: "Unused", preconditions },
    },
    {
      name: "orphan (status without releases), retention 0: delete now",
      image: image().withState("Error").build(),
      retentionMs: 0,
      plan: { action: "Delete", reason: "Unused", preconditions },
    },
    {
      name: "unused, retention 24h, no annotation: stamp now (seconds), then AwaitingDeletion",
      image: image().withReleases().withState("Available").build(),
      retentionMs: DAY,
      plan: {
        action: "MarkAwaitingDeletion",
        writes: [
          { kind: "annotations", annotations: { [LAST_USED_ANNOTATION]: NOW_TEXT } },
          {
            kind: "status",
            status: { releases: [], releaseCount: 0, state: "AwaitingDeletion" },
          },
        ],
        lastUsedMs: NOW_SECONDS,
        expiresAtMs: NOW_SECONDS + DAY,
        requeueAfterMs: NOW_SECONDS + DAY - NOW,
      },
    },
    {
      name: "valid annotation already there: never re-stamped, only the state is set",
      image: image().withReleases().withState("Available").withLastUsed("2025-06-01T06:00:00Z")
        .build(),
      retentionMs: DAY,
      plan: {
        action: "MarkAwaitingDeletion",
        writes: [{
          kind: "status",
          status: { releases: [], releaseCount: 0, state: "AwaitingDeletion" },
        }],
        lastUsedMs: Date.UTC(2025, 5, 1, 6),
        expiresAtMs: Date.UTC(2025, 5, 1, 6) + DAY,
        requeueAfterMs: Date.UTC(2025, 5, 1, 6) + DAY - NOW,
      },
    },
    {
      name: "AwaitingDeletion with an invalid annotation: re-stamped, state kept",
      image: image().withReleases().withState("AwaitingDeletion").withLastUsed("yesterday")
        .build(),
      retentionMs: DAY,
      plan: {
        action: "MarkAwaitingDeletion",
        writes: [{ kind: "annotations", annotations: { [LAST_USED_ANNOTATION]: NOW_TEXT } }],
        lastUsedMs: NOW_SECONDS,
        expiresAtMs: NOW_SECONDS + DAY,
        requeueAfterMs: NOW_SECONDS + DAY - NOW,
      },
    },
    {
      name: "AwaitingDeletion, not yet expired: wait for the rest",
      image: image().withReleases().withState("AwaitingDeletion").withLastUsed(
        "2025-06-01T00:00:00Z",
      ).build(),
      retentionMs: DAY,
      plan: {
        action: "Wait",
        lastUsedMs: Date.UTC(2025, 5, 1),
        expiresAtMs: Date.UTC(2025, 5, 2),
        requeueAfterMs: Date.UTC(2025, 5, 2) - NOW,
      },
    },
    {
      name: "AwaitingDeletion and expired: delete, bound to uid and resourceVersion",
      image: image().withReleases().withState("AwaitingDeletion").withLastUsed(
        "2025-05-31T12:00:00Z",
      ).build(),
      retentionMs: DAY,
      plan: {
        action: "Delete",
        reason: "Expired",
        preconditions,
        lastUsedMs: Date.UTC(2025, 4, 31, 12),
      },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepEqual(planGc(c.image, NOW, c.retentionMs), c.plan));
  }
});

Deno.test("last-used times are written and read as the Go operator does", async (t) => {
  await t.step("formatted in UTC with second precision", () => {
    assert.equal(formatLastUsed(Date.UTC(2025, 0, 2, 3, 4, 5, 999)), "2025-01-02T03:04:05Z");
  });
  const valid: [string, number][] = [
    ["2025-01-02T03:04:05Z", Date.UTC(2025, 0, 2, 3, 4, 5)],
    ["2025-01-02T05:04:05+02:00", Date.UTC(2025, 0, 2, 3, 4, 5)],
    ["2025-01-02T03:04:05.250Z", Date.UTC(2025, 0, 2, 3, 4, 5, 250)],
  ];
  for (const [text, ms] of valid) {
    await t.step(`parses ${text}`, () => assert.equal(parseLastUsed(text), ms));
  }
  for (
    const text of [
      "",
      "yesterday",
      "2025-01-02",
      "2025-13-02T03:04:05Z",
      "2025-02-30T00:00:00Z",
      "2025-01-02 03:04:05Z",
    ]
  ) {
    await t.step(`rejects "${text}"`, () => assert.equal(parseLastUsed(text), undefined));
  }
});
