/**
 * TUF keys: the `{keytype, scheme, keyval: {public}}` dictionaries of root metadata, their key IDs,
 * and the bridge to the crypto seam (`Signer` / `Verifier` in @cairn/shared).
 *
 * Accepted (an explicit allow-list, the intersection of securesystemslib and tuf-js
 * `@tufjs/models/dist/utils/key.js`):
 *   ed25519 / ed25519                     public = 64 hex chars (raw key) or PEM SPKI
 *   ecdsa | ecdsa-sha2-nistp256 / ecdsa-sha2-nistp256   public = PEM SPKI (or hex SEC1 point, P-256)
 *   ecdsa | ecdsa-sha2-nistp384 / ecdsa-sha2-nistp384   public = PEM SPKI
 *   rsa / rsassa-pss-sha256               public = PEM SPKI, 2048..4096 bits
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  LocalSigner,
  LocalVerifier,
  PublicKey,
  canonicalizeOlpc,
  sha256Hex,
  type SignatureAlgorithm,
  type Signer,
  type Verifier,
} from '../index.ts';
import { TufError } from './errors.ts';

export interface TufKeyJson {
  keytype: string;
  scheme: string;
  keyval: { public: string; [k: string]: unknown };
  /** Unrecognised fields (x-tuf-on-ci-keyowner, legacy keyid_hash_algorithms) are kept verbatim. */
  [k: string]: unknown;
}

/** Longest `keyval.public` accepted (a PEM RSA-4096 SPKI is about 800 characters). */
export const MAX_PUBLIC_KEY_CHARS = 4096;
/** Longest signature hex accepted (RSA-4096 = 1024 hex chars). */
export const MAX_SIGNATURE_HEX = 2048;

const HEX_RE = /^[0-9a-f]+$/;
const PEM_HEADER = '-----BEGIN PUBLIC KEY-----';

/**
 * The key ID: SHA-256 hex of the OLPC canonical JSON of the key dictionary exactly as it stands
 * in root metadata. For a plain `{keytype, scheme, keyval}` this is securesystemslib's
 * `_get_keyid`; for keys carrying more fields (legacy `keyid_hash_algorithms`, tuf-on-ci's
 * `x-tuf-on-ci-keyowner`) every field is hashed, which is how all six key IDs of Sigstore's
 * production root v14 (seeded in @sigstore/tuf) were computed (test: keys.test.ts). Clients
 * (tuf-js, python-tuf) never recompute IDs; this matters for the IDs Cairn writes.
 */
export function keyIdOf(key: TufKeyJson): string {
  return sha256Hex(canonicalizeOlpc(key));
}

/** The signature algorithm on the crypto seam for a TUF scheme. */
function seamAlgorithm(keytype: string, scheme: string): SignatureAlgorithm {
  if (keytype === 'ed25519' && scheme === 'ed25519') return 'ed25519';
  if (
    (keytype === 'ecdsa' || keytype === 'ecdsa-sha2-nistp256' || keytype === 'ecdsa-sha2-nistp384') &&
    (scheme === 'ecdsa-sha2-nistp256' || scheme === 'ecdsa-sha2-nistp384')
  ) {
    // tuf-js verifies with crypto.verify(undefined, ...), i.e. SHA-256 for every EC curve, so a
    // P-384 signature made with SHA-384 would not verify there. We sign and verify SHA-256.
    return 'ecdsa-p256-sha256';
  }
  if (keytype === 'rsa' && scheme === 'rsassa-pss-sha256') return 'rsa-pss-sha256';
  throw new TufError('UNSUPPORTED_KEY', `unsupported key type/scheme ${keytype}/${scheme}`);
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

function parsePublic(key: TufKeyJson): KeyObject {
  const pub = key.keyval.public;
  if (pub.length === 0 || pub.length > MAX_PUBLIC_KEY_CHARS) throw new TufError('UNSUPPORTED_KEY', 'public key value has a bad length');
  try {
    if (pub.startsWith(PEM_HEADER)) return createPublicKey({ key: pub, format: 'pem' });
    const lower = pub.toLowerCase();
    if (!HEX_RE.test(lower) || lower.length % 2 !== 0) throw new TufError('UNSUPPORTED_KEY', 'public key is neither PEM nor hex');
    const raw = Buffer.from(lower, 'hex');
    if (key.keytype === 'ed25519' && raw.length === 32) {
      return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    }
    if (key.keytype !== 'ed25519' && key.keytype !== 'rsa' && raw.length === 65 && raw[0] === 4) {
      return createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    }
  } catch (e) {
    if (e instanceof TufError) throw e;
    throw new TufError('UNSUPPORTED_KEY', 'public key does not parse', { cause: e });
  }
  throw new TufError('UNSUPPORTED_KEY', 'hex public key has a bad length for its type');
}

function checkKeyMatchesScheme(key: TufKeyJson, obj: KeyObject): void {
  const t = obj.asymmetricKeyType;
  const curve = obj.asymmetricKeyDetails?.namedCurve;
  const ok =
    (key.scheme === 'ed25519' && t === 'ed25519') ||
    (key.scheme === 'ecdsa-sha2-nistp256' && t === 'ec' && curve === 'prime256v1') ||
    (key.scheme === 'ecdsa-sha2-nistp384' && t === 'ec' && curve === 'secp384r1') ||
    (key.scheme === 'rsassa-pss-sha256' &&
      t === 'rsa' &&
      (obj.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 &&
      (obj.asymmetricKeyDetails?.modulusLength ?? 0) <= 4096);
  if (!ok) throw new TufError('UNSUPPORTED_KEY', `key material does not match scheme ${key.scheme}`);
}

/** A verifier for a TUF key dictionary; throws UNSUPPORTED_KEY for anything off the allow-list. */
export function verifierFor(key: TufKeyJson): Verifier {
  const alg = seamAlgorithm(key.keytype, key.scheme);
  const obj = parsePublic(key);
  checkKeyMatchesScheme(key, obj);
  return new LocalVerifier(new PublicKey(obj, alg), alg);
}

/** The TUF key dictionary Cairn writes for a public key (PEM for EC and RSA, hex for Ed25519). */
export function tufKeyFor(publicKey: KeyObject): TufKeyJson {
  if (publicKey.type === 'private') publicKey = createPublicKey(publicKey);
  const t = publicKey.asymmetricKeyType;
  if (t === 'ed25519') {
    const spki = publicKey.export({ type: 'spki', format: 'der' });
    return { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: spki.subarray(ED25519_SPKI_PREFIX.length).toString('hex') } };
  }
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  if (t === 'ec') {
    const curve = publicKey.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pem } };
    if (curve === 'secp384r1') return { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp384', keyval: { public: pem } };
    throw new TufError('UNSUPPORTED_KEY', `unsupported curve ${curve ?? 'unknown'}`);
  }
  if (t === 'rsa') {
    const key: TufKeyJson = { keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: pem } };
    checkKeyMatchesScheme(key, publicKey);
    return key;
  }
  throw new TufError('UNSUPPORTED_KEY', `unsupported key type ${t ?? 'unknown'}`);
}

/** A keyholder: a `Signer` plus the TUF key dictionary and key ID it signs as. */
export interface TufSigner {
  readonly keyid: string;
  readonly key: TufKeyJson;
  readonly signer: Signer;
}

/** Wraps a private key held in memory (a key file) as a TUF signer. */
export function localTufSigner(privateKey: KeyObject): TufSigner {
  if (privateKey.type !== 'private') throw new TufError('UNSUPPORTED_KEY', 'not a private key');
  const key = tufKeyFor(createPublicKey(privateKey));
  const signer = new LocalSigner(privateKey, seamAlgorithm(key.keytype, key.scheme));
  return { keyid: keyIdOf(key), key, signer };
}

/**
 * Wraps a key held elsewhere (a PKCS#11 token) as a TUF signer: its TUF key dictionary from the
 * public key, refused when the signer's algorithm is not the one the dictionary's scheme names.
 */
export function externalTufSigner(signer: Signer): TufSigner {
  const key = tufKeyFor(signer.publicKey.keyObject);
  if (seamAlgorithm(key.keytype, key.scheme) !== signer.algorithm) throw new TufError('UNSUPPORTED_KEY', `a ${key.scheme} key must sign with ${seamAlgorithm(key.keytype, key.scheme)}, not ${signer.algorithm}`);
  return { keyid: keyIdOf(key), key, signer };
}

/** Verifies one hex signature over `data`; malformed hex verifies as false. */
export function verifyHexSignature(verifier: Verifier, data: Uint8Array, sigHex: string): boolean {
  if (sigHex.length === 0 || sigHex.length > MAX_SIGNATURE_HEX || sigHex.length % 2 !== 0 || !HEX_RE.test(sigHex)) return false;
  return verifier.verify(data, Buffer.from(sigHex, 'hex'));
}
