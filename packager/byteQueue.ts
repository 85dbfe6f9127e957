/**
 * The bytes of a stream received and not yet taken, kept as the chunks they
 * came in. A reader peeks a box header across chunk edges and takes a whole
 * box as slices of those chunks: nothing is joined until the reader joins a
 * box or fragment once, so a large box arriving in many chunks costs one copy
 * instead of one per chunk.
 */
export class ByteQueue {
  #chunks: Buffer[] = [];
  /** Offset of the first untaken byte in `#chunks[0]`. */
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first `n` bytes (n ≤ length), joined only when they straddle chunks (a box header: 8 or 16 bytes). */
  peek(n: number): Buffer {
    if (n > this.#length) throw new RangeError(`peek(${n}) with ${this.#length} bytes queued`);
    const first = this.#chunks[0]!;
    if (first.length - this.#head >= n) return first.subarray(this.#head, this.#head + n);
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let from = this.#head;
    for (const c of this.#chunks) {
      const k = Math.min(n - copied, c.length - from);
      c.copy(out, copied, from, from + k);
      copied += k;
      from = 0;
      if (copied === n) break;
    }
    return out;
  }

  /** Takes the first `n` bytes (n ≤ length) as slices of the chunks, without copying. */
  take(n: number): Buffer[] {
    if (n > this.#length) throw new RangeError(`take(${n}) with ${this.#length} bytes queued`);
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const c = this.#chunks[0]!;
      const avail = c.length - this.#head;
      const k = Math.min(left, avail);
      out.push(c.subarray(this.#head, this.#head + k));
      left -= k;
      if (k === avail) {
        this.#chunks.shift();
        this.#head = 0;
      } else {
        this.#head += k;
      }
    }
    this.#length -= n;
    return out;
  }

  /** Forgets every queued byte; returns how many there were. */
  clear(): number {
    const n = this.#length;
    this.#chunks = [];
    this.#head = 0;
    this.#length = 0;
    return n;
  }
}
