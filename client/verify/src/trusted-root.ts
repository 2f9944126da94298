/**
 * `trusted_root.json` (protobuf-specs sigstore_trustroot.proto `TrustedRoot`), parsed strictly:
 * known mediaType, enum names from an allow-list, keys decoded per keyDetails, mandatory
 * `publicKey.validFor.start` on transparency and CT logs (as sigstore-go requires), CA chains
 * parsed once. The result is immutable trust material reused across verifications.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { parseJson } from '@cairn/shared';
import { Fields, parseTimestamp, type Fail } from './bundle/json-fields.ts';
import { fail as verifyFail } from './errors.ts';
import { Certificate } from './x509.ts';

export const TRUSTED_ROOT_MEDIA_TYPES = [
  'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  'application/vnd.dev.sigstore.trustedroot.v0.2+json',
] as const;

export const TRUSTED_ROOT_LIMITS = {
  maxBytes: 4 * 1024 * 1024,
  maxAuthorities: 64,
  maxChainCertificates: 10,
  maxKeyBytes: 4096,
} as const;

/** PublicKeyDetails names Cairn verifies with; anything else is rejected at parse time. */
export type KeyDetails =
  | 'PKCS1_RSA_PKCS1V5'
  | 'PKIX_RSA_PKCS1V5'
  | 'PKIX_RSA_PKCS1V15_2048_SHA256'
  | 'PKIX_RSA_PKCS1V15_3072_SHA256'
  | 'PKIX_RSA_PKCS1V15_4096_SHA256'
  | 'PKIX_ECDSA_P256_SHA_256'
  | 'PKIX_ECDSA_P384_SHA_384'
  | 'PKIX_ECDSA_P521_SHA_512'
  | 'PKIX_ED25519';

const KEY_DETAILS: readonly KeyDetails[] = [
  'PKCS1_RSA_PKCS1V5',
  'PKIX_RSA_PKCS1V5',
  'PKIX_RSA_PKCS1V15_2048_SHA256',
  'PKIX_RSA_PKCS1V15_3072_SHA256',
  'PKIX_RSA_PKCS1V15_4096_SHA256',
  'PKIX_ECDSA_P256_SHA_256',
  'PKIX_ECDSA_P384_SHA_384',
  'PKIX_ECDSA_P521_SHA_512',
  'PKIX_ED25519',
];

const CURVES: Partial<Record<KeyDetails, string>> = {
  PKIX_ECDSA_P256_SHA_256: 'prime256v1',
  PKIX_ECDSA_P384_SHA_384: 'secp384r1',
  PKIX_ECDSA_P521_SHA_512: 'secp521r1',
};

export interface ValidityPeriod {
  start: Date | undefined;
  end: Date | undefined;
}

export interface TransparencyLogAuthority {
  baseUrl: string;
  /** Key ID that bundles name this log by: `checkpointKeyId` when present, else `logId`. */
  logId: Buffer;
  keyDetails: KeyDetails;
  publicKey: KeyObject;
  /** The key bytes exactly as the trusted root gives them (identifies the key in memos). */
  rawKey: Buffer;
  validFor: ValidityPeriod;
}

export interface CertificateAuthority {
  uri: string;
  /** Issuer first, trust anchor (self-signed root) last. */
  certChain: Certificate[];
  validFor: ValidityPeriod;
}

export interface TrustMaterial {
  mediaType: string;
  tlogs: TransparencyLogAuthority[];
  ctlogs: TransparencyLogAuthority[];
  certificateAuthorities: CertificateAuthority[];
  timestampAuthorities: CertificateAuthority[];
}

const fail: Fail = (message) => verifyFail('TRUST_ROOT_INVALID', `trusted root: ${message}`);

export function parseTrustedRootJson(text: string): TrustMaterial {
  if (text.length > TRUSTED_ROOT_LIMITS.maxBytes) fail(`larger than ${TRUSTED_ROOT_LIMITS.maxBytes} bytes`);
  let json: unknown;
  try {
    json = parseJson(text, 'trusted root');
  } catch {
    fail('not valid JSON');
  }
  return parseTrustedRoot(json);
}

export function parseTrustedRoot(json: unknown): TrustMaterial {
  const top = new Fields(json, 'trustedRoot', fail, ['mediaType', 'tlogs', 'certificateAuthorities', 'ctlogs', 'timestampAuthorities']);
  const mediaType = top.string('mediaType', 128);
  if (!(TRUSTED_ROOT_MEDIA_TYPES as readonly string[]).includes(mediaType)) fail(`unsupported mediaType "${mediaType}"`);
  const max = TRUSTED_ROOT_LIMITS.maxAuthorities;
  return {
    mediaType,
    tlogs: top.optArray('tlogs', max).map((v, i) => parseLog(v, `tlogs[${i}]`)),
    ctlogs: top.optArray('ctlogs', max).map((v, i) => parseLog(v, `ctlogs[${i}]`)),
    certificateAuthorities: top.optArray('certificateAuthorities', max).map((v, i) => parseAuthority(v, `certificateAuthorities[${i}]`)),
    timestampAuthorities: top.optArray('timestampAuthorities', max).map((v, i) => parseAuthority(v, `timestampAuthorities[${i}]`)),
  };
}

function parseValidity(f: Fields | undefined, path: string, requireStart: boolean): ValidityPeriod {
  if (!f) {
    if (requireStart) fail(`${path}.validFor is required`);
    return { start: undefined, end: undefined };
  }
  if (requireStart && !f.has('start')) fail(`${path}.validFor.start is required`);
  const start = f.has('start') ? parseTimestamp(f.raw('start'), `${path}.validFor.start`, fail) : undefined;
  const end = f.has('end') ? parseTimestamp(f.raw('end'), `${path}.validFor.end`, fail) : undefined;
  if (start && end && end.getTime() < start.getTime()) fail(`${path}.validFor ends before it starts`);
  return { start, end };
}

function parseLog(value: unknown, path: string): TransparencyLogAuthority {
  const f = new Fields(value, path, fail, ['baseUrl', 'hashAlgorithm', 'publicKey', 'logId', 'checkpointKeyId', 'operator']);
  const baseUrl = f.string('baseUrl', 2048);
  // The Merkle tree hash; RFC 6962 and C2SP tlog-tiles use SHA-256 only.
  f.enumValue('hashAlgorithm', ['SHA2_256']);
  const pk = f.child('publicKey', ['rawBytes', 'keyDetails', 'validFor']);
  const keyDetails = pk.enumValue('keyDetails', KEY_DETAILS);
  const raw = pk.bytes('rawBytes', TRUSTED_ROOT_LIMITS.maxKeyBytes);
  const publicKey = decodeKey(raw, keyDetails, `${path}.publicKey`);
  const validFor = parseValidity(pk.optChild('validFor', ['start', 'end']), `${path}.publicKey`, true);
  const logId = f.child('logId', ['keyId']).bytes('keyId', 64);
  const checkpointKeyId = f.optChild('checkpointKeyId', ['keyId'])?.bytes('keyId', 64);
  if (f.has('operator')) f.string('operator', 256);
  const id = checkpointKeyId ?? logId;
  if (id.length !== 32) fail(`${path}.logId.keyId must be 32 bytes`);
  return { baseUrl, logId: id, keyDetails, publicKey, rawKey: raw, validFor };
}

function decodeKey(raw: Buffer, details: KeyDetails, path: string): KeyObject {
  let key: KeyObject | undefined;
  const attempt = (type: 'spki' | 'pkcs1'): KeyObject | undefined => {
    try {
      return createPublicKey({ key: raw, format: 'der', type });
    } catch {
      return undefined;
    }
  };
  if (details.includes('RSA')) {
    // sigstore-js reads RSA log keys as PKCS#1, sigstore-go reads PKIX_* as SPKI: accept either.
    key = attempt('spki') ?? attempt('pkcs1');
    if (!key || key.asymmetricKeyType !== 'rsa') fail(`${path} is not an RSA public key`);
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048 || bits > 4096) fail(`${path} has an RSA modulus of ${bits} bits (2048-4096 allowed)`);
    return key;
  }
  key = attempt('spki');
  if (!key) fail(`${path}.rawBytes is not a DER SubjectPublicKeyInfo`);
  if (details === 'PKIX_ED25519') {
    if (key.asymmetricKeyType !== 'ed25519') fail(`${path} is not an Ed25519 key`);
  } else if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== CURVES[details]) {
    fail(`${path} does not match keyDetails ${details}`);
  }
  return key;
}

function parseAuthority(value: unknown, path: string): CertificateAuthority {
  const f = new Fields(value, path, fail, ['subject', 'uri', 'certChain', 'validFor', 'operator']);
  if (f.has('subject')) {
    const s = f.child('subject', ['organization', 'commonName']);
    s.optString('organization', 256);
    s.optString('commonName', 256);
  }
  const uri = f.optString('uri', 2048) ?? '';
  if (f.has('operator')) f.string('operator', 256);
  const chain = f.child('certChain', ['certificates']);
  const certs = chain.array('certificates', TRUSTED_ROOT_LIMITS.maxChainCertificates).map((c, i) => {
    const der = new Fields(c, `${path}.certChain.certificates[${i}]`, fail, ['rawBytes']).bytes('rawBytes', 64 * 1024);
    try {
      return Certificate.fromDer(der);
    } catch (e) {
      return fail(`${path}.certChain.certificates[${i}]: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  if (certs.length === 0) fail(`${path}.certChain is empty`);
  const validFor = parseValidity(f.optChild('validFor', ['start', 'end']), path, false);
  return { uri, certChain: certs, validFor };
}

export function within(period: ValidityPeriod, t: Date): boolean {
  const ms = t.getTime();
  if (period.start && ms < period.start.getTime()) return false;
  if (period.end && ms > period.end.getTime()) return false;
  return true;
}
