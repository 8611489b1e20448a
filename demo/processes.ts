/**
 * Each service of the demo runs as its own process, in its own process group, with its output
 * in a log file. They die with the demo whatever way it ends:
 * - a clean end or Ctrl-C: `stop()` sends SIGTERM to the group, SIGKILL after a grace period;
 * - the demo killed outright (SIGKILL, a crash): a watchdog in each group holds a pipe whose only
 *   writer is the demo; when the demo is gone the pipe closes and the watchdog kills the group.
 *   The service gets the same pipe as stdin, so one that stops when stdin closes (vcsim) stops
 *   by itself too.
 */

const WATCHDOG = `
exec 3<&0
( cat <&3 >/dev/null; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &
exec "$@" <&3 3<&- >>"$0" 2>&1
`;

export class ServiceProcess {
  readonly name: string;
  readonly logPath: string;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #status?: Deno.CommandStatus;
  readonly exited: Promise<Deno.CommandStatus>;

  private constructor(name: string, logPath: string, child: Deno.ChildProcess) {
    this.name = name;
    this.logPath = logPath;
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.exited = child.status.then((status) => this.#status = status);
  }

  /** Starts `command args…`, output appended to `logPath`. */
  static spawn(
    name: string,
    command: string,
    args: string[],
    options: { logPath: string; env?: Record<string, string> },
  ): ServiceProcess {
    const child = new Deno.Command("bash", {
      args: ["-c", WATCHDOG, options.logPath, command, ...args],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
      detached: true,
      env: options.env,
    }).spawn();
    return new ServiceProcess(name, options.logPath, child);
  }

  /** Set once the process has ended. */
  get exitStatus(): Deno.CommandStatus | undefined {
    return this.#status;
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** The log so far ("" before the first line). */
  log(): string {
    try {
      return Deno.readTextFileSync(this.logPath);
    } catch {
      return "";
    }
  }

  /** The last lines of the log, for error messages. */
  logTail(lines = 8): string {
    return this.log().trimEnd().split("\n").slice(-lines).join("\n");
  }

  /**
   * Waits for a log line matching `pattern` and returns its match; rejects when the process
   * exits first, or when `signal` aborts (the demo's deadline), naming the service and its log.
   * A process that never got ready is stopped before the rejection.
   */
  async waitFor(pattern: RegExp, signal: AbortSignal): Promise<RegExpMatchArray> {
    try {
      return await this.#waitFor(pattern, signal);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async #waitFor(pattern: RegExp, signal: AbortSignal): Promise<RegExpMatchArray> {
    while (true) {
      const match = this.log().match(pattern);
      if (match) return match;
      if (this.#status) {
        throw new Error(
          `${this.name} exited with code ${this.#status.code} before it was ready; its log ` +
            `(${this.logPath}) ends:\n${this.logTail()}`,
        );
      }
      if (signal.aborted) {
        throw new Error(`${signal.reason?.message ?? "stopped"} before ${this.name} was ready`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once it has ended. */
  async stop(graceMs = 8_000): Promise<void> {
    if (!this.#status) {
      this.#signal("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.exited,
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            this.#signal("SIGKILL");
            resolve();
          }, graceMs);
        }),
      ]);
      clearTimeout(timer);
      await this.exited;
    }
    // The watchdog may still hold the pipe: closing it ends the rest of the group.
    await this.#stdin.close().catch(() => {});
    this.#signal("SIGKILL");
  }

  #signal(signal: Deno.Signal): void {
    try {
      Deno.kill(-this.#child.pid, signal);
    } catch {
      // the group is gone
    }
  }
}
