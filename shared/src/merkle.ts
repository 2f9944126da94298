/**
 * RFC 6962 §2.1 / RFC 9162 §2.1 Merkle tree hashing, proof building and proof verification
 * (SHA-256 everywhere, as Rekor, CT and C2SP tlog-tiles use it).
 *
 * Proofs are built from a `NodeReader` that answers the hash of any *complete* subtree
 * (level, index) — exactly what a tile store holds. Hashes of the partial right edge are
 * recomputed from the complete subtrees they are made of, so building one proof reads O(log n)
 * nodes and never needs the whole tree in memory.
 *
 * Sizes and indexes are JavaScript numbers up to 2^53 - 1; every step uses arithmetic, never the
 * 32-bit bitwise operators, so trees beyond 2^31 leaves work too.
 */
import { createHash, hash } from 'node:crypto';
import { CairnError } from './errors.ts';

export type MerkleErrorCode = 'INVALID_PROOF' | 'INDEX_OUT_OF_RANGE' | 'INVALID_SIZE';

export class MerkleError extends CairnError<MerkleErrorCode> {
  constructor(code: MerkleErrorCode, message: string) {
    super(code, message, { status: 400 });
  }
}

/** Length of every hash in the tree. */
export const HASH_SIZE = 32;
/** A proof never has more hashes than this (trees are below 2^64 leaves; RFC 9162 §2.1.3). */
export const MAX_PROOF_LENGTH = 128;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** MTH({}) = SHA-256() — RFC 6962 §2.1. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** MTH({d}) = SHA-256(0x00 || d) — RFC 6962 §2.1. */
/** 0x00 || leaf (leaves up to 64 KiB), 0x01 || left || right: the prefix bytes never change. */
const LEAF_SCRATCH = Buffer.alloc(65_537);
const NODE_SCRATCH = Buffer.alloc(65, 1);

export function leafHash(data: Uint8Array): Buffer {
  // One-shot hashing over a reused scratch buffer: about half the cost of a Hash object per call.
  if (data.length < LEAF_SCRATCH.length) {
    LEAF_SCRATCH.set(data, 1);
    return hash('sha256', LEAF_SCRATCH.subarray(0, data.length + 1), 'buffer');
  }
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** SHA-256(0x01 || left || right) — RFC 6962 §2.1. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== 32 || right.length !== 32) return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
  NODE_SCRATCH.set(left, 1);
  NODE_SCRATCH.set(right, 33);
  return hash('sha256', NODE_SCRATCH, 'buffer');
}

/**
 * Hash of the complete subtree at (level, index): the leaves [index*2^level, (index+1)*2^level).
 * Level 0 nodes are leaf hashes. Implementations may throw if the node is not stored.
 */
export interface NodeReader {
  node(level: number, index: number): Buffer;
}

function checkSize(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new MerkleError('INVALID_SIZE', `${what} must be a non-negative safe integer`);
}

/** Largest power of two strictly below n (n >= 2): the split point k of RFC 6962 §2.1. */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Largest power of two that divides `start` (any power for 0) and fits into `remaining`. */
function alignedBlock(start: number, remaining: number): { size: number; level: number } {
  let size = 1;
  let level = 0;
  while (size * 2 <= remaining && start % (size * 2) === 0) {
    size *= 2;
    level += 1;
  }
  return { size, level };
}

/**
 * MTH(D[start:end]) for a range that starts on a boundary aligned to a power of two at least as
 * large as the range — every range RFC 6962 proofs ask for has that shape. It is the right fold of
 * the complete subtrees the range decomposes into (at most log2(end-start)+1 reads).
 */
function rangeHash(start: number, end: number, reader: NodeReader): Buffer {
  const parts: Buffer[] = [];
  let pos = start;
  while (pos < end) {
    const { size, level } = alignedBlock(pos, end - pos);
    parts.push(reader.node(level, pos / size));
    pos += size;
  }
  let acc = parts[parts.length - 1];
  if (acc === undefined) return EMPTY_ROOT;
  for (let i = parts.length - 2; i >= 0; i--) acc = nodeHash(parts[i]!, acc);
  return acc;
}

/** MTH(D[0:size]) from complete subtrees: popcount(size) reads. */
export function rootAt(size: number, reader: NodeReader): Buffer {
  checkSize(size, 'tree size');
  return rangeHash(0, size, reader);
}

/**
 * PATH(m, D[0:n]) of RFC 6962 §2.1.1, ordered from the leaf towards the root. Going down the
 * tree, every sibling on the way is either a complete left subtree (one read) or, once, the
 * partial right part of the tree (popcount reads).
 */
export function inclusionProof(index: number, size: number, reader: NodeReader): Buffer[] {
  checkSize(size, 'tree size');
  checkSize(index, 'leaf index');
  if (index >= size) throw new MerkleError('INDEX_OUT_OF_RANGE', 'leaf index is not below the tree size');
  const topDown: Buffer[] = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index < lo + k) {
      topDown.push(rangeHash(lo + k, hi, reader));
      hi = lo + k;
    } else {
      topDown.push(rangeHash(lo, lo + k, reader));
      lo += k;
    }
  }
  return topDown.reverse();
}

/** PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true) of RFC 6962 §2.1.2. */
export function consistencyProof(first: number, second: number, reader: NodeReader): Buffer[] {
  checkSize(first, 'first size');
  checkSize(second, 'second size');
  if (first > second) throw new MerkleError('INVALID_SIZE', 'first size is larger than the second');
  if (first === 0 || first === second) return [];
  const topDown: Buffer[] = [];
  let lo = 0;
  let hi = second;
  let m = first;
  let wholeTree = true;
  for (;;) {
    const n = hi - lo;
    if (m === n) {
      // SUBPROOF(m, D[0:m], b): empty when b, else MTH(D[0:m]) (a complete subtree here).
      if (!wholeTree) topDown.push(rangeHash(lo, hi, reader));
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      topDown.push(rangeHash(lo + k, hi, reader));
      hi = lo + k;
    } else {
      topDown.push(rangeHash(lo, lo + k, reader));
      lo += k;
      m -= k;
      wholeTree = false;
    }
  }
  return topDown.reverse();
}

function isHash(h: unknown): h is Uint8Array {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

function equalHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/**
 * Recomputes the root from an inclusion proof (RFC 9162 §2.1.3.2). Throws on malformed input:
 * index out of range, a proof of the wrong length for (index, size), or hashes that are not 32 bytes.
 */
export function rootFromInclusionProof(leaf: Uint8Array, index: number, size: number, proof: readonly Uint8Array[]): Buffer {
  checkSize(size, 'tree size');
  checkSize(index, 'leaf index');
  if (index >= size) throw new MerkleError('INDEX_OUT_OF_RANGE', 'leaf index is not below the tree size');
  if (!isHash(leaf)) throw new MerkleError('INVALID_PROOF', 'leaf hash must be 32 bytes');
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_LENGTH) throw new MerkleError('INVALID_PROOF', 'proof has too many hashes');
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (!isHash(p)) throw new MerkleError('INVALID_PROOF', 'proof hash must be 32 bytes');
    if (sn === 0) throw new MerkleError('INVALID_PROOF', 'proof is longer than the path to the root');
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new MerkleError('INVALID_PROOF', 'proof is shorter than the path to the root');
  return r;
}

/** True iff `proof` proves the leaf at `index` in the tree of `size` with `root`. Never throws. */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!isHash(root)) return false;
  try {
    return equalHash(rootFromInclusionProof(leaf, index, size, proof), root);
  } catch (e) {
    if (e instanceof MerkleError) return false;
    throw e;
  }
}

/**
 * RFC 9162 §2.1.4.2 consistency verification. A tree is consistent with itself only through an
 * empty proof; the empty tree is consistent with every tree through an empty proof. Never throws.
 */
export function verifyConsistency(
  first: number,
  second: number,
  proof: readonly Uint8Array[],
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first < 0 || first > second) return false;
  if (!isHash(firstRoot) || !isHash(secondRoot)) return false;
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_LENGTH || !proof.every(isHash)) return false;
  if (first === 0) return proof.length === 0 && equalHash(firstRoot, EMPTY_ROOT);
  if (first === second) return proof.length === 0 && equalHash(firstRoot, secondRoot);
  if (proof.length === 0) return false;
  // Step 2: if first is an exact power of two, the first tree is a complete subtree and its root
  // is not repeated in the proof.
  const path: Uint8Array[] = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = fr;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn /= 2;
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalHash(fr, firstRoot) && equalHash(sr, secondRoot);
}

function isPowerOfTwo(n: number): boolean {
  let p = 1;
  while (p < n) p *= 2;
  return p === n;
}

/** MTH of a list of leaf hashes held in memory (tests, small batches). */
export function rootOfLeafHashes(leafHashes: readonly Uint8Array[]): Buffer {
  const range = new CompactRange();
  for (const h of leafHashes) range.append(h);
  return range.root();
}

/** Number of complete subtrees in the right edge of a tree of `size` leaves (popcount). */
function edgeLength(size: number): number {
  let count = 0;
  let s = size;
  while (s > 0) {
    if (s % 2 === 1) count += 1;
    s = Math.floor(s / 2);
  }
  return count;
}

/**
 * Incremental append state: the hashes of the complete subtrees that make up the tree, largest
 * (leftmost) first — one per set bit of `size`, so O(log n) memory. `append` reports the leaf and
 * every node it completes, which is exactly what a tile store must persist.
 */
export class CompactRange {
  private count: number;
  private readonly stack: Buffer[];

  constructor(size = 0, rightEdge: Buffer[] = []) {
    checkSize(size, 'tree size');
    if (rightEdge.length !== edgeLength(size)) {
      throw new MerkleError('INVALID_SIZE', 'right edge does not match the tree size');
    }
    if (!rightEdge.every(isHash)) throw new MerkleError('INVALID_SIZE', 'right edge hashes must be 32 bytes');
    this.count = size;
    this.stack = rightEdge.map((h) => Buffer.from(h));
  }

  get size(): number {
    return this.count;
  }

  append(leaf: Uint8Array, onNode?: (level: number, index: number, hash: Buffer) => void): void {
    if (!isHash(leaf)) throw new MerkleError('INVALID_SIZE', 'leaf hash must be 32 bytes');
    if (this.count >= Number.MAX_SAFE_INTEGER) throw new MerkleError('INVALID_SIZE', 'tree is full');
    let h: Buffer = Buffer.from(leaf);
    let index = this.count;
    let level = 0;
    onNode?.(0, index, h);
    // Each trailing 1 bit of the old size is a completed left sibling to merge with.
    while (index % 2 === 1) {
      const left = this.stack.pop()!;
      h = nodeHash(left, h);
      index = (index - 1) / 2;
      level += 1;
      onNode?.(level, index, h);
    }
    this.stack.push(h);
    this.count += 1;
  }

  root(): Buffer {
    let acc = this.stack[this.stack.length - 1];
    if (acc === undefined) return EMPTY_ROOT;
    for (let i = this.stack.length - 2; i >= 0; i--) acc = nodeHash(this.stack[i]!, acc);
    return acc;
  }

  /** Copies of the right-edge hashes, largest subtree first (what the constructor takes back). */
  edge(): Buffer[] {
    return this.stack.map((h) => Buffer.from(h));
  }
}
