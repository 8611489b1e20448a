/**
 * The fake's task lifecycle. A task is `running` from its UPID's birth until its work and its
 * configured duration are both over; then `stopped` with `exitstatus` `OK` or the error text.
 * Logs end with `TASK OK` or `TASK ERROR: <msg>` as real task logs do.
 *
 * Injected failures (`Faults.failTask`) pick tasks by type; `when: "before"` fails without any
 * effect, `when: "after"` applies the effect first (a qmcreate that leaves its VM behind, an
 * import that leaves the disk) — the adversarial cases a client's rollback must survive.
 */

export type TaskType = "qmcreate" | "qmconfig" | "qmtemplate" | "qmdestroy" | "download" | "imgdel";

export interface FakeTask {
  upid: string;
  node: string;
  type: TaskType;
  id: string;
  user: string;
  pid: number;
  pstart: number;
  starttime: number;
  status: "running" | "stopped";
  exitstatus?: string;
  log: string[];
}

export interface TaskFault {
  type: TaskType;
  message: string;
  when: "before" | "after";
  times: number;
}

/** Work of one task; throw to fail it (the message's first line becomes the exit status). */
export type TaskWork = (log: (line: string) => void) => Promise<void> | void;

export interface TaskSpec {
  work: TaskWork;
  /** Undoes what the request did before the task (a new VM's config) when the work fails. */
  rollback?: () => void;
}

export class TaskRunner {
  readonly tasks = new Map<string, FakeTask>();
  readonly faults: TaskFault[] = [];
  #duration: (type: TaskType) => number;
  #pending = new Set<Promise<void>>();
  /** Types whose tasks wait (after their duration, before their work) until released. */
  #held = new Map<TaskType, { promise: Promise<void>; release: () => void }>();
  #timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  #pid = 0x3b4a2;

  constructor(duration: (type: TaskType) => number) {
    this.#duration = duration;
  }

  set duration(fn: (type: TaskType) => number) {
    this.#duration = fn;
  }

  /** Starts a task and returns its UPID at once. */
  start(node: string, type: TaskType, id: string, user: string, spec: TaskSpec): string {
    const pid = this.#pid++;
    const starttime = Math.floor(Date.now() / 1000);
    const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, "0");
    const upid = `UPID:${node}:${hex(pid)}:${hex(0x1c8e4f2 + pid)}:${
      hex(starttime)
    }:${type}:${id}:${user}:`;
    const task: FakeTask = {
      upid,
      node,
      type,
      id,
      user,
      pid,
      pstart: 0x1c8e4f2 + pid,
      starttime,
      status: "running",
      log: [],
    };
    this.tasks.set(upid, task);
    const fault = this.#takeFault(type);
    const log = (line: string) => task.log.push(line);
    const run = async () => {
      try {
        await this.#sleep(this.#duration(type));
        await this.#held.get(type)?.promise;
        try {
          if (fault?.when === "before") throw new Error(fault.message);
          await spec.work(log);
        } catch (error) {
          spec.rollback?.();
          throw error;
        }
        if (fault?.when === "after") throw new Error(fault.message);
        task.exitstatus = "OK";
        log("TASK OK");
      } catch (error) {
        const message = (error as Error).message.split("\n")[0];
        task.exitstatus = message;
        log(`TASK ERROR: ${message}`);
      } finally {
        task.status = "stopped";
      }
    };
    const promise = run();
    this.#pending.add(promise);
    promise.finally(() => this.#pending.delete(promise));
    return upid;
  }

  /**
   * Tasks of `type` started from now on stay `running` (their work not done) until the returned
   * function is called; tests use it to stop several creates at the same step.
   */
  hold(type: TaskType): () => void {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => release = resolve);
    const entry = { promise, release: () => {} };
    entry.release = () => {
      if (this.#held.get(type) === entry) this.#held.delete(type);
      release();
    };
    this.#held.set(type, entry);
    return entry.release;
  }

  /** Resolves when every running task has stopped (timers are cut short, holds released). */
  async drain(): Promise<void> {
    for (const { release } of [...this.#held.values()]) release();
    for (const [id, resolve] of this.#timers) {
      clearTimeout(id);
      resolve();
    }
    this.#timers.clear();
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  #takeFault(type: TaskType): TaskFault | undefined {
    const index = this.faults.findIndex((f) => f.type === type && f.times > 0);
    if (index < 0) return undefined;
    const fault = this.faults[index];
    if (--fault.times === 0) this.faults.splice(index, 1);
    return fault;
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const id = setTimeout(() => {
        this.#timers.delete(id);
        resolve();
      }, ms);
      this.#timers.set(id, resolve);
    });
  }
}
