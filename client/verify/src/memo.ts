/**
 * Bounded memos for pure verification steps. A signature check is a deterministic function of
 * (algorithm, public key, signed bytes, signature), so remembering a success keyed by a SHA-256
 * over exactly those inputs is sound: different inputs can only collide by breaking SHA-256.
 * Failures are never remembered. Parsed public keys are memoized by their exact DER bytes.
 * Repeat verification of the same material (admission controllers, CI gates, bundles sharing a
 * certificate or checkpoint) then costs hashing instead of public-key operations.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';

const MAX_SIGNATURES = 16_384;
const MAX_KEYS = 4096;

const verified = new Set<string>();
const keys = new Map<string, KeyObject>();
let enabled = true;

/** Turns the memos off (and empties them), e.g. to measure cold verification. */
export function setVerificationMemo(on: boolean): void {
  enabled = on;
  clearVerificationMemo();
}

export function memoEnabled(): boolean {
  return enabled;
}

export function clearVerificationMemo(): void {
  verified.clear();
  keys.clear();
}

function lengthPrefixed(h: ReturnType<typeof createHash>, b: Uint8Array | string): void {
  const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  const len = Buffer.alloc(8);
  len.writeBigUInt64BE(BigInt(buf.length));
  h.update(len).update(buf);
}

/**
 * node:crypto verify with a success memo. `keyBytes` must identify `key` exactly (its DER SPKI,
 * or the raw bytes it was parsed from). Malformed signatures verify as false.
 */
export function verifySignature(algorithm: string | null, data: Uint8Array, key: KeyObject, keyBytes: Uint8Array, signature: Uint8Array): boolean {
  let id: string | undefined;
  if (enabled) {
    const h = createHash('sha256');
    lengthPrefixed(h, algorithm ?? '');
    lengthPrefixed(h, keyBytes);
    lengthPrefixed(h, signature);
    lengthPrefixed(h, data);
    id = h.digest('base64');
    if (verified.has(id)) return true;
  }
  let ok: boolean;
  try {
    ok = cryptoVerify(algorithm, data, key, signature);
  } catch {
    ok = false;
  }
  if (ok && id !== undefined) {
    if (verified.size >= MAX_SIGNATURES) verified.clear();
    verified.add(id);
  }
  return ok;
}

/** createPublicKey for a DER SPKI, memoized by the exact bytes. */
export function spkiKey(spki: Buffer): KeyObject {
  if (!enabled) return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const id = spki.toString('base64');
  let k = keys.get(id);
  if (!k) {
    k = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(id, k);
  }
  return k;
}

/** createPublicKey for a PEM public key, memoized by the exact text. */
export function pemKey(pem: string): KeyObject {
  if (!enabled) return createPublicKey(pem);
  let k = keys.get(pem);
  if (!k) {
    k = createPublicKey(pem);
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(pem, k);
  }
  return k;
}
