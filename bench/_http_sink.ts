/**
 * The HTTP bench's peer, in its own process: `GET /source/<n>` streams n zero bytes,
 * `PUT /sink` counts the body and answers the count. Prints its port, then serves until killed.
 */
const CHUNK = 64 * 1024;

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(port),
}, async (req) => {
  const url = new URL(req.url);
  if (req.method === "GET" && url.pathname.startsWith("/source/")) {
    const total = Number(url.pathname.slice("/source/".length));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= total) return controller.close();
        const n = Math.min(CHUNK, total - sent);
        sent += n;
        controller.enqueue(new Uint8Array(n));
      },
    });
    return new Response(body, { headers: { "content-length": String(total) } });
  }
  let received = 0;
  if (req.body) { for await (const chunk of req.body) received += chunk.byteLength; }
  return new Response(String(received));
});
