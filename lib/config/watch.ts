/**
 * Live reload: watches the configuration files, reloads after they change, and hands a new
 * `OperatorConfig` to `onChange` only when it differs from the one in use (credential rotation
 * without a restart, issue 5 §9).
 *
 * Guarantees:
 * - Directories are watched, not files: Kubernetes updates a mounted Secret or ConfigMap by
 *   writing a new timestamped directory and renaming a `..data` symlink over the old one, so
 *   the file's own inode never changes and a watch on it sees nothing.
 * - Events are debounced (one atomic update is a burst) and reloads never overlap; an event
 *   during a reload causes one more reload afterwards.
 * - `onChange` runs only when the fingerprint (secrets included, by hash) changed; an identical
 *   rewrite is silent.
 * - A reload that fails keeps the previous configuration: the error is logged (its message names
 *   file and field and never a secret) and passed to `onError`.
 * - Every `pollMs` the files are reloaded anyway, for filesystems whose events are unreliable
 *   (NFS, some overlay setups) and for files that appeared after the watch began.
 * - Right after the watches start, one reload compares against `initial`, so a change between
 *   the caller's first load and the watch is not lost.
 *
 * Caveats:
 * - **subPath mounts never update.** The Go operator's Helm chart mounts each Secret/ConfigMap
 *   key with `subPath` at `/home/.<provider>/{credentials,locations}`; those files stay as they
 *   were at pod start. For reload, mount whole directories instead: one projected volume per
 *   provider (sources: the `…-credentials` Secret and the `…-locations` ConfigMap) at
 *   `/home/.<provider>`. The kustomize deployment we ship uses such directory mounts.
 * - The set of files is fixed when the watch starts. A file first named by a reload (e.g. a new
 *   `s3.credentialsFile`) is read by every reload, but only polling notices its own changes.
 */
import { dirname, resolve } from "node:path";
import { type Logger, silentLogger } from "../log.ts";
import { configFingerprint } from "./fingerprint.ts";
import type { OperatorConfig } from "./operator_config.ts";

export interface WatchConfigOptions {
  /** Stops watching; `watchConfig` resolves once every watch, timer and reload has ended. */
  signal: AbortSignal;
  /** Called with each configuration that differs from the previous one. */
  onChange(config: OperatorConfig): void | Promise<void>;
  /** Called with each failed reload (the previous configuration stays in use). */
  onError?(error: unknown): void;
  /** Called after each reload that loaded a valid configuration, changed or not. */
  onLoaded?(): void;
  /** The configuration in use; without it the first successful load becomes the baseline. */
  initial?: OperatorConfig;
  log?: Logger;
  /** Quiet time after the last event before reloading (default 500 ms). */
  debounceMs?: number;
  /** Reload this often regardless of events (default 60 s). */
  pollMs?: number;
  /** Directory watcher; replaced in tests to simulate a filesystem without events. */
  watchFs?: (path: string) => Deno.FsWatcher;
}

export const WATCH_DEFAULTS = { debounceMs: 500, pollMs: 60_000 } as const;

/**
 * Watches `files` and reloads with `load` when they change, until `options.signal` aborts.
 * @example
 * ```ts
 * await watchConfig(() => loadConfigFromSources(sources), configFilesOf(sources, config), {
 *   signal, initial: config, log, onChange: (next) => providers.apply(next),
 * });
 * ```
 */
export function watchConfig(
  load: () => Promise<OperatorConfig>,
  files: readonly string[],
  options: WatchConfigOptions,
): Promise<void> {
  return new ConfigWatch(load, files, options).run();
}

class ConfigWatch {
  readonly #load: () => Promise<OperatorConfig>;
  readonly #files: readonly string[];
  readonly #options: WatchConfigOptions;
  readonly #log: Logger;
  readonly #watchers = new Set<Deno.FsWatcher>();
  #baseline: string | undefined;
  #debounce: ReturnType<typeof setTimeout> | undefined;
  #reloading: Promise<void> | undefined;
  #again = false;

  constructor(
    load: () => Promise<OperatorConfig>,
    files: readonly string[],
    options: WatchConfigOptions,
  ) {
    this.#load = load;
    this.#files = files.map((file) => resolve(file));
    this.#options = options;
    this.#log = (options.log ?? silentLogger).with({ component: "config-watch" });
  }

  async run(): Promise<void> {
    const { signal } = this.#options;
    if (signal.aborted) return;
    const byDirectory = new Map<string, Set<string>>();
    for (const file of this.#files) {
      const names = byDirectory.get(dirname(file)) ?? new Set();
      names.add(file.slice(dirname(file).length + 1));
      byDirectory.set(dirname(file), names);
    }
    const loops = [...byDirectory].map(([dir, names]) => this.#watchDirectory(dir, names));
    const poll = setInterval(
      () => this.#reload("poll"),
      this.#options.pollMs ?? WATCH_DEFAULTS.pollMs,
    );
    if (this.#options.initial) this.#baseline = await configFingerprint(this.#options.initial);
    this.#reload("start");

    await new Promise<void>((done) => {
      if (signal.aborted) done();
      else signal.addEventListener("abort", () => done(), { once: true });
    });
    clearInterval(poll);
    clearTimeout(this.#debounce);
    for (const watcher of this.#watchers) closeQuietly(watcher);
    await Promise.all(loops);
    await this.#reloading;
  }

  async #watchDirectory(dir: string, names: Set<string>): Promise<void> {
    const watchFs = this.#options.watchFs ??
      ((path: string) => Deno.watchFs(path, { recursive: false }));
    let watcher: Deno.FsWatcher;
    try {
      watcher = watchFs(dir);
    } catch (error) {
      this.#log.warn("Cannot watch a config directory; relying on polling", {
        directory: dir,
        error,
      });
      return;
    }
    this.#watchers.add(watcher);
    if (this.#options.signal.aborted) closeQuietly(watcher);
    try {
      for await (const event of watcher) {
        if (event.kind === "access") continue;
        // Our files, or the atomic writer's `..data`, `..data_tmp`, `..<timestamp>` entries.
        const relevant = event.paths.some((path) => {
          const name = path.slice(path.lastIndexOf("/") + 1);
          return names.has(name) || name.startsWith("..");
        });
        if (relevant) this.#debounced();
      }
    } catch (error) {
      if (!this.#options.signal.aborted) {
        this.#log.warn("Watching a config directory stopped; relying on polling", {
          directory: dir,
          error,
        });
      }
    } finally {
      closeQuietly(watcher);
      this.#watchers.delete(watcher);
    }
  }

  #debounced(): void {
    if (this.#options.signal.aborted) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(
      () => this.#reload("change"),
      this.#options.debounceMs ?? WATCH_DEFAULTS.debounceMs,
    );
  }

  /** Starts a reload, or marks one to follow the reload in progress. */
  #reload(trigger: string): void {
    if (this.#options.signal.aborted) return;
    if (this.#reloading) {
      this.#again = true;
      return;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#reloadOnce(trigger);
        } while (this.#again && !this.#options.signal.aborted);
      } finally {
        this.#reloading = undefined;
      }
    })();
  }

  async #reloadOnce(trigger: string): Promise<void> {
    const { signal, onChange, onError } = this.#options;
    let config: OperatorConfig;
    try {
      config = await this.#load();
    } catch (error) {
      this.#log.error("Configuration reload failed; keeping the previous configuration", {
        trigger,
        error,
      });
      try {
        onError?.(error);
      } catch (callbackError) {
        this.#log.error("Config onError callback failed", { error: callbackError });
      }
      return;
    }
    try {
      this.#options.onLoaded?.();
    } catch (callbackError) {
      this.#log.error("Config onLoaded callback failed", { error: callbackError });
    }
    const fingerprint = await configFingerprint(config);
    if (signal.aborted) return;
    if (fingerprint === this.#baseline) {
      this.#log.debug("Configuration checked: unchanged", { trigger });
      return;
    }
    const first = this.#baseline === undefined;
    this.#baseline = fingerprint;
    if (first) {
      this.#log.debug("Configuration baseline loaded", { trigger, config: String(config) });
      return;
    }
    this.#log.info("Configuration changed", { trigger, config: String(config) });
    try {
      await onChange(config);
    } catch (error) {
      this.#log.error("Applying the new configuration failed", { error });
    }
  }
}

function closeQuietly(watcher: Deno.FsWatcher): void {
  try {
    watcher.close();
  } catch {
    // Already closed: the loop ended on its own.
  }
}
