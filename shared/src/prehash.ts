/**
 * Signature verification over a DIGEST computed elsewhere ("prehashed"): what Rekor does for
 * hashedrekord and what `cairn verify sha256:<hex>` needs. node:crypto has no prehashed ECDSA
 * verify, so it is assembled from OpenSSL primitives:
 *
 *   ECDSA (FIPS 186-5 §6.4.2): R = u1·G + u2·Q = u2·(t·G + Q) with t = u1/u2 mod n. OpenSSL
 *   computes both scalar multiplications (ECDH: t·G as a public key, x(u2·P) as a shared
 *   secret); only one affine point addition is done here in BigInt arithmetic.
 *   RSA PKCS#1 v1.5 (RFC 8017 §8.2.2): the public operation with PKCS#1 type-1 padding checks
 *   the padding; the recovered DigestInfo must equal the expected one byte for byte.
 *
 * No policy here: callers decide which (key, hash) pairs they allow (the log applies Rekor's
 * algorithm registry). Ed25519 signs messages, not digests, and cannot be verified from one.
 */
import { constants, createECDH, publicDecrypt, type ECDH, type KeyObject } from 'node:crypto';
import { children, readOne, readUnsignedInteger, TAG } from './der.ts';
import type { HashAlgorithm } from './crypto.ts';

export interface Curve {
  name: string;
  p: bigint;
  n: bigint;
  bytes: number;
  hash: HashAlgorithm;
}

export const CURVES: Readonly<Record<string, Curve>> = {
  prime256v1: {
    name: 'prime256v1',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    bytes: 32,
    hash: 'sha256',
  },
  secp384r1: {
    name: 'secp384r1',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    bytes: 48,
    hash: 'sha384',
  },
  secp521r1: {
    name: 'secp521r1',
    p: (1n << 521n) - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    bytes: 66,
    hash: 'sha512',
  },
};

export const DIGEST_INFO_PREFIX: Record<HashAlgorithm, Buffer> = {
  sha256: Buffer.from('3031300d060960864801650304020105000420', 'hex'),
  sha384: Buffer.from('3041300d060960864801650304020205000430', 'hex'),
  sha512: Buffer.from('3051300d060960864801650304020305000440', 'hex'),
};

export const DIGEST_LENGTH: Record<HashAlgorithm, number> = { sha256: 32, sha384: 48, sha512: 64 };

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** Modular inverse by the extended Euclidean algorithm (m prime, a != 0 mod m). */
function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error('not invertible');
  return mod(s0, m);
}

function toBytes(v: bigint, len: number): Buffer {
  return Buffer.from(v.toString(16).padStart(len * 2, '0'), 'hex');
}

function fromBytes(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex'));
}

/** Affine addition on y^2 = x^3 - 3x + b; undefined for the point at infinity. */
function addPoints(c: Curve, x1: bigint, y1: bigint, x2: bigint, y2: bigint): [bigint, bigint] | undefined {
  const { p } = c;
  let lambda: bigint;
  if (x1 === x2) {
    if (mod(y1 + y2, p) === 0n) return undefined;
    lambda = mod((3n * x1 * x1 - 3n) * inverse(2n * y1, p), p);
  } else {
    lambda = mod((y2 - y1) * inverse(x2 - x1, p), p);
  }
  const x3 = mod(lambda * lambda - x1 - x2, p);
  const y3 = mod(lambda * (x1 - x3) - y1, p);
  return [x3, y3];
}

function parseEcdsaSignature(sig: Uint8Array, n: bigint): { r: bigint; s: bigint } | undefined {
  try {
    const seq = readOne(Buffer.from(sig), TAG.SEQUENCE);
    const parts = children(seq, 3);
    if (parts.length !== 2) return undefined;
    const r = readUnsignedInteger(parts[0]!);
    const s = readUnsignedInteger(parts[1]!);
    if (r < 1n || r >= n || s < 1n || s >= n) return undefined;
    return { r, s };
  } catch {
    return undefined;
  }
}

const ecdhCache = new Map<string, ECDH>();

/** ECDH objects are only scalar-multiplication engines here; one per curve, reused (single thread). */
function ecdhFor(c: Curve): ECDH {
  let e = ecdhCache.get(c.name);
  if (!e) {
    e = createECDH(c.name);
    ecdhCache.set(c.name, e);
  }
  return e;
}

/** ECDSA over a digest with the public point (x, y) on curve `c`; false for any malformed input. */
export function verifyEcdsaPrehashed(c: Curve, qx: bigint, qy: bigint, digest: Buffer, signature: Uint8Array): boolean {
  return verifyEcdsaPrehashedBatch([{ curve: c, qx, qy, digest, signature }])[0]!;
}

/** One ECDSA-over-a-digest check for the batch verifier. */
export interface EcdsaCheck {
  curve: Curve;
  qx: bigint;
  qy: bigint;
  digest: Buffer;
  signature: Uint8Array;
}

/**
 * Inverses of all `values` (non-zero mod m) with ONE modular inversion (Montgomery's trick:
 * prefix products, one inverse, then back-substitution): 3(k-1) multiplications instead of k
 * extended-Euclid runs, which dominate a single verification's JavaScript time.
 */
export function batchInverse(values: readonly bigint[], m: bigint): bigint[] {
  const k = values.length;
  if (k === 0) return [];
  const prefix = new Array<bigint>(k);
  let acc = 1n;
  for (let i = 0; i < k; i++) {
    acc = (acc * values[i]!) % m;
    prefix[i] = acc;
  }
  let inv = inverse(acc, m);
  const out = new Array<bigint>(k);
  for (let i = k - 1; i > 0; i--) {
    out[i] = (inv * prefix[i - 1]!) % m;
    inv = (inv * values[i]!) % m;
  }
  out[0] = inv;
  return out;
}

interface Work {
  i: number;
  r: bigint;
  s: bigint;
  e: bigint;
  u2: bigint;
  tx: bigint;
  ty: bigint;
  /** The point P with R = u2·P, once known. */
  point?: Buffer;
}

function encodePoint(c: Curve, x: bigint, y: bigint): Buffer {
  return Buffer.concat([Buffer.from([4]), toBytes(x, c.bytes), toBytes(y, c.bytes)]);
}

/**
 * ECDSA over digests (FIPS 186-5 §6.4.2), for a batch of checks: R = u1·G + u2·Q is computed as
 * u2·(t·G + Q) with t = u1/u2 = e·r^-1. OpenSSL does both scalar multiplications (ECDH: t·G as a
 * public key, x(u2·P) as a shared secret); the affine addition is done here. The two modular
 * inversions of each check, (r·s)^-1 mod n (it gives both s^-1 and r^-1) and the addition's
 * denominator mod p, are shared across the batch (batchInverse). A batch of one is the single
 * verifier. False for any malformed input.
 */
export function verifyEcdsaPrehashedBatch(checks: readonly EcdsaCheck[]): boolean[] {
  const result = new Array<boolean>(checks.length).fill(false);
  const byCurve = new Map<Curve, Work[]>();
  for (let i = 0; i < checks.length; i++) {
    const ch = checks[i]!;
    const sig = parseEcdsaSignature(ch.signature, ch.curve.n);
    if (!sig) continue;
    // e = the leftmost bits of the digest, as many as the order has.
    let e = fromBytes(ch.digest);
    const excess = ch.digest.length * 8 - ch.curve.n.toString(2).length;
    if (excess > 0) e >>= BigInt(excess);
    let list = byCurve.get(ch.curve);
    if (!list) byCurve.set(ch.curve, (list = []));
    list.push({ i, r: sig.r, s: sig.s, e, u2: 0n, tx: 0n, ty: 0n });
  }
  for (const [c, list] of byCurve) {
    const ecdh = ecdhFor(c);
    const invs = batchInverse(
      list.map((w) => (w.r * w.s) % c.n),
      c.n,
    );
    const adds: Work[] = [];
    for (let k = 0; k < list.length; k++) {
      const w = list[k]!;
      const q = checks[w.i]!;
      w.u2 = mod(w.r * w.r * invs[k]!, c.n); // r·s^-1
      if (mod(w.e, c.n) === 0n) {
        w.point = encodePoint(c, q.qx, q.qy); // u1 = 0: R = u2·Q
        continue;
      }
      ecdh.setPrivateKey(toBytes(mod(w.e * w.s * invs[k]!, c.n), c.bytes)); // t = e·r^-1
      const tg = ecdh.getPublicKey();
      w.tx = fromBytes(tg.subarray(1, 1 + c.bytes));
      w.ty = fromBytes(tg.subarray(1 + c.bytes));
      if (w.tx === q.qx) {
        // Doubling or the point at infinity: rare, added on its own.
        const sum = addPoints(c, w.tx, w.ty, q.qx, q.qy);
        if (sum) w.point = encodePoint(c, sum[0], sum[1]);
        continue;
      }
      adds.push(w);
    }
    const dens = batchInverse(
      adds.map((w) => mod(checks[w.i]!.qx - w.tx, c.p)),
      c.p,
    );
    for (let k = 0; k < adds.length; k++) {
      const w = adds[k]!;
      const q = checks[w.i]!;
      const lambda = mod((q.qy - w.ty) * dens[k]!, c.p);
      const x3 = mod(lambda * lambda - w.tx - q.qx, c.p);
      w.point = encodePoint(c, x3, mod(lambda * (w.tx - x3) - w.ty, c.p));
    }
    for (const w of list) {
      if (!w.point) continue;
      try {
        ecdh.setPrivateKey(toBytes(w.u2, c.bytes));
        result[w.i] = mod(fromBytes(ecdh.computeSecret(w.point)), c.n) === w.r;
      } catch {
        result[w.i] = false;
      }
    }
  }
  return result;
}

/** RSA PKCS#1 v1.5 over a digest: false for a bad signature or padding. */
export function verifyRsaPkcs1Prehashed(key: KeyObject, hash: HashAlgorithm, digest: Buffer, signature: Uint8Array): boolean {
  try {
    const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, Buffer.from(signature));
    return recovered.equals(Buffer.concat([DIGEST_INFO_PREFIX[hash], digest]));
  } catch {
    return false;
  }
}

/**
 * Verifies `signature` over `digest` (already hashed with `hash`) with an EC or RSA key. Never
 * throws for bad input; returns undefined when the key type cannot verify a digest (Ed25519).
 */
export function verifyPrehashed(key: KeyObject, hash: HashAlgorithm, digest: Buffer, signature: Uint8Array): boolean | undefined {
  if (digest.length !== DIGEST_LENGTH[hash]) return false;
  if (key.asymmetricKeyType === 'ec') {
    const c = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!c) return false;
    try {
      const jwk = key.export({ format: 'jwk' });
      const qx = fromBytes(Buffer.from(jwk.x!, 'base64url'));
      const qy = fromBytes(Buffer.from(jwk.y!, 'base64url'));
      return verifyEcdsaPrehashed(c, qx, qy, digest, signature);
    } catch {
      return false;
    }
  }
  if (key.asymmetricKeyType === 'rsa') return verifyRsaPkcs1Prehashed(key, hash, digest, signature);
  return undefined;
}
