import assert from "node:assert/strict";
import { prepareDirectory } from "../../demo/directory.ts";

Deno.test("the demo's directory", async (t) => {
  const root = await Deno.makeTempDir();
  await t.step("is created, and emptied by the next run", async () => {
    const dir = `${root}/demo`;
    await prepareDirectory(dir);
    await Deno.writeTextFile(`${dir}/operator.log`, "old run");
    await prepareDirectory(dir);
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, [".image-distribution-operator-demo"]);
  });
  await t.step(
    "a non-empty directory the demo did not make is refused and left alone",
    async () => {
      const dir = `${root}/mine`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(`${dir}/thesis.tex`, "precious");
      await assert.rejects(prepareDirectory(dir), /Cannot use --dir .*mine: it is not empty/);
      assert.equal(await Deno.readTextFile(`${dir}/thesis.tex`), "precious");
    },
  );
  await Deno.remove(root, { recursive: true });
});
