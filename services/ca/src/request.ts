/**
 * The subject key of a signing-certificate request and its proof of possession (Fulcio
 * pkg/challenges/challenges.go, grpc_server.go): a PEM/DER public key plus a signature over the
 * principal name, or a PKCS#10 CSR (RFC 2986) whose self-signature is the proof.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { children, oidToString, readOne, TAG } from '@cairn/shared/der';
import { fromPemAll, isBase64, isCairnError } from '@cairn/shared';
import { CaError } from './errors.ts';

export const MAX_PUBLIC_KEY_BYTES = 8 * 1024;
export const MAX_PROOF_BYTES = 1024;
export const MAX_CSR_BYTES = 16 * 1024;

/** A key a leaf may certify, with how its proof of possession is checked. */
export interface SubjectKey {
  key: KeyObject;
  /** Re-encoded DER SubjectPublicKeyInfo (normalised by OpenSSL). */
  spki: Buffer;
  /** node:crypto digest for the key's default signature (null for Ed25519). */
  hash: string | null;
}

/**
 * Allowed subject keys (Fulcio goodkey + algorithm registry): ECDSA P-256/P-384/P-521,
 * Ed25519, RSA 2048-4096 with e = 65537. Everything else is refused.
 */
export function checkSubjectKey(key: KeyObject): SubjectKey {
  const t = key.asymmetricKeyType;
  let hash: string | null;
  if (t === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') hash = 'sha256';
    else if (curve === 'secp384r1') hash = 'sha384';
    else if (curve === 'secp521r1') hash = 'sha512';
    else throw new CaError('UNSUPPORTED_KEY', `ECDSA curve ${curve ?? 'unknown'} is not supported`);
  } else if (t === 'ed25519') {
    hash = null;
  } else if (t === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new CaError('WEAK_KEY', `RSA keys need at least 2048 bits (got ${bits})`);
    if (bits > 4096) throw new CaError('UNSUPPORTED_KEY', `RSA keys above 4096 bits are not supported`);
    if (key.asymmetricKeyDetails?.publicExponent !== 65537n) throw new CaError('WEAK_KEY', 'RSA keys must use e = 65537');
    hash = 'sha256';
  } else {
    throw new CaError('UNSUPPORTED_KEY', `key type ${t ?? 'unknown'} is not supported`);
  }
  return { key, spki: key.export({ type: 'spki', format: 'der' }), hash };
}

/**
 * Fixed SubjectPublicKeyInfo headers of named-curve ECDSA keys with uncompressed points (RFC 5480
 * §2): when the submitted DER is exactly one of these, it is already the canonical encoding, so
 * the hot path skips OpenSSL's re-export and the key-details lookup.
 */
const EC_SPKI_HEADERS: readonly { header: Buffer; length: number; hash: string; crv: string; size: number }[] = [
  { header: Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex'), length: 91, hash: 'sha256', crv: 'P-256', size: 32 },
  { header: Buffer.from('3076301006072a8648ce3d020106052b81040022036200' + '04', 'hex'), length: 120, hash: 'sha384', crv: 'P-384', size: 48 },
  { header: Buffer.from('30819b301006072a8648ce3d020106052b8104002303818600' + '04', 'hex'), length: 158, hash: 'sha512', crv: 'P-521', size: 66 },
];

/**
 * Parses a DER SPKI. Canonical named-curve EC keys take a fast path: the point is handed to
 * OpenSSL as a JWK, which skips the DER decoder framework (about 40% of the cost of a DER import;
 * OpenSSL still checks that the point is on the curve). Anything the fast path refuses goes the
 * DER way, which decides the error.
 */
export function subjectKeyFromDer(der: Buffer): SubjectKey {
  const fast = EC_SPKI_HEADERS.find((h) => der.length === h.length && der.subarray(0, h.header.length).equals(h.header));
  if (fast) {
    const x = der.subarray(fast.header.length, fast.header.length + fast.size).toString('base64url');
    const y = der.subarray(fast.header.length + fast.size).toString('base64url');
    let key: KeyObject | undefined;
    try {
      key = createPublicKey({ key: { kty: 'EC', crv: fast.crv, x, y }, format: 'jwk' });
    } catch {
      key = undefined;
    }
    if (key) return { key, spki: Buffer.from(der), hash: fast.hash };
  }
  return checkSubjectKey(keyFromDer(der));
}

function keyFromDer(der: Buffer): KeyObject {
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (e) {
    // OpenSSL refuses unknown curves at parse time; tell that apart from garbage.
    const msg = e instanceof Error ? e.message : '';
    if (/curve|unsupported/i.test(msg)) throw new CaError('UNSUPPORTED_KEY', 'the public key uses an unsupported algorithm or curve', { cause: e });
    throw new CaError('INVALID_PUBLIC_KEY', 'the public key is not a DER SubjectPublicKeyInfo', { cause: e });
  }
}

/** `content` of a v2 public key: PEM `PUBLIC KEY` text, or base64 of DER (Fulcio ParsePublicKey). */
export function parsePublicKeyContent(content: string): SubjectKey {
  if (content.length > MAX_PUBLIC_KEY_BYTES) throw new CaError('INVALID_PUBLIC_KEY', 'the public key is too large');
  if (content.includes('-----BEGIN')) {
    let blocks;
    try {
      blocks = fromPemAll(content, 'public key');
    } catch (e) {
      throw new CaError('INVALID_PUBLIC_KEY', 'the public key PEM is malformed', { cause: e });
    }
    if (blocks.length !== 1 || blocks[0]!.label !== 'PUBLIC KEY') throw new CaError('INVALID_PUBLIC_KEY', 'expected exactly one PUBLIC KEY PEM block');
    return subjectKeyFromDer(blocks[0]!.der);
  }
  const compact = content.replace(/\s+/g, '');
  if (!isBase64(compact) || compact.length === 0) throw new CaError('INVALID_PUBLIC_KEY', 'the public key is neither PEM nor base64 DER');
  return subjectKeyFromDer(Buffer.from(compact, 'base64'));
}

export function decodeBase64Field(s: unknown, what: string, max: number, code: 'MALFORMED_REQUEST' | 'INVALID_PROOF_OF_POSSESSION' | 'INVALID_CSR' | 'INVALID_PUBLIC_KEY'): Buffer {
  if (typeof s !== 'string' || s.length === 0) throw new CaError(code === 'INVALID_PROOF_OF_POSSESSION' ? 'INVALID_PROOF_OF_POSSESSION' : 'MALFORMED_REQUEST', `${what} is missing`);
  if (s.length > Math.ceil(max / 3) * 4 + 4 || !isBase64(s)) throw new CaError(code, `${what} is not base64 of at most ${max} bytes`);
  return Buffer.from(s, 'base64');
}

/**
 * Fulcio CheckSignatureWithVerifier: the key's default algorithm over the UTF-8 name. The check
 * runs on libuv's thread pool (node:crypto's callback form), off the event loop.
 */
export async function verifyProofOfPossession(subject: SubjectKey, name: string, proof: Buffer): Promise<void> {
  const ok = await new Promise<boolean>((resolve) => {
    try {
      cryptoVerify(subject.hash, Buffer.from(name, 'utf8'), subject.key, proof, (err, result) => resolve(!err && result));
    } catch {
      resolve(false);
    }
  });
  if (!ok) throw new CaError('INVALID_PROOF_OF_POSSESSION', 'the proof of possession does not verify for the token identity');
}

/** Signature algorithms a CSR may be signed with, and the key type each needs. */
const CSR_ALGORITHMS: Record<string, { hash: string | null; keyType: string }> = {
  '1.2.840.10045.4.3.2': { hash: 'sha256', keyType: 'ec' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', keyType: 'ec' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', keyType: 'ec' },
  '1.2.840.113549.1.1.11': { hash: 'sha256', keyType: 'rsa' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', keyType: 'rsa' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', keyType: 'rsa' },
  '1.3.101.112': { hash: null, keyType: 'ed25519' },
};

/**
 * RFC 2986 §4: CertificationRequest ::= SEQUENCE { certificationRequestInfo, signatureAlgorithm,
 * signature BIT STRING }. Only the key is used; the self-signature proves possession.
 * `pemText` is the decoded `certificateSigningRequest` bytes (PEM, or DER accepted too).
 */
export function parseCsr(bytes: Buffer): SubjectKey {
  let der: Buffer;
  const text = bytes.toString('latin1');
  if (text.includes('-----BEGIN')) {
    let blocks;
    try {
      blocks = fromPemAll(text, 'CSR');
    } catch (e) {
      throw new CaError('INVALID_CSR', 'the CSR PEM is malformed', { cause: e });
    }
    if (blocks.length !== 1 || (blocks[0]!.label !== 'CERTIFICATE REQUEST' && blocks[0]!.label !== 'NEW CERTIFICATE REQUEST')) {
      throw new CaError('INVALID_CSR', 'expected exactly one CERTIFICATE REQUEST PEM block');
    }
    der = blocks[0]!.der;
  } else {
    der = bytes;
  }
  let info: Buffer;
  let spkiDer: Buffer;
  let algOid: string;
  let sig: Buffer;
  try {
    const top = children(readOne(der, TAG.SEQUENCE));
    if (top.length !== 3) throw new Error('CertificationRequest must have three fields');
    const [infoTlv, algTlv, sigTlv] = top as [(typeof top)[0], (typeof top)[0], (typeof top)[0]];
    if (infoTlv.tag !== TAG.SEQUENCE || algTlv.tag !== TAG.SEQUENCE || sigTlv.tag !== TAG.BIT_STRING) throw new Error('bad field tags');
    const infoFields = children(infoTlv);
    if (infoFields.length !== 4 || infoFields[0]!.tag !== TAG.INTEGER || infoFields[0]!.value.length !== 1 || infoFields[0]!.value[0] !== 0) {
      throw new Error('CertificationRequestInfo must be version 0 with subject, key and attributes');
    }
    if (infoFields[2]!.tag !== TAG.SEQUENCE || infoFields[3]!.tag !== 0xa0) throw new Error('bad CertificationRequestInfo');
    info = Buffer.from(infoTlv.raw);
    spkiDer = Buffer.from(infoFields[2]!.raw);
    const algParts = children(algTlv);
    if (algParts[0]?.tag !== TAG.OID) throw new Error('bad signature algorithm');
    algOid = oidToString(algParts[0].value);
    if (sigTlv.value.length < 2 || sigTlv.value[0] !== 0) throw new Error('bad signature BIT STRING');
    sig = Buffer.from(sigTlv.value.subarray(1));
  } catch (e) {
    if (isCairnError(e) && e instanceof CaError) throw e;
    throw new CaError('INVALID_CSR', `the CSR is not a DER PKCS#10 request: ${e instanceof Error ? e.message : 'malformed'}`, { cause: e });
  }
  const subject = subjectKeyFromDer(spkiDer);
  const alg = CSR_ALGORITHMS[algOid];
  if (!alg || alg.keyType !== subject.key.asymmetricKeyType) throw new CaError('INVALID_CSR', `CSR signature algorithm ${algOid} does not fit the key`);
  let ok = false;
  try {
    ok = cryptoVerify(alg.hash, info, subject.key, sig);
  } catch {
    ok = false;
  }
  if (!ok) throw new CaError('CSR_SIGNATURE_INVALID', 'the CSR self-signature does not verify');
  return subject;
}
