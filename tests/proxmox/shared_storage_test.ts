/**
 * Several nodes can share one import storage (NFS, CephFS). Locations on those nodes must never
 * block or delete each other's downloads: each has its own import file and touches only it.
 */
import assert from "node:assert/strict";
import { opensslAvailable, opensslMissing, testPki } from "../support/tls.ts";
import { until } from "../support/until.ts";
import type { FakeProxmox } from "./fake_proxmox/mod.ts";
import {
  harness,
  image,
  IMAGE_NAME,
  location,
  qcow2Bytes,
  recordingProgress,
  source,
  vmSummary,
} from "./_support.ts";

const ignore = !opensslAvailable();
const pki = ignore ? undefined : await testPki();
if (pki) addEventListener("unload", () => Deno.removeSync(pki.dir, { recursive: true }));
if (ignore) console.warn(`Proxmox shared storage tests ignored: ${opensslMissing}`);

const EAST_FILE = `cephfs:import/${IMAGE_NAME}_east.qcow2`;
const WEST_FILE = `cephfs:import/${IMAGE_NAME}_west.qcow2`;
const LEGACY_FILE = `cephfs:import/${IMAGE_NAME}.qcow2`;

/** Two locations on two nodes whose import storage `cephfs` is one shared storage. */
function sharedHarness() {
  return harness(pki!, {
    fake: { sharedStorages: [{ name: "cephfs", nodes: ["pve1", "pve2"] }] },
    locations: {
      east: location("pve1", { importStorage: "cephfs" }),
      west: location("pve2", { importStorage: "cephfs" }),
    },
  });
}

/** `node volid` of every import file deletion the fake was asked for. */
function deletions(fake: FakeProxmox): string[] {
  return fake.requests
    .filter((r) => r.method === "DELETE" && r.route.endsWith("/content/{volume}"))
    .map((r) => `${r.params.node} ${r.params.volume}`);
}

Deno.test({
  name: "the fake's shared storage is one content list seen from every node",
  ignore,
  fn: async () => {
    const h = await sharedHarness();
    try {
      h.fake.cluster.addFile("pve1", "cephfs", EAST_FILE);
      assert.ok(h.fake.cluster.storage("pve2", "cephfs")!.files.has(EAST_FILE));
      assert.deepEqual(h.fake.cluster.allFiles(), [`shared/${EAST_FILE}`]);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "two locations sharing an import storage import one image at once, each its own file",
  ignore,
  fn: async () => {
    const h = await sharedHarness();
    try {
      // Disk imports wait until released, so each create stops with its download listed in
      // the one storage: east's file is there while west cleans, downloads and creates.
      const release = h.fake.holdTasks("qmconfig");
      const src = source(h.files, "/good.qcow2", { bytes: qcow2Bytes(), digest: true });
      const importing = () => [...h.fake.cluster.vms.values()].filter((vm) => vm.lock === "disk");
      const ensure = (loc: string) =>
        h.provider.ensure(image(), loc, src, recordingProgress(), h.signal);
      const east = ensure("east");
      east.catch(() => {}); // awaited below; keep a failure from going unhandled meanwhile
      await until(() => importing().length === 1, 10_000, "east's disk import to start");
      const west = ensure("west");
      west.catch(() => {});
      await until(() => importing().length === 2, 10_000, "west's disk import to start");

      assert.deepEqual(deletions(h.fake), [], "nobody deleted a file while both were in flight");
      assert.deepEqual(h.fake.cluster.allFiles().sort(), [
        `shared/${EAST_FILE}`,
        `shared/${WEST_FILE}`,
      ]);
      release();

      assert.match((await east).reference, /^pve1\/\d+$/);
      assert.match((await west).reference, /^pve2\/\d+$/);
      assert.deepEqual(vmSummary(h.fake).map((s) => s.replace(/\/\d+/, "")).sort(), [
        `pve1 ${IMAGE_NAME} template`,
        `pve2 ${IMAGE_NAME} template`,
      ]);
      const downloads = h.fake.requests.filter((r) => r.route.endsWith("/download-url"));
      assert.deepEqual(downloads.map((r) => `${r.params.node} ${r.params.filename}`), [
        `pve1 ${IMAGE_NAME}_east.qcow2`,
        `pve2 ${IMAGE_NAME}_west.qcow2`,
      ]);
      // Each node deleted only its own location's file, once, after its import.
      assert.deepEqual(deletions(h.fake).sort(), [`pve1 ${EAST_FILE}`, `pve2 ${WEST_FILE}`]);
      assert.deepEqual(h.fake.cluster.allFiles(), []);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "cleanup and removal in one location leave the other location's download alone",
  ignore,
  fn: async () => {
    const h = await sharedHarness();
    try {
      // West has downloaded and is importing; east is cleaned up and removed meanwhile.
      h.fake.cluster.addFile("pve2", "cephfs", WEST_FILE);
      h.fake.cluster.addFile("pve1", "cephfs", EAST_FILE); // east's own leftover
      await h.provider.cleanupPartial(image(), "east", h.signal);
      await h.provider.remove(image(), "east", h.signal);
      assert.deepEqual(h.fake.cluster.allFiles(), [`shared/${WEST_FILE}`]);
      assert.deepEqual(deletions(h.fake), [`pve1 ${EAST_FILE}`]);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "a rollback removes only its own location's file",
  ignore,
  fn: async () => {
    const h = await sharedHarness();
    try {
      h.fake.cluster.addFile("pve2", "cephfs", WEST_FILE);
      h.fake.failTask("qmconfig", "import failed: no space left on device");
      await assert.rejects(
        h.provider.ensure(
          image(),
          "east",
          source(h.files, "/good.qcow2"),
          recordingProgress(),
          h.signal,
        ),
        /step "import disk" failed/,
      );
      assert.deepEqual(h.fake.cluster.allFiles(), [`shared/${WEST_FILE}`]);
      assert.deepEqual(deletions(h.fake), [`pve1 ${EAST_FILE}`]);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "a legacy <image>.qcow2 is removed once, even when two locations clean it at once",
  ignore,
  fn: async () => {
    const h = await sharedHarness();
    try {
      // Left by the Go operator or an older build; nothing of this build writes that name.
      h.fake.cluster.addFile("pve1", "cephfs", LEGACY_FILE);
      // Both see it and both ask to delete it; the second delete finds it gone.
      const release = h.fake.holdTasks("imgdel");
      const both = Promise.all([
        h.provider.cleanupPartial(image(), "east", h.signal),
        h.provider.cleanupPartial(image(), "west", h.signal),
      ]);
      both.catch(() => {});
      await until(() => deletions(h.fake).length === 2, 10_000, "both deletes");
      release();
      await both;
      assert.deepEqual(deletions(h.fake).sort(), [`pve1 ${LEGACY_FILE}`, `pve2 ${LEGACY_FILE}`]);
      assert.ok(
        h.fake.tasks().some((t) => t.type === "imgdel" && t.exitstatus !== "OK"),
        "one of the two deletes failed on Proxmox, and that was not an error for us",
      );
      assert.deepEqual(h.fake.cluster.allFiles(), []);
      const src = source(h.files, "/good.qcow2");
      h.fake.cluster.addFile("pve1", "cephfs", LEGACY_FILE);
      await h.provider.ensure(image(), "east", src, recordingProgress(), h.signal);
      assert.deepEqual(h.fake.cluster.allFiles(), [], "the pre-clean removed it too");
    } finally {
      await h.close();
    }
  },
});
