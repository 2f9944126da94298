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

/** SPKI prefixes of uncompressed EC points (id-ecPublicKey with prime256v1 / secp384r1), with the coordinate size. */
const EC_SPKI: readonly { prefix: Buffer; crv: string; size: number }[] = [
  { prefix: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex'), crv: 'P-256', size: 32 },
  { prefix: Buffer.from('3076301006072a8648ce3d020106052b81040022036200' + '04', 'hex'), crv: 'P-384', size: 48 },
];

/**
 * Parses a DER SPKI. OpenSSL 3's DER decoder costs about twice as much as importing the same EC
 * point as a JWK (which also checks that the point is on the curve), so exact P-256/P-384 SPKIs
 * take that path; anything else goes through the decoder.
 */
function parseSpki(spki: Buffer): KeyObject {
  for (const { prefix, crv, size } of EC_SPKI) {
    if (spki.length === prefix.length + 2 * size && spki.subarray(0, prefix.length).equals(prefix)) {
      const x = spki.subarray(prefix.length, prefix.length + size).toString('base64url');
      const y = spki.subarray(prefix.length + size).toString('base64url');
      return createPublicKey({ key: { kty: 'EC', crv, x, y }, format: 'jwk' });
    }
  }
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}

/** createPublicKey for a DER SPKI, memoized by the exact bytes. */
export function spkiKey(spki: Buffer): KeyObject {
  if (!enabled) return parseSpki(spki);
  const id = spki.toString('base64');
  let k = keys.get(id);
  if (!k) {
    k = parseSpki(spki);
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
