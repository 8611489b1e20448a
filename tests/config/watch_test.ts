import assert from "node:assert/strict";
import {
  ConfigError,
  type ConfigSources,
  loadConfigFromSources,
  type OperatorConfig,
  watchConfig,
  type WatchConfigOptions,
} from "../../lib/config/mod.ts";
import { Logger } from "../../lib/log.ts";
import { capvOf, PROVIDER_MODULES } from "../support/provider_configs.ts";

const LOCATIONS = "location1: {datacenter: dc, datastore: ds, folder: /dc/vm, cluster: c}\n";
const credentials = (password: string) => `vcenter: vc\nusername: u\npassword: ${password}\n`;

/** Items pushed by callbacks, and promises for the moment a condition on them holds. */
class Inbox<T> {
  readonly items: T[] = [];
  #waiters: { ready: () => boolean; resolve: () => void }[] = [];

  push(item: T): void {
    this.items.push(item);
    this.#waiters = this.#waiters.filter((w) => (w.ready() ? (w.resolve(), false) : true));
  }

  /** Resolves once `ready()` holds. The timer is only a fail-safe against a hung test. */
  until(ready: (items: T[]) => boolean, what: string): Promise<void> {
    if (ready(this.items)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Gave up waiting for ${what}`)), 10_000);
      this.#waiters.push({
        ready: () => ready(this.items),
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

type LogLine = { level: string; msg: string; trigger?: string; error?: string };

/** A running watch over a temporary directory, with everything it reported. */
class Harness {
  readonly changes = new Inbox<OperatorConfig>();
  readonly errors = new Inbox<unknown>();
  readonly logs = new Inbox<LogLine>();
  readonly #stop = new AbortController();
  done: Promise<void> = Promise.resolve();

  constructor(readonly dir: string, readonly sources: ConfigSources) {}

  load = () => loadConfigFromSources(this.sources, { modules: PROVIDER_MODULES });

  async start(options: Partial<WatchConfigOptions> = {}): Promise<void> {
    const initial = await this.load();
    const log = new Logger({
      level: "debug",
      sink: (line) => this.logs.push(JSON.parse(line)),
    });
    this.done = watchConfig(
      this.load,
      [String(this.sources.providerFlags!["vsphere-credentials"])],
      {
        signal: this.#stop.signal,
        initial,
        log,
        debounceMs: 20,
        pollMs: 3_600_000,
        onChange: (config) => this.changes.push(config),
        onError: (error) => this.errors.push(error),
        ...options,
      },
    );
    // The first check runs once the directory watches are in place.
    await this.logs.until(
      (lines) => lines.some((l) => l.trigger === "start"),
      "the first check",
    );
  }

  /** Waits until a reload with this trigger found the config unchanged. */
  checked(trigger: string): Promise<void> {
    return this.logs.until(
      (lines) =>
        lines.some((l) => l.msg === "Configuration checked: unchanged" && l.trigger === trigger),
      `an unchanged check (${trigger})`,
    );
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.done;
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** Plain files in one directory, as a values.yaml or a hostPath mount would be. */
async function plainFiles(): Promise<Harness> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/credentials`, credentials("first"));
  await Deno.writeTextFile(`${dir}/locations`, LOCATIONS);
  return new Harness(dir, {
    providerFlags: {
      "enable-vsphere": true,
      "vsphere-credentials": `${dir}/credentials`,
      "vsphere-locations": `${dir}/locations`,
    },
  });
}

/**
 * Writes `files` the way kubelet's atomic writer updates a Secret or ConfigMap volume: a new
 * `..<generation>` directory, a `..data_tmp` symlink to it renamed over `..data`, and per-key
 * symlinks `<key> -> ..data/<key>` that never change themselves.
 */
async function atomicWrite(
  dir: string,
  generation: string,
  files: Record<string, string>,
  previous?: string,
): Promise<void> {
  await Deno.mkdir(`${dir}/..${generation}`);
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/..${generation}/${name}`, text);
  }
  await Deno.symlink(`..${generation}`, `${dir}/..data_tmp`);
  await Deno.rename(`${dir}/..data_tmp`, `${dir}/..data`);
  for (const name of Object.keys(files)) {
    await Deno.symlink(`..data/${name}`, `${dir}/${name}`).catch((error) => {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    });
  }
  if (previous) await Deno.remove(`${dir}/..${previous}`, { recursive: true });
}

Deno.test("a changed credentials file reaches onChange with the new value", async () => {
  const h = await plainFiles();
  try {
    await h.start();
    await Deno.writeTextFile(`${h.dir}/credentials`, credentials("second"));
    await h.changes.until(
      (configs) => configs.some((c) => capvOf(c)!.credentials.password.reveal() === "second"),
      "the new password",
    );
    const last = h.changes.items.at(-1)!;
    assert.equal(capvOf(last)!.credentials.password.reveal(), "second");
    assert.ok(h.logs.items.some((l) => l.msg === "Configuration changed"));
  } finally {
    await h.stop();
  }
});

Deno.test("a Kubernetes ..data symlink swap is detected", async () => {
  const dir = await Deno.makeTempDir();
  await atomicWrite(dir, "gen1", { credentials: credentials("first"), locations: LOCATIONS });
  const h = new Harness(dir, {
    providerFlags: {
      "enable-vsphere": true,
      "vsphere-credentials": `${dir}/credentials`,
      "vsphere-locations": `${dir}/locations`,
    },
  });
  try {
    await h.start();
    await atomicWrite(
      dir,
      "gen2",
      { credentials: credentials("rotated"), locations: LOCATIONS },
      "gen1",
    );
    await h.changes.until((configs) => configs.length > 0, "a change after the swap");
    assert.equal(capvOf(h.changes.items[0])!.credentials.password.reveal(), "rotated");
    assert.equal(h.errors.items.length, 0, "the swap is atomic: no half-written state is seen");
  } finally {
    await h.stop();
  }
});

Deno.test("invalid new content keeps the previous config and reports the error", async () => {
  const h = await plainFiles();
  try {
    await h.start();
    await Deno.writeTextFile(`${h.dir}/credentials`, "vcenter: vc\nusername: u\n");
    await h.errors.until((errors) => errors.length > 0, "the reload error");
    const error = h.errors.items[0];
    assert.ok(error instanceof ConfigError);
    assert.equal(error.file, `${h.dir}/credentials`);
    assert.equal(error.field, "password");
    const logged = h.logs.items.find((l) => l.level === "error")!;
    assert.match(logged.msg, /keeping the previous configuration/);
    assert.match(logged.error!, new RegExp(`"${h.dir}/credentials": password: required`));

    // Putting the old content back is no change: the previous config stayed in force.
    await Deno.writeTextFile(`${h.dir}/credentials`, credentials("first"));
    await h.checked("change");
    assert.equal(h.changes.items.length, 0);
  } finally {
    await h.stop();
  }
});

Deno.test("an identical rewrite calls no onChange", async () => {
  const h = await plainFiles();
  try {
    await h.start();
    await Deno.writeTextFile(`${h.dir}/credentials`, credentials("first"));
    await h.checked("change");
    assert.equal(h.changes.items.length, 0);
    assert.equal(h.errors.items.length, 0);
  } finally {
    await h.stop();
  }
});

Deno.test("a change before the watch started is caught by its first check", async () => {
  const h = await plainFiles();
  try {
    // `start` loads `initial` first; the file changes before the watch is running.
    const initial = await h.load();
    await Deno.writeTextFile(`${h.dir}/credentials`, credentials("meanwhile"));
    await h.start({ initial });
    await h.changes.until((configs) => configs.length > 0, "the change");
    assert.equal(capvOf(h.changes.items[0])!.credentials.password.reveal(), "meanwhile");
  } finally {
    await h.stop();
  }
});

Deno.test("polling finds a change when the filesystem sends no events", async () => {
  const h = await plainFiles();
  const silent = new SilentWatcher();
  try {
    await h.start({ watchFs: () => silent, pollMs: 20 });
    await Deno.writeTextFile(`${h.dir}/credentials`, credentials("polled"));
    await h.changes.until((configs) => configs.length > 0, "the polled change");
    assert.equal(capvOf(h.changes.items[0])!.credentials.password.reveal(), "polled");
    assert.ok(h.logs.items.some((l) => l.msg === "Configuration changed" && l.trigger === "poll"));
  } finally {
    await h.stop();
  }
  assert.equal(silent.closed, true, "the watcher is closed on abort");
});

Deno.test("an unwatchable directory leaves polling in charge", async () => {
  const h = await plainFiles();
  try {
    await h.start({
      watchFs: () => {
        throw new Deno.errors.NotFound("no such directory");
      },
      pollMs: 20,
    });
    assert.ok(h.logs.items.some((l) => l.level === "warn" && /relying on polling/.test(l.msg)));
    await Deno.writeTextFile(`${h.dir}/credentials`, credentials("polled"));
    await h.changes.until((configs) => configs.length > 0, "the polled change");
  } finally {
    await h.stop();
  }
});

Deno.test("abort stops the watch: it resolves and nothing runs afterwards", async () => {
  const h = await plainFiles();
  await h.start();
  const dir = h.dir;
  await h.stop(); // resolves only after watches, timers and reloads ended (sanitizers check)
  assert.equal(h.changes.items.length, 0);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("an already aborted signal returns at once without loading", async () => {
  let loads = 0;
  await watchConfig(
    () => {
      loads++;
      return Promise.reject(new Error("not expected"));
    },
    ["/nonexistent/values.yaml"],
    {
      signal: AbortSignal.abort(),
      onChange: () => assert.fail("no change expected"),
    },
  );
  assert.equal(loads, 0);
});

/** A watcher that never reports anything, as on a filesystem without inotify. */
class SilentWatcher implements Deno.FsWatcher {
  closed = false;
  #wake: (() => void) | undefined;

  close(): void {
    this.closed = true;
    this.#wake?.();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterableIterator<Deno.FsEvent> {
    if (!this.closed) await new Promise<void>((resolve) => (this.#wake = resolve));
    yield* []; // ends without an event once closed
  }
}
