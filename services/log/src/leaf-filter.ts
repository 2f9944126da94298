/**
 * A Bloom filter in front of the on-disk duplicate index (leaf_index): "certainly not there"
 * answers skip the SQLite lookup, which reads index pages through the page cache that every
 * writer commit resets. Keyed by the same 48-bit hash key as leaf_index, so it is rebuilt on
 * open with one scan of that index. A superset is always safe (a false positive only costs the
 * lookup), so leaves are added when they are sequenced, also those of a batch that later fails.
 *
 * Growth: when the newest filter holds its capacity a filter twice as large is chained (a
 * scalable Bloom filter); each is sized at BITS_PER_KEY bits per key with K probes (about 1%
 * false positives each). Memory: about 1.3 bytes per leaf.
 */
const BITS_PER_KEY = 10;
const K = 7;
const MIN_CAPACITY = 1 << 20;

interface Filter {
  bits: Uint32Array;
  m: number;
  capacity: number;
  count: number;
}

/** murmur3's 32-bit finalizer: spreads the probe inputs over the filter. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class LeafFilter {
  private readonly filters: Filter[] = [];

  constructor(expected = 0) {
    this.filters.push(LeafFilter.make(Math.max(MIN_CAPACITY, 2 * expected)));
  }

  private static make(capacity: number): Filter {
    const m = capacity * BITS_PER_KEY;
    return { bits: new Uint32Array(Math.ceil(m / 32)), m, capacity, count: 0 };
  }

  /** Adds a 48-bit hash key (see hashKey in store/sqlite-log-store.ts). */
  add(hkey: number): void {
    let f = this.filters[this.filters.length - 1]!;
    if (f.count >= f.capacity) {
      f = LeafFilter.make(2 * f.capacity);
      this.filters.push(f);
    }
    const hi = Math.floor(hkey / 2 ** 32);
    const lo = hkey >>> 0;
    for (let i = 0; i < K; i++) {
      const p = fmix32(lo ^ Math.imul(hi + i, 0x9e3779b1)) % f.m;
      f.bits[p >>> 5]! |= 1 << (p & 31);
    }
    f.count++;
  }

  /** False: the key was never added. True: it may have been. */
  mayContain(hkey: number): boolean {
    const hi = Math.floor(hkey / 2 ** 32);
    const lo = hkey >>> 0;
    for (const f of this.filters) {
      let all = true;
      for (let i = 0; i < K && all; i++) {
        const p = fmix32(lo ^ Math.imul(hi + i, 0x9e3779b1)) % f.m;
        all = (f.bits[p >>> 5]! & (1 << (p & 31))) !== 0;
      }
      if (all) return true;
    }
    return false;
  }

  /** Keys added (all filters). */
  get size(): number {
    return this.filters.reduce((n, f) => n + f.count, 0);
  }
}
