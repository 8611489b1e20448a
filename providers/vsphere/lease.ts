/**
 * ImportVApp and the HttpNfcLease it returns: waiting for it to be ready (PropertyCollector
 * polling with a deadline), keeping it alive with HttpNfcLeaseProgress, completing or aborting.
 *
 * Guarantees:
 * - `waitReady` returns the device URLs once the lease is `ready`, throws the lease's own fault
 *   when it goes to `error`, and gives up at its deadline.
 * - `LeaseKeeper` sends HttpNfcLeaseProgress every `intervalMs` with the real percentage until
 *   stopped; a failed update is remembered (`failure`) and reported to `onFailure` once, so the
 *   transfer stops instead of streaming into a lease vCenter already dropped.
 */
import type { Clock, TimerHandle } from "../../lib/clock.ts";
import { PlatformError } from "../types.ts";
import type { SoapClient } from "./soap/client.ts";
import { faultFromLocalized } from "./soap/faults.ts";
import { readObject } from "./soap/properties.ts";
import {
  asMoRef,
  child,
  children,
  el,
  type MoRef,
  moref,
  serialize,
  textOf,
  type XmlNode,
} from "./soap/xml.ts";

/** Where one device's bytes go. */
export interface DeviceUrl {
  key: string;
  importKey: string;
  url: string;
  sslThumbprint: string;
  disk: boolean;
}

export interface LeaseInfo {
  entity: MoRef;
  deviceUrls: DeviceUrl[];
}

/** ResourcePool.ImportVApp: creates the VM and returns the lease. */
export async function importVApp(
  client: SoapClient,
  request: { pool: MoRef; spec: XmlNode; folder: MoRef; host: MoRef },
  signal: AbortSignal,
): Promise<MoRef> {
  const response = await client.call(
    "ImportVApp",
    request.pool,
    serialize(request.spec, "spec") + moref("folder", request.folder) +
      moref("host", request.host),
    signal,
  );
  const lease = asMoRef(child(response, "returnval"));
  if (!lease) throw new PlatformError("ImportVApp returned no lease", "import");
  return lease;
}

/** Polls the lease until it is ready (device URLs) or failed (its fault). */
export async function waitReady(
  client: SoapClient,
  lease: MoRef,
  options: { clock: Clock; deadlineMs: number; onEntity?: (entity: MoRef) => void },
  signal: AbortSignal,
): Promise<LeaseInfo> {
  const started = options.clock.now();
  const delays = [0, 100, 250, 500, 1000, 2000];
  for (let attempt = 0;; attempt++) {
    await options.clock.sleep(delays[Math.min(attempt, delays.length - 1)], signal);
    const content = await readObject(client, lease, ["state", "error", "info"], signal);
    const state = content?.props.get("state")?.text ?? "";
    const info = content?.props.get("info");
    const entity = asMoRef(child(info, "entity"));
    if (entity) options.onEntity?.(entity);
    if (state === "ready") {
      if (!entity) throw new PlatformError("the ready lease names no VM", "import");
      return { entity, deviceUrls: children(info, "deviceUrl").map(deviceUrl) };
    }
    if (state === "error") {
      const error = content?.props.get("error");
      throw error
        ? faultFromLocalized(error, "vSphere import")
        : new PlatformError("the import lease failed without a reason", "import");
    }
    if (state === "done") throw new PlatformError("the import lease ended early", "import");
    if (options.clock.now() - started > options.deadlineMs) {
      throw new PlatformError(
        `the import lease was not ready within ${Math.round(options.deadlineMs / 1000)} s ` +
          `(state ${state || "unknown"})`,
        "import",
      );
    }
  }
}

function deviceUrl(node: XmlNode): DeviceUrl {
  return {
    key: textOf(node, "key") ?? "",
    importKey: textOf(node, "importKey") ?? "",
    url: textOf(node, "url") ?? "",
    sslThumbprint: (textOf(node, "sslThumbprint") ?? "").trim(),
    disk: textOf(node, "disk") === "true",
  };
}

/** HttpNfcLeaseProgress. */
export async function leaseProgress(
  client: SoapClient,
  lease: MoRef,
  percent: number,
  signal: AbortSignal,
): Promise<void> {
  const value = Math.max(0, Math.min(100, Math.floor(percent)));
  await client.call("HttpNfcLeaseProgress", lease, el("percent", value), signal);
}

/** HttpNfcLeaseComplete. */
export async function leaseComplete(
  client: SoapClient,
  lease: MoRef,
  signal: AbortSignal,
): Promise<void> {
  await client.call("HttpNfcLeaseComplete", lease, "", signal);
}

/** HttpNfcLeaseAbort (without a fault: the reason is ours to report). */
export async function leaseAbort(
  client: SoapClient,
  lease: MoRef,
  signal: AbortSignal,
): Promise<void> {
  await client.call("HttpNfcLeaseAbort", lease, "", signal);
}

/** Keeps a lease alive with progress updates; see the module doc. */
export class LeaseKeeper {
  readonly #client: SoapClient;
  readonly #lease: MoRef;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #percent: () => number;
  readonly #onFailure: (error: unknown) => void;
  readonly #abort = new AbortController();
  #timer?: TimerHandle;
  #inFlight?: Promise<void>;
  #stopped = false;
  failure?: unknown;

  constructor(options: {
    client: SoapClient;
    lease: MoRef;
    clock: Clock;
    intervalMs: number;
    percent: () => number;
    onFailure: (error: unknown) => void;
  }) {
    this.#client = options.client;
    this.#lease = options.lease;
    this.#clock = options.clock;
    this.#intervalMs = options.intervalMs;
    this.#percent = options.percent;
    this.#onFailure = options.onFailure;
    this.#arm();
  }

  /** Stops the updates and waits for one in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#abort.abort(new Error("lease keeper stopped"));
    await this.#inFlight?.catch(() => {});
  }

  #arm(): void {
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimer(this.#intervalMs, () => {
      this.#inFlight = leaseProgress(this.#client, this.#lease, this.#percent(), this.#abort.signal)
        .then(() => this.#arm(), (error) => {
          if (this.#stopped) return;
          this.failure = error;
          this.#onFailure(error);
        });
    });
  }
}
