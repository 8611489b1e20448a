/**
 * Start-up mistakes end the process with status 2 and a message naming the file or flag and the
 * field, before anything talks to the cluster or a platform; mistakes the Go operator accepted
 * are warned about once and the operator goes on.
 */
import assert from "node:assert/strict";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

interface Outcome {
  code: number;
  stderr: string;
}

async function run(args: string[], files: Record<string, string> = {}): Promise<Outcome> {
  const dir = await Deno.makeTempDir();
  try {
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const expanded = args.map((arg) => arg.replaceAll("$DIR", dir));
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", MAIN, "--health-probe-bind-address=0", ...expanded],
      stdout: "null",
      stderr: "piped",
      env: { KUBECONFIG: `${dir}/no-kubeconfig` },
    }).output();
    return { code, stderr: new TextDecoder().decode(stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an invalid --namespace exits with status 2 and says what a namespace name is", async () => {
  for (const namespace of ["Giant_Swarm", "-images", "a".repeat(64), ""]) {
    const { code, stderr } = await run([`--namespace=${namespace}`]);
    assert.equal(code, 2, `--namespace=${namespace}: ${stderr}`);
    assert.match(stderr, /--namespace/);
    assert.match(stderr, /DNS-1123 label/);
  }
});
