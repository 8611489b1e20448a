/**
 * Configuration errors. One `ConfigError` carries every problem found in a load, each naming its
 * file and field path (`vsphere.locations.location1.datastore: required`), so a user fixes them
 * all in one round. Messages never contain configured values of secret fields.
 */

/**
 * One problem with one field. `path` is empty for problems with the whole file. A `file` that
 * starts with `--` names a command-line flag instead (`--s3-timeout-seconds`).
 */
export interface ConfigIssue {
  file: string;
  path: string;
  message: string;
}

/** The configuration could not be read or is invalid. */
export class ConfigError extends Error {
  override name = "ConfigError";
  /** Every problem found, in document order. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: ErrorOptions) {
    super(describe(issues), options);
    this.issues = issues;
  }

  /** The file of the first problem. */
  get file(): string {
    return this.issues[0]?.file ?? "";
  }

  /** The field path of the first problem, e.g. `vsphere.locations.location1.datastore`. */
  get field(): string {
    return this.issues[0]?.path ?? "";
  }
}

/** One issue as a sentence: `config file "values.yaml": openstack: unknown section, …`. */
export function formatConfigIssue({ file, path, message }: ConfigIssue): string {
  return `${sourceOf(file)}: ${path ? `${path}: ${message}` : message}`;
}

function sourceOf(file: string): string {
  return file.startsWith("--") ? `flag "${file}"` : `config file "${file}"`;
}

function describe(issues: readonly ConfigIssue[]): string {
  const byFile = new Map<string, string[]>();
  for (const { file, path, message } of issues) {
    const list = byFile.get(file) ?? [];
    list.push(path ? `${path}: ${message}` : message);
    byFile.set(file, list);
  }
  const parts = [...byFile].map(([file, list]) => `${sourceOf(file)}: ${list.join("; ")}`);
  return `Invalid ${parts.join("; invalid ")}`;
}
