/**
 * The demo from start to end: services up, Releases applied, every image Available in every
 * location, one Release deleted and its image collected, a summary. Every service is stopped on
 * the way out, whatever happened (unless `--keep`, then on Ctrl-C).
 *
 * Guarantees: resolves with the summary, or rejects with an error whose message is the reason
 * (a service that would not start, an image that never became Available, the deadline).
 */
import { loadKubeConfig } from "../lib/kube/config.ts";
import { ResourceClient } from "../lib/kube/client.ts";
import { AlreadyExistsError } from "../lib/kube/errors.ts";
import { type KubeObject, NAMESPACES } from "../lib/kube/resource.ts";
import { DEFAULT_NODE_IMAGE_NAMESPACE, NODE_IMAGES, RELEASES } from "../lib/names.ts";
import type { Display } from "./display.ts";
import { nodeImageOf, seedObjects } from "./images/seed.ts";
import type { DemoOptions, Platform } from "./options.ts";
import { type ServiceProcess } from "./processes.ts";
import { formatBytes, notAvailable, type ObservedImage, ProgressTracker } from "./progress.ts";
import { planReleases } from "./releases.ts";
import { startApiServer } from "./services/apiserver.ts";
import { apiRequestsOf, startOperator } from "./services/operator.ts";
import { demoPki } from "./services/pki.ts";
import type { PlatformService } from "./services/platform.ts";
import { startProxmox } from "./services/proxmox.ts";
import { startS3 } from "./services/s3.ts";
import { startVcd } from "./services/vcd.ts";
import { startVsphere, vsphereUnavailable } from "./services/vsphere.ts";
import type { Summary } from "./summary.ts";
import { valuesYaml } from "./values.ts";
import { prepareDirectory } from "./directory.ts";
import { runPhase } from "./watch.ts";

export interface RunContext {
  options: DemoOptions & { dir: string };
  display: Display;
  /** Ctrl-C / SIGTERM. */
  interrupt: AbortSignal;
}

export interface RunResult {
  summary: Summary;
  /** Set with `--keep`: stops everything (call on Ctrl-C). */
  stop?: () => Promise<void>;
  kubeconfig: string;
  /** A NodeImage and a Release still there at the end, for the commands `--keep` suggests. */
  example: { nodeImage: string; release: string };
}

export async function runDemo(context: RunContext): Promise<RunResult> {
  const { options, display } = context;
  const started = Date.now();
  const signal = AbortSignal.any([
    context.interrupt,
    deadline(options.timeoutMs),
  ]);
  const processes: ServiceProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    // The operator first (it is last in the list), so it never sees its platforms vanish.
    for (const process of processes.reverse()) await process.stop().catch(() => {});
    processes.length = 0;
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
  };
  const step = async <T>(what: string, work: () => Promise<T>): Promise<T> => {
    const at = Date.now();
    const result = await work();
    display.say(`✓ ${what} (${((Date.now() - at) / 1000).toFixed(1)} s)`);
    return result;
  };
  try {
    await prepareDirectory(options.dir);

    let platforms: Platform[] = options.platforms;
    if (platforms.includes("vsphere")) {
      // Instant from the cache; the first time it builds with Go, which takes minutes.
      const slow = setTimeout(
        () => display.say("… building vcsim with Go once (about 2 minutes; cached afterwards)"),
        2_000,
      );
      const why = await vsphereUnavailable().finally(() => clearTimeout(slow));
      if (why) {
        display.say(`! vSphere skipped: vcsim cannot be set up here (${why})`);
        platforms = platforms.filter((p) => p !== "vsphere");
        if (platforms.length === 0) {
          throw new Error("no platform left to run: vcsim is the only one asked for");
        }
      }
    }
    const plan = planReleases(platforms);
    const objects = await step(
      `generated ${plan.releases.length} Releases' images: ` +
        `${[...new Set(plan.releases.map((r) => nodeImageOf(r).s3Key))].length} objects of ` +
        `${
          formatBytes(options.imageBytes)
        } (OVA: OVF, SHA256 manifest, streamOptimized VMDK; qcow2)`,
      () => Promise.resolve(seedObjects(plan.releases, options.imageBytes)),
    );
    const pki = await demoPki(options.dir);

    // Every service is independent of the others until the operator starts: start them at once.
    // Each one is tracked as soon as it is up, so a failure elsewhere still stops it.
    const track = <T extends { process: ServiceProcess }>(service: T): T => {
      processes.push(service.process);
      return service;
    };
    const startApi = async () => {
      const slow = options.real
        ? setTimeout(() =>
          display.say(
            "… the real API server is slow to come up: the first time, tools/kube-apiserver.sh " +
              "builds it with Go (10–20 min; give a longer --timeout)",
          ), 15_000)
        : undefined;
      try {
        return track(
          await step(
            options.real ? "real etcd + kube-apiserver ready" : "fake API server ready",
            () => startApiServer(options.dir, options.real, signal),
          ),
        );
      } catch (error) {
        if (!options.real || signal.aborted) throw error;
        // No Go toolchain, no cache, a failed build: the rest of the demo still works.
        const why = (error as Error).message.split("\n").slice(0, 2).join(" ");
        display.say(`! real API server unavailable (${why}); using the fake one`);
        return track(
          await step("fake API server ready", () => startApiServer(options.dir, false, signal)),
        );
      } finally {
        clearTimeout(slow);
      }
    };
    const starters: Record<Platform, () => Promise<PlatformService>> = {
      proxmox: () => startProxmox(options.dir, pki, signal),
      vcd: () => startVcd(options.dir, pki, signal),
      vsphere: () => startVsphere(options.dir, pki, signal),
    };
    const names = { proxmox: "fake Proxmox VE", vcd: "fake Cloud Director", vsphere: "vcsim" };
    const [apiResult, s3Result, ...platformResults] = await Promise.allSettled([
      startApi(),
      step(
        `local S3 (s3rver) seeded with ${objects.length} objects`,
        () => startS3(options.dir, objects, signal),
      ).then(track),
      ...platforms.map((platform) =>
        step(`${names[platform]} ready`, starters[platform]).then(track)
      ),
    ]);
    const failed = [apiResult, s3Result, ...platformResults].find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const api = (apiResult as PromiseFulfilledResult<Awaited<ReturnType<typeof startApi>>>).value;
    const s3 = (s3Result as PromiseFulfilledResult<Awaited<ReturnType<typeof startS3>>>).value;
    const services = platformResults.map((r) =>
      (r as PromiseFulfilledResult<PlatformService>).value
    );
    // Only the sizes are needed from here on; the bytes (two images) can go.
    const sizes = new Map(objects.map((o) => [o.key, o.bytes.byteLength]));
    objects.length = 0;

    const valuesPath = `${options.dir}/values.yaml`;
    const sectionKey: Record<Platform, string> = {
      proxmox: "proxmox",
      vcd: "vcd",
      vsphere: "vsphere",
    };
    await Deno.writeTextFile(
      valuesPath,
      valuesYaml(
        s3.section,
        Object.fromEntries(services.map((s) => [sectionKey[s.platform], s.section])),
        options.retention,
      ),
    );
    const kube = loadKubeConfig({ kubeconfig: api.kubeconfig });
    cleanups.push(() => Promise.resolve(kube.transport.close()));
    const namespaces = new ResourceClient(kube.transport, NAMESPACES);
    await namespaces.create({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: DEFAULT_NODE_IMAGE_NAMESPACE },
    }, { signal }).catch((error) => {
      if (!(error instanceof AlreadyExistsError)) throw error;
    });
    const operator = await step(
      `operator ready (values: ${valuesPath})`,
      () =>
        startOperator(options.dir, {
          kubeconfig: api.operatorKubeconfig,
          valuesPath,
          retention: options.retention,
          signal,
        }),
    );
    processes.push(operator.process);

    // Apply the Releases.
    const releases = new ResourceClient<KubeObject>(kube.transport, RELEASES);
    const nodeImages = new ResourceClient<KubeObject & ObservedImage>(kube.transport, NODE_IMAGES);
    for (const release of plan.releases) {
      await releases.create(release as unknown as KubeObject, { signal });
    }
    const expected = new Map<string, string[]>();
    const providerOf = new Map<string, PlatformService>();
    const users = new Map<string, string[]>();
    for (const release of plan.releases) {
      const image = nodeImageOf(release).name;
      const service = services.find((s) => image.startsWith(`${s.providerId}-`))!;
      expected.set(image, service.locations);
      providerOf.set(image, service);
      users.set(image, [...(users.get(image) ?? []), release.metadata.name]);
    }
    display.say(
      `✓ applied ${plan.releases.length} Releases → ${expected.size} NodeImages ` +
        `(${
          [...users.values()].filter((u) => u.length > 1).map((u) => u.join(" and ")).join(", ")
        } share one)`,
    );
    const read = async (s: AbortSignal) =>
      (await nodeImages.list({ namespace: DEFAULT_NODE_IMAGE_NAMESPACE, signal: s })).items;
    const tracker = new ProgressTracker();
    const appliedAt = Date.now();
    await runPhase({
      read,
      missing: (rows) => notAvailable(rows, expected),
      tracker,
      display,
      signal,
      goal: "every NodeImage to be Available in every location",
    });
    const availableMs = Date.now() - started;
    display.say(
      `✓ every NodeImage Available in every location, ${
        ((Date.now() - appliedAt) / 1000).toFixed(1)
      } s after the Releases were applied`,
    );

    // Delete one Release; its image is collected from every catalog of its platform.
    const gone = nodeImageOf(plan.releases.find((r) => r.metadata.name === plan.toDelete)!).name;
    const platform = providerOf.get(gone)!;
    const deletedAt = Date.now();
    await releases.delete(plan.toDelete, undefined, { signal });
    display.say(
      `✓ deleted Release ${plan.toDelete}; its image ${gone} goes after ${options.retention}`,
    );
    // Once the NodeImage is gone, its locations are shown as Deleted (status went with it).
    let lastSeen: ObservedImage | undefined;
    let objectGone = false;
    await runPhase({
      read: async (s) => {
        const found = (await read(s)).filter((i) => i.metadata.name === gone);
        if (found.length) [lastSeen] = found;
        objectGone = found.length === 0;
        return found.length ? found : lastSeen ? [deletedView(lastSeen)] : [];
      },
      missing: async () => {
        if (!objectGone) {
          return [`NodeImage ${gone} still exists`];
        }
        const left = (await platform.catalog()).filter((entry) =>
          entry.includes(imageNameOf(gone))
        );
        return left.map((entry) => `${platform.platform} catalog still holds ${entry}`);
      },
      tracker,
      display,
      signal,
      goal: `${gone} to leave every ${platform.platform} catalog`,
    });
    const collectedMs = Date.now() - deletedAt;
    display.say(
      `✓ ${gone} deleted from ${platform.locations.join(", ")} and the NodeImage removed`,
    );

    const metrics = await fetch(operator.metricsUrl, { signal }).then((r) => r.text());
    const sizeOf = (image: string) => {
      const release = plan.releases.find((r) => nodeImageOf(r).name === image)!;
      return sizes.get(nodeImageOf(release).s3Key) ?? 0;
    };
    let bytesMoved = 0;
    for (const [key, total] of tracker.available) bytesMoved += total ?? sizeOf(key.split(" ")[0]);
    const summary: Summary = {
      images: expected.size,
      releases: plan.releases.length,
      locations: tracker.available.size,
      bytesMoved,
      totalMs: Date.now() - started,
      availableMs,
      collectedMs,
      apiRequests: apiRequestsOf(metrics),
      apiServer: api.kind,
      platformCalls: await Promise.all(
        services.map(async (s) => ({ platform: s.platform, ...(await s.calls()) })),
      ),
    };
    const kept = plan.releases.find((r) => r.metadata.name !== plan.toDelete)!;
    const example = { nodeImage: nodeImageOf(kept).name, release: kept.metadata.name };
    if (options.keep) return { summary, stop: stopAll, kubeconfig: api.kubeconfig, example };
    await stopAll();
    return { summary, kubeconfig: api.kubeconfig, example };
  } catch (error) {
    await stopAll();
    // Whatever broke while the deadline or Ctrl-C was cutting things short, lead with that.
    const cut = (signal.reason as Error | undefined)?.message;
    const message = (error as Error).message ?? String(error);
    if (signal.aborted && cut && !message.startsWith(cut)) {
      throw new Error(`${cut} (${message})`, { cause: error });
    }
    throw error;
  }
}

/** What a NodeImage that is gone looks like in the progress rows. */
function deletedView(image: ObservedImage): ObservedImage {
  const locations = (image.status?.locations ?? []).map((l) => ({
    name: l.name,
    state: "Deleted",
  }));
  return { metadata: image.metadata, status: { state: "Deleted", locations } };
}

/** `capv-flatcar-…-gs` → `flatcar-…-gs`: the name platforms store the image under. */
function imageNameOf(nodeImage: string): string {
  return nodeImage.slice(nodeImage.indexOf("-") + 1);
}

function deadline(ms: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`the deadline (--timeout ${ms / 1000}s) passed`)),
    ms,
  );
  Deno.unrefTimer(timer);
  return controller.signal;
}
