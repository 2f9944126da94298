/**
 * RFC 6962 / RFC 9162 Merkle tree checks in the browser: leaf and node hashes, the root an
 * inclusion proof implies (RFC 9162 §2.1.3.2), and consistency proofs (§2.1.4.2).
 */
import { concat, equal, sha256 } from './bytes.ts';

export const leafHash = (leaf: Uint8Array): Promise<Uint8Array> => sha256(concat(Uint8Array.of(0), leaf));
export const nodeHash = (l: Uint8Array, r: Uint8Array): Promise<Uint8Array> => sha256(concat(Uint8Array.of(1), l, r));

/** The root implied by an inclusion proof of the leaf at `index` in a tree of `size`; throws if the proof has the wrong length. */
export async function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, proof: Uint8Array[]): Promise<Uint8Array> {
  if (!(index >= 0 && index < size)) throw new Error(`index ${index} is outside a tree of size ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) throw new Error('the proof is longer than the tree is deep');
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new Error('the proof is shorter than the tree is deep');
  return r;
}

/** Whether `proof` shows the tree (size1, root1) is a prefix of (size2, root2). */
export async function verifyConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: Uint8Array[]): Promise<boolean> {
  if (size1 < 1 || size1 > size2) return false;
  if (size1 === size2) return proof.length === 0 && equal(root1, root2);
  let path = proof;
  if ((size1 & (size1 - 1)) === 0) path = [root1, ...proof];
  if (path.length === 0) return false;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(fr, root1) && equal(sr, root2);
}
