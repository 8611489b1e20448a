/**
 * The demo's pure parts: progress rows and rates from NodeImage status, line formatting, the
 * plain display's one-line-per-change rule, flag parsing, the release plan, and the failure
 * path (an image that never becomes Available ends the wait with the reason).
 */
import assert from "node:assert/strict";
import { plainDisplay, stageOf } from "../../demo/display.ts";
import { parseDemoOptions, parseSize } from "../../demo/options.ts";
import {
  formatBytes,
  formatRow,
  notAvailable,
  type ObservedImage,
  ProgressTracker,
} from "../../demo/progress.ts";
import { planReleases } from "../../demo/releases.ts";
import { runPhase } from "../../demo/watch.ts";

const MiB = 1024 * 1024;

function image(
  name: string,
  ...locations: NonNullable<NonNullable<ObservedImage["status"]>["locations"]>
): ObservedImage {
  return { metadata: { name }, status: { state: "Uploading", locations } };
}

Deno.test("progress rows", async (t) => {
  await t.step("an uploading location gets a rate from the bytes between two samples", () => {
    const tracker = new ProgressTracker();
    tracker.observe([
      image("capv-a", { name: "vc-a", state: "Uploading", bytesDone: 0, bytesTotal: 4 * MiB }),
    ], 1_000);
    const [row] = tracker.observe(
      [image("capv-a", {
        name: "vc-a",
        state: "Uploading",
        bytesDone: 2 * MiB,
        bytesTotal: 4 * MiB,
      })],
      1_500,
    );
    assert.equal(row.rate, 4 * MiB);
    assert.equal(formatRow(row), "capv-a  vc-a    Uploading     2.0 MiB/4.0 MiB    4.0 MiB/s");
  });

  await t.step(
    "an Available location keeps the total seen while uploading and shows no rate",
    () => {
      const tracker = new ProgressTracker();
      tracker.observe([
        image("capv-a", { name: "vc-a", state: "Uploading", bytesDone: 1, bytesTotal: 3 * MiB }),
      ], 0);
      const [row] = tracker.observe([image("capv-a", { name: "vc-a", state: "Available" })], 1_000);
      assert.equal(formatRow(row), "capv-a  vc-a    Available     3.0 MiB/3.0 MiB");
      assert.deepEqual([...tracker.available], [["capv-a vc-a", 3 * MiB]]);
    },
  );

  await t.step(
    "an image without locations yet is one Pending row; errors carry their message",
    () => {
      const tracker = new ProgressTracker();
      const rows = tracker.observe([
        { metadata: { name: "capmox-b" } },
        image("capvcd-c", { name: "vcd-a", state: "Error", message: "catalog not found" }),
      ], 0);
      assert.deepEqual(rows.map((r) => formatRow(r, 8)), [
        "capmox-b  -       Pending",
        "capvcd-c  vcd-a   Error catalog not found",
      ]);
    },
  );

  await t.step("notAvailable lists each expected location that is not Available, with why", () => {
    const rows = new ProgressTracker().observe([
      image("capv-a", { name: "vc-a", state: "Available" }, {
        name: "vc-b",
        state: "Error",
        message: "no datastore",
      }),
    ], 0);
    assert.deepEqual(
      notAvailable(rows, new Map([["capv-a", ["vc-a", "vc-b"]], ["capmox-b", ["pve-a"]]])),
      [
        "capv-a in vc-b: Error (no datastore)",
        "capmox-b in pve-a: not reported yet",
      ],
    );
    assert.deepEqual(notAvailable(rows, new Map([["capv-a", ["vc-a"]]])), []);
  });

  await t.step("bytes are shown in binary units", () => {
    assert.equal(formatBytes(512), "512 B");
    assert.equal(formatBytes(1536), "1.5 KiB");
    assert.equal(formatBytes(5 * 1024 * MiB), "5.0 GiB");
  });
});

Deno.test("the plain display prints a line when a location's state or quarter changes", () => {
  const printed: string[] = [];
  const display = plainDisplay((line) => printed.push(line));
  const row = (state: string, done: number, rate = "") =>
    formatRow({ image: "capv-a", location: "vc-a", state, bytesDone: done, bytesTotal: 4 * MiB }) +
    rate;
  display.progress([row("Uploading", 0)]);
  display.progress([row("Uploading", 0.1 * MiB)]); // same quarter: not printed
  display.progress([row("Uploading", 2.5 * MiB, "  3.0 MiB/s")]);
  display.progress([row("Available", 4 * MiB)]);
  display.progress([row("Available", 4 * MiB)]);
  assert.deepEqual(printed.map((l) => stageOf(l).stage), [
    "Uploading 0",
    "Uploading 2",
    "Available",
  ]);
});

Deno.test("demo flags", async (t) => {
  await t.step("defaults: 4 MiB images, 300 s, every platform, 3 s retention", () => {
    const options = parseDemoOptions([]);
    assert.equal(options.imageBytes, 4 * MiB);
    assert.equal(options.timeoutMs, 300_000);
    assert.deepEqual(options.platforms, ["proxmox", "vcd", "vsphere"]);
    assert.equal(options.retention, "3s");
    assert.equal(options.keep, false);
  });
  await t.step(
    "sizes with units, durations with or without a unit, platforms in a fixed order",
    () => {
      assert.equal(parseSize("512KiB"), 512 * 1024);
      assert.equal(parseSize("1.5GB"), 1_500_000_000);
      const options = parseDemoOptions([
        "--timeout=90",
        "--providers",
        "vsphere,proxmox",
        "--keep",
      ]);
      assert.equal(options.timeoutMs, 90_000);
      assert.deepEqual(options.platforms, ["proxmox", "vsphere"]);
      assert.equal(options.keep, true);
    },
  );
  await t.step("bad values name the flag and the value", () => {
    assert.throws(
      () => parseDemoOptions(["--image-size", "4 parsecs"]),
      /--image-size "4 parsecs"/,
    );
    assert.throws(() => parseDemoOptions(["--providers", "openstack"]), /--providers "openstack"/);
    assert.throws(() => parseDemoOptions(["--timeout", "soon"]), /--timeout "soon"/);
    assert.throws(() => parseDemoOptions(["--image-size", "100"]), /at least 4KiB/);
    assert.throws(() => parseDemoOptions(["--colour"]), /colour/);
  });
});

Deno.test("the release plan", async (t) => {
  await t.step(
    "two Releases share the first platform's image; the last platform's is deleted",
    () => {
      const plan = planReleases(["proxmox", "vcd", "vsphere"]);
      assert.deepEqual(plan.releases.map((r) => r.metadata.name), [
        "proxmox-34.1.0",
        "cloud-director-34.1.0",
        "vsphere-34.1.0",
        "proxmox-34.1.1",
      ]);
      assert.equal(plan.toDelete, "vsphere-34.1.0");
    },
  );
  await t.step("with one platform, a Release with another image is added and deleted", () => {
    const plan = planReleases(["vcd"]);
    assert.deepEqual(plan.releases.map((r) => r.metadata.name), [
      "cloud-director-34.1.0",
      "cloud-director-34.1.1",
      "cloud-director-35.0.0",
    ]);
    assert.equal(plan.toDelete, "cloud-director-35.0.0");
  });
});

Deno.test("a location that never becomes Available ends the wait at the deadline, naming it", async () => {
  const printed: string[] = [];
  const deadline = new AbortController();
  let reads = 0;
  const waiting = runPhase({
    read: () => {
      // The deadline passes after a few polls, as the demo's --timeout would.
      if (++reads === 3) deadline.abort(new Error("the deadline (--timeout 1s) passed"));
      return Promise.resolve([
        image("capv-a", { name: "vc-a", state: "Available" }, {
          name: "vc-b",
          state: "Error",
          message: "datastore LocalDS_9 not found",
        }),
      ]);
    },
    missing: (rows) => notAvailable(rows, new Map([["capv-a", ["vc-a", "vc-b"]]])),
    tracker: new ProgressTracker(),
    display: plainDisplay((line) => printed.push(line)),
    signal: deadline.signal,
    goal: "every NodeImage to be Available in every location",
    intervalMs: 1,
  });
  await assert.rejects(waiting, (error: Error) => {
    assert.match(
      error.message,
      /^the deadline \(--timeout 1s\) passed while waiting for every NodeImage/,
    );
    assert.match(error.message, /capv-a in vc-b: Error \(datastore LocalDS_9 not found\)/);
    return true;
  });
  assert.ok(printed.some((line) => /vc-b\s+Error datastore LocalDS_9 not found/.test(line)));
});
