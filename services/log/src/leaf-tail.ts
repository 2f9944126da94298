/**
 * The in-memory part of the engine's duplicate index: the leaf hashes of a contiguous run of
 * indexes [base, base + count), i.e. every leaf not yet in the on-disk leaf_index (committed or
 * still in flight). Hashes are packed in one buffer by position; a Map from a 30-bit hash prefix
 * (a small integer key, so no per-leaf string or number is allocated) to the newest position,
 * with an Int32Array chaining older positions that share the prefix. Lookups compare the full
 * 32-byte hash. Memory: about 48 bytes per leaf.
 */
const HASH = 32;

function prefix(hash: Uint8Array, at = 0): number {
  return ((hash[at]! << 22) | (hash[at + 1]! << 14) | (hash[at + 2]! << 6) | (hash[at + 3]! >> 2)) >>> 0;
}

export class LeafHashTail {
  private hashes: Buffer;
  private chain: Int32Array;
  private readonly heads = new Map<number, number>();
  private count = 0;

  constructor(
    private base: number,
    capacity = 1024,
  ) {
    this.hashes = Buffer.allocUnsafe(capacity * HASH);
    this.chain = new Int32Array(capacity);
  }

  /** First index held. */
  get start(): number {
    return this.base;
  }

  /** One past the last index held: the index the next added leaf must have. */
  get end(): number {
    return this.base + this.count;
  }

  /** Adds the leaf at index `end`. */
  push(hash: Uint8Array): number {
    if (this.count === this.chain.length) this.grow(this.count * 2);
    const pos = this.count++;
    this.hashes.set(hash, pos * HASH);
    const key = prefix(hash);
    this.chain[pos] = this.heads.get(key) ?? -1;
    this.heads.set(key, pos);
    return this.base + pos;
  }

  /** The index of `hash` if held. */
  get(hash: Uint8Array): number | undefined {
    for (let pos = this.heads.get(prefix(hash)) ?? -1; pos >= 0; pos = this.chain[pos]!) {
      if (this.hashes.compare(hash, 0, HASH, pos * HASH, pos * HASH + HASH) === 0) return this.base + pos;
    }
    return undefined;
  }

  /** Forgets every index below `index` (they are in leaf_index now). */
  dropBelow(index: number): void {
    const drop = Math.min(this.count, Math.max(0, index - this.base));
    if (drop === 0) return;
    const keep = this.count - drop;
    this.hashes.copy(this.hashes, 0, drop * HASH, this.count * HASH);
    this.base += drop;
    this.count = 0;
    this.heads.clear();
    // Shrink after a large tail was moved to disk; positions are re-chained from scratch.
    const capacity = Math.max(1024, 2 ** Math.ceil(Math.log2(keep + 1)));
    if (capacity < this.chain.length) this.grow(capacity, keep);
    for (let pos = 0; pos < keep; pos++) {
      const key = prefix(this.hashes, pos * HASH);
      this.chain[pos] = this.heads.get(key) ?? -1;
      this.heads.set(key, pos);
    }
    this.count = keep;
  }

  private grow(capacity: number, keep = this.count): void {
    const hashes = Buffer.allocUnsafe(capacity * HASH);
    this.hashes.copy(hashes, 0, 0, keep * HASH);
    this.hashes = hashes;
    const chain = new Int32Array(capacity);
    chain.set(this.chain.subarray(0, keep));
    this.chain = chain;
  }
}
