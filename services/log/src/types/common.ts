/**
 * Pieces every Rekor entry type shares: strict field access, base64/hex decoding with the log's
 * error codes, and parsing of the key material a client proposes (PEM certificate(s) or PEM
 * public key) into a verifying key, Rekor's canonical PEM re-encoding and the identities used by
 * the search index.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { LocalVerifier, PublicKey, fromPemAll, isBase64, isRecord, toPem, type HashAlgorithm } from '@cairn/shared';
import { pae } from '@cairn/shared/dsse';
import { LogError } from '../errors.ts';
import { keyFromSpki, parseCertificate, type VerifyingKey } from '../key-material.ts';

/** Certificates accepted in one verifier PEM (leaf first). */
export const MAX_CERTS_PER_VERIFIER = 10;
/** Verifiers / signatures per DSSE entry. */
export const MAX_SIGNATURES = 16;

/** The DSSE payloadType of an in-toto statement: the only payloads kept as attestations. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/**
 * Largest DSSE payload stored as an entry's attestation (Rekor's `max_attestation_size`). A larger
 * in-toto statement is still verified and logged (its hash is in the body, its subjects are
 * indexed), it is just not stored: reads of that entry carry no `attestation`, as on Rekor.
 */
export const MAX_ATTESTATION_BYTES = 128 * 1024;

export interface PreparedEntry {
  kind: string;
  apiVersion: string;
  /** The canonicalized body: the leaf bytes. */
  body: Buffer;
  /** Search-index keys (lowercase): `hash:<alg>:<hex>`, `key:<sha256 hex>`, `id:<SAN>`. */
  indexKeys: string[];
  /**
   * The DSSE payload (the in-toto statement) of an intoto / dsse entry, stored beside the leaf
   * and returned on v1 reads as `attestation.data` (Rekor v1). Set only for payloadType
   * IN_TOTO_PAYLOAD_TYPE and at most MAX_ATTESTATION_BYTES (attestationOf).
   */
  attestation?: Buffer;
}

/**
 * `{attestation}` for a verified envelope whose payload the log keeps, else `{}`: in-toto
 * statements up to MAX_ATTESTATION_BYTES. The bytes are copied into a buffer of their own (the
 * decoded payload may be a view into a shared pool slab, which would otherwise be kept alive and
 * cloned whole when the entry crosses to a worker thread).
 */
export function attestationOf(payloadType: string, payload: Buffer): { attestation?: Buffer } {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE || payload.length > MAX_ATTESTATION_BYTES) return {};
  const own = Buffer.alloc(payload.length);
  payload.copy(own);
  return { attestation: own };
}

export function bad(message: string): never {
  throw new LogError('INVALID_ENTRY', message);
}

export function obj(v: unknown, what: string): Record<string, unknown> {
  if (!isRecord(v)) bad(`${what} must be an object`);
  return v;
}

/** Rejects unknown members: a field we do not understand is never silently dropped. */
export function only(o: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(`${what} has an unknown field ${k}`);
}

export function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) bad(`${what} must be a non-empty string`);
  return v;
}

const HEX_RE = /^[0-9a-fA-F]*$/;

/** Strict standard base64 (Go's StdEncoding, as Rekor's strfmt.Base64 reads it). */
export function b64(v: unknown, what: string): Buffer {
  const s = str(v, what);
  if (!isBase64(s)) throw new LogError('INVALID_ENCODING', `${what} is not valid base64`);
  return Buffer.from(s, 'base64');
}

export function hex(v: unknown, what: string): Buffer {
  const s = str(v, what);
  if (s.length % 2 !== 0 || !HEX_RE.test(s)) throw new LogError('INVALID_ENCODING', `${what} is not valid hex`);
  return Buffer.from(s, 'hex');
}

export const HASH_ALGORITHMS: Record<string, { alg: HashAlgorithm; length: number }> = {
  sha256: { alg: 'sha256', length: 32 },
  sha384: { alg: 'sha384', length: 48 },
  sha512: { alg: 'sha512', length: 64 },
};

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface ParsedVerifier {
  /** The verifying key (curve point for ECDSA; node:crypto key on demand). */
  vk: VerifyingKey;
  /** Rekor's canonical value: Go pem.Encode of the cert(s) or the PKIX public key. */
  canonicalPem: string;
  /** DER of the leaf certificate, when the verifier is a certificate. */
  certDer?: Buffer;
  /** DER SubjectPublicKeyInfo of the verifying key. */
  spki: Buffer;
  /** Email and URI SANs of the leaf certificate, lowercased. */
  identities: string[];
}

/** From DER: a certificate (x509Certificate.rawBytes) or a SubjectPublicKeyInfo (publicKey.rawBytes). */
export function verifierFromDer(der: Buffer, form: 'certificate' | 'spki'): ParsedVerifier {
  if (form === 'certificate') {
    const cert = parseCertificate(der);
    const vk = keyFromSpki(cert.spki);
    return { vk, canonicalPem: toPem('CERTIFICATE', cert.der), certDer: cert.der, spki: vk.spki, identities: cert.identities };
  }
  const vk = keyFromSpki(der);
  return { vk, canonicalPem: toPem('PUBLIC KEY', vk.spki), spki: vk.spki, identities: [] };
}

/** From the base64 of a PEM text, as hashedrekord/dsse/intoto carry it. */
export function verifierFromPemB64(v: unknown, what: string): ParsedVerifier {
  const pemBytes = b64(v, what);
  let blocks;
  try {
    blocks = fromPemAll(pemBytes.toString('utf8'), what);
  } catch (e) {
    throw new LogError('INVALID_ENCODING', `${what} is not PEM`, { cause: e });
  }
  const first = blocks[0]!;
  if (first.label === 'PUBLIC KEY') {
    if (blocks.length !== 1) throw new LogError('INVALID_KEY', `${what} must hold one public key`);
    return verifierFromDer(first.der, 'spki');
  }
  if (first.label !== 'CERTIFICATE') throw new LogError('INVALID_KEY', `${what} must be a CERTIFICATE or PUBLIC KEY PEM`);
  if (blocks.length > MAX_CERTS_PER_VERIFIER || blocks.some((b) => b.label !== 'CERTIFICATE')) {
    throw new LogError('INVALID_KEY', `${what} must hold at most ${MAX_CERTS_PER_VERIFIER} certificates`);
  }
  const certs = blocks.map((b) => parseCertificate(b.der));
  const leaf = certs[0]!;
  const vk = keyFromSpki(leaf.spki);
  return {
    vk,
    canonicalPem: certs.map((c) => toPem('CERTIFICATE', c.der)).join(''),
    certDer: leaf.der,
    spki: vk.spki,
    identities: leaf.identities,
  };
}

/** Index keys for a verifier: its canonical PEM hash, its SPKI hash and its identities. */
export function verifierIndexKeys(v: ParsedVerifier): string[] {
  return [`key:${sha256Hex(v.canonicalPem)}`, `key:${sha256Hex(toPem('PUBLIC KEY', v.spki))}`, ...v.identities.map((i) => `id:${i}`)];
}

/** DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
export { pae };

/** Verifies a signature over a message with the key's default algorithm (DSSE PAE signatures). */
export function verifyMessage(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  let verifier: LocalVerifier;
  try {
    verifier = new LocalVerifier(new PublicKey(key));
  } catch (e) {
    throw new LogError('UNSUPPORTED_KEY', 'key type or size is not allowed', { cause: e });
  }
  return verifier.verify(data, signature);
}
