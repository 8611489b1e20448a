/**
 * The fake VCD's behaviour behind the routes: catalog uploads, the descriptor-then-files
 * sequence, imports, tasks, deletes and metadata, with the timings and failures a test asks for.
 *
 * Upload lifecycle (wire facts §B.1, go-vcd's `UploadOvf`):
 * 1. `action/upload` makes a template with status 0, a running upload task
 *    (`vdcUploadOvfContents`) and exactly one File, `descriptor.ovf`, with `size="-1"`;
 * 2. the descriptor PUT is inspected (`ovf.ts`); `descriptorDelayMs` later the template lists
 *    one File per `References/File` (before `descriptor.ovf`), each with `bytesTransferred="0"`;
 * 3. when every file is complete the import runs for `importDelayMs`, then the template is
 *    resolved (8) and the task succeeds, or, with `failNextImport`, the template fails (-1) and
 *    the task ends in `error` with the fault;
 * 4. an upload that sees no transfer for `transferTimeoutMs` fails its task with
 *    `[500:TIMEDOUT]`, as VCD does after about an hour (terraform-provider-vcd#1429).
 */
import { type Hrefs, TYPES } from "./render.ts";
import { inspectDescriptor } from "./ovf.ts";
import {
  FAILED,
  type FakeCatalog,
  type FakeOrg,
  type FakeStorageProfile,
  type FakeTask,
  type FakeTemplate,
  type FakeVcdState,
  type FakeVdc,
  type Fault,
  RESOLVED,
  UNRESOLVED,
} from "./state.ts";

export interface WorldTimings {
  /** From the descriptor PUT until the upload files are listed. */
  descriptorDelayMs: number;
  /** From the last byte until the template is resolved. */
  importDelayMs: number;
  /** How long delete and metadata tasks run. */
  taskDelayMs: number;
  /** An upload with no transfer for this long fails with TIMEDOUT (0: never). */
  transferTimeoutMs: number;
}

export class World {
  readonly state: FakeVcdState;
  readonly hrefs: Hrefs;
  timings: WorldTimings;
  /** Faults for the next imports, in order. */
  readonly importFaults: Fault[] = [];
  /** Metadata merges still to fail. */
  metadataFailures = 0;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #idle = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(state: FakeVcdState, hrefs: Hrefs, timings: WorldTimings) {
    this.state = state;
    this.hrefs = hrefs;
    this.timings = timings;
  }

  /** Runs `fn` after `ms`; pending runs are dropped by `close`. */
  later(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const id = setTimeout(() => {
      this.#timers.delete(id);
      fn();
    }, ms);
    this.#timers.add(id);
    return id;
  }

  close(): void {
    for (const id of this.#timers) clearTimeout(id);
    this.#timers.clear();
  }

  startTask(spec: {
    operationName: string;
    operation: string;
    owner: { href: string; name: string; type: string };
    orgId: string;
  }): FakeTask {
    const task: FakeTask = {
      id: crypto.randomUUID(),
      operationName: spec.operationName,
      operation: spec.operation,
      status: "running",
      ownerHref: spec.owner.href,
      ownerName: spec.owner.name,
      ownerType: spec.owner.type,
      orgId: spec.orgId,
      startTime: new Date().toISOString(),
      progress: 0,
    };
    this.state.tasks.set(task.id, task);
    return task;
  }

  endTask(task: FakeTask, fault?: Fault, status?: FakeTask["status"]): void {
    if (task.status !== "running" && task.status !== "queued") return;
    task.status = status ?? (fault ? "error" : "success");
    task.endTime = new Date().toISOString();
    task.progress = 100;
    if (fault) task.error = fault;
  }

  /** A task that runs for `taskDelayMs`, then applies `work` (a returned fault fails it). */
  runTask(spec: Parameters<World["startTask"]>[0], work: () => Fault | void): FakeTask {
    const task = this.startTask(spec);
    this.later(this.timings.taskDelayMs, () => this.endTask(task, work() ?? undefined));
    return task;
  }

  /** `action/upload`: a new unresolved template and its catalog item. */
  createTemplate(
    org: FakeOrg,
    catalog: FakeCatalog,
    vdc: FakeVdc,
    profile: FakeStorageProfile,
    params: { name: string; description: string; ownerName: string },
  ): FakeTemplate {
    const id = crypto.randomUUID();
    const template: FakeTemplate = {
      id,
      name: params.name,
      description: params.description,
      orgId: org.id,
      catalogId: catalog.id,
      catalogItemId: crypto.randomUUID(),
      vdcId: vdc.id,
      storageProfileId: profile.id,
      status: UNRESOLVED,
      createdAt: new Date().toISOString(),
      ownerName: params.ownerName,
      descriptorUploaded: false,
      hardware: [],
      files: [{
        name: "descriptor.ovf",
        size: -1,
        bytesTransferred: 0,
        transferId: crypto.randomUUID(),
      }],
      uploadTaskId: "",
      metadata: new Map(),
    };
    template.uploadTaskId = this.startTask({
      operationName: "vdcUploadOvfContents",
      operation: `Importing Virtual Application Template ${params.name}(${id})`,
      owner: { href: this.hrefs.template(template), name: params.name, type: TYPES.vAppTemplate },
      orgId: org.id,
    }).id;
    this.state.templates.set(id, template);
    catalog.items.set(template.catalogItemId, id);
    this.state.transfers.set(template.files[0].transferId, id);
    this.touchTransfer(template);
    return template;
  }

  /** The descriptor PUT; returns a fault for a descriptor VCD refuses. */
  receiveDescriptor(template: FakeTemplate, bytes: Uint8Array): Fault | undefined {
    const file = template.files.find((f) => f.name === "descriptor.ovf")!;
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      text = "\u0000";
    }
    const facts = inspectDescriptor(text);
    if ("problem" in facts) {
      const fault = { majorErrorCode: 400, minorErrorCode: "BAD_REQUEST", message: facts.problem };
      this.failUpload(template, fault);
      return fault;
    }
    template.descriptor = text;
    template.hardware = facts.hardware;
    template.descriptorUploaded = true;
    file.size = bytes.byteLength;
    file.bytesTransferred = bytes.byteLength;
    this.touchTransfer(template);
    this.later(this.timings.descriptorDelayMs, () => {
      if (!this.state.templates.has(template.id) || template.status !== UNRESOLVED) return;
      const listed = facts.files.map((ref) => ({
        name: ref.href,
        size: ref.size ?? -1,
        bytesTransferred: 0,
        transferId: crypto.randomUUID(),
      }));
      for (const f of listed) this.state.transfers.set(f.transferId, template.id);
      // Disk files are listed before descriptor.ovf (§B.3).
      template.files = [...listed, file];
      // Nothing to wait for when the descriptor references no bytes.
      if (listed.every((f) => f.size === 0)) this.#import(template);
    });
    return undefined;
  }

  /** After a transfer stored bytes: the import starts once every file is complete. */
  fileProgress(template: FakeTemplate): void {
    this.touchTransfer(template);
    const complete = template.files.every((f) => f.size >= 0 && f.bytesTransferred === f.size);
    if (complete) this.#import(template);
  }

  /** Restarts the abandoned-upload timer (VCD's one-hour TIMEDOUT, terraform-provider-vcd#1429). */
  touchTransfer(template: FakeTemplate): void {
    const previous = this.#idle.get(template.id);
    if (previous !== undefined) {
      clearTimeout(previous);
      this.#timers.delete(previous);
    }
    if (this.timings.transferTimeoutMs <= 0) return;
    this.#idle.set(
      template.id,
      this.later(this.timings.transferTimeoutMs, () => {
        if (template.status !== UNRESOLVED || this.#importing.has(template.id)) return;
        this.failUpload(template, {
          majorErrorCode: 500,
          minorErrorCode: "INTERNAL_SERVER_ERROR",
          message: "[500:TIMEDOUT] The upload session timed out",
        });
      }),
    );
  }

  readonly #importing = new Set<string>();

  #import(template: FakeTemplate): void {
    if (this.#importing.has(template.id)) return;
    this.#importing.add(template.id);
    const fault = this.importFaults.shift();
    this.later(this.timings.importDelayMs, () => {
      this.#importing.delete(template.id);
      if (!this.state.templates.has(template.id) || template.status !== UNRESOLVED) return;
      if (fault) return this.failUpload(template, fault);
      template.status = RESOLVED;
      for (const file of template.files) this.state.transfers.delete(file.transferId);
      const task = this.state.tasks.get(template.uploadTaskId);
      if (task) this.endTask(task);
    });
  }

  /** The upload fails: template status -1, its task in error. */
  failUpload(template: FakeTemplate, fault: Fault): void {
    template.status = FAILED;
    for (const file of template.files) this.state.transfers.delete(file.transferId);
    const task = this.state.tasks.get(template.uploadTaskId);
    if (task) this.endTask(task, fault);
  }

  /** `DELETE` of a template: a task that removes it (and its catalog item). */
  deleteTemplate(template: FakeTemplate): FakeTask {
    return this.runTask({
      operationName: "vdcDeleteTemplate",
      operation: `Deleting Virtual Application Template ${template.name}(${template.id})`,
      owner: { href: this.hrefs.template(template), name: template.name, type: TYPES.vAppTemplate },
      orgId: template.orgId,
    }, () => {
      const upload = this.state.tasks.get(template.uploadTaskId);
      if (upload) this.endTask(upload, undefined, "aborted");
      this.state.removeTemplate(template.id);
    });
  }

  /** `POST …/metadata`: a task that merges the entries. */
  mergeMetadata(template: FakeTemplate, entries: [string, string][]): FakeTask {
    const fail = this.metadataFailures > 0;
    if (fail) this.metadataFailures--;
    return this.runTask({
      operationName: "metadataUpdate",
      operation: `Updating metadata of Virtual Application Template ${template.name}`,
      owner: { href: this.hrefs.template(template), name: template.name, type: TYPES.vAppTemplate },
      orgId: template.orgId,
    }, () => {
      if (fail) {
        return {
          majorErrorCode: 500,
          minorErrorCode: "INTERNAL_SERVER_ERROR",
          message: "Metadata could not be stored (injected failure)",
        };
      }
      for (const [key, value] of entries) template.metadata.set(key, value);
    });
  }
}
