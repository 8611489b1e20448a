import assert from "node:assert/strict";
import { classify, type ClusterVm } from "../../providers/proxmox/inventory.ts";
import { PARTIAL_TAG } from "../../providers/proxmox/mod.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { opensslAvailable, opensslMissing, testPki } from "../support/tls.ts";
import { harness, image, IMAGE_NAME, location } from "./_support.ts";

const ignore = !opensslAvailable();
const pki = ignore ? undefined : await testPki();
if (pki) addEventListener("unload", () => Deno.removeSync(pki.dir, { recursive: true }));
if (ignore) console.warn(`Proxmox inventory tests ignored: ${opensslMissing}`);

const vm = (fields: Partial<ClusterVm> & { vmid: number }): ClusterVm => ({
  id: `qemu/${fields.vmid}`,
  node: "pve1",
  type: "qemu",
  status: "stopped",
  ...fields,
});

Deno.test("classify counts only templates with the name on the location's node", async (t) => {
  const cases: { name: string; vms: ClusterVm[]; expect: [string, string, boolean][] }[] = [
    {
      name: "a template on our node is present",
      vms: [vm({ vmid: 100, name: "a", template: 1 })],
      expect: [["a", "pve1/100", true]],
    },
    {
      name: "a template on another node is not",
      vms: [vm({ vmid: 100, name: "a", template: 1, node: "pve2" })],
      expect: [],
    },
    {
      name: "a plain VM with the name is ignored",
      vms: [vm({ vmid: 100, name: "a", template: 0, tags: "prod" })],
      expect: [],
    },
    {
      name: "a container template with the name is ignored",
      vms: [vm({ vmid: 100, name: "a", template: 1, type: "lxc", id: "lxc/100" })],
      expect: [],
    },
    {
      name: "the sparse shape right after creation is ignored",
      vms: [{ id: "qemu/100", vmid: 100, node: "pve1", type: "qemu", status: "unknown" }],
      expect: [],
    },
    {
      name: "our half-made VM is partial",
      vms: [vm({ vmid: 100, name: "a", template: 0, tags: `${PARTIAL_TAG};x` })],
      expect: [["a", "pve1/100", false]],
    },
    {
      name: "a template still carrying our partial tag is partial",
      vms: [vm({ vmid: 100, name: "a", template: 1, tags: PARTIAL_TAG })],
      expect: [["a", "pve1/100", false]],
    },
    {
      name: "a complete template wins over a leftover with the same name",
      vms: [
        vm({ vmid: 100, name: "a", template: 0, tags: PARTIAL_TAG }),
        vm({ vmid: 101, name: "a", template: 1 }),
      ],
      expect: [["a", "pve1/101", true]],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const items = [...classify(c.vms, "pve1").items.values()].map((
        i,
      ) => [i.name, i.reference, i.complete]);
      assert.deepEqual(items, c.expect);
    });
  }
});

Deno.test({
  name: "inventory of three locations makes one cluster call, concurrent or in a row",
  ignore,
  fn: async () => {
    const locations = { a: location("pve1"), b: location("pve2"), c: location("pve3") };
    const h = await harness(pki!, { locations });
    try {
      const all = await Promise.all(
        ["a", "b", "c"].map((name) => h.provider.inventory(name, h.signal)),
      );
      assert.equal(all.length, 3);
      assert.equal(h.fake.count("GET /cluster/resources"), 1);
      await h.provider.inventory("a", h.signal);
      assert.equal(h.fake.count("GET /cluster/resources"), 1, "the answer is reused");
      assert.equal(h.fake.requests[0].params.type, "vm");
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "the shared answer expires after its window and after our own writes",
  ignore,
  fn: async () => {
    const clock = new FakeClock();
    const h = await harness(pki!, { provider: { clock, inventoryMaxAgeMs: 5_000 } });
    try {
      await h.provider.inventory("l1", h.signal);
      await clock.advance(4_999);
      await h.provider.inventory("l1", h.signal);
      assert.equal(h.fake.count("GET /cluster/resources"), 1);
      await clock.advance(1);
      await h.provider.inventory("l1", h.signal);
      assert.equal(h.fake.count("GET /cluster/resources"), 2);

      // A template appears behind our back: the cached answer does not show it yet…
      h.fake.cluster.addVm({ vmid: 150, node: "pve1", name: IMAGE_NAME, template: true });
      assert.equal((await h.provider.inventory("l1", h.signal)).items.size, 0);
      // …but any write of ours (here a remove of another image) makes the next call ask again.
      await h.provider.remove(
        image("flatcar-stable-1.0.0-kube-1.0.0-tooling-1.0.0-gs"),
        "l1",
        h.signal,
      );
      const after = await h.provider.inventory("l1", h.signal);
      assert.equal(after.items.get(IMAGE_NAME)?.complete, true);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "one caller giving up does not fail the shared listing for the others",
  ignore,
  fn: async () => {
    const h = await harness(pki!, { locations: { a: location("pve1"), b: location("pve2") } });
    try {
      const quitter = new AbortController();
      const first = h.provider.inventory("a", quitter.signal);
      const second = h.provider.inventory("b", h.signal);
      quitter.abort(new Error("gave up"));
      await assert.rejects(first, /gave up/);
      assert.equal((await second).items.size, 0);
      assert.equal(h.fake.count("GET /cluster/resources"), 1);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "an unknown location is an UnknownLocationError naming the known ones",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      await assert.rejects(
        h.provider.inventory("nowhere", h.signal),
        (e: unknown) =>
          e instanceof Error && e.name === "UnknownLocationError" &&
          e.message === 'Proxmox location "nowhere" is not configured (known: l1)',
      );
    } finally {
      await h.close();
    }
  },
});
