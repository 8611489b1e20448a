/**
 * The demo's working directory (logs, values.yaml, kubeconfig, S3 data, certificates). A run
 * empties the directory of the run before; a directory it did not make is never emptied, so a
 * mistyped `--dir` cannot wipe someone's files.
 */

/** The file that marks a directory as the demo's own, so a later run may empty it. */
const MARKER = ".image-distribution-operator-demo";

/** Empties `dir` from an earlier run; refuses a non-empty directory the demo did not make. */
export async function prepareDirectory(dir: string): Promise<void> {
  const entries: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) entries.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new Error(`Cannot use --dir ${dir}: it is not empty and was not made by the demo`);
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/${MARKER}`,
    "Made by deno task demo; emptied by its next run.\n",
  );
}
