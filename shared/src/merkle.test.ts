import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { MerkleTree } from 'merkletreejs';
import {
  CompactRange,
  EMPTY_ROOT,
  MerkleError,
  consistencyProof,
  inclusionProof,
  leafHash,
  nodeHash,
  rootAt,
  rootFromInclusionProof,
  rootOfLeafHashes,
  verifyConsistency,
  verifyInclusion,
  type NodeReader,
} from './merkle.ts';

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/** Leaf hashes of leaves "leaf-0", "leaf-1", ... */
function leaves(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(leafHash(Buffer.from(`leaf-${i}`)));
  return out;
}

/** A store of every complete node, filled through CompactRange's onNode. Counts reads. */
class MemoryNodes implements NodeReader {
  readonly nodes = new Map<string, Buffer>();
  reads = 0;
  range = new CompactRange();
  append(h: Buffer): void {
    this.range.append(h, (level, index, hash) => this.nodes.set(`${level}/${index}`, hash));
  }
  node(level: number, index: number): Buffer {
    this.reads += 1;
    const h = this.nodes.get(`${level}/${index}`);
    if (h === undefined) throw new Error(`node ${level}/${index} not stored`);
    return h;
  }
}

function storeOf(hashes: Buffer[]): MemoryNodes {
  const s = new MemoryNodes();
  for (const h of hashes) s.append(h);
  return s;
}

// Independent oracle written straight from the RFC 6962 §2.1 definitions (recursive, in memory).
function mth(d: Buffer[]): Buffer {
  if (d.length === 0) return EMPTY_ROOT;
  if (d.length === 1) return d[0]!;
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return nodeHash(mth(d.slice(0, k)), mth(d.slice(k)));
}
function subproof(m: number, d: Buffer[], b: boolean): Buffer[] {
  const n = d.length;
  if (m === n) return b ? [] : [mth(d)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  if (m <= k) return [...subproof(m, d.slice(0, k), b), mth(d.slice(k))];
  return [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}

/**
 * merkletreejs as an oracle: leaves are pre-hashed with 0x00, nodes hash 0x01||l||r through the
 * concatenator, no pair sorting, no bitcoin duplication. A lonely last node is promoted unchanged
 * to the next layer, which yields exactly the left-full RFC 6962 tree for every size.
 */
function oracleTree(hashes: Buffer[]): MerkleTree {
  return new MerkleTree(hashes, sha256, {
    hashLeaves: false,
    sortPairs: false,
    sortLeaves: false,
    isBitcoinTree: false,
    duplicateOdd: false,
    concatenator: (inputs: Buffer[]) => Buffer.concat([Buffer.from([0x01]), ...inputs]),
  });
}

test('hashing constants follow RFC 6962', () => {
  assert.equal(EMPTY_ROOT.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.deepEqual(leafHash(Buffer.from('abc')), sha256(Buffer.concat([Buffer.from([0]), Buffer.from('abc')])));
  const a = leafHash(Buffer.from('a'));
  const b = leafHash(Buffer.from('b'));
  assert.deepEqual(nodeHash(a, b), sha256(Buffer.concat([Buffer.from([1]), a, b])));
  assert.deepEqual(rootOfLeafHashes([]), EMPTY_ROOT);
});

test('RFC 6962 known vector: the 8-leaf test tree of certificate-transparency-go', () => {
  // Leaves and roots from certificate-transparency-go merkletree tests (RFC 6962 test data).
  const data = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
  const roots = [
    '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
    'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
    'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
    '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
    'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
    '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
  ];
  const hashes = data.map((d) => leafHash(Buffer.from(d, 'hex')));
  const store = storeOf(hashes);
  for (let n = 1; n <= 8; n++) {
    assert.equal(rootAt(n, store).toString('hex'), roots[n - 1]);
    assert.equal(rootOfLeafHashes(hashes.slice(0, n)).toString('hex'), roots[n - 1]);
  }
});

test('roots and inclusion proofs agree with merkletreejs for every size 1..300 and every index', () => {
  const all = leaves(300);
  const store = storeOf(all);
  for (let n = 1; n <= 300; n++) {
    const slice = all.slice(0, n);
    const tree = oracleTree(slice);
    const root = rootAt(n, store);
    assert.deepEqual(root, tree.getRoot(), `root at ${n}`);
    for (let i = 0; i < n; i++) {
      const proof = inclusionProof(i, n, store);
      const expected = tree.getProof(slice[i]!, i).map((p) => p.data);
      assert.deepEqual(proof, expected, `proof ${i}/${n}`);
      assert.ok(verifyInclusion(slice[i]!, i, n, proof, root), `verify ${i}/${n}`);
    }
  }
});

test('consistency proofs for every pair m <= n <= 130 match RFC 6962 PROOF and verify', () => {
  const all = leaves(130);
  const store = storeOf(all);
  const roots = [EMPTY_ROOT, ...all.map((_, i) => mth(all.slice(0, i + 1)))];
  for (let n = 1; n <= 130; n++) {
    for (let m = 0; m <= n; m++) {
      const proof = consistencyProof(m, n, store);
      const expected = m === 0 || m === n ? [] : subproof(m, all.slice(0, n), true);
      assert.deepEqual(proof, expected, `proof ${m}->${n}`);
      assert.ok(verifyConsistency(m, n, proof, roots[m]!, roots[n]!), `verify ${m}->${n}`);
      if (m > 0 && m < n) {
        // Wrong first root, wrong second root, or dropping a hash must fail.
        assert.equal(verifyConsistency(m, n, proof, roots[m - 1]!, roots[n]!), false);
        assert.equal(verifyConsistency(m, n, proof, roots[m]!, roots[n - 1]!), false);
        assert.equal(verifyConsistency(m, n, proof.slice(1), roots[m]!, roots[n]!), false);
      }
    }
  }
});

test('proof building reads O(log n) nodes', () => {
  const n = 100_003;
  const store = storeOf(leaves(n));
  store.reads = 0;
  inclusionProof(n - 1, n, store);
  assert.ok(store.reads <= 2 * 17 + 2, `inclusion read ${store.reads}`);
  store.reads = 0;
  inclusionProof(12_345, n, store);
  assert.ok(store.reads <= 2 * 17 + 2, `inclusion read ${store.reads}`);
  store.reads = 0;
  consistencyProof(77_777, n, store);
  assert.ok(store.reads <= 2 * 17 + 2, `consistency read ${store.reads}`);
  store.reads = 0;
  rootAt(n, store);
  assert.ok(store.reads <= 17, `root read ${store.reads}`);
});

test('CompactRange reports every completed node and resumes from its edge', () => {
  const all = leaves(1000);
  const reported: string[] = [];
  const r = new CompactRange();
  for (const h of all.slice(0, 600)) r.append(h, (l, i) => reported.push(`${l}/${i}`));
  // Every leaf plus every complete internal node of a 600-leaf tree.
  let expected = 0;
  for (let w = 1; w <= 600; w *= 2) expected += Math.floor(600 / w);
  assert.equal(reported.length, expected);
  const resumed = new CompactRange(r.size, r.edge());
  for (const h of all.slice(600)) resumed.append(h);
  assert.deepEqual(resumed.root(), mth(all));
  assert.equal(resumed.size, 1000);
});

test('CompactRange rejects an edge that does not fit the size', () => {
  assert.throws(() => new CompactRange(3, [EMPTY_ROOT]), (e: unknown) => e instanceof MerkleError && e.code === 'INVALID_SIZE');
  assert.throws(() => new CompactRange(1, [Buffer.alloc(31)]), (e: unknown) => e instanceof MerkleError && e.code === 'INVALID_SIZE');
  assert.throws(() => new CompactRange(-1, []), (e: unknown) => e instanceof MerkleError && e.code === 'INVALID_SIZE');
  assert.throws(() => new CompactRange().append(Buffer.alloc(5)), (e: unknown) => e instanceof MerkleError && e.code === 'INVALID_SIZE');
});

test('malformed proof inputs raise stable codes', () => {
  const all = leaves(10);
  const store = storeOf(all);
  const code = (c: string) => (e: unknown) => e instanceof MerkleError && e.code === c;
  assert.throws(() => inclusionProof(10, 10, store), code('INDEX_OUT_OF_RANGE'));
  assert.throws(() => inclusionProof(0, 0, store), code('INDEX_OUT_OF_RANGE'));
  assert.throws(() => inclusionProof(1.5, 10, store), code('INVALID_SIZE'));
  assert.throws(() => consistencyProof(5, 4, store), code('INVALID_SIZE'));
  assert.throws(() => rootAt(-1, store), code('INVALID_SIZE'));
  const proof = inclusionProof(3, 10, store);
  assert.throws(() => rootFromInclusionProof(all[3]!, 10, 10, proof), code('INDEX_OUT_OF_RANGE'));
  assert.throws(() => rootFromInclusionProof(all[3]!, 3, 10, proof.slice(1)), code('INVALID_PROOF'));
  assert.throws(() => rootFromInclusionProof(all[3]!, 3, 10, [...proof, all[0]!]), code('INVALID_PROOF'));
  assert.throws(() => rootFromInclusionProof(all[3]!, 3, 10, [Buffer.alloc(31), ...proof.slice(1)]), code('INVALID_PROOF'));
  assert.throws(() => rootFromInclusionProof(Buffer.alloc(1), 3, 10, proof), code('INVALID_PROOF'));
  assert.equal(verifyInclusion(all[3]!, 3, 10, proof.slice(1), rootAt(10, store)), false);
  assert.equal(verifyInclusion(all[3]!, 3, 10, proof, Buffer.alloc(3)), false);
  assert.equal(verifyConsistency(3, 10, [], rootAt(3, store), rootAt(10, store)), false);
  assert.equal(verifyConsistency(10, 10, [all[0]!], rootAt(10, store), rootAt(10, store)), false);
  assert.equal(verifyConsistency(0, 10, [], Buffer.alloc(32), rootAt(10, store)), false);
  assert.equal(verifyConsistency(0, 10, [], EMPTY_ROOT, rootAt(10, store)), true);
  assert.equal(verifyConsistency(11, 10, [], rootAt(10, store), rootAt(10, store)), false);
});

test('property: proofs over random trees up to 10^5 verify; tampering fails', () => {
  const all = leaves(100_000);
  const store = storeOf(all);
  const rootCache = new Map<number, Buffer>();
  const root = (n: number): Buffer => {
    let r = rootCache.get(n);
    if (r === undefined) {
      r = rootAt(n, store);
      rootCache.set(n, r);
    }
    return r;
  };
  const flip = (b: Uint8Array, bit: number): Buffer => {
    const c = Buffer.from(b);
    c[bit >> 3]! ^= 1 << (bit & 7);
    return c;
  };
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 100_000 }),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      fc.integer({ min: 0, max: 255 }),
      (n, frac, bit) => {
        const i = Math.floor(frac * n);
        const proof = inclusionProof(i, n, store);
        if (!verifyInclusion(all[i]!, i, n, proof, root(n))) return false;
        if (verifyInclusion(flip(all[i]!, bit), i, n, proof, root(n))) return false;
        if (verifyInclusion(all[i]!, i, n, proof, flip(root(n), bit))) return false;
        if (n > 1 && verifyInclusion(all[i]!, (i + 1) % n, n, proof, root(n))) return false;
        for (let p = 0; p < proof.length; p++) {
          const bad = proof.slice();
          bad[p] = flip(bad[p]!, bit);
          if (verifyInclusion(all[i]!, i, n, bad, root(n))) return false;
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 100_000 }),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      fc.integer({ min: 0, max: 255 }),
      (n, frac, bit) => {
        const m = 1 + Math.floor(frac * (n - 1));
        const proof = consistencyProof(m, n, store);
        if (!verifyConsistency(m, n, proof, root(m), root(n))) return false;
        if (verifyConsistency(m, n, proof, flip(root(m), bit), root(n))) return false;
        if (verifyConsistency(m, n, proof, root(m), flip(root(n), bit))) return false;
        if (m + 1 < n && verifyConsistency(m + 1, n, proof, root(m), root(n))) return false;
        for (let p = 0; p < proof.length; p++) {
          const bad = proof.slice();
          bad[p] = flip(bad[p]!, bit);
          if (verifyConsistency(m, n, bad, root(m), root(n))) return false;
        }
        return true;
      },
    ),
    { numRuns: 300 },
  );
});

/**
 * A consistent tree of any size without storing it: leaf i is leafHash(i mod 3), so a complete
 * subtree's hash depends only on its level and its first leaf index mod 3 (memoised).
 */
class Mod3Tree implements NodeReader {
  private readonly memo = new Map<string, Buffer>();
  node(level: number, index: number): Buffer {
    const start = BigInt(index) * 2n ** BigInt(level);
    const key = `${level}/${start % 3n}`;
    let h = this.memo.get(key);
    if (h === undefined) {
      h = level === 0 ? leafHash(Buffer.from([Number(start % 3n)])) : nodeHash(this.node(level - 1, index * 2), this.node(level - 1, index * 2 + 1));
      this.memo.set(key, h);
    }
    return h;
  }
}

test('sizes beyond 2^32 (no 32-bit arithmetic anywhere)', () => {
  const tree = new Mod3Tree();
  for (const size of [2 ** 32 + 1, 2 ** 33 + 12_345, 2 ** 40 + 7, 2 ** 52 + 3, Number.MAX_SAFE_INTEGER]) {
    const root = rootAt(size, tree);
    for (const index of [0, 1, 2 ** 31, 2 ** 32 + 5, size - 2, size - 1].filter((i) => i < size)) {
      const proof = inclusionProof(index, size, tree);
      assert.ok(verifyInclusion(tree.node(0, index), index, size, proof, root), `inclusion ${index}/${size}`);
      // Neighbouring leaves differ (i mod 3), so the wrong leaf must fail.
      assert.equal(verifyInclusion(tree.node(0, index + 1), index, size, proof, root), false);
    }
    for (const first of [1, 2 ** 31 + 1, 2 ** 32, size - 1]) {
      const proof = consistencyProof(first, size, tree);
      assert.ok(verifyConsistency(first, size, proof, rootAt(first, tree), root), `consistency ${first}->${size}`);
    }
  }
});
