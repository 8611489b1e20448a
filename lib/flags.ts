/**
 * Command-line flags with Go `flag` package semantics, because the Helm chart and existing
 * Deployments pass the Go operator's flags verbatim: `-x` and `--x` are the same, values come as
 * `--x=v` or `--x v`, and booleans take `--x`, `--x=true` or `--x=false` (never a separate word).
 *
 * Unknown flags are errors naming the flag, so a typo in a Deployment fails fast instead of
 * silently running with defaults.
 */

export type FlagKind = "string" | "bool";

export interface FlagSpec {
  kind: FlagKind;
  /** Shown by `--help`. */
  usage: string;
  default?: string | boolean;
}

export type FlagValues = Record<string, string | boolean | undefined>;

export class FlagError extends Error {
  override name = "FlagError";
}

/** Parses `args` against `specs`; returns values keyed by flag name, defaults filled in. */
export function parseFlags(args: string[], specs: Record<string, FlagSpec>): FlagValues {
  const values: FlagValues = {};
  for (const [name, spec] of Object.entries(specs)) values[name] = spec.default;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      if (i + 1 < args.length) throw new FlagError(`Unexpected argument "${args[i + 1]}"`);
      break;
    }
    const match = /^--?([^=\s-][^=\s]*)(?:=(.*))?$/s.exec(arg);
    if (!match) throw new FlagError(`Unexpected argument "${arg}": flags start with "--"`);
    const [, name, inline] = match;
    const spec = specs[name];
    if (!spec) throw new FlagError(`Unknown flag "--${name}" (see --help)`);
    if (spec.kind === "bool") {
      values[name] = parseBool(name, inline ?? "true");
      continue;
    }
    if (inline !== undefined) {
      values[name] = inline;
    } else if (i + 1 < args.length) {
      values[name] = args[++i];
    } else {
      throw new FlagError(`Flag "--${name}" needs a value`);
    }
  }
  return values;
}

function parseBool(name: string, value: string): boolean {
  // The spellings Go's strconv.ParseBool accepts.
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  throw new FlagError(`Flag "--${name}" takes true or false, not "${value}"`);
}

/** The `--help` text: one line per flag with its default. */
export function flagUsage(specs: Record<string, FlagSpec>): string {
  return Object.entries(specs)
    .map(([name, spec]) => {
      const shown = spec.default === undefined || spec.default === ""
        ? ""
        : ` (default ${JSON.stringify(spec.default)})`;
      return `  --${name}${spec.kind === "string" ? " value" : ""}\n      ${spec.usage}${shown}`;
    })
    .join("\n");
}
