/**
 * The vSphere simulator for tests, the bench and the demo: `tools/vcsim.sh` builds our vcsim and
 * govc (govmomi v0.56.0, cached under the user's cache dir), `startVcsim` runs vcsim as its own
 * process on 127.0.0.1 and a free port, and `govc` looks at it independently of our client.
 *
 * Use one simulator per test file or case: check `vcsimUnavailable()` at module load to ignore
 * the tests when it cannot be built (the reason is printed; tests are never passed silently).
 *
 * @example
 * ```ts
 * const sim = await startVcsim({ password: "p@ss" });
 * console.log(sim.url, await sim.govc("ls", "/DC0/vm"));
 * await sim.stop();
 * ```
 */
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("../../tools/vcsim.sh", import.meta.url));

let built: Promise<string> | undefined;

/** Builds (or finds in the cache) vcsim and govc; resolves to their `bin` directory. */
export function vcsimBinaries(): Promise<string> {
  built ??= (async () => {
    const output = await new Deno.Command("bash", {
      args: [SCRIPT],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes).trim();
    if (!output.success) {
      throw new Error(
        `tools/vcsim.sh failed: ${text(output.stderr).split("\n").slice(-3).join(" ")}`,
      );
    }
    return `${text(output.stdout).split("\n").pop()}/bin`;
  })();
  return built;
}

/** Undefined when vcsim can run here, else the reason (also printed once). */
export async function vcsimUnavailable(): Promise<string | undefined> {
  try {
    await vcsimBinaries();
    return undefined;
  } catch (error) {
    const reason = `vSphere simulator tests ignored: ${(error as Error).message}`;
    console.error(reason);
    return reason;
  }
}

export interface VcsimOptions {
  username?: string;
  password?: string;
  /** Datacenters (each with one cluster of `hosts` hosts), default 1. */
  datacenters?: number;
  hosts?: number;
  /** Serve with this certificate instead of vcsim's own. */
  tls?: { certPath: string; keyPath: string; caPath: string };
  /** VMs vcsim creates in each resource pool at start, default 0 (slow: ~25 ms each). */
  vms?: number;
  /** How long vcsim may take to start, default 30 s. */
  startTimeoutMs?: number;
  /** Log every SOAP exchange to the test's stderr. */
  trace?: boolean;
}

/** A running vcsim. */
export interface Vcsim {
  /** `host:port`, as the `vcenter` credential. */
  host: string;
  /** `https://host:port/sdk` without credentials. */
  url: string;
  username: string;
  password: string;
  pid: number;
  /** Runs govc against this simulator; rejects with its stderr on failure. */
  govc(...args: string[]): Promise<string>;
  /** govc's JSON output of `args` (adds `-json`). */
  govcJson<T = unknown>(...args: string[]): Promise<T>;
  stop(): Promise<void>;
}

/** Starts vcsim and waits for its URL line. */
export async function startVcsim(options: VcsimOptions = {}): Promise<Vcsim> {
  const bin = await vcsimBinaries();
  const username = options.username ?? "user";
  const password = options.password ?? "pass";
  const args = [
    "-l",
    "127.0.0.1:0",
    "-username",
    username,
    "-password",
    password,
    "-dc",
    String(options.datacenters ?? 1),
    "-host",
    String(options.hosts ?? 3),
  ];
  if (options.tls) args.push("-tlscert", options.tls.certPath, "-tlskey", options.tls.keyPath);
  if (options.trace) args.push("-trace");
  if (options.vms) args.push("-vm", String(options.vms));
  const tmp = await Deno.makeTempDir({ prefix: "vcsim-" });
  const child = new Deno.Command(`${bin}/vcsim`, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: options.trace ? "inherit" : "null",
    env: { TMPDIR: tmp },
  }).spawn();
  const stdin = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), options.startTimeoutMs ?? 30_000);
  try {
    while (!seen.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`vcsim exited before printing its URL: ${seen}`);
      seen += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  // Keep draining stdout so the process never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  const match = /VCSIM_URL=(\S+) PID=(\d+)/.exec(seen);
  if (!match) throw new Error(`vcsim printed no URL: ${seen}`);
  const printed = new URL(match[1]);
  const host = printed.host;
  const url = `https://${host}/sdk`;
  const env = {
    GOVC_URL: url,
    GOVC_USERNAME: username,
    GOVC_PASSWORD: password,
    ...(options.tls ? { GOVC_TLS_CA_CERTS: options.tls.caPath } : { GOVC_INSECURE: "1" }),
    GOVMOMI_HOME: tmp,
  };
  const govc = async (...govcArgs: string[]) => {
    const out = await new Deno.Command(`${bin}/govc`, {
      args: govcArgs,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();
    if (!out.success) throw new Error(`govc ${govcArgs.join(" ")}: ${text(out.stderr)}`);
    return text(out.stdout);
  };
  let stopped = false;
  return {
    host,
    url,
    username,
    password,
    pid: child.pid,
    govc,
    govcJson: async <T>(...govcArgs: string[]) =>
      JSON.parse(await govc(govcArgs[0], "-json", ...govcArgs.slice(1))) as T,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stdin.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child.status;
      clearTimeout(timer);
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    },
  };
}
