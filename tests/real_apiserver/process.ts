/**
 * A server process (etcd, kube-apiserver) that cannot outlive the test process.
 *
 * Guarantees:
 * - The process runs in its own process group (`detached`), so `stop()` and `killNow()` reach it
 *   and anything it forks.
 * - A watchdog in that group holds the read end of a pipe whose only writer is this Deno process:
 *   when Deno exits for any reason (a failed test, an uncaught error, SIGKILL from CI's guard),
 *   the pipe closes and the watchdog kills the group. No orphan survives a crashed test run.
 * - Output goes to a log file; `logTail()` returns its end for error messages.
 *
 * Caveats: holding a child process and a pipe, a test that starts one trips Deno's resource and
 * op sanitizers; tests sharing a server turn those off (see tests/support/api_servers.ts).
 */

/**
 * Run by bash: `$0` is the log file, `$@` the command. fd 3 keeps the pipe from Deno; the
 * watchdog subshell reads it until EOF and then kills the whole group (`kill 0`). The server
 * itself replaces this shell (`exec`), so its pid is the child's pid.
 */
const WATCHDOG = `
exec 3<&0
( cat <&3 >/dev/null; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &
exec "$@" <&- 3<&- >>"$0" 2>&1
`;

export class ServerProcess {
  readonly name: string;
  readonly logPath: string;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #exited?: Deno.CommandStatus;
  readonly exited: Promise<Deno.CommandStatus>;

  private constructor(name: string, logPath: string, child: Deno.ChildProcess) {
    this.name = name;
    this.logPath = logPath;
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.exited = child.status.then((status) => this.#exited = status);
  }

  /** Starts `command args…` with output appended to `logPath`. */
  static spawn(name: string, command: string, args: string[], logPath: string): ServerProcess {
    const child = new Deno.Command("bash", {
      args: ["-c", WATCHDOG, logPath, command, ...args],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
      detached: true,
    }).spawn();
    return new ServerProcess(name, logPath, child);
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Set once the process has ended. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#exited;
  }

  /** The last `lines` lines of the log, for error messages. */
  logTail(lines = 30): string {
    try {
      return Deno.readTextFileSync(this.logPath).trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves when the process has ended. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.#exited) {
      this.#signalGroup("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.#signalGroup("SIGKILL");
          resolve();
        }, graceMs);
      });
      await Promise.race([this.exited, killed]);
      clearTimeout(timer);
      await this.exited;
    }
    // The watchdog is still waiting on the pipe: closing it ends it.
    await this.#stdin.close().catch(() => {});
    this.#signalGroup("SIGKILL");
  }

  /** Synchronous SIGKILL of the group, for `unload` handlers that cannot await. */
  killNow(): void {
    this.#signalGroup("SIGKILL");
  }

  #signalGroup(signal: Deno.Signal): void {
    try {
      Deno.kill(-this.#child.pid, signal);
    } catch {
      // the group is already gone
    }
  }
}
