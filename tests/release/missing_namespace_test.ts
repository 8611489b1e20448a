/**
 * `--namespace` names a namespace that does not exist: NodeImages cannot be created. That is
 * reported once per backoff (a log line, a Warning Event on the Releases, a failing `/readyz`
 * entry), not as an error storm, and everything proceeds once the namespace appears.
 */
import assert from "node:assert/strict";
import { ResourceClient } from "../../lib/kube/client.ts";
import { NAMESPACES } from "../../lib/kube/resource.ts";
import { Logger } from "../../lib/log.ts";
import { release } from "../support/builders.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { withCluster } from "./_cluster.ts";

const NAMESPACE = "node-images";
const RELEASES = ["vsphere-35.0.0", "cloud-director-35.0.0", "proxmox-35.0.0"];

type LogLine = { level: string; msg: string; [field: string]: unknown };

Deno.test("a missing --namespace is reported once per backoff, on the Releases and in /readyz, not as an error storm", async () => {
  await withCluster(async (cluster) => {
    const clock = new FakeClock();
    const lines: LogLine[] = [];
    const log = new Logger({ level: "info", sink: (line) => lines.push(JSON.parse(line)) });
    /** Warnings and errors about the namespace, all components together. */
    const reports = () =>
      lines.filter((l) =>
        (l.level === "warn" || l.level === "error") && JSON.stringify(l).includes(NAMESPACE)
      );
    const creates = () =>
      run.transport.calls().filter((r) => r.method === "POST" && r.path.endsWith("/nodeimages"));
    const run = cluster.run({ clock, namespace: NAMESPACE, log });
    for (const name of RELEASES) await cluster.releases.create(release(name).build());

    for (const name of RELEASES) {
      const warning = await cluster.waitFor(
        `a Warning on ${name}`,
        async () =>
          (await cluster.eventsAbout(name)).find((e) =>
            e.type === "Warning" && e.reason === "NamespaceNotFound"
          ),
      );
      assert.match(warning.note, new RegExp(`namespace "${NAMESPACE}" does not exist`));
      assert.match(warning.note, /--namespace/);
    }
    const readiness = await run.readiness.runOne("nodeimage-namespace");
    assert.equal(readiness?.ok, false);
    assert.match(readiness?.reason ?? "", new RegExp(`"${NAMESPACE}" does not exist`));
    assert.equal(reports().length, 1, JSON.stringify(reports()));
    const firstCreates = creates().length;
    assert.ok(firstCreates <= RELEASES.length, `${firstCreates} creates`);

    // Quiet until the backoff has passed: no retries, no more lines.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(creates().length, firstCreates);
    assert.equal(reports().length, 1);

    // One probe per backoff, one more line.
    await clock.advance(5_000);
    await cluster.waitFor("the probe", () => creates().length === firstCreates + 1);
    await cluster.waitFor("its report", () => reports().length === 2);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(creates().length, firstCreates + 1, "one create per backoff, not per Release");

    // The namespace appears: at the next check every Release goes ahead.
    await new ResourceClient(cluster.transport, NAMESPACES).create({
      metadata: { name: NAMESPACE },
    });
    await clock.advance(10_000);
    const images = await cluster.waitFor("every Release registered", async () => {
      const list = await cluster.nodeImages.list({ namespace: NAMESPACE });
      const listed = list.items.flatMap((i) => i.status?.releases ?? []);
      return RELEASES.every((r) => listed.includes(r)) && list.items;
    });
    assert.equal(images.length, 3);
    assert.equal((await run.readiness.runOne("nodeimage-namespace"))?.ok, true);
    assert.equal(reports().length, 2);
  });
});
