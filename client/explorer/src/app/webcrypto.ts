/** Public keys and signature checks through WebCrypto: ECDSA (DER signatures), Ed25519, RSA PKCS#1 v1.5. */
import { children, oid, readTlv } from './der.ts';

export type Hash = 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface VerifyKey {
  kind: 'ecdsa' | 'ed25519' | 'rsa';
  /** ECDSA: bytes of r and of s. */
  size: number;
  key: CryptoKey;
  description: string;
}

const CURVES: Record<string, { name: string; size: number }> = {
  '1.2.840.10045.3.1.7': { name: 'P-256', size: 32 },
  '1.3.132.0.34': { name: 'P-384', size: 48 },
  '1.3.132.0.35': { name: 'P-521', size: 66 },
};

/** Imports a DER SubjectPublicKeyInfo for verification with `hash` (ECDSA/RSA). */
export async function importSpki(spki: Uint8Array, hash: Hash = 'SHA-256'): Promise<VerifyKey> {
  const { tlv } = readTlv(spki);
  const [alg] = children(tlv.value);
  const [algOid, param] = children(alg!.value);
  const a = oid(algOid!.value);
  const data = spki as BufferSource;
  if (a === '1.2.840.10045.2.1') {
    const curve = CURVES[oid(param!.value)];
    if (!curve) throw new Error('unsupported elliptic curve');
    const key = await crypto.subtle.importKey('spki', data, { name: 'ECDSA', namedCurve: curve.name }, false, ['verify']);
    return { kind: 'ecdsa', size: curve.size, key, description: `ECDSA ${curve.name}` };
  }
  if (a === '1.3.101.112') {
    const key = await crypto.subtle.importKey('spki', data, { name: 'Ed25519' }, false, ['verify']);
    return { kind: 'ed25519', size: 0, key, description: 'Ed25519' };
  }
  if (a === '1.2.840.113549.1.1.1') {
    const key = await crypto.subtle.importKey('spki', data, { name: 'RSASSA-PKCS1-v1_5', hash }, false, ['verify']);
    return { kind: 'rsa', size: 0, key, description: 'RSA' };
  }
  throw new Error(`unsupported key algorithm ${a}`);
}

/** DER ECDSA-Sig-Value -> r || s, each left-padded to the curve size (what WebCrypto takes). */
function ecdsaRaw(der: Uint8Array, size: number): Uint8Array | undefined {
  try {
    const { tlv, next } = readTlv(der);
    if (tlv.tag !== 0x30 || next !== der.length) return undefined;
    const ints = children(tlv.value);
    if (ints.length !== 2 || ints.some((i) => i.tag !== 0x02)) return undefined;
    const out = new Uint8Array(2 * size);
    ints.forEach((i, k) => {
      let v = i.value;
      while (v.length > 1 && v[0] === 0) v = v.subarray(1);
      if (v.length > size) throw new Error('integer too long');
      out.set(v, (k + 1) * size - v.length);
    });
    return out;
  } catch {
    return undefined;
  }
}

/** Whether `sig` (DER for ECDSA) is a signature of `data` under the key, with `hash`. */
export async function verifySignature(k: VerifyKey, data: Uint8Array, sig: Uint8Array, hash: Hash = 'SHA-256'): Promise<boolean> {
  try {
    if (k.kind === 'ecdsa') {
      const raw = ecdsaRaw(sig, k.size);
      return raw !== undefined && (await crypto.subtle.verify({ name: 'ECDSA', hash }, k.key, raw as BufferSource, data as BufferSource));
    }
    if (k.kind === 'ed25519') return await crypto.subtle.verify({ name: 'Ed25519' }, k.key, sig as BufferSource, data as BufferSource);
    return await crypto.subtle.verify({ name: 'RSASSA-PKCS1-v1_5' }, k.key, sig as BufferSource, data as BufferSource);
  } catch {
    return false;
  }
}

/** The hash a trusted-root keyDetails names (PKIX_ECDSA_P384_SHA_384 -> SHA-384), SHA-256 otherwise. */
export function hashOfKeyDetails(details: string | undefined): Hash {
  if (details?.endsWith('SHA_384')) return 'SHA-384';
  if (details?.endsWith('SHA_512')) return 'SHA-512';
  return 'SHA-256';
}
