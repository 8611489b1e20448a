/**
 * Building one template from an OVA in the object store (reference §5 steps 4–10, without the
 * flaws of §11.6, §11.8, §11.17), step by step:
 *
 * 1. pick host: a connected, powered-on host of the location's cluster not in maintenance (or
 *    the configured one, which must be all of that);
 * 2. read OVF: the descriptor from the head of the OVA (the download stops after it);
 * 3. import spec: CreateImportSpec (entity name, thin disks, `nic0` mapping, our annotation);
 *    errors abort, warnings are logged;
 * 4. import: ImportVApp creates the VM and a lease; wait until the lease is ready;
 * 5. transfer: push mode streams the whole OVA once from S3, each disk member to its device
 *    URL (`nfc.ts`), with HttpNfcLeaseProgress every few seconds; pull mode hands the hosts the
 *    (presigned) URL with HttpNfcLeasePullFromUrls_Task and keeps the lease alive until the task
 *    ends (`pull.ts`);
 * 6. complete: HttpNfcLeaseComplete; 7. template: MarkAsTemplate.
 *
 * Guarantees: any failure after ImportVApp aborts the lease and destroys the VM it created
 * (our annotation is on it from the start, so even a crash leaves a VM `cleanupPartial`
 * recognises); the thrown error names the step; errors of the rollback are added to the
 * message, never dropped. Progress (bytes, phase, the VM reference) reaches the caller.
 * Caveats: when the signal aborts, the rollback gets its own short deadline.
 */
import type { Clock } from "../../lib/clock.ts";
import type { Logger } from "../../lib/log.ts";
import type { HttpClient } from "../_http/mod.ts";
import {
  type ImageSource,
  type ImageSpec,
  PlatformError,
  ProviderUnavailableError,
  type TransferProgress,
} from "../types.ts";
import { createImportSpec } from "./import_spec.ts";
import {
  importVApp,
  leaseAbort,
  leaseComplete,
  type LeaseInfo,
  LeaseKeeper,
  waitReady,
} from "./lease.ts";
import { clusterHosts, pickHost, type ResolvedLocation } from "./locations.ts";
import { annotation } from "./names.ts";
import { uploadMembers, type UploadTargets } from "./nfc.ts";
import { readDescriptor } from "./ova.ts";
import { pullFromUrl, type PullOptions } from "./pull.ts";
import type { SoapClient } from "./soap/client.ts";
import { VimFault } from "./soap/faults.ts";
import type { MoRef } from "./soap/xml.ts";
import { destroyVm, markAsTemplate } from "./vm_ops.ts";

export interface CreateContext {
  client: SoapClient;
  clock: Clock;
  log: Logger;
  /** NFC clients by device URL. */
  targets: (cookie?: string) => UploadTargets & { close(): Promise<void> };
  /** vCenter client, for thumbprint dials in pull mode. */
  http: HttpClient;
  leaseReadyMs: number;
  progressIntervalMs: number;
  taskDeadlineMs: number;
  pull?: PullOptions;
  onStep?: (step: string, event: "start" | "end") => void;
}

export interface CreateRequest {
  image: ImageSpec;
  location: ResolvedLocation;
  /** The VM name (image name plus the location's suffix). */
  vmName: string;
  source: ImageSource;
  progress: TransferProgress;
}

export interface Created {
  vm: MoRef;
  verified: string[];
  warnings: string[];
}

/** Runs the whole sequence; returns the template's reference. */
export async function createTemplate(
  ctx: CreateContext,
  request: CreateRequest,
  signal: AbortSignal,
): Promise<Created> {
  const { client, log } = ctx;
  const { location, source, progress } = request;
  const subject = source.key;
  let step = "pick host";
  let lease: MoRef | undefined;
  let vm: MoRef | undefined;
  const warnings: string[] = [];

  const run = async <T>(name: string, phase: string, fn: () => Promise<T>): Promise<T> => {
    step = name;
    progress.phase(phase);
    ctx.onStep?.(name, "start");
    const result = await fn();
    ctx.onStep?.(name, "end");
    return result;
  };

  try {
    const host = await run(
      "pick host",
      "choosing a host",
      async () => pickHost(await clusterHosts(client, location, signal), location),
    );
    const ovf = await run(
      "read OVF",
      "reading the OVF descriptor",
      async () => readDescriptor(await source.open({ signal }), subject),
    );
    const spec = await run(
      "import spec",
      "creating the import spec",
      () =>
        createImportSpec(client, {
          ovf: ovf.text,
          entityName: request.vmName,
          pool: location.pool,
          datastore: location.datastore,
          host: host.ref,
          network: location.network,
          annotation: annotation(request.image.objectKey, subject),
        }, signal),
    );
    for (const warning of spec.warnings) {
      log.warn("vSphere import spec warning", {
        image: request.image.name,
        location: location.name,
        warning,
      });
    }
    warnings.push(...spec.warnings.map((w) => `import spec: ${w}`));
    lease = await run("import", `importing on ${host.name}`, () =>
      importVApp(client, {
        pool: location.pool,
        spec: spec.spec,
        folder: location.folder,
        host: host.ref,
      }, signal));
    const info: LeaseInfo = await run(
      "wait for lease",
      "waiting for the import lease",
      () =>
        waitReady(client, lease!, {
          clock: ctx.clock,
          deadlineMs: ctx.leaseReadyMs,
          onEntity: (entity) => {
            if (!vm) progress.reference(entity.value);
            vm = entity;
          },
        }, signal),
    );
    vm = info.entity;
    const verified = ctx.pull
      ? await run(
        "pull",
        `hosts pulling ${subject}`,
        () => pullFromUrl(ctx, { lease: lease!, info, spec, source, progress }, ctx.pull!, signal),
      )
      : await run(
        "upload",
        `uploading to ${host.name}`,
        () => push(ctx, { lease: lease!, info, spec, source, progress }, signal),
      );
    await run("complete", "completing the import", () => leaseComplete(client, lease!, signal));
    lease = undefined;
    await run("template", "marking as template", () => markAsTemplate(client, vm!, signal));
    return { vm: vm!, verified, warnings };
  } catch (error) {
    const rollback = await rollBack(ctx, { lease, vm }, signal);
    if (signal.aborted) throw error;
    throw failure(step, error, rollback);
  }
}

async function push(
  ctx: CreateContext,
  job: {
    lease: MoRef;
    info: LeaseInfo;
    spec: Awaited<ReturnType<typeof createImportSpec>>;
    source: ImageSource;
    progress: TransferProgress;
  },
  signal: AbortSignal,
): Promise<string[]> {
  const { client } = ctx;
  const total = job.spec.fileItems.reduce((n, i) => n + (i.size ?? 0), 0);
  let uploaded = 0;
  let uploadTotal = total;
  const stop = new AbortController();
  const keeper = new LeaseKeeper({
    client,
    lease: job.lease,
    clock: ctx.clock,
    intervalMs: ctx.progressIntervalMs,
    percent: () => uploadTotal > 0 ? (uploaded * 100) / uploadTotal : 0,
    onFailure: (error) => stop.abort(error),
  });
  const targets = ctx.targets(client.cookie);
  try {
    const stream = await job.source.open({ signal: AbortSignal.any([signal, stop.signal]) });
    await uploadMembers(
      stream,
      {
        items: job.spec.fileItems,
        deviceUrls: job.info.deviceUrls,
        vcenterHost: client.host,
        cookie: client.cookie,
      },
      targets,
      {
        uploaded: (done, of) => {
          uploaded = done;
          uploadTotal = of;
        },
        read: (done) => job.progress.bytes(done, job.source.size),
      },
      job.source.key,
      AbortSignal.any([signal, stop.signal]),
    );
  } catch (error) {
    throw keeper.failure ?? error;
  } finally {
    await keeper.stop();
    await targets.close();
  }
  if (keeper.failure) throw keeper.failure;
  return job.source.verified?.() ?? [];
}

/** Aborts the lease and destroys the VM; returns what went wrong doing so. */
async function rollBack(
  ctx: CreateContext,
  made: { lease?: MoRef; vm?: MoRef },
  signal: AbortSignal,
): Promise<string[]> {
  const problems: string[] = [];
  // A cancelled transfer still cleans up, within a short deadline of its own.
  const own = signal.aborted ? AbortSignal.timeout(30_000) : AbortSignal.any([
    signal,
    AbortSignal.timeout(5 * 60_000),
  ]);
  if (made.lease) {
    try {
      await leaseAbort(ctx.client, made.lease, own);
    } catch (error) {
      // vcsim drops a lease with the session that made it; vCenter may have ended it already.
      if (!(error instanceof VimFault)) problems.push(`abort lease: ${messageOf(error)}`);
    }
  }
  if (made.vm) {
    try {
      await destroyVm(
        ctx.client,
        made.vm,
        { clock: ctx.clock, deadlineMs: ctx.taskDeadlineMs },
        own,
      );
    } catch (error) {
      problems.push(`destroy ${made.vm.value}: ${messageOf(error)}`);
    }
  }
  return problems;
}

function failure(step: string, error: unknown, rollback: string[]): Error {
  const suffix = rollback.length > 0 ? ` (cleanup failed: ${rollback.join("; ")})` : "";
  if (error instanceof ProviderUnavailableError) {
    return new ProviderUnavailableError(`${step}: ${error.message}${suffix}`, { cause: error });
  }
  if (error instanceof Error && error.name === "IntegrityError") {
    error.message += suffix;
    return error;
  }
  return new PlatformError(`${step}: ${messageOf(error)}${suffix}`, step, { cause: error });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
