/**
 * A binary min-heap of keys by ready time, with one entry per key, so the delaying queue can find
 * the earliest entry in O(1) and move a key earlier in O(log n). Private to the queue package.
 *
 * @module
 */

interface Entry {
  key: string;
  readyAt: number;
  /** Insertion order: equal ready times come out first in, first out. */
  seq: number;
  index: number;
}

/** Keys waiting until their ready time; at most one entry per key. */
export class ReadyTimeHeap {
  readonly #heap: Entry[] = [];
  readonly #byKey = new Map<string, Entry>();
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  /** The earliest ready time, or `undefined` when empty. */
  peekTime(): number | undefined {
    return this.#heap[0]?.readyAt;
  }

  /**
   * Schedules `key` at `readyAt`. When the key is already waiting, the earlier time wins and a
   * later one is ignored.
   */
  schedule(key: string, readyAt: number): void {
    const existing = this.#byKey.get(key);
    if (existing) {
      if (readyAt < existing.readyAt) {
        existing.readyAt = readyAt;
        this.#siftUp(existing.index);
      }
      return;
    }
    const entry: Entry = { key, readyAt, seq: this.#seq++, index: this.#heap.length };
    this.#heap.push(entry);
    this.#byKey.set(key, entry);
    this.#siftUp(entry.index);
  }

  /** Removes and returns the earliest key if it is ready at `now`. */
  popReady(now: number): string | undefined {
    const top = this.#heap[0];
    if (!top || top.readyAt > now) return undefined;
    const last = this.#heap.pop()!;
    if (last !== top) {
      last.index = 0;
      this.#heap[0] = last;
      this.#siftDown(0);
    }
    this.#byKey.delete(top.key);
    return top.key;
  }

  clear(): void {
    this.#heap.length = 0;
    this.#byKey.clear();
  }

  #less(a: Entry, b: Entry): boolean {
    return a.readyAt < b.readyAt || (a.readyAt === b.readyAt && a.seq < b.seq);
  }

  #swap(i: number, j: number): void {
    const heap = this.#heap;
    [heap[i], heap[j]] = [heap[j], heap[i]];
    heap[i].index = i;
    heap[j].index = j;
  }

  #siftUp(index: number): void {
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.#less(this.#heap[index], this.#heap[parent])) return;
      this.#swap(index, parent);
      index = parent;
    }
  }

  #siftDown(index: number): void {
    const length = this.#heap.length;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < length && this.#less(this.#heap[left], this.#heap[smallest])) smallest = left;
      if (right < length && this.#less(this.#heap[right], this.#heap[smallest])) smallest = right;
      if (smallest === index) return;
      this.#swap(index, smallest);
      index = smallest;
    }
  }
}
