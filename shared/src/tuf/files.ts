import { createHash } from 'node:crypto';
import { TufError } from './errors.ts';
import type { MetaFile, TargetFile } from './model.ts';

/** Hash algorithms a client can check; any other listed algorithm makes the file unverifiable. */
const HASHES = new Set(['sha256', 'sha512']);

export function hashesOf(bytes: Uint8Array): { sha256: string } {
  return { sha256: createHash('sha256').update(bytes).digest('hex') };
}

function checkHashes(bytes: Uint8Array, hashes: Record<string, string>, what: string): void {
  for (const [alg, expected] of Object.entries(hashes)) {
    if (!HASHES.has(alg)) throw new TufError('HASH_MISMATCH', `${what}: unsupported hash algorithm ${alg}`);
    const actual = createHash(alg).update(bytes).digest('hex');
    if (actual !== expected) throw new TufError('HASH_MISMATCH', `${what}: ${alg} does not match`);
  }
}

/** TUF §5.7.3: a target's length and every listed hash must match before it is used. */
export function checkTargetBytes(bytes: Uint8Array, info: TargetFile, name: string): void {
  if (bytes.byteLength !== info.length) throw new TufError('LENGTH_MISMATCH', `target ${name}: length ${bytes.byteLength}, expected ${info.length}`);
  checkHashes(bytes, info.hashes, `target ${name}`);
}

/** TUF §5.5.2 / §5.6.2: optional length and hashes of snapshot / targets metadata. */
export function checkMetaBytes(bytes: Uint8Array, meta: MetaFile, name: string): void {
  if (meta.length !== undefined && bytes.byteLength !== meta.length) throw new TufError('LENGTH_MISMATCH', `${name}: length does not match`);
  if (meta.hashes !== undefined) checkHashes(bytes, meta.hashes, name);
}

/**
 * Target names Cairn publishes and accepts for local storage: one path segment of letters,
 * digits, dot, dash and underscore, not starting with a dot (no traversal, no hidden files).
 */
export function isSafeTargetName(name: string): boolean {
  return name.length > 0 && name.length <= 200 && /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(name);
}
