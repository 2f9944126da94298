/**
 * The crypto seam. Everything that signs or verifies goes through `Signer` and `Verifier` so a
 * KMS, PKCS#11 or pure-JS implementation can stand behind the same interface. The local
 * implementations use node:crypto (OpenSSL), which is far faster than pure-JS curves.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { SharedError } from './errors.ts';

/** Signature schemes Cairn accepts anywhere. An explicit allow-list: nothing else verifies. */
export type SignatureAlgorithm =
  | 'ecdsa-p256-sha256'
  | 'ecdsa-p384-sha384'
  | 'ecdsa-p521-sha512'
  | 'ed25519'
  | 'rsa-pkcs1-sha256'
  | 'rsa-pss-sha256';

export type HashAlgorithm = 'sha256' | 'sha384' | 'sha512';

export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  'ecdsa-p256-sha256',
  'ecdsa-p384-sha384',
  'ecdsa-p521-sha512',
  'ed25519',
  'rsa-pkcs1-sha256',
  'rsa-pss-sha256',
];

export function hashOf(alg: SignatureAlgorithm): HashAlgorithm | undefined {
  switch (alg) {
    case 'ecdsa-p256-sha256':
    case 'rsa-pkcs1-sha256':
    case 'rsa-pss-sha256':
      return 'sha256';
    case 'ecdsa-p384-sha384':
      return 'sha384';
    case 'ecdsa-p521-sha512':
      return 'sha512';
    case 'ed25519':
      return undefined;
  }
}

export function digest(alg: HashAlgorithm, data: Uint8Array | string): Buffer {
  return createHash(alg).update(data).digest();
}

export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A public key with its DER SubjectPublicKeyInfo and its default signature algorithm. */
export class PublicKey {
  readonly keyObject: KeyObject;
  readonly spki: Buffer;
  readonly algorithm: SignatureAlgorithm;
  private idCache: Buffer | undefined;

  constructor(keyObject: KeyObject, algorithm?: SignatureAlgorithm) {
    if (keyObject.type !== 'public') throw new SharedError('INVALID_KEY', 'not a public key');
    this.keyObject = keyObject;
    this.spki = keyObject.export({ type: 'spki', format: 'der' });
    this.algorithm = algorithm ?? defaultAlgorithm(keyObject);
  }

  static fromSpki(der: Uint8Array, algorithm?: SignatureAlgorithm): PublicKey {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    } catch (e) {
      throw new SharedError('INVALID_KEY', 'not a DER SubjectPublicKeyInfo', { cause: e });
    }
    return new PublicKey(key, algorithm);
  }

  static fromPem(pem: string, algorithm?: SignatureAlgorithm): PublicKey {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (e) {
      throw new SharedError('INVALID_KEY', 'not a PEM public key', { cause: e });
    }
    return new PublicKey(key, algorithm);
  }

  /** SHA-256 of the DER SPKI: the RFC 6962 / Rekor v1 log ID and checkpoint key hint source. */
  get keyId(): Buffer {
    this.idCache ??= sha256(this.spki);
    return this.idCache;
  }

  toPem(): string {
    return this.keyObject.export({ type: 'spki', format: 'pem' }).toString();
  }
}

/** The algorithm a key signs with by default (the Fulcio/Rekor convention). */
export function defaultAlgorithm(key: KeyObject): SignatureAlgorithm {
  const t = key.asymmetricKeyType;
  if (t === 'ed25519') return 'ed25519';
  if (t === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ecdsa-p256-sha256';
    if (curve === 'secp384r1') return 'ecdsa-p384-sha384';
    if (curve === 'secp521r1') return 'ecdsa-p521-sha512';
    throw new SharedError('UNSUPPORTED_ALGORITHM', `unsupported curve ${curve ?? 'unknown'}`);
  }
  if (t === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new SharedError('WEAK_KEY', `RSA key of ${bits} bits is below 2048`);
    if (bits > 4096) throw new SharedError('UNSUPPORTED_ALGORITHM', `RSA key of ${bits} bits is above 4096`);
    return 'rsa-pkcs1-sha256';
  }
  if (t === 'rsa-pss') return 'rsa-pss-sha256';
  throw new SharedError('UNSUPPORTED_ALGORITHM', `unsupported key type ${t ?? 'unknown'}`);
}

function nodeArgs(alg: SignatureAlgorithm, key: KeyObject): { hash: string | null; opts: Record<string, unknown> } {
  switch (alg) {
    case 'ed25519':
      return { hash: null, opts: {} };
    case 'rsa-pss-sha256':
      // TUF's rsassa-pss-sha256 and securesystemslib use a salt as long as the digest.
      return { hash: 'sha256', opts: { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 } };
    default:
      void key;
      return { hash: hashOf(alg)!, opts: {} };
  }
}

/** Something that signs. Asynchronous so a KMS or HSM can stand behind it. */
export interface Signer {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: PublicKey;
  sign(data: Uint8Array): Promise<Buffer>;
}

/** Something that checks signatures. Synchronous: verification is local and hot. */
export interface Verifier {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: PublicKey;
  verify(data: Uint8Array, signature: Uint8Array): boolean;
}

/** A signer holding a private key in process memory. ECDSA signatures are DER. */
export class LocalSigner implements Signer {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: PublicKey;
  private readonly key: KeyObject;

  constructor(privateKey: KeyObject, algorithm?: SignatureAlgorithm) {
    if (privateKey.type !== 'private') throw new SharedError('INVALID_KEY', 'not a private key');
    this.key = privateKey;
    this.algorithm = algorithm ?? defaultAlgorithm(privateKey);
    this.publicKey = new PublicKey(createPublicKey(privateKey), this.algorithm);
  }

  signSync(data: Uint8Array): Buffer {
    const { hash, opts } = nodeArgs(this.algorithm, this.key);
    return cryptoSign(hash, data, { key: this.key, ...opts });
  }

  /**
   * Signs on libuv's thread pool (node:crypto's callback form): the private-key operation does
   * not occupy the event loop, so servers keep answering while signatures are made.
   */
  sign(data: Uint8Array): Promise<Buffer> {
    const { hash, opts } = nodeArgs(this.algorithm, this.key);
    return new Promise<Buffer>((resolve, reject) => {
      cryptoSign(hash, data, { key: this.key, ...opts }, (err, sig) => (err ? reject(err) : resolve(sig)));
    });
  }
}

/** Verifies with node:crypto. Malformed signatures verify as false, never throw. */
export class LocalVerifier implements Verifier {
  readonly algorithm: SignatureAlgorithm;
  readonly publicKey: PublicKey;

  constructor(publicKey: PublicKey, algorithm?: SignatureAlgorithm) {
    this.publicKey = publicKey;
    this.algorithm = algorithm ?? publicKey.algorithm;
  }

  verify(data: Uint8Array, signature: Uint8Array): boolean {
    const { hash, opts } = nodeArgs(this.algorithm, this.publicKey.keyObject);
    try {
      return cryptoVerify(hash, data, { key: this.publicKey.keyObject, ...opts }, signature);
    } catch {
      return false;
    }
  }
}

export type KeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'ed25519' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096';

export function generateKey(type: KeyType): KeyObject {
  switch (type) {
    case 'ecdsa-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ecdsa-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'ecdsa-p521':
      return generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey;
    case 'ed25519':
      return generateKeyPairSync('ed25519').privateKey;
    case 'rsa-2048':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'rsa-3072':
      return generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
    case 'rsa-4096':
      return generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey;
  }
}

/** PKCS#8 PEM, encrypted with AES-256-CBC (PBES2) when a passphrase is given. */
export function privateKeyToPem(key: KeyObject, passphrase?: string): string {
  if (passphrase !== undefined && passphrase !== '') {
    return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }).toString();
  }
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function privateKeyFromPem(pem: string, passphrase?: string): KeyObject {
  try {
    return createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  } catch (e) {
    const encrypted = pem.includes('ENCRYPTED');
    throw new SharedError(
      'INVALID_KEY',
      encrypted ? 'cannot decrypt the private key: wrong or missing passphrase' : 'not a PEM private key',
      { cause: e },
    );
  }
}

