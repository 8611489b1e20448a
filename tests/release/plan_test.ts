import assert from "node:assert/strict";
import { LAST_USED_ANNOTATION, RELEASE_FINALIZER } from "../../lib/names.ts";
import { addFinalizerOps, removeFinalizerOps } from "../../lib/release/finalizer.ts";
import type { NodeImage, Release } from "../../lib/release/objects.ts";
import {
  planRelease,
  type ReleaseAction,
  type ReleaseObservation,
} from "../../lib/release/plan.ts";
import { registrationWrites, unregistrationWrites } from "../../lib/release/registration.ts";
import { defaultImageName, nodeImage, release, TEST_NAMESPACE } from "../support/builders.ts";
import { NAMING } from "../support/provider_configs.ts";

const R = "vsphere-35.0.0";
const IMAGE = defaultImageName("capv");

function observe(
  release: Release | undefined,
  nodeImages: NodeImage[] = [],
  extra: Partial<ReleaseObservation> = {},
): ReleaseObservation {
  return {
    name: release?.metadata.name ?? R,
    release,
    nodeImages,
    namespace: TEST_NAMESPACE,
    configuredProviders: ["capv", "capvcd", "capmox"],
    channel: "stable",
    naming: NAMING,
    ...extra,
  };
}

function types(actions: ReleaseAction[]): string[] {
  return actions.map((a) =>
    a.type === "Register" || a.type === "Unregister" ? `${a.type} ${a.nodeImage}` : a.type
  );
}

function deleting(builder: ReturnType<typeof release>): Release {
  const object = builder.build();
  object.metadata.deletionTimestamp = "2025-01-01T00:00:00Z";
  return object;
}

Deno.test("planRelease classifies, then lists the actions in order", async (t) => {
  const cases: {
    name: string;
    observed: ReleaseObservation;
    classification: string;
    actions: string[];
  }[] = [
    {
      name: "first Release: finalizer, then the NodeImage, then registration",
      observed: observe(release(R).build()),
      classification: "Active",
      actions: ["AddFinalizer", "CreateNodeImage", `Register ${IMAGE}`],
    },
    {
      name: "second Release of an existing image: finalizer and registration only",
      observed: observe(release("vsphere-35.0.1").build(), [
        nodeImage(IMAGE).withReleases(R).withState("Available").build(),
      ]),
      classification: "Active",
      actions: ["AddFinalizer", `Register ${IMAGE}`],
    },
    {
      name: "registered Release on an Available image: nothing to do",
      observed: observe(release(R).withFinalizers(RELEASE_FINALIZER).build(), [
        nodeImage(IMAGE).withReleases(R).withState("Available").build(),
      ]),
      classification: "Active",
      actions: [],
    },
    {
      name: "listed but the image is AwaitingDeletion: register again (leave it for Pending)",
      observed: observe(release(R).withFinalizers(RELEASE_FINALIZER).build(), [
        nodeImage(IMAGE).withReleases(R).withState("AwaitingDeletion").build(),
      ]),
      classification: "Active",
      actions: [`Register ${IMAGE}`],
    },
    {
      name: "listed on an image that still carries last-used: register again (clear it)",
      observed: observe(release(R).withFinalizers(RELEASE_FINALIZER).build(), [
        nodeImage(IMAGE).withReleases(R).withState("Available").withLastUsed(
          "2025-01-01T00:00:00Z",
        ).build(),
      ]),
      classification: "Active",
      actions: [`Register ${IMAGE}`],
    },
    {
      name: "components changed: register with the new image, leave the old one",
      observed: observe(
        release(R).withFinalizers(RELEASE_FINALIZER).withFlatcar("4593.2.4").build(),
        [nodeImage(IMAGE).withReleases(R, "vsphere-35.0.1").withState("Available").build()],
      ),
      classification: "Active",
      actions: [
        "CreateNodeImage",
        `Register ${defaultImageName("capv", "4593.2.4")}`,
        `Unregister ${IMAGE}`,
      ],
    },
    {
      name: "deleting with our finalizer: unregister (fresh), then remove the finalizer",
      observed: observe(deleting(release(R).withFinalizers(RELEASE_FINALIZER)), [
        nodeImage(IMAGE).withReleases(R).withState("Available").build(),
      ]),
      classification: "Deleting",
      actions: [`Unregister ${IMAGE}`, "RemoveFinalizer"],
    },
    {
      name: "deleting after its provider was disabled: still unregistered and released (§11.3)",
      observed: observe(
        deleting(release(R).withFinalizers(RELEASE_FINALIZER)),
        [nodeImage(IMAGE).withReleases(R).withState("Available").build()],
        { configuredProviders: ["capmox"] },
      ),
      classification: "Deleting",
      actions: [`Unregister ${IMAGE}`, "RemoveFinalizer"],
    },
    {
      name: "deleting a Release that no longer parses: cached references and finalizer go",
      observed: observe(
        deleting(release(R).withFinalizers(RELEASE_FINALIZER).withoutComponent("os-tooling")),
        [nodeImage(IMAGE).withReleases(R).withState("Available").build()],
      ),
      classification: "Deleting",
      actions: [`Unregister ${IMAGE}`, "RemoveFinalizer"],
    },
    {
      name: "deleting without our finalizer: no finalizer action",
      observed: observe(deleting(release(R)), []),
      classification: "Deleting",
      actions: [],
    },
    {
      name: "vintage name: skipped with a report, no finalizer",
      observed: observe(release("v20.1.0").build()),
      classification: "Skipped",
      actions: ["ReportSkipped"],
    },
    {
      name: "missing os-tooling: skipped with a report",
      observed: observe(release(R).withoutComponent("os-tooling").build()),
      classification: "Skipped",
      actions: ["ReportSkipped"],
    },
    {
      name: "unconfigured provider: skipped with a report",
      observed: observe(release("capa-31.0.0").build()),
      classification: "Skipped",
      actions: ["ReportSkipped"],
    },
    {
      name: "skipped generation already reported: nothing at all",
      observed: observe(release("v20.1.0").build(), [], { skippedGeneration: 0 }),
      classification: "Skipped",
      actions: [],
    },
    {
      name: "provider disabled while holding our finalizer: skipped, finalizer kept",
      observed: observe(
        release(R).withFinalizers(RELEASE_FINALIZER).build(),
        [nodeImage(IMAGE).withReleases(R).withState("Available").build()],
        { configuredProviders: [] },
      ),
      classification: "Skipped",
      actions: ["ReportSkipped"],
    },
    {
      name: "a Release that became ours: the remembered skip is forgotten",
      observed: observe(release(R).withFinalizers(RELEASE_FINALIZER).build(), [
        nodeImage(IMAGE).withReleases(R).withState("Available").build(),
      ], { skippedGeneration: 1 }),
      classification: "Active",
      actions: ["ForgetSkipped"],
    },
    {
      name: "its NodeImage is terminating: never registered there, waits (no create, no register)",
      observed: observe(release(R).build(), [
        nodeImage(IMAGE).withState("Error").withDeletionTimestamp().withFinalizers("f")
          .withVersion("old-uid", "7").build(),
      ]),
      classification: "Waiting",
      actions: ["AddFinalizer", "AwaitNodeImageDeletion"],
    },
    {
      name: "terminating and still listing it (deleted by hand): unregistered, then waits",
      observed: observe(release(R).withFinalizers(RELEASE_FINALIZER).build(), [
        nodeImage(IMAGE).withReleases(R).withState("Available").withDeletionTimestamp()
          .withVersion("old-uid", "7").build(),
      ]),
      classification: "Waiting",
      actions: [`Unregister ${IMAGE}`, "AwaitNodeImageDeletion"],
    },
    {
      name: "waiting and its components changed: the other image is left as usual",
      observed: observe(
        release(R).withFinalizers(RELEASE_FINALIZER).withFlatcar("4593.2.4").build(),
        [
          nodeImage(IMAGE).withReleases(R).withState("Available").build(),
          nodeImage(defaultImageName("capv", "4593.2.4")).withDeletionTimestamp()
            .withVersion("old-uid", "7").build(),
        ],
      ),
      classification: "Waiting",
      actions: ["AwaitNodeImageDeletion", `Unregister ${IMAGE}`],
    },
    {
      name: "the terminating image is gone: the wait is forgotten, a new one is created",
      observed: observe(release(R).withFinalizers(RELEASE_FINALIZER).build(), [], {
        awaiting: { nodeImage: IMAGE, uid: "old-uid" },
      }),
      classification: "Active",
      actions: ["ForgetAwait", "CreateNodeImage", `Register ${IMAGE}`],
    },
    {
      name: "deleted while waiting: the wait is forgotten with the finalizer",
      observed: observe(deleting(release(R).withFinalizers(RELEASE_FINALIZER)), [], {
        awaiting: { nodeImage: IMAGE, uid: "old-uid" },
      }),
      classification: "Deleting",
      actions: ["ForgetAwait", `Unregister ${IMAGE}`, "RemoveFinalizer"],
    },
    {
      name: "edited to a version that names no image: warned, and dropped from the image it used",
      observed: observe(
        release(R).withFinalizers(RELEASE_FINALIZER).withKubernetes("1.35.6+build.7").build(),
        [nodeImage(IMAGE).withReleases(R).withState("Available").build()],
      ),
      classification: "Skipped",
      actions: ["ReportSkipped", `Unregister ${IMAGE}`],
    },
    {
      name: "bad version already reported but still listed: dropped quietly",
      observed: observe(
        release(R).withFinalizers(RELEASE_FINALIZER).withoutComponent("flatcar").build(),
        [nodeImage(IMAGE).withReleases(R).withState("Available").build()],
        { skippedGeneration: 0 },
      ),
      classification: "Skipped",
      actions: [`Unregister ${IMAGE}`],
    },
    {
      name: "a component listed twice: registered with the first, one Warning",
      observed: observe(release(R).withDuplicateComponent("flatcar", "4593.2.4").build()),
      classification: "Active",
      actions: [
        "AddFinalizer",
        "ReportDuplicateComponents",
        "CreateNodeImage",
        `Register ${IMAGE}`,
      ],
    },
    {
      name: "a component listed twice, already reported for this generation: no Warning",
      observed: observe(
        release(R).withFinalizers(RELEASE_FINALIZER).withDuplicateComponent("flatcar", "4593.2.4")
          .build(),
        [nodeImage(IMAGE).withReleases(R).withState("Available").build()],
        { duplicatesReported: 0 },
      ),
      classification: "Active",
      actions: [],
    },
    {
      name: "gone: dangling references are dropped",
      observed: observe(undefined, [
        nodeImage(IMAGE).withReleases(R, "vsphere-35.0.1").withState("Available").build(),
      ]),
      classification: "Gone",
      actions: [`Unregister ${IMAGE}`],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const plan = planRelease(c.observed);
      assert.equal(plan.classification, c.classification);
      assert.deepEqual(types(plan.actions), c.actions);
    });
  }
});

Deno.test("waiting for a terminating NodeImage is reported once per incarnation, naming why", async (t) => {
  const dying = nodeImage(IMAGE).withDeletionTimestamp("2025-01-02T03:04:05Z")
    .withFinalizers("image-distribution-operator.finalizers.giantswarm.io/node-image-controller")
    .withVersion("old-uid", "7").build();
  const awaitOf = (plan: ReturnType<typeof planRelease>) => {
    const action = plan.actions.find((a) => a.type === "AwaitNodeImageDeletion");
    assert.ok(action?.type === "AwaitNodeImageDeletion");
    return action;
  };
  await t.step("first time: reported, with the deletion time and what holds it", () => {
    const action = awaitOf(planRelease(observe(release(R).build(), [dying])));
    assert.equal(action.nodeImage, IMAGE);
    assert.equal(action.uid, "old-uid");
    assert.equal(action.report, true);
    assert.match(action.message, new RegExp(`NodeImage ${TEST_NAMESPACE}/${IMAGE}`));
    assert.match(action.message, /2025-01-02T03:04:05Z/);
    assert.match(action.message, /node-image-controller/);
    assert.match(action.message, /new NodeImage/);
  });
  await t.step("same incarnation already reported: waits quietly", () => {
    const plan = planRelease(observe(release(R).build(), [dying], {
      awaiting: { nodeImage: IMAGE, uid: "old-uid" },
    }));
    assert.equal(awaitOf(plan).report, false);
  });
  await t.step("a later incarnation terminating again: reported again", () => {
    const plan = planRelease(observe(release(R).build(), [dying], {
      awaiting: { nodeImage: IMAGE, uid: "older-uid" },
    }));
    assert.equal(awaitOf(plan).report, true);
  });
});

Deno.test("the Warnings for a bad edit and a duplicate component say what happened", async (t) => {
  await t.step("no longer names the image it used", () => {
    const [action] = planRelease(observe(
      release(R).withFinalizers(RELEASE_FINALIZER).withFlatcar("4593.2.3-RC1").build(),
      [nodeImage(IMAGE).withReleases(R).withState("Available").build()],
    )).actions;
    assert.ok(action?.type === "ReportSkipped");
    assert.match(action.message, /4593\.2\.3-RC1/);
    assert.match(action.message, new RegExp(`no longer uses NodeImage ${IMAGE}`));
  });
  await t.step("duplicate: names the component, both versions and the one used", () => {
    const action = planRelease(observe(
      release(R).withDuplicateComponent("flatcar", "4593.2.4").build(),
    )).actions.find((a) => a.type === "ReportDuplicateComponents");
    assert.ok(action?.type === "ReportDuplicateComponents");
    assert.match(action.message, /"flatcar" 2 times \(4593\.2\.3, 4593\.2\.4\)/);
    assert.match(action.message, /uses the first, 4593\.2\.3/);
  });
});

Deno.test("registration writes nothing into a terminating NodeImage", () => {
  const dying = nodeImage(IMAGE).withState("Error").withDeletionTimestamp().build();
  assert.deepEqual(registrationWrites(dying, R), []);
});

Deno.test("planRelease creates the NodeImage the Go operator would, in --namespace", () => {
  const plan = planRelease(observe(release(R).build(), [], { namespace: "images" }));
  const create = plan.actions.find((a) => a.type === "CreateNodeImage");
  assert.ok(create && create.type === "CreateNodeImage");
  assert.deepEqual(create.nodeImage.metadata, { name: IMAGE, namespace: "images" });
  assert.deepEqual(create.nodeImage.spec, {
    name: "flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs",
    provider: "capv",
  });
});

Deno.test("planRelease reads the derived image fresh when deleting, the others from cache", () => {
  const other = defaultImageName("capv", "4593.2.4");
  const plan = planRelease(observe(deleting(release(R).withFinalizers(RELEASE_FINALIZER)), [
    nodeImage(other).withReleases(R).withState("Available").build(),
  ]));
  assert.deepEqual(plan.actions, [
    { type: "Unregister", nodeImage: IMAGE, fresh: true },
    { type: "Unregister", nodeImage: other, fresh: false },
    { type: "RemoveFinalizer" },
  ]);
});

Deno.test("planRelease honours the Flatcar channel flag and the per-Release annotation", () => {
  const byFlag = planRelease(observe(release(R).build(), [], { channel: "beta" }));
  assert.equal(
    byFlag.derived?.objectName,
    "capv-flatcar-beta-4593.2.3-kube-1.35.6-tooling-1.32.1-gs",
  );
  const byAnnotation = planRelease(observe(
    release(R).withAnnotation("image-distribution-operator.giantswarm.io/flatcar-channel", "alpha")
      .build(),
    [],
    { channel: "beta" },
  ));
  assert.equal(
    byAnnotation.derived?.objectName,
    "capv-flatcar-alpha-4593.2.3-kube-1.35.6-tooling-1.32.1-gs",
  );
});

Deno.test("skip reports name the reason and the offending value", async (t) => {
  const cases: [string, Release, string, RegExp][] = [
    ["vintage", release("v20.1.0").build(), "NotANodeImageRelease", /"v20\.1\.0"/],
    [
      "missing component",
      release(R).withoutComponent("flatcar").build(),
      "NotANodeImageRelease",
      /flatcar/,
    ],
    ["other provider", release("capa-31.0.0").build(), "ProviderNotConfigured", /"capa"/],
    [
      "other provider with odd components is still just another provider",
      release("aws-31.0.0").withoutComponent("os-tooling").build(),
      "ProviderNotConfigured",
      /"aws"/,
    ],
  ];
  for (const [name, object, reason, message] of cases) {
    await t.step(name, () => {
      const [action] = planRelease(observe(object)).actions;
      assert.ok(action?.type === "ReportSkipped");
      assert.equal(action.reason, reason);
      assert.match(action.message, message);
    });
  }
});

Deno.test("registration writes status first, then clears last-used", async (t) => {
  const cases: { name: string; image: NodeImage; writes: unknown[] }[] = [
    {
      name: "fresh image (state empty): add and set Pending",
      image: nodeImage(IMAGE).build(),
      writes: [{ kind: "status", status: { releases: [R], releaseCount: 1, state: "Pending" } }],
    },
    {
      name: "Available image: add, keep the state",
      image: nodeImage(IMAGE).withReleases("a-1.0.0").withState("Available").build(),
      writes: [{ kind: "status", status: { releases: ["a-1.0.0", R], releaseCount: 2 } }],
    },
    {
      name: "AwaitingDeletion with last-used (§11.1): add, Pending, then drop the annotation",
      image: nodeImage(IMAGE).withReleases().withState("AwaitingDeletion").withLastUsed(
        "2025-01-01T00:00:00Z",
      ).build(),
      writes: [
        { kind: "status", status: { releases: [R], releaseCount: 1, state: "Pending" } },
        { kind: "annotations", annotations: { [LAST_USED_ANNOTATION]: null } },
      ],
    },
    {
      name: "already registered and Available: nothing",
      image: nodeImage(IMAGE).withReleases(R).withState("Available").build(),
      writes: [],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepEqual(registrationWrites(c.image, R), c.writes));
  }
});

Deno.test("registration adds the Releases taken along in the same status write", async (t) => {
  await t.step("missing ones are appended once, listed ones kept in place", () => {
    const image = nodeImage(IMAGE).withReleases("a-1.0.0").withState("Available").build();
    assert.deepEqual(registrationWrites(image, R, ["a-1.0.0", "b-1.0.0", "b-1.0.0"]), [
      { kind: "status", status: { releases: ["a-1.0.0", R, "b-1.0.0"], releaseCount: 3 } },
    ]);
  });
  await t.step("a terminating image takes nobody", () => {
    const image = nodeImage(IMAGE).withReleases().withState("Available").build();
    image.metadata.deletionTimestamp = "2025-01-01T00:00:00Z";
    assert.deepEqual(registrationWrites(image, R, ["b-1.0.0"]), []);
  });
});

Deno.test("unregistration removes only the name and never touches the state", async (t) => {
  await t.step("listed: removed, always sent as an array", () => {
    const image = nodeImage(IMAGE).withReleases(R).withState("Available").build();
    assert.deepEqual(unregistrationWrites(image, R), [
      { kind: "status", status: { releases: [], releaseCount: 0 } },
    ]);
  });
  await t.step("not listed: nothing", () => {
    const image = nodeImage(IMAGE).withReleases("a-1.0.0").withState("Available").build();
    assert.deepEqual(unregistrationWrites(image, R), []);
  });
});

Deno.test("finalizer patches always test the value they change", async (t) => {
  const F = RELEASE_FINALIZER;
  await t.step("no list yet: test null, add the array", () => {
    assert.deepEqual(addFinalizerOps(undefined, F), [
      { op: "test", path: "/metadata/finalizers", value: null },
      { op: "add", path: "/metadata/finalizers", value: [F] },
    ]);
  });
  await t.step("another finalizer present: test the list, append", () => {
    assert.deepEqual(addFinalizerOps(["other.io/keep"], F), [
      { op: "test", path: "/metadata/finalizers", value: ["other.io/keep"] },
      { op: "add", path: "/metadata/finalizers/-", value: F },
    ]);
  });
  await t.step("already present: no patch", () => {
    assert.equal(addFinalizerOps([F], F), undefined);
  });
  await t.step("remove: test our entry at its index, remove that index", () => {
    assert.deepEqual(removeFinalizerOps(["other.io/keep", F], F), [
      { op: "test", path: "/metadata/finalizers/1", value: F },
      { op: "remove", path: "/metadata/finalizers/1" },
    ]);
  });
  await t.step("remove when absent: no patch", () => {
    assert.equal(removeFinalizerOps(["other.io/keep"], F), undefined);
  });
});
