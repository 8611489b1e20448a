/**
 * Where the demo's output goes. On a terminal a block of progress lines is redrawn in place
 * (cursor up, clear, rewrite); without one (CI, a pipe) each line is printed once when it first
 * appears or changes state, so logs stay readable and short.
 */

export interface Display {
  /** A line that stays (a step, a result). */
  say(line: string): void;
  /** The current progress block; replaces the previous one. */
  progress(lines: readonly string[]): void;
  /** Ends the progress block so later lines go below it. */
  endProgress(): void;
}

const encoder = new TextEncoder();

/** Redraws in place with ANSI escapes. */
export function terminalDisplay(
  write = (text: string) => Deno.stdout.writeSync(encoder.encode(text)),
): Display {
  let drawn = 0;
  const clear = () => {
    if (drawn > 0) write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
  };
  return {
    say(line) {
      clear();
      write(line + "\n");
    },
    progress(lines) {
      clear();
      // A line wider than the terminal wraps and breaks the cursor-up count: cut it instead.
      let columns = 0;
      try {
        columns = Deno.consoleSize().columns;
      } catch {
        // not a console after all
      }
      const width = columns >= 40 ? columns - 1 : 160;
      for (const line of lines) write(line.slice(0, width) + "\n");
      drawn = lines.length;
    },
    endProgress() {
      drawn = 0;
    },
  };
}

/**
 * Prints a progress line when its key (the text before the state column, i.e. image and
 * location) shows a new state, or its bytes cross another quarter of the total.
 */
export function plainDisplay(print = (line: string) => console.log(line)): Display {
  const seen = new Map<string, string>();
  return {
    say: print,
    progress(lines) {
      for (const line of lines) {
        const { key, stage } = stageOf(line);
        if (seen.get(key) === stage) continue;
        seen.set(key, stage);
        print(line);
      }
    },
    endProgress() {
      seen.clear();
    },
  };
}

/**
 * Splits a formatted progress line into its identity (image and location) and its stage (state,
 * plus the quarter reached while uploading): `formatRow`'s first two columns, then the rest.
 */
export function stageOf(line: string): { key: string; stage: string } {
  const parts = line.split(/\s{2,}/);
  const key = parts.slice(0, 2).join(" ");
  const state = parts[2] ?? "";
  const bytes = /^([\d.]+) (\w+)\/([\d.]+) (\w+)$/.exec(parts[3] ?? "");
  let quarter = "";
  if (state === "Uploading" && bytes) {
    const unit = (u: string) => ({ B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 }[u] ?? 1);
    const done = Number(bytes[1]) * unit(bytes[2]);
    const total = Number(bytes[3]) * unit(bytes[4]);
    quarter = String(total > 0 ? Math.floor((done / total) * 4) : 0);
  }
  return { key, stage: `${state} ${quarter}`.trim() };
}
