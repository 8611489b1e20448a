/**
 * The parameter names we send, checked against the schema subset the fake enforces
 * (`fake_proxmox/api_params.ts`), and that subset checked against Proxmox's published schema
 * when a copy is at hand: `PVE_APIDATA=/path/to/apidata.js deno test …` (pve-docs
 * `api-viewer/apidata.js`; not committed, ~3.9 MB).
 */
import assert from "node:assert/strict";
import { opensslAvailable, opensslMissing, testPki } from "../support/tls.ts";
import { API_PARAMS } from "./fake_proxmox/api_params.ts";
import { harness, image, qcow2Bytes, recordingProgress, source } from "./_support.ts";
import { PARTIAL_TAG } from "../../providers/proxmox/mod.ts";

const ignore = !opensslAvailable();
const pki = ignore ? undefined : await testPki();
if (pki) addEventListener("unload", () => Deno.removeSync(pki.dir, { recursive: true }));
if (ignore) console.warn(`Proxmox schema tests ignored: ${opensslMissing}`);

Deno.test({
  name: "every parameter the provider sends is one the Proxmox schema defines for that route",
  ignore,
  fn: async () => {
    const h = await harness(pki!);
    try {
      h.fake.cluster.addVm({ vmid: 300, node: "pve1", name: "leftover", tags: PARTIAL_TAG });
      await h.provider.probe(h.signal);
      await h.provider.ensure(
        image(),
        "l1",
        source(h.files, "/good.qcow2", { bytes: qcow2Bytes(), digest: true }),
        recordingProgress(),
        h.signal,
      );
      await h.provider.cleanupPartial(image("leftover"), "l1", h.signal);
      await h.provider.remove(image(), "l1", h.signal);
      const used = new Map<string, Set<string>>();
      for (const request of h.fake.requests) {
        const route = `${request.method} ${request.route}`;
        assert.equal(request.status, 200, `${route} answered ${request.status}`);
        const names = used.get(route) ?? new Set();
        for (const name of Object.keys(request.params)) names.add(name.replace(/\d+$/, "[n]"));
        used.set(route, names);
      }
      for (const [route, names] of used) {
        assert.ok(API_PARAMS[route], `${route} is in the schema subset`);
        for (const name of names) {
          assert.ok(API_PARAMS[route][name], `${route} has parameter ${name}`);
        }
      }
      // The routes a full create, cleanup and remove go through.
      assert.deepEqual([...used.keys()].sort(), [
        "DELETE /nodes/{node}/qemu/{vmid}",
        "DELETE /nodes/{node}/storage/{storage}/content/{volume}",
        "GET /cluster/nextid",
        "GET /cluster/resources",
        "GET /nodes/{node}/qemu/{vmid}/config",
        "GET /nodes/{node}/storage/{storage}/content",
        "GET /nodes/{node}/tasks/{upid}/status",
        "GET /version",
        "POST /nodes/{node}/qemu",
        "POST /nodes/{node}/qemu/{vmid}/config",
        "POST /nodes/{node}/qemu/{vmid}/template",
        "POST /nodes/{node}/storage/{storage}/download-url",
        "PUT /nodes/{node}/qemu/{vmid}/config",
      ]);
    } finally {
      await h.close();
    }
  },
});

const apidata = Deno.env.get("PVE_APIDATA");
if (!apidata) {
  console.log(
    "schema_params_test: the check against Proxmox's published schema is skipped: " +
      "set PVE_APIDATA to a copy of pve-docs api-viewer/apidata.js (not committed, ~3.9 MB)",
  );
}

Deno.test({
  name: "the schema subset matches Proxmox's published API schema",
  ignore: !apidata,
  fn: async () => {
    const text = await Deno.readTextFile(apidata!);
    const schema = JSON.parse(text.slice(text.indexOf("["), text.lastIndexOf("]") + 1));
    const byPath = new Map<string, { info?: Record<string, SchemaMethod> }>();
    const walk = (nodes: SchemaNode[]) => {
      for (const node of nodes) {
        byPath.set(node.path, node);
        if (node.children) walk(node.children);
      }
    };
    walk(schema);
    for (const [route, params] of Object.entries(API_PARAMS)) {
      const [method, path] = route.split(" ");
      const info = byPath.get(path)?.info?.[method];
      assert.ok(info, `${route} exists in the schema`);
      const properties = info.parameters?.properties ?? {};
      for (const [name, spec] of Object.entries(params)) {
        const published = properties[name];
        assert.ok(published, `${route} ${name} exists in the schema`);
        assert.equal(spec.type, published.type, `${route} ${name} type`);
        assert.equal(spec.required ?? false, !published.optional, `${route} ${name} optional`);
        assert.deepEqual(spec.enum, published.enum ?? undefined, `${route} ${name} enum`);
        assert.equal(spec.pattern, published.pattern, `${route} ${name} pattern`);
        assert.equal(spec.requires, published.requires, `${route} ${name} requires`);
      }
    }
  },
});

interface SchemaNode {
  path: string;
  info?: Record<string, SchemaMethod>;
  children?: SchemaNode[];
}

interface SchemaMethod {
  parameters?: {
    properties?: Record<
      string,
      { type: string; optional?: number; enum?: string[]; pattern?: string; requires?: string }
    >;
  };
}
