import assert from "node:assert/strict";
import { PlatformError } from "../../lib/image/provider.ts";
import { PARTIAL_TAG, ProxmoxCreateError } from "../../providers/proxmox/mod.ts";
import { opensslAvailable, opensslMissing, testPki } from "../support/tls.ts";
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
if (ignore) console.warn(`Proxmox provider tests ignored: ${opensslMissing}`);

Deno.test({
  name: "ensure creates a tagged template from the qcow2 and removes the import file",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      const progress = recordingProgress();
      const result = await h.provider.ensure(
        image(),
        "l1",
        source(h.files, "/good.qcow2", { bytes: qcow2Bytes(), digest: true }),
        progress,
        h.signal,
      );
      assert.equal(result.reference, "pve1/100");
      assert.deepEqual(result.verified, ["sha256 checked by Proxmox download-url on pve1"]);
      assert.deepEqual(progress.references, ["pve1/100"]);
      assert.deepEqual(progress.bytesSeen, [512]);
      assert.ok(progress.phases.includes("downloading on pve1"), progress.phases.join(" | "));
      assert.ok(progress.phases.includes("converting to a template"));

      const vm = h.fake.cluster.vms.get(100)!;
      assert.equal(vm.config.name, IMAGE_NAME);
      assert.equal(vm.config.template, "1");
      assert.equal(
        vm.config.tags,
        "flatcar_3975.2.0;kubernetes_1.30.4;os-tooling_1.18.1;release-channel_stable",
      );
      assert.equal(vm.config.scsi0, "local-lvm:base-100-disk-0,size=8G");
      assert.equal(vm.config.boot, "order=scsi0");
      assert.equal(vm.config.net0, "e1000,bridge=vmbr0");
      assert.equal(vm.config.memory, "2048");
      assert.equal(vm.config.ostype, "l26");
      assert.match(vm.config.description, /image-distribution-operator.*giantswarm\/capmox-/);
      assert.deepEqual(h.fake.cluster.allFiles(), [], "the import file is gone");

      const download = h.fake.requests.find((r) => r.route.endsWith("/download-url"))!;
      assert.equal(download.params.content, "import");
      assert.equal(download.params.filename, `${IMAGE_NAME}_l1.qcow2`);
      assert.equal(download.params["checksum-algorithm"], "sha256");
      assert.equal(download.params.url, h.files.url("/good.qcow2"));
      assert.deepEqual(h.files.hits, ["/good.qcow2"], "the node fetched the source itself");

      const inventory = await h.provider.inventory("l1", h.signal);
      assert.deepEqual([...inventory.items.values()], [
        { name: IMAGE_NAME, reference: "pve1/100", complete: true },
      ]);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "the create steps run in the documented order",
  ignore,
  fn: async () => {
    const steps: string[] = [];
    const h = await harness(pki!, {
      provider: { onStep: (step, event) => event === "start" && steps.push(step) },
    });
    try {
      await h.provider.ensure(
        image(),
        "l1",
        source(h.files, "/good.qcow2"),
        recordingProgress(),
        h.signal,
      );
      assert.deepEqual(steps, [
        "clean import file",
        "download",
        "allocate VMID",
        "create VM",
        "import disk",
        "boot order",
        "convert to template",
        "tags",
        "delete import file",
      ]);
      const writes = h.fake.requests.filter((r) => r.method !== "GET").map((r) =>
        `${r.method} ${r.route}`
      );
      assert.deepEqual(writes, [
        "POST /nodes/{node}/storage/{storage}/download-url",
        "POST /nodes/{node}/qemu",
        "POST /nodes/{node}/qemu/{vmid}/config",
        "PUT /nodes/{node}/qemu/{vmid}/config",
        "POST /nodes/{node}/qemu/{vmid}/template",
        "PUT /nodes/{node}/qemu/{vmid}/config",
        "DELETE /nodes/{node}/storage/{storage}/content/{volume}",
      ]);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "ensure twice keeps the same VMID and creates no second VM",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      const src = source(h.files, "/good.qcow2");
      const first = await h.provider.ensure(image(), "l1", src, recordingProgress(), h.signal);
      const second = await h.provider.ensure(image(), "l1", src, recordingProgress(), h.signal);
      assert.equal(second.reference, first.reference);
      assert.deepEqual(vmSummary(h.fake), [`pve1/100 ${IMAGE_NAME} template`]);
      assert.equal(h.fake.count("POST /nodes/{node}/qemu"), 1);
      assert.equal(h.fake.count("POST /nodes/{node}/storage/{storage}/download-url"), 1);
    } finally {
      await h.close();
    }
  },
});

const FAILURES: {
  step: string;
  inject: (h: Awaited<ReturnType<typeof harness>>) => void;
  exitStatus?: string;
}[] = [
  {
    step: "clean import file",
    inject: (h) => {
      // A crash left this location's file, which would make download-url refuse.
      h.fake.cluster.addFile("pve1", "local", `local:import/${IMAGE_NAME}_l1.qcow2`);
      h.fake.failTask("imgdel", "unable to remove file: Device or resource busy");
    },
    exitStatus: "unable to remove file: Device or resource busy",
  },
  {
    step: "download",
    inject: (h) => h.fake.failTask("download", "download failed: 403 Forbidden"),
    exitStatus: "download failed: 403 Forbidden",
  },
  {
    step: "allocate VMID",
    inject: (h) =>
      h.fake.failRequest("GET", "/cluster/nextid", 500, "cluster not ready - no quorum?"),
  },
  {
    step: "create VM",
    inject: (h) =>
      h.fake.failTask("qmcreate", "unable to create VM 100 - lvcreate failed", { when: "after" }),
    exitStatus: "unable to create VM 100 - lvcreate failed",
  },
  {
    step: "import disk",
    inject: (h) =>
      h.fake.failTask("qmconfig", "import failed: qemu-img: Could not open image", {
        when: "after",
      }),
    exitStatus: "import failed: qemu-img: Could not open image",
  },
  {
    step: "boot order",
    inject: (h) =>
      h.fake.failRequest("PUT", "/nodes/{node}/qemu/{vmid}/config", 500, "got timeout"),
  },
  {
    step: "convert to template",
    inject: (h) => h.fake.failTask("qmtemplate", "unable to rename volume: exit code 5"),
    exitStatus: "unable to rename volume: exit code 5",
  },
  {
    step: "tags",
    // The boot-order PUT passes; the second PUT (tags) is refused.
    inject: (h) =>
      h.fake.failRequest(
        "PUT",
        "/nodes/{node}/qemu/{vmid}/config",
        403,
        "Permission check failed (/, Sys.Modify)",
        { after: 1 },
      ),
  },
  {
    step: "delete import file",
    inject: (h) => {
      // The pre-clean finds nothing, so the first imgdel task is the final delete.
      h.fake.failTask("imgdel", "unable to remove file: Read-only file system");
    },
    exitStatus: "unable to remove file: Read-only file system",
  },
];

Deno.test({
  name: "a failure at each create step leaves no VM and no import file, and names the step",
  ignore,
  fn: async (t) => {
    for (const failure of FAILURES) {
      await t.step(failure.step, async () => {
        const h = await harness(pki!);
        try {
          failure.inject(h);
          const error = await h.provider.ensure(
            image(),
            "l1",
            source(h.files, "/good.qcow2"),
            recordingProgress(),
            h.signal,
          ).then(() => assert.fail("ensure succeeded"), (e) => e);
          assert.ok(error instanceof PlatformError, String(error));
          assert.equal(error.step, failure.step);
          assert.match(error.message, new RegExp(`step "${failure.step}" failed`));
          assert.match(error.message, /Proxmox location "l1" \(node pve1\)/);
          if (failure.exitStatus) {
            assert.ok(error instanceof ProxmoxCreateError);
            assert.equal(error.exitStatus, failure.exitStatus);
            assert.equal(error.logTail.at(-1), `TASK ERROR: ${failure.exitStatus}`);
            assert.ok(error.message.includes(failure.exitStatus));
          }
          assert.deepEqual(vmSummary(h.fake), [], "no VM is left");
          assert.deepEqual(h.fake.cluster.allFiles(), [], "no import file is left");
          const inventory = await h.provider.inventory("l1", h.signal);
          assert.equal(inventory.items.size, 0);
        } finally {
          await h.close();
        }
      });
    }
  },
});

Deno.test({
  name: "a broken source fails the download task and leaves nothing behind",
  ignore,
  fn: async (t) => {
    const cases = [
      { name: "not a qcow2 image", path: "/garbage.qcow2", message: /not a valid qcow2 image/ },
      { name: "missing object", path: "/missing.qcow2", message: /download failed: 404/ },
    ];
    for (const c of cases) {
      await t.step(c.name, async () => {
        const h = await harness(pki!);
        try {
          await assert.rejects(
            h.provider.ensure(
              image(),
              "l1",
              source(h.files, c.path),
              recordingProgress(),
              h.signal,
            ),
            (e: unknown) =>
              e instanceof PlatformError && e.step === "download" && c.message.test(e.message),
          );
          assert.deepEqual(vmSummary(h.fake), []);
          assert.deepEqual(h.fake.cluster.allFiles(), []);
        } finally {
          await h.close();
        }
      });
    }
  },
});

Deno.test({
  name: "a wrong digest is caught by download-url's checksum and leaves nothing behind",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      const src = source(h.files, "/good.qcow2", {
        digest: { algorithm: "sha256", hex: "0".repeat(64) },
      });
      await assert.rejects(
        h.provider.ensure(image(), "l1", src, recordingProgress(), h.signal),
        (e: unknown) =>
          e instanceof ProxmoxCreateError && e.step === "download" &&
          /^checksum mismatch: got '[0-9a-f]{64}' != expect '0{64}'$/.test(e.exitStatus ?? ""),
      );
      assert.deepEqual(h.fake.cluster.allFiles(), []);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "a VMID taken between nextid and create is retried with a fresh id",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      h.fake.raceNextId(2);
      const result = await h.provider.ensure(
        image(),
        "l1",
        source(h.files, "/good.qcow2"),
        recordingProgress(),
        h.signal,
      );
      assert.equal(result.reference, "pve1/102");
      assert.deepEqual(vmSummary(h.fake), [
        "pve1/100 someone-else",
        "pve1/101 someone-else",
        `pve1/102 ${IMAGE_NAME} template`,
      ]);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "leftovers of a crashed create are reported partial and removed by cleanupPartial",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      // A crash after the disk import: a non-template VM with our tag, and the import file.
      h.fake.cluster.addVm({ vmid: 120, node: "pve1", name: IMAGE_NAME, tags: PARTIAL_TAG });
      h.fake.cluster.addFile("pve1", "local", `local:import/${IMAGE_NAME}.qcow2`);
      // A crash right after template conversion, before the tags: a template still tagged.
      h.fake.cluster.addVm({
        vmid: 121,
        node: "pve1",
        name: IMAGE_NAME,
        template: true,
        tags: PARTIAL_TAG,
      });
      const inventory = await h.provider.inventory("l1", h.signal);
      assert.deepEqual([...inventory.items.values()], [
        { name: IMAGE_NAME, reference: "pve1/120", complete: false },
      ]);

      await h.provider.cleanupPartial(image(), "l1", h.signal);
      assert.deepEqual(vmSummary(h.fake), []);
      assert.deepEqual(h.fake.cluster.allFiles(), []);
      assert.equal((await h.provider.inventory("l1", h.signal)).items.size, 0);

      // Nothing left: cleanupPartial again is a no-op success.
      await h.provider.cleanupPartial(image(), "l1", h.signal);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "ensure after a crash clears the leftovers first and then creates the template",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      h.fake.cluster.addVm({ vmid: 100, node: "pve1", name: IMAGE_NAME, tags: PARTIAL_TAG });
      h.fake.cluster.addFile("pve1", "local", `local:import/${IMAGE_NAME}.qcow2`);
      const result = await h.provider.ensure(
        image(),
        "l1",
        source(h.files, "/good.qcow2"),
        recordingProgress(),
        h.signal,
      );
      assert.equal(result.reference, "pve1/100", "the freed id is reused");
      assert.deepEqual(vmSummary(h.fake), [`pve1/100 ${IMAGE_NAME} template`]);
      assert.deepEqual(h.fake.cluster.allFiles(), []);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "two locations on two nodes get two templates, each counted only in its own location",
  ignore,
  fn: async () => {
    const h = await harness(pki!, {
      locations: { east: location("pve1"), west: location("pve2", { bridge: "vmbr1" }) },
    });
    try {
      const src = source(h.files, "/good.qcow2");
      const east = await h.provider.ensure(image(), "east", src, recordingProgress(), h.signal);
      const west = await h.provider.ensure(image(), "west", src, recordingProgress(), h.signal);
      assert.equal(east.reference, "pve1/100");
      assert.equal(west.reference, "pve2/101");
      assert.equal(h.fake.cluster.vms.get(101)!.config.net0, "e1000,bridge=vmbr1");
      const [e, w] = await Promise.all([
        h.provider.inventory("east", h.signal),
        h.provider.inventory("west", h.signal),
      ]);
      assert.equal(e.items.get(IMAGE_NAME)?.reference, "pve1/100");
      assert.equal(w.items.get(IMAGE_NAME)?.reference, "pve2/101");

      await h.provider.remove(image(), "east", h.signal);
      assert.deepEqual(vmSummary(h.fake), [`pve2/101 ${IMAGE_NAME} template`]);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "a same-named VM that is not a template is neither counted nor touched",
  ignore,
  fn: async () => {
    const h = await harness(pki!, {
      locations: { l1: location("pve1"), l2: location("pve2") },
    });
    try {
      h.fake.cluster.addVm({ vmid: 100, node: "pve1", name: IMAGE_NAME, tags: "prod" });
      h.fake.cluster.addVm({
        vmid: 101,
        node: "pve1",
        name: IMAGE_NAME,
        type: "lxc",
        template: true,
      });
      h.fake.cluster.addVm({ vmid: 102, node: "pve2", name: IMAGE_NAME, template: true });
      assert.equal((await h.provider.inventory("l1", h.signal)).items.size, 0);

      await h.provider.remove(image(), "l1", h.signal);
      await h.provider.cleanupPartial(image(), "l1", h.signal);
      assert.deepEqual(vmSummary(h.fake), [
        `pve1/100 ${IMAGE_NAME}`,
        `pve1/101 ${IMAGE_NAME} template`,
        `pve2/102 ${IMAGE_NAME} template`,
      ]);

      const result = await h.provider.ensure(
        image(),
        "l1",
        source(h.files, "/good.qcow2"),
        recordingProgress(),
        h.signal,
      );
      assert.equal(result.reference, "pve1/103");
      assert.equal(h.fake.cluster.vms.get(100)!.config.tags, "prod", "the user's VM is untouched");
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "remove destroys the template on its node, and an absent template is success",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      await h.provider.remove(image(), "l1", h.signal);
      assert.equal(h.fake.count("DELETE /nodes/{node}/qemu/{vmid}"), 0);

      // A template the Go operator made: no marker, only the version tags.
      h.fake.cluster.addVm({ vmid: 140, node: "pve1", name: IMAGE_NAME, template: true });
      assert.equal(
        (await h.provider.inventory("l1", h.signal)).items.get(IMAGE_NAME)?.complete,
        true,
      );
      await h.provider.remove(image(), "l1", h.signal);
      assert.deepEqual(vmSummary(h.fake), []);
      const destroy = h.fake.requests.find((r) => r.route === "/nodes/{node}/qemu/{vmid}")!;
      assert.equal(destroy.params.purge, "1");
      assert.equal((await h.provider.inventory("l1", h.signal)).items.size, 0);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "pre-release versions become valid tags instead of being skipped",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      const name = "flatcar-beta-4152.1.0-kube-1.31.0-rc.1-tooling-1.20.0-gs";
      await h.provider.ensure(
        image(name),
        "l1",
        source(h.files, "/good.qcow2"),
        recordingProgress(),
        h.signal,
      );
      assert.equal(
        h.fake.cluster.vms.get(100)!.config.tags,
        "flatcar_4152.1.0;kubernetes_1.31.0-rc.1;os-tooling_1.20.0;release-channel_beta",
      );
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "the VM shape of a location is sent as configured",
  ignore,
  fn: async () => {
    const h = await harness(pki!, {
      locations: {
        l1: location("pve1", {
          vm: {
            memory: 4096,
            cores: 4,
            scsihw: "virtio-scsi-single",
            bios: "ovmf",
            agent: false,
            netModel: "virtio",
            ostype: "l26",
            cpu: "host",
            serial0: "socket",
            vga: "serial0",
          },
        }),
      },
    });
    try {
      await h.provider.ensure(
        image(),
        "l1",
        source(h.files, "/good.qcow2"),
        recordingProgress(),
        h.signal,
      );
      const create = h.fake.requests.find((r) =>
        r.method === "POST" && r.route === "/nodes/{node}/qemu"
      )!;
      const { description: _d, ...params } = create.params;
      assert.deepEqual(params, {
        vmid: "100",
        name: IMAGE_NAME,
        memory: "4096",
        cores: "4",
        scsihw: "virtio-scsi-single",
        bios: "ovmf",
        agent: "0",
        net0: "virtio,bridge=vmbr0",
        ostype: "l26",
        cpu: "host",
        serial0: "socket",
        vga: "serial0",
        tags: PARTIAL_TAG,
        node: "pve1",
      });
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "tasks that take a while are polled until they stop",
  ignore,
  fn: async () => {
    const h = await harness(pki!, {
      fake: { taskDurationMs: { download: 30, qmcreate: 20, qmconfig: 20, qmtemplate: 10 } },
    });
    try {
      const result = await h.provider.ensure(
        image(),
        "l1",
        source(h.files, "/good.qcow2"),
        recordingProgress(),
        h.signal,
      );
      assert.equal(result.reference, "pve1/100");
      const polls = h.fake.requests.filter((r) => r.route.endsWith("/status"));
      assert.ok(polls.length > 4, `only ${polls.length} polls`);
      assert.ok(polls.every((r) => r.status === 200));
      assert.ok(h.fake.tasks().every((t) => t.exitstatus === "OK"));
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name: "an ensure aborted mid-import leaves a partial VM that cleanupPartial removes",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    // The disk import is held until the "crash", however slow the machine is.
    const release = h.fake.holdTasks("qmconfig");
    try {
      const controller = new AbortController();
      const progress = recordingProgress();
      const phase = progress.phase;
      progress.phase = (p) => {
        phase(p);
        // The process "crashes" once the disk import has started.
        if (p.startsWith("importing")) setTimeout(() => controller.abort(new Error("crash")), 5);
      };
      await assert.rejects(
        h.provider.ensure(
          image(),
          "l1",
          source(h.files, "/good.qcow2"),
          progress,
          controller.signal,
        ),
        /crash/,
      );
      release();
      assert.deepEqual(progress.references, ["pve1/100"], "the reference was reported early");
      while (h.fake.tasks().some((t) => t.status === "running")) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      assert.deepEqual(vmSummary(h.fake), [`pve1/100 ${IMAGE_NAME}`]);
      assert.equal(h.fake.cluster.allFiles().length, 1, "the import file is still there");
      const inventory = await h.provider.inventory("l1", h.signal);
      assert.deepEqual(inventory.items.get(IMAGE_NAME), {
        name: IMAGE_NAME,
        reference: "pve1/100",
        complete: false,
      });

      await h.provider.cleanupPartial(image(), "l1", h.signal);
      assert.deepEqual(vmSummary(h.fake), []);
      assert.deepEqual(h.fake.cluster.allFiles(), []);
    } finally {
      await h.close();
    }
  },
});

Deno.test({
  name:
    "ensure refuses a source that is not qcow2 and a name Proxmox would reject, before any call",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      const ova = { ...source(h.files, "/good.qcow2"), format: "ova" as const };
      await assert.rejects(
        h.provider.ensure(image(), "l1", ova, recordingProgress(), h.signal),
        (e: unknown) => e instanceof PlatformError && e.step === "validate source",
      );
      await assert.rejects(
        h.provider.ensure(
          image("flatcar_bad_name"),
          "l1",
          source(h.files, "/good.qcow2"),
          recordingProgress(),
          h.signal,
        ),
        (e: unknown) => e instanceof PlatformError && e.step === "validate name",
      );
      assert.equal(h.fake.requests.length, 0);
    } finally {
      await h.close();
    }
  },
});
