/**
 * Finds etcd and kube-apiserver through `tools/kube-apiserver.sh`, which builds them from Go
 * modules on first use (minutes) and answers from its cache afterwards (milliseconds).
 *
 * `realApiServerUnavailable()` is what test files call at load time to decide `ignore`: it
 * returns a reason only when something the machine lacks makes a real server impossible (no Go
 * toolchain and nothing cached, no openssl, no kubectl to render deploy/). A build that fails
 * for another reason is not a reason to skip: the tests run and fail with the build's error.
 */
import { opensslAvailable } from "../support/tls.ts";

const SCRIPT = new URL("../../tools/kube-apiserver.sh", import.meta.url).pathname;
/** The script's exit status for "no Go toolchain". */
const NO_GO = 3;

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
}

type Lookup = { binaries: Binaries } | { unavailable: string } | { failed: Error };

let lookup: Promise<Lookup> | undefined;

function commandWorks(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

async function find(): Promise<Lookup> {
  try {
    return await build();
  } catch (error) {
    return { failed: error as Error };
  }
}

async function build(): Promise<Lookup> {
  if (!opensslAvailable()) {
    return { unavailable: "the openssl CLI is missing (serving certificates are made with it)" };
  }
  if (!commandWorks("kubectl", ["version", "--client"])) {
    return { unavailable: "kubectl is missing (deploy/ RBAC is rendered with kubectl kustomize)" };
  }
  const output = await new Deno.Command("bash", {
    args: [SCRIPT, "--quiet"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr).trim();
  if (output.code === NO_GO) return { unavailable: stderr.replace(/^kube-apiserver\.sh: /, "") };
  if (!output.success) {
    throw new Error(`tools/kube-apiserver.sh failed (exit ${output.code}):\n${stderr}`);
  }
  const paths = Object.fromEntries(
    new TextDecoder().decode(output.stdout).trim().split("\n").map((line) => {
      const at = line.indexOf("=");
      return [line.slice(0, at), line.slice(at + 1)];
    }),
  );
  if (!paths.etcd || !paths["kube-apiserver"]) {
    throw new Error(`tools/kube-apiserver.sh printed no paths: ${JSON.stringify(paths)}`);
  }
  return { binaries: { etcd: paths.etcd, kubeApiserver: paths["kube-apiserver"] } };
}

/** The binaries, building them if needed. Throws when the build fails or cannot run here. */
export async function realApiServerBinaries(): Promise<Binaries> {
  const found = await (lookup ??= find());
  if ("unavailable" in found) {
    throw new Error(`A real API server cannot run here: ${found.unavailable}`);
  }
  if ("failed" in found) throw found.failed;
  return found.binaries;
}

/**
 * Undefined when a real API server can run here (building the binaries now if needed), else
 * why not, printed once per test file so the ignored tests say why.
 */
export async function realApiServerUnavailable(): Promise<string | undefined> {
  const found = await (lookup ??= find());
  if (!("unavailable" in found)) return undefined;
  const reason = `real API server tests ignored: ${found.unavailable}`;
  console.error(reason);
  return reason;
}
