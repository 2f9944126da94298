/**
 * Keys in the formats python-in-toto 1.3.1 / securesystemslib 0.26 use, and their keyids.
 *
 * - Public key metadata: `{keytype, scheme, keyid_hash_algorithms, keyval: {public}}` with `public`
 *   the raw key as hex (ed25519) or a PEM SubjectPublicKeyInfo (ecdsa, rsa).
 * - keyid = sha256(OLPC canonical JSON of that object) where `keyid_hash_algorithms` is ALWAYS
 *   `["sha256","sha512"]` (securesystemslib `format_keyval_to_metadata` puts its settings value
 *   there whatever the file says), and the PEM string is hashed exactly as stored, trailing
 *   newline included (digest §0.1, §1.2).
 * - Signatures: ed25519 raw 64 bytes; ECDSA DER; RSA-PSS with MGF1-SHA256, salt = digest length
 *   when signing and any salt length when verifying (securesystemslib rsa_keys).
 */
import { createHash, createPrivateKey, createPublicKey, constants, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { canonicalizeOlpc, generateKey, isRecord, LocalSigner, type SignatureAlgorithm, type Signer } from '@cairn/shared';
import { writeSecretFile } from '@cairn/shared/key-files';
import { MAX_KEY_FILE_BYTES } from '@cairn/shared/limits';
import { IntotoError } from './errors.ts';
import { pythonJsonDumps } from './python-json.ts';

/** Key files are small; anything larger is not a key. */
export { MAX_KEY_FILE_BYTES };

export const KEYID_HASH_ALGORITHMS: readonly string[] = ['sha256', 'sha512'];

/** Signature schemes accepted anywhere in in-toto metadata: an explicit allow-list. */
export type IntotoScheme = 'ed25519' | 'ecdsa-sha2-nistp256' | 'ecdsa-sha2-nistp384' | 'rsassa-pss-sha256' | 'rsa-pkcs1v15-sha256';
export const INTOTO_SCHEMES: readonly IntotoScheme[] = [
  'ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'rsassa-pss-sha256',
  'rsa-pkcs1v15-sha256',
];

export type IntotoKeyType = 'ed25519' | 'ecdsa' | 'rsa';

/** A public key as it appears in layout metadata (without `keyid`). */
export interface KeyMetadata {
  keytype: string;
  scheme: string;
  keyid_hash_algorithms: string[];
  keyval: { public: string };
}

/** A functionary or layout key: its metadata, keyid and a parsed node:crypto key. */
export interface IntotoPublicKey {
  readonly keyid: string;
  readonly metadata: KeyMetadata;
  readonly keyObject: KeyObject;
  readonly scheme: IntotoScheme;
}

export interface IntotoSigningKey {
  readonly publicKey: IntotoPublicKey;
  readonly signer: Signer;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const HEX64 = /^[0-9a-f]{64}$/;

export function keyidOf(meta: { keytype: string; scheme: string; keyval: { public: string } }): string {
  const hashed = {
    keytype: meta.keytype,
    scheme: meta.scheme,
    keyid_hash_algorithms: [...KEYID_HASH_ALGORITHMS],
    keyval: { public: meta.keyval.public },
  };
  return createHash('sha256').update(canonicalizeOlpc(hashed), 'utf8').digest('hex');
}

function isScheme(s: unknown): s is IntotoScheme {
  return typeof s === 'string' && (INTOTO_SCHEMES as readonly string[]).includes(s);
}

/** keytype/scheme pairs securesystemslib accepts (legacy ecdsa keytypes included). */
function checkTypeScheme(keytype: unknown, scheme: unknown): IntotoScheme {
  if (!isScheme(scheme)) throw new IntotoError('UNKNOWN_KEY_TYPE', `unsupported signature scheme ${JSON.stringify(scheme)}`);
  const ok =
    (keytype === 'ed25519' && scheme === 'ed25519') ||
    ((keytype === 'ecdsa' || keytype === scheme) && scheme.startsWith('ecdsa-')) ||
    (keytype === 'rsa' && (scheme === 'rsassa-pss-sha256' || scheme === 'rsa-pkcs1v15-sha256'));
  if (!ok) throw new IntotoError('UNKNOWN_KEY_TYPE', `unsupported key type ${JSON.stringify(keytype)} with scheme ${scheme}`);
  return scheme;
}

/** Parses key metadata (layout `keys` entry or a JSON key file) into a usable public key. */
export function publicKeyFromMetadata(obj: unknown, what = 'key'): IntotoPublicKey {
  if (!isRecord(obj)) throw new IntotoError('INVALID_KEY', `${what} is not a securesystemslib public key object`);
  // Type first: a GPG key (keyval.public = {e, n}) is an unknown type, not a broken key.
  const scheme = checkTypeScheme(obj.keytype, obj.scheme);
  if (!isRecord(obj.keyval) || typeof obj.keyval.public !== 'string') {
    throw new IntotoError('INVALID_KEY', `${what} is not a securesystemslib public key object`);
  }
  const pub = obj.keyval.public;
  let keyObject: KeyObject;
  try {
    if (scheme === 'ed25519') {
      if (!HEX64.test(pub)) throw new Error('ed25519 public key must be 64 lowercase hex characters');
      keyObject = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(pub, 'hex')]), format: 'der', type: 'spki' });
    } else {
      if (!pub.includes('-----BEGIN PUBLIC KEY-----')) throw new Error('expected a PEM SubjectPublicKeyInfo');
      keyObject = createPublicKey(pub);
    }
  } catch (e) {
    throw new IntotoError('INVALID_KEY', `${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
  checkKeyMatchesScheme(keyObject, scheme, what);
  const metadata: KeyMetadata = {
    keytype: obj.keytype as string,
    scheme,
    keyid_hash_algorithms: [...KEYID_HASH_ALGORITHMS],
    keyval: { public: pub },
  };
  return { keyid: keyidOf(metadata), metadata, keyObject, scheme };
}

function checkKeyMatchesScheme(key: KeyObject, scheme: IntotoScheme, what: string): void {
  const t = key.asymmetricKeyType;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  const ok =
    (scheme === 'ed25519' && t === 'ed25519') ||
    (scheme === 'ecdsa-sha2-nistp256' && t === 'ec' && curve === 'prime256v1') ||
    (scheme === 'ecdsa-sha2-nistp384' && t === 'ec' && curve === 'secp384r1') ||
    (scheme.startsWith('rsa') && t === 'rsa');
  if (!ok) throw new IntotoError('INVALID_KEY', `${what}: key material does not fit scheme ${scheme}`);
  // in-toto spec §4.2.1: RSA keys are at least 2048 bits.
  if (t === 'rsa' && (bits < 2048 || bits > 8192)) throw new IntotoError('INVALID_KEY', `${what}: RSA key of ${bits} bits is outside 2048..8192`);
}

/** The PEM from header to footer, nothing around it (securesystemslib `extract_pem`). */
function extractPem(text: string, label: string): string | undefined {
  const begin = `-----BEGIN ${label}-----`;
  const end = `-----END ${label}-----`;
  const b = text.indexOf(begin);
  if (b < 0) return undefined;
  const e = text.indexOf(end, b + begin.length);
  if (e < 0) return undefined;
  return text.slice(b, e + end.length).replace(/\r\n/g, '\n');
}

/** A public key object for a PEM SubjectPublicKeyInfo, typed the way in-toto-keygen would. */
export function publicKeyFromPem(pem: string, what = 'key'): IntotoPublicKey {
  const spki = extractPem(pem, 'PUBLIC KEY');
  if (spki === undefined) throw new IntotoError('INVALID_KEY', `${what} holds no PEM public key`);
  let key: KeyObject;
  try {
    key = createPublicKey(spki);
  } catch {
    throw new IntotoError('INVALID_KEY', `${what} is not a valid PEM public key`);
  }
  return publicKeyFromKeyObject(key, what);
}

/** Metadata for a node key: rsa -> rsassa-pss-sha256, P-256/P-384 -> ecdsa, ed25519 -> hex. */
export function publicKeyFromKeyObject(key: KeyObject, what = 'key', pemOverride?: string): IntotoPublicKey {
  const t = key.asymmetricKeyType;
  let meta: { keytype: string; scheme: string; keyval: { public: string } };
  if (t === 'ed25519') {
    const raw = key.export({ type: 'spki', format: 'der' }).subarray(ED25519_SPKI_PREFIX.length);
    meta = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: raw.toString('hex') } };
  } else {
    // securesystemslib keeps RSA PEMs without the trailing newline and ECDSA PEMs with it.
    const pem = pemOverride ?? key.export({ type: 'spki', format: 'pem' }).toString();
    if (t === 'rsa') meta = { keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: pem.trimEnd() } };
    else if (t === 'ec') {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const scheme = curve === 'prime256v1' ? 'ecdsa-sha2-nistp256' : curve === 'secp384r1' ? 'ecdsa-sha2-nistp384' : undefined;
      if (!scheme) throw new IntotoError('UNKNOWN_KEY_TYPE', `${what}: unsupported curve ${curve ?? 'unknown'}`);
      meta = { keytype: 'ecdsa', scheme, keyval: { public: pem.endsWith('\n') ? pem : pem + '\n' } };
    } else throw new IntotoError('UNKNOWN_KEY_TYPE', `${what}: unsupported key type ${t ?? 'unknown'}`);
  }
  return publicKeyFromMetadata({ ...meta, keyid_hash_algorithms: [...KEYID_HASH_ALGORITHMS] }, what);
}

export function readKeyFile(path: string): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    throw new IntotoError('IO_ERROR', `cannot read key ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (size > MAX_KEY_FILE_BYTES) throw new IntotoError('FILE_TOO_LARGE', `key file ${path} is larger than ${MAX_KEY_FILE_BYTES} bytes`);
  return readFileSync(path, 'utf8');
}

function parseJsonKey(text: string, what: string): Record<string, unknown> {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    throw new IntotoError('INVALID_KEY', `${what} is not valid JSON`);
  }
  if (!isRecord(obj)) throw new IntotoError('INVALID_KEY', `${what} is not a key object`);
  return obj;
}

/** Loads a verification key: a securesystemslib JSON key or a PEM public key (any supported type). */
export function loadPublicKey(path: string): IntotoPublicKey {
  const text = readKeyFile(path);
  if (text.trimStart().startsWith('{')) return publicKeyFromMetadata(parseJsonKey(text, path), path);
  if (text.includes('PRIVATE KEY-----')) return loadSigningKey(path).publicKey;
  return publicKeyFromPem(text, path);
}

function algorithmFor(scheme: IntotoScheme): SignatureAlgorithm {
  switch (scheme) {
    case 'ed25519':
      return 'ed25519';
    case 'ecdsa-sha2-nistp256':
      return 'ecdsa-p256-sha256';
    case 'ecdsa-sha2-nistp384':
      return 'ecdsa-p384-sha384';
    case 'rsassa-pss-sha256':
      return 'rsa-pss-sha256';
    case 'rsa-pkcs1v15-sha256':
      return 'rsa-pkcs1-sha256';
  }
}

/** A signing key from its private key and matching public metadata. */
export function signingKeyFrom(priv: KeyObject, pub: IntotoPublicKey, what = 'key'): IntotoSigningKey {
  const derived = createPublicKey(priv).export({ type: 'spki', format: 'der' });
  if (!derived.equals(pub.keyObject.export({ type: 'spki', format: 'der' }))) {
    throw new IntotoError('INVALID_KEY', `${what}: the private and public halves do not match`);
  }
  return { publicKey: pub, signer: new LocalSigner(priv, algorithmFor(pub.scheme)) };
}

/**
 * Loads a signing key: securesystemslib JSON (ed25519 hex seed, ecdsa PEM), or a PEM private key
 * (PKCS#1 `RSA PRIVATE KEY` as in-toto-keygen writes, SEC1, or PKCS#8 of any supported type).
 */
export function loadSigningKey(path: string): IntotoSigningKey {
  const text = readKeyFile(path);
  if (text.trimStart().startsWith('{')) {
    const obj = parseJsonKey(text, path);
    const keyval = obj.keyval;
    if (!isRecord(keyval) || typeof keyval.private !== 'string' || keyval.private === '') {
      throw new IntotoError('NO_SIGNING_KEY', `${path} holds no private key`);
    }
    const pub = publicKeyFromMetadata(obj, path);
    let priv: KeyObject;
    try {
      if (pub.scheme === 'ed25519') {
        if (!HEX64.test(keyval.private)) throw new Error('ed25519 private key must be 64 hex characters');
        priv = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, Buffer.from(keyval.private, 'hex')]), format: 'der', type: 'pkcs8' });
      } else {
        priv = createPrivateKey(keyval.private);
      }
    } catch (e) {
      throw new IntotoError('INVALID_KEY', `${path}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return signingKeyFrom(priv, pub, path);
  }
  if (!text.includes('PRIVATE KEY-----')) throw new IntotoError('NO_SIGNING_KEY', `${path} holds no private key`);
  if (text.includes('ENCRYPTED')) throw new IntotoError('INVALID_KEY', `${path} is encrypted; cairn intoto reads unencrypted keys only`);
  let priv: KeyObject;
  try {
    priv = createPrivateKey(text);
  } catch {
    throw new IntotoError('INVALID_KEY', `${path} is not a valid PEM private key`);
  }
  return signingKeyFrom(priv, publicKeyFromKeyObject(createPublicKey(priv), path), path);
}

/** Signature bytes for `data` under the key's scheme. */
export async function signBytes(key: IntotoSigningKey, data: Uint8Array): Promise<Buffer> {
  return key.signer.sign(data);
}

/** Verifies a signature; malformed signatures are `false`, never an exception. */
export function verifyBytes(key: IntotoPublicKey, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    switch (key.scheme) {
      case 'ed25519':
        return cryptoVerify(null, data, key.keyObject, sig);
      case 'ecdsa-sha2-nistp256':
        return cryptoVerify('sha256', data, key.keyObject, sig);
      case 'ecdsa-sha2-nistp384':
        return cryptoVerify('sha384', data, key.keyObject, sig);
      case 'rsassa-pss-sha256':
        return cryptoVerify('sha256', data, { key: key.keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }, sig);
      case 'rsa-pkcs1v15-sha256':
        return cryptoVerify('sha256', data, { key: key.keyObject, padding: constants.RSA_PKCS1_PADDING }, sig);
    }
  } catch {
    return false;
  }
}

/** Python `json.dumps(obj)` with default separators: how securesystemslib writes key files. */
function pyJson(obj: unknown): string {
  return pythonJsonDumps(obj);
}

export type KeygenType = IntotoKeyType;

/**
 * Generates a key pair in in-toto-keygen's formats (digest §2.2): ed25519 and ecdsa as
 * securesystemslib JSON (private file holds both halves), rsa as PEM PKCS#1 private + SPKI public.
 * The private file is written 0600. Returns the public key.
 */
export function generateKeyFiles(type: KeygenType, out: string, rsaBits = 3072): IntotoPublicKey {
  if (type === 'rsa') {
    if (![2048, 3072, 4096].includes(rsaBits)) throw new IntotoError('INVALID_KEY', 'RSA key size must be 2048, 3072 or 4096');
    const priv = generateKey(`rsa-${rsaBits}` as 'rsa-3072');
    writeSecretFile(out, priv.export({ type: 'pkcs1', format: 'pem' }).toString());
    const pem = createPublicKey(priv).export({ type: 'spki', format: 'pem' }).toString();
    writeFileSync(`${out}.pub`, pem);
    return publicKeyFromKeyObject(createPublicKey(priv), out);
  }
  const priv = generateKey(type === 'ed25519' ? 'ed25519' : 'ecdsa-p256');
  const pub = publicKeyFromKeyObject(createPublicKey(priv), out);
  let privateValue: string;
  if (type === 'ed25519') {
    privateValue = priv.export({ type: 'pkcs8', format: 'der' }).subarray(ED25519_PKCS8_PREFIX.length).toString('hex');
    writeSecretFile(
      out,
      pyJson({ keytype: 'ed25519', scheme: 'ed25519', keyid: pub.keyid, keyid_hash_algorithms: KEYID_HASH_ALGORITHMS, keyval: { public: pub.metadata.keyval.public, private: privateValue } }),
    );
  } else {
    privateValue = priv.export({ type: 'sec1', format: 'pem' }).toString();
    writeSecretFile(
      out,
      pyJson({ keytype: 'ecdsa', scheme: pub.scheme, keyid: pub.keyid, keyval: { public: pub.metadata.keyval.public, private: privateValue }, keyid_hash_algorithms: KEYID_HASH_ALGORITHMS }),
    );
  }
  writeFileSync(`${out}.pub`, pyJson({ keytype: pub.metadata.keytype, scheme: pub.scheme, keyid_hash_algorithms: KEYID_HASH_ALGORITHMS, keyval: { public: pub.metadata.keyval.public } }));
  return pub;
}
