/**
 * Rekor v2 write requests (`POST /api/v2/log/entries`, protojson CreateEntryRequest) and the
 * canonical bodies rekor-tiles stores: protojson field names, standard base64, enum names, then
 * RFC 8785 JCS [rekor-tiles: pkg/types/hashedrekord/hashedrekord.go, internal/server/service.go].
 * sigstore-go recomputes the hashedrekord 0.0.2 leaf from the bundle, so these bytes must match
 * its reconstruction exactly. dsse 0.0.2 (deprecated upstream, still sent by sigstore-js 4.1) is
 * accepted too; its in-toto payload (up to MAX_ATTESTATION_BYTES) is kept as the entry's
 * attestation, returned by the v1 reads of the entry.
 */
import type { VerifyingKey } from '../key-material.ts';
import { canonicalizeJcs, type HashAlgorithm } from '@cairn/shared';
import { LogError } from '../errors.ts';
import { requirePrehashed } from '../prehash.ts';
import { parseEnvelope, matchSignatures } from './dsse.ts';
import { MAX_SIGNATURES, attestationOf, b64, bad, obj, only, verifierFromDer, verifierIndexKeys, type ParsedVerifier, type PreparedEntry } from './common.ts';
import { createHash } from 'node:crypto';
import { inTotoSubjectKeys } from './intoto-subjects.ts';

interface KeyDetails {
  type: 'ec' | 'rsa' | 'ed25519';
  curve?: string;
  bits?: number;
  hash: HashAlgorithm;
  hashName: 'SHA2_256' | 'SHA2_384' | 'SHA2_512';
}

/** protobuf-specs PublicKeyDetails accepted for v2 entries (an explicit allow-list). */
export const KEY_DETAILS: Record<string, KeyDetails> = {
  PKIX_ECDSA_P256_SHA_256: { type: 'ec', curve: 'prime256v1', hash: 'sha256', hashName: 'SHA2_256' },
  PKIX_ECDSA_P384_SHA_384: { type: 'ec', curve: 'secp384r1', hash: 'sha384', hashName: 'SHA2_384' },
  PKIX_ECDSA_P521_SHA_512: { type: 'ec', curve: 'secp521r1', hash: 'sha512', hashName: 'SHA2_512' },
  PKIX_RSA_PKCS1V15_2048_SHA256: { type: 'rsa', bits: 2048, hash: 'sha256', hashName: 'SHA2_256' },
  PKIX_RSA_PKCS1V15_3072_SHA256: { type: 'rsa', bits: 3072, hash: 'sha256', hashName: 'SHA2_256' },
  PKIX_RSA_PKCS1V15_4096_SHA256: { type: 'rsa', bits: 4096, hash: 'sha256', hashName: 'SHA2_256' },
  PKIX_ED25519: { type: 'ed25519', hash: 'sha512', hashName: 'SHA2_512' },
};

interface V2Verifier extends ParsedVerifier {
  details: KeyDetails;
  /** The verifier as stored in the body (protojson). */
  json: Record<string, unknown>;
}

function keyMatches(vk: VerifyingKey, d: KeyDetails): boolean {
  if (vk.ec) return d.type === 'ec' && vk.ec.curve.name === d.curve;
  const key = vk.key;
  if (key.asymmetricKeyType !== d.type) return false;
  if (d.curve !== undefined && key.asymmetricKeyDetails?.namedCurve !== d.curve) return false;
  if (d.bits !== undefined && key.asymmetricKeyDetails?.modulusLength !== d.bits) return false;
  return true;
}

function parseVerifier(v: unknown, what: string): V2Verifier {
  const o = obj(v, what);
  only(o, ['publicKey', 'x509Certificate', 'keyDetails'], what);
  if (typeof o.keyDetails !== 'string') bad(`${what}.keyDetails must be a PublicKeyDetails name`);
  const details = KEY_DETAILS[o.keyDetails];
  if (!details) throw new LogError('UNSUPPORTED_KEY', `keyDetails ${o.keyDetails} is not supported`);
  const hasCert = o.x509Certificate !== undefined;
  if (hasCert === (o.publicKey !== undefined)) bad(`${what} needs exactly one of publicKey and x509Certificate`);
  const field = hasCert ? 'x509Certificate' : 'publicKey';
  const raw = obj(o[field], `${what}.${field}`);
  only(raw, ['rawBytes'], `${what}.${field}`);
  const der = b64(raw.rawBytes, `${what}.${field}.rawBytes`);
  const parsed = verifierFromDer(der, hasCert ? 'certificate' : 'spki');
  if (!keyMatches(parsed.vk, details)) throw new LogError('UNSUPPORTED_KEY', `the key does not match keyDetails ${o.keyDetails}`);
  return { vk: parsed.vk, canonicalPem: parsed.canonicalPem, spki: parsed.spki, identities: parsed.identities, ...(parsed.certDer ? { certDer: parsed.certDer } : {}), details, json: { [field]: { rawBytes: der.toString('base64') }, keyDetails: o.keyDetails } };
}

function prepareHashedRekord002(reqIn: unknown): PreparedEntry {
  const req = obj(reqIn, 'hashedRekordRequestV002');
  only(req, ['digest', 'signature'], 'hashedRekordRequestV002');
  const digest = b64(req.digest, 'digest');
  const sig = obj(req.signature, 'signature');
  only(sig, ['content', 'verifier'], 'signature');
  const content = b64(sig.content, 'signature.content');
  const verifier = parseVerifier(sig.verifier, 'signature.verifier');
  if (verifier.details.type === 'ed25519') throw new LogError('UNSUPPORTED_KEY', 'hashedrekord needs a prehash signature scheme; pure Ed25519 has none');
  const want = { sha256: 32, sha384: 48, sha512: 64 }[verifier.details.hash];
  if (digest.length !== want) throw new LogError('INVALID_DIGEST', `keyDetails ${String(verifier.json.keyDetails)} needs a ${want}-byte digest`);
  requirePrehashed(verifier.vk, verifier.details.hash, digest, content, () => new LogError('INVALID_SIGNATURE', 'the signature does not verify over the digest'));
  const body = {
    apiVersion: '0.0.2',
    kind: 'hashedrekord',
    spec: {
      hashedRekordV002: {
        data: { algorithm: verifier.details.hashName, digest: digest.toString('base64') },
        signature: { content: content.toString('base64'), verifier: verifier.json },
      },
    },
  };
  return {
    kind: 'hashedrekord',
    apiVersion: '0.0.2',
    body: Buffer.from(canonicalizeJcs(body)),
    indexKeys: [`hash:${verifier.details.hash}:${digest.toString('hex')}`, ...verifierIndexKeys(verifier)],
  };
}

function prepareDsse002(reqIn: unknown): PreparedEntry {
  const req = obj(reqIn, 'dsseRequestV002');
  only(req, ['envelope', 'verifiers'], 'dsseRequestV002');
  const env = parseEnvelope(req.envelope, 'envelope');
  if (!Array.isArray(req.verifiers) || req.verifiers.length === 0) bad('verifiers must be a non-empty array');
  if (req.verifiers.length > MAX_SIGNATURES) bad(`at most ${MAX_SIGNATURES} verifiers`);
  const verifiers = req.verifiers.map((v: unknown, i) => parseVerifier(v, `verifiers[${i}]`));
  const used = matchSignatures(env, verifiers);
  const signatures = env.signatures
    .map((s, i) => ({ raw: s.sig, json: { content: s.sig.toString('base64'), verifier: used[i]!.json } }))
    .sort((a, b) => Buffer.compare(a.raw, b.raw))
    .map((s) => s.json);
  const payloadDigest = createHash('sha256').update(env.payload).digest();
  const body = {
    apiVersion: '0.0.2',
    kind: 'dsse',
    spec: { dsseV002: { payloadHash: { algorithm: 'SHA2_256', digest: payloadDigest.toString('base64') }, signatures } },
  };
  return {
    kind: 'dsse',
    apiVersion: '0.0.2',
    body: Buffer.from(canonicalizeJcs(body)),
    indexKeys: [`hash:sha256:${payloadDigest.toString('hex')}`, ...used.flatMap(verifierIndexKeys), ...inTotoSubjectKeys(env.payloadType, env.payload)],
    ...attestationOf(env.payloadType, env.payload),
  };
}

/** A v2 CreateEntryRequest: exactly one of hashedRekordRequestV002 and dsseRequestV002. */
export function prepareV2Request(input: unknown): PreparedEntry {
  const req = obj(input, 'request');
  const keys = Object.keys(req);
  if (keys.length !== 1) throw new LogError('UNSUPPORTED_KIND', 'the request must hold exactly one of hashedRekordRequestV002, dsseRequestV002');
  if (req.hashedRekordRequestV002 !== undefined) return prepareHashedRekord002(req.hashedRekordRequestV002);
  if (req.dsseRequestV002 !== undefined) return prepareDsse002(req.dsseRequestV002);
  throw new LogError('UNSUPPORTED_KIND', `unknown request type ${keys[0]!}`);
}
