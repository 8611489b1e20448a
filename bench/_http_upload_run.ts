/**
 * One upload measurement in a fresh process (so one variant's heap never inflates another's
 * peak): `<client|fetch> <generated|pipe> <bytes> <concurrency> <sink origin>`.
 *
 * - `client`: `providers/_http` (undici) PUT with a stream body;
 * - `fetch`: Deno's fetch with the same stream body, `duplex: "half"` and a Content-Length;
 * - `fetch-counted`: the same, with a JS stage that counts bytes in between (what progress,
 *   length checks and idle detection would need on top of fetch);
 * - `generated`: the body is made here in fresh 64 KiB chunks; `pipe`: it is a Deno fetch GET
 *   of the sink's `/source/<bytes>`, as an S3 GetObject body is.
 *
 * Prints one JSON line: bytes sent, wall ms, RSS before the transfer and the kernel's peak RSS
 * (VmHWM) of this process.
 */
const [engine, sourceKind, bytesText, concurrencyText, origin] = Deno.args;
const total = Number(bytesText);
const concurrency = Number(concurrencyText);
const CHUNK = 64 * 1024;

function generated(): ReadableStream<Uint8Array> {
  let made = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (made >= total) return controller.close();
      const n = Math.min(CHUNK, total - made);
      made += n;
      controller.enqueue(new Uint8Array(n));
    },
  }, { highWaterMark: 0 });
}

async function source(): Promise<ReadableStream<Uint8Array>> {
  if (sourceKind === "generated") return generated();
  const response = await fetch(`${origin}/source/${total}`);
  return response.body!;
}

let counter = 0;

function counted(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        counter += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
}

function kib(field: string): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
    Deno.readTextFileSync("/proc/self/status"),
  );
  return Number(match?.[1] ?? 0) * 1024;
}

const client = engine === "client"
  ? (await import("../providers/_http/mod.ts")).createHttpClient({ connections: concurrency })
  : undefined;
const rssBefore = kib("VmRSS");
const started = performance.now();
const answers = await Promise.all(Array.from({ length: concurrency }, async () => {
  const body = await source();
  if (client) {
    const response = await client.request({
      method: "PUT",
      url: `${origin}/sink`,
      body,
      contentLength: total,
    });
    return response.body;
  }
  const response = await fetch(`${origin}/sink`, {
    method: "PUT",
    body: engine === "fetch-counted" ? counted(body) : body,
    headers: { "content-length": String(total) },
    duplex: "half",
  } as RequestInit);
  return await response.text();
}));
const ms = performance.now() - started;
await client?.close();
if (engine === "fetch-counted" && counter !== total * concurrency) {
  throw new Error(`counted ${counter} bytes instead of ${total * concurrency}`);
}
if (answers.some((a) => a !== String(total))) {
  throw new Error(`the sink received ${answers.join(", ")} instead of ${total} each`);
}
console.log(JSON.stringify({ bytes: total * concurrency, ms, rssBefore, peak: kib("VmHWM") }));
