/**
 * Signature verification over a digest that was computed elsewhere ("prehashed"), for
 * `cairn verify sha256:<hex>`: node:crypto offers no prehashed ECDSA verify, so ECDSA
 * (FIPS 186-5 §6.4.2) is done here with bigint arithmetic on the NIST curves, and RSA PKCS#1 v1.5
 * by recovering and comparing the DigestInfo (RFC 8017 §8.2.2). Ed25519 signs messages, not
 * digests, so it cannot be verified from a digest.
 */
import { constants, publicDecrypt, type KeyObject } from 'node:crypto';
import { children, readOne, readUnsignedInteger, TAG } from '@cairn/shared/der';

interface Curve {
  p: bigint;
  n: bigint;
  a: bigint;
  gx: bigint;
  gy: bigint;
  bits: number;
}

const CURVES: Record<string, Curve> = {
  prime256v1: {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    a: -3n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bits: 256,
  },
  secp384r1: {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    a: -3n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bits: 384,
  },
  secp521r1: {
    p: (1n << 521n) - 1n,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
    a: -3n,
    gx: 0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66n,
    gy: 0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650n,
    bits: 521,
  },
};

type Jacobian = [bigint, bigint, bigint];

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

function inv(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS, m);
}

function dbl(P: Jacobian, c: Curve): Jacobian {
  const [x, y, z] = P;
  if (y === 0n || z === 0n) return [0n, 1n, 0n];
  const p = c.p;
  const yy = mod(y * y, p);
  const s = mod(4n * x * yy, p);
  const zz = mod(z * z, p);
  const m = mod(3n * x * x + c.a * zz * zz, p);
  const x3 = mod(m * m - 2n * s, p);
  const y3 = mod(m * (s - x3) - 8n * yy * yy, p);
  const z3 = mod(2n * y * z, p);
  return [x3, y3, z3];
}

function add(P: Jacobian, Q: Jacobian, c: Curve): Jacobian {
  if (P[2] === 0n) return Q;
  if (Q[2] === 0n) return P;
  const p = c.p;
  const z1z1 = mod(P[2] * P[2], p);
  const z2z2 = mod(Q[2] * Q[2], p);
  const u1 = mod(P[0] * z2z2, p);
  const u2 = mod(Q[0] * z1z1, p);
  const s1 = mod(P[1] * Q[2] * z2z2, p);
  const s2 = mod(Q[1] * P[2] * z1z1, p);
  if (u1 === u2) return s1 === s2 ? dbl(P, c) : [0n, 1n, 0n];
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  const hh = mod(h * h, p);
  const hhh = mod(h * hh, p);
  const v = mod(u1 * hh, p);
  const x3 = mod(r * r - hhh - 2n * v, p);
  const y3 = mod(r * (v - x3) - s1 * hhh, p);
  const z3 = mod(h * P[2] * Q[2], p);
  return [x3, y3, z3];
}

/** u1*G + u2*Q by Shamir's trick. */
function doubleMul(u1: bigint, G: Jacobian, u2: bigint, Q: Jacobian, c: Curve): Jacobian {
  const GQ = add(G, Q, c);
  let R: Jacobian = [0n, 1n, 0n];
  const bits = Math.max(u1.toString(2).length, u2.toString(2).length);
  for (let i = bits - 1; i >= 0; i--) {
    R = dbl(R, c);
    const b1 = (u1 >> BigInt(i)) & 1n;
    const b2 = (u2 >> BigInt(i)) & 1n;
    if (b1 && b2) R = add(R, GQ, c);
    else if (b1) R = add(R, G, c);
    else if (b2) R = add(R, Q, c);
  }
  return R;
}

function onCurve(x: bigint, y: bigint, c: Curve, b: bigint): boolean {
  return mod(y * y - (x * x * x + c.a * x + b), c.p) === 0n;
}

function ecdsaVerifyPrehashed(key: KeyObject, digest: Buffer, sigDer: Buffer): boolean {
  const curveName = key.asymmetricKeyDetails?.namedCurve;
  const c = curveName ? CURVES[curveName] : undefined;
  if (!c) return false;
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') return false;
  const qx = BigInt('0x' + Buffer.from(jwk.x, 'base64url').toString('hex'));
  const qy = BigInt('0x' + Buffer.from(jwk.y, 'base64url').toString('hex'));
  let r: bigint;
  let s: bigint;
  try {
    const parts = children(readOne(sigDer, TAG.SEQUENCE), 3);
    if (parts.length !== 2) return false;
    r = readUnsignedInteger(parts[0]!);
    s = readUnsignedInteger(parts[1]!);
  } catch {
    return false;
  }
  if (r <= 0n || r >= c.n || s <= 0n || s >= c.n) return false;
  // b is implied by the generator: b = gy^2 - gx^3 - a*gx (mod p); reject keys off the curve.
  const b = mod(c.gy * c.gy - c.gx * c.gx * c.gx - c.a * c.gx, c.p);
  if (!onCurve(qx, qy, c, b)) return false;
  // FIPS 186-5 §6.4.2: e = leftmost min(bits(n), bits(hash)) bits of the digest.
  let e = digest.length === 0 ? 0n : BigInt('0x' + digest.toString('hex'));
  const excess = digest.length * 8 - c.bits;
  if (excess > 0) e >>= BigInt(excess);
  const w = inv(s, c.n);
  const u1 = mod(e * w, c.n);
  const u2 = mod(r * w, c.n);
  const R = doubleMul(u1, [c.gx, c.gy, 1n], u2, [qx, qy, 1n], c);
  if (R[2] === 0n) return false;
  const zinv = inv(R[2], c.p);
  const x = mod(R[0] * zinv * zinv, c.p);
  return mod(x, c.n) === r;
}

const DIGEST_INFO_PREFIX: Record<string, string> = {
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

function rsaVerifyPrehashed(key: KeyObject, algorithm: string, digest: Buffer, sig: Buffer): boolean {
  const prefix = DIGEST_INFO_PREFIX[algorithm];
  if (!prefix) return false;
  try {
    const recovered = publicDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, sig);
    return recovered.equals(Buffer.concat([Buffer.from(prefix, 'hex'), digest]));
  } catch {
    return false;
  }
}

/**
 * Verifies `signature` over a message whose `algorithm` digest is `digest`.
 * Returns undefined when the key type cannot verify a digest (Ed25519).
 */
export function verifyPrehashed(key: KeyObject, algorithm: 'sha256' | 'sha384' | 'sha512', digest: Buffer, signature: Buffer): boolean | undefined {
  if (key.asymmetricKeyType === 'ec') return ecdsaVerifyPrehashed(key, digest, signature);
  if (key.asymmetricKeyType === 'rsa') return rsaVerifyPrehashed(key, algorithm, digest, signature);
  return undefined;
}
