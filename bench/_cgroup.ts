/**
 * A memory cgroup for the memory bench's operator, so it is measured the way a pod's limit sees
 * it: the kubelet and the OOM killer act on the container's cgroup, not on RSS. Its usage counts
 * page cache the process faulted in (reclaimed before an OOM kill); the "working set" (usage −
 * inactive file pages) is what `kubectl top` shows and eviction uses.
 *
 * cgroup v2 when `/sys/fs/cgroup/cgroup.controllers` lists `memory`, else the v1 memory
 * controller at `/sys/fs/cgroup/memory`. The process enters the cgroup from exec (`wrap`), so
 * everything it ever allocates is charged there.
 */

const V2_ROOT = "/sys/fs/cgroup";
const V1_ROOT = "/sys/fs/cgroup/memory";

/** The figures of one phase. */
export interface CgroupPhase {
  /** Highest usage in the phase (v1: since the last reset; v2 without reset: since start). */
  peak: number;
  /** Usage − inactive file pages when the phase ended. */
  workingSet: number;
  /** Highest working set sampled (every 200 ms) during the phase. */
  maxWorkingSet: number;
  /** OOM kills in the cgroup so far. */
  oomKills: number;
  /**
   * Bytes of file pages read again soon after the limit pushed them out, in the phase: a
   * process whose code does not fit beside its heap thrashes instead of being OOM-killed.
   */
  refaulted: number;
}

export interface MemoryCgroup {
  version: "v1" | "v2";
  /** Bytes; 0 for no limit. */
  limit: number;
  /** Command and args that exec `argv` inside this cgroup. */
  wrap(argv: string[]): { command: string; args: string[] };
  /** Resets the peak and samples the working set until `end`. */
  phase(): { end(): CgroupPhase };
  oomKills(): number;
  remove(): Promise<void>;
}

/** A fresh cgroup with `limit` bytes (0: none), or why there can be none here. */
export async function memoryCgroup(limit: number): Promise<MemoryCgroup | string> {
  const name = `ido-memory-bench-${Deno.pid}`;
  if (controllers()?.includes("memory")) return await v2(`${V2_ROOT}/${name}`, limit);
  try {
    await Deno.stat(`${V1_ROOT}/memory.limit_in_bytes`);
  } catch {
    return "no memory cgroup controller here (neither v2 with memory nor v1 at /sys/fs/cgroup/memory)";
  }
  return await v1(`${V1_ROOT}/${name}`, limit);
}

function controllers(): string[] | undefined {
  try {
    return Deno.readTextFileSync(`${V2_ROOT}/cgroup.controllers`).trim().split(/\s+/);
  } catch {
    return undefined;
  }
}

async function v1(path: string, limit: number): Promise<MemoryCgroup | string> {
  try {
    await Deno.mkdir(path);
    if (limit) await Deno.writeTextFile(`${path}/memory.limit_in_bytes`, String(limit));
  } catch (error) {
    await Deno.remove(path).catch(() => {});
    return `cannot create a v1 memory cgroup at ${path}: ${(error as Error).message}`;
  }
  return cgroup("v1", path, limit, {
    usage: () => readNumber(`${path}/memory.usage_in_bytes`),
    // The kubelet's working set on v1: usage − total_inactive_file.
    inactiveFile: () => statField(`${path}/memory.stat`, "total_inactive_file"),
    peak: () => readNumber(`${path}/memory.max_usage_in_bytes`),
    // Writing 0 resets max_usage_in_bytes to the current usage.
    resetPeak: () => Deno.writeTextFileSync(`${path}/memory.max_usage_in_bytes`, "0"),
    oomKills: () => statField(`${path}/memory.oom_control`, "oom_kill"),
    refaults: () => statField(`${path}/memory.stat`, "total_workingset_refault_file"),
  });
}

async function v2(path: string, limit: number): Promise<MemoryCgroup | string> {
  try {
    const enabled = Deno.readTextFileSync(`${V2_ROOT}/cgroup.subtree_control`);
    if (!enabled.split(/\s+/).includes("memory")) {
      await Deno.writeTextFile(`${V2_ROOT}/cgroup.subtree_control`, "+memory");
    }
    await Deno.mkdir(path);
    await Deno.writeTextFile(`${path}/memory.max`, limit ? String(limit) : "max");
    await Deno.stat(`${path}/memory.peak`);
  } catch (error) {
    await Deno.remove(path).catch(() => {});
    return `cannot create a v2 memory cgroup at ${path}: ${(error as Error).message}`;
  }
  return cgroup("v2", path, limit, {
    usage: () => readNumber(`${path}/memory.current`),
    inactiveFile: () => statField(`${path}/memory.stat`, "inactive_file"),
    peak: () => readNumber(`${path}/memory.peak`),
    // Kernels ≥ 6.12 reset memory.peak for the writing file descriptor only; the figure read
    // through a new one stays the peak since the cgroup was created.
    resetPeak: () => {},
    oomKills: () => statField(`${path}/memory.events`, "oom_kill"),
    refaults: () => statField(`${path}/memory.stat`, "workingset_refault_file"),
  });
}

interface Files {
  usage(): number;
  inactiveFile(): number;
  peak(): number;
  resetPeak(): void;
  oomKills(): number;
  /** Pages. */
  refaults(): number;
}

function cgroup(
  version: "v1" | "v2",
  path: string,
  limit: number,
  files: Files,
): MemoryCgroup {
  const workingSet = () => Math.max(0, files.usage() - files.inactiveFile());
  return {
    version,
    limit,
    wrap(argv) {
      // `$$` is the shell, which the exec turns into the command: it is in the cgroup first.
      return {
        command: "/bin/sh",
        args: ["-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', path, ...argv],
      };
    },
    phase() {
      files.resetPeak();
      let max = workingSet();
      const refaults = files.refaults();
      const timer = setInterval(() => {
        try {
          max = Math.max(max, workingSet());
        } catch { /* removed */ }
      }, 200);
      return {
        end() {
          clearInterval(timer);
          const now = workingSet();
          return {
            peak: files.peak(),
            workingSet: now,
            maxWorkingSet: Math.max(max, now),
            oomKills: files.oomKills(),
            refaulted: (files.refaults() - refaults) * 4096,
          };
        },
      };
    },
    oomKills: () => files.oomKills(),
    async remove() {
      // A cgroup can be removed once no process is left in it; the killed or stopped operator
      // may take a moment to leave.
      for (let attempt = 0;; attempt++) {
        try {
          await Deno.remove(path);
          return;
        } catch (error) {
          if (attempt >= 50) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    },
  };
}

function readNumber(file: string): number {
  return Number(Deno.readTextFileSync(file).trim());
}

function statField(file: string, field: string): number {
  const match = new RegExp(`^${field} (\\d+)$`, "m").exec(Deno.readTextFileSync(file));
  return Number(match?.[1] ?? 0);
}

/**
 * A copy of `file` in `dir` with none of its pages in the page cache, or why not. A page cache
 * page is charged to the cgroup that first reads it: the Deno binary this machine already runs
 * is cached and charged elsewhere, while a fresh pod faults its image's binary in itself (about
 * 50 MiB of the operator's RSS, counted in its working set while active). `dd` with O_DIRECT
 * writes around the page cache.
 */
export async function uncachedCopy(file: string, dir: string): Promise<string> {
  const copy = `${dir}/${file.split("/").pop()}`;
  const { success, stderr } = await new Deno.Command("dd", {
    args: [`if=${file}`, `of=${copy}`, "bs=64k", "oflag=direct", "status=none"],
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`dd could not copy ${file}: ${new TextDecoder().decode(stderr)}`);
  await Deno.chmod(copy, 0o755);
  return copy;
}
