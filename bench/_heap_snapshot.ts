/**
 * Heap snapshots of another Deno process over its inspector (`--inspect`), and a summary of one:
 * the bench's way to see what the operator's heap holds, not only how big it is.
 */

/** Takes a full heap snapshot of the process whose inspector listens on `port`. */
export async function takeHeapSnapshot(port: number): Promise<string> {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    webSocketDebuggerUrl: string;
  }[];
  const socket = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  const chunks: string[] = [];
  let id = 0;
  const pending = new Map<number, (value: unknown) => void>();
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.method === "HeapProfiler.addHeapSnapshotChunk") chunks.push(data.params.chunk);
    else if (data.id !== undefined) pending.get(data.id)?.(data);
  };
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise((resolve) => {
      pending.set(++id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  try {
    await call("HeapProfiler.enable");
    await call("HeapProfiler.collectGarbage");
    await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    return chunks.join("");
  } finally {
    socket.close();
  }
}

/** One line of a summary: all nodes of a type and name, their count and shallow size. */
export interface HeapGroup {
  type: string;
  name: string;
  count: number;
  bytes: number;
}

/** Groups a snapshot's nodes by type and constructor name, largest shallow size first. */
export function summariseHeapSnapshot(text: string, top = 40): HeapGroup[] {
  const snapshot = JSON.parse(text) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, HeapGroup>();
  for (let i = 0; i < snapshot.nodes.length; i += width) {
    const type = types[snapshot.nodes[i + typeAt]];
    // Strings are grouped by type only: their "name" is their text.
    const name = type === "string" || type === "concatenated string" || type === "sliced string"
      ? ""
      : snapshot.strings[snapshot.nodes[i + nameAt]];
    const key = `${type}\u0000${name}`;
    const group = groups.get(key) ?? { type, name, count: 0, bytes: 0 };
    group.count++;
    group.bytes += snapshot.nodes[i + sizeAt];
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top);
}
