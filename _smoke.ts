import { FakeVcd } from "./tests/vcd/fake_vcd/mod.ts";
import { createVcdProvider } from "./providers/vcd/mod.ts";
import { Secret } from "./lib/config/secret.ts";
import { ova, fakeVmdk, digestHex } from "./tests/support/images.ts";
import { verifyStream, VerificationLog } from "./lib/integrity/mod.ts";
import type { ImageSource } from "./lib/image/provider.ts";
import { Logger } from "./lib/log.ts";

const disk = fakeVmdk(300_000, 3);
const bytes = ova().withDisk(disk).build();
let verified: string[] = [];
const source: ImageSource = {
  key: "capv/x/x.ova", format: "ova", size: bytes.byteLength,
  url: () => Promise.resolve("http://x"),
  open({ offset = 0 }) {
    const log = new VerificationLog();
    let at = offset;
    const raw = new ReadableStream<Uint8Array>({ pull(c) { if (at >= bytes.byteLength) return c.close(); c.enqueue(bytes.slice(at, at + 7000)); at += 7000; } });
    return Promise.resolve(verifyStream(raw, { size: bytes.byteLength, offset, format: "ova" }, { subject: "mem", log }).pipeThrough(new TransformStream({ flush() { if (offset === 0) verified = log.list(); } })));
  },
  verified: () => verified,
};
const fake = await FakeVcd.start();
const log = new Logger({ level: "debug", format: "text" });
const provider = createVcdProvider({
  sessionRefreshThresholdMs: 3600_000, uploadPieceBytes: 64 * 1024 * 1024,
  credentials: { url: fake.url, username: "operator", password: new Secret("operator-password"), org: "demo-org", insecure: false },
  locations: { a: { vdc: "vdc1", catalog: "images", hardwareVersion: 19, storageProfile: "" } },
}, { pieceBytes: 50_000, logger: log, pollDelaysMs: [20] });
await provider.probe(AbortSignal.timeout(5000));
const inv = await provider.inventory("a", AbortSignal.timeout(5000));
console.log("inventory", inv.items.size);
const image = { name: "flatcar-stable-4593.2.3-kube-1.35.6-tooling-1.32.1-gs", provider: "capvcd", objectKey: "ns/x" };
const result = await provider.ensure(image, "a", source, { bytes: (d, t) => {}, reference: (r) => console.log("ref", r), phase: (p) => console.log("phase", p) }, AbortSignal.timeout(20000));
console.log(result);
for (const t of fake.templates()) console.log(t.name, t.status, t.hardware, t.files.map(f => [f.name, f.size, f.bytesTransferred, f.sha256]), [...t.metadata]);
console.log("disk sha", digestHex("sha256", disk));
console.log(fake.requests.filter(r => r.path.startsWith("/transfer")).map(r => `${r.status} ${r.contentRange} ${r.stored}`).join("\n"));
console.log((await provider.inventory("a", AbortSignal.timeout(5000))).items);
await provider.remove(image, "a", AbortSignal.timeout(5000));
console.log("after remove", fake.templates().length);
await provider.close();
await fake.close();
