/**
 * The TSA's key material: a self-signed root and a signing certificate issued by it with the
 * profile RFC 3161 §2.3 and timestamp-authority's verifier require (sigstore-protocols §8.3):
 * ExtendedKeyUsage critical with exactly id-kp-timeStamping, keyUsage digitalSignature, not a CA.
 * Private keys are PKCS#8 PEM, mode 0600, optionally encrypted; the service only ever holds the
 * signing key, behind `Signer`.
 *
 * Files: root-key.pem (keep offline after the ceremony), root.crt.pem, signing-key.pem, signing.crt.pem.
 */
import { createHash, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bitString, bool, children, encodeTlv, explicit, implicitPrimitive, integer, oid, printableString, readOne, seq, set, utf8String, x509Time, TAG } from '@cairn/shared/der';
import { fromPem, generateKey, LocalSigner, privateKeyFromPem, privateKeyToPem, toPem, type Clock, type Signer } from '@cairn/shared';
import type { TokenKeyRotation } from '@cairn/shared/pkcs11';
import { writeSecretFile } from '@cairn/shared/key-files';
import { certificateSubject, rotateCertifiedKey } from '@cairn/shared/key-rotation';
import { TsaError } from './errors.ts';
import { checkTsaKey, OID as TOKEN_OID, type TsaIdentity } from './token.ts';

export const ROOT_KEY_FILE = 'root-key.pem';
export const ROOT_CERT_FILE = 'root.crt.pem';
export const SIGNING_KEY_FILE = 'signing-key.pem';
export const SIGNING_CERT_FILE = 'signing.crt.pem';
const MAX_PEM_FILE_BYTES = 64 * 1024;
const DAY_MS = 86_400_000;

const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
} as const;

export type TsaCurve = 'p256' | 'p384';

export interface TsaInitOptions {
  curve?: TsaCurve;
  passphrase?: string;
  organization?: string;
  commonName?: string;
  rootValidityDays?: number;
  signingValidityDays?: number;
  clock: Clock;
  /** Keys held elsewhere (a PKCS#11 token, `cairn hsm init`): certificates only, no key file. */
  keys?: { root: Signer; signing: Signer };
}

export interface TsaInitResult {
  rootPem: string;
  signingPem: string;
  files: string[];
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), encodeTlv(TAG.OCTET_STRING, value)) : seq(oid(id), encodeTlv(TAG.OCTET_STRING, value));
}

function name(organization: string, commonName: string): Buffer {
  const str = (s: string): Buffer => (/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s) ? printableString(s) : utf8String(s));
  const rdns: Buffer[] = [];
  if (organization !== '') rdns.push(set(seq(oid(OID.organization), str(organization))));
  if (commonName !== '') rdns.push(set(seq(oid(OID.commonName), str(commonName))));
  return seq(...rdns);
}

/** RFC 5280 §4.2.1.2 method (1). */
function keyId(spki: Buffer): Buffer {
  const bits = children(readOne(spki, TAG.SEQUENCE))[1]!;
  return createHash('sha1').update(bits.value.subarray(1)).digest();
}

function serial(): Buffer {
  const b = randomBytes(20);
  b[0]! &= 0x7f;
  if (b[0] === 0) b[0] = 0x01;
  return b;
}

function sigAlg(signer: Signer): Buffer {
  return seq(oid(signer.algorithm === 'ecdsa-p384-sha384' ? TOKEN_OID.ecdsaWithSha384 : TOKEN_OID.ecdsaWithSha256));
}

async function certificate(o: { issuer: Buffer; subject: Buffer; spki: Buffer; notBefore: Date; notAfter: Date; extensions: Buffer[]; signer: Signer }): Promise<Buffer> {
  const alg = sigAlg(o.signer);
  // RFC 5280 §4.1: v3 TBSCertificate.
  const tbs = seq(explicit(0, integer(2)), integer(serial()), alg, o.issuer, seq(x509Time(o.notBefore), x509Time(o.notAfter)), o.subject, o.spki, explicit(3, seq(...o.extensions)));
  return seq(tbs, alg, bitString(await o.signer.sign(tbs)));
}

/** The signing certificate's extensions (RFC 3161 §2.3 profile). */
function signingExtensions(signingSpki: Buffer, rootSki: Buffer): Buffer[] {
  return [
    // digitalSignature, critical.
    extension(OID.keyUsage, true, bitString(Buffer.from([0x80]), 7)),
    // RFC 3161 §2.3: "The corresponding certificate MUST contain only one instance of the
    // extended key usage field extension ... with KeyPurposeID having value id-kp-timeStamping.
    // This extension MUST be critical."
    extension(OID.extKeyUsage, true, seq(oid(OID.timeStamping))),
    extension(OID.basicConstraints, true, seq()),
    extension(OID.subjectKeyIdentifier, false, encodeTlv(TAG.OCTET_STRING, keyId(signingSpki))),
    extension(OID.authorityKeyIdentifier, false, seq(implicitPrimitive(0, rootSki))),
  ];
}

export function tsaFilesExist(dir: string): boolean {
  return [ROOT_CERT_FILE, SIGNING_KEY_FILE, SIGNING_CERT_FILE].some((f) => existsSync(join(dir, f)));
}

/** Creates a root and a timestamp signing certificate in `dir`. Refuses to overwrite. */
export async function initTsa(dir: string, o: TsaInitOptions): Promise<TsaInitResult> {
  if (tsaFilesExist(dir) || existsSync(join(dir, ROOT_KEY_FILE))) throw new TsaError('INVALID_TSA_KEYS', `${dir} already holds TSA files; refusing to overwrite them`);
  const keyType = (o.curve ?? 'p256') === 'p384' ? 'ecdsa-p384' : 'ecdsa-p256';
  const org = o.organization ?? 'cairn';
  const cn = o.commonName ?? 'cairn timestamp authority';
  const rootDays = o.rootValidityDays ?? 3650;
  const signingDays = o.signingValidityDays ?? Math.min(rootDays, 1825);
  if (!(rootDays >= 1 && signingDays >= 1 && signingDays <= rootDays)) {
    throw new TsaError('INVALID_CONFIG', 'validity days must be positive and the signing certificate must not outlive the root');
  }
  const now = new Date(Math.floor(o.clock.now().getTime() / 1000) * 1000);
  if (o.keys && o.keys.root.publicKey.spki.equals(o.keys.signing.publicKey.spki)) throw new TsaError('INVALID_TSA_KEYS', 'the root and the signing certificate need two keys');
  const rootKey = o.keys ? undefined : generateKey(keyType);
  const rootSigner = o.keys?.root ?? new LocalSigner(rootKey!);
  const rootName = name(org, `${cn} root`);
  const rootSki = keyId(rootSigner.publicKey.spki);
  const rootDer = await certificate({
    issuer: rootName,
    subject: rootName,
    spki: rootSigner.publicKey.spki,
    notBefore: now,
    notAfter: new Date(now.getTime() + rootDays * DAY_MS),
    signer: rootSigner,
    extensions: [
      extension(OID.keyUsage, true, bitString(Buffer.from([0x06]), 1)),
      extension(OID.basicConstraints, true, seq(bool(true), integer(0))),
      extension(OID.subjectKeyIdentifier, false, encodeTlv(TAG.OCTET_STRING, rootSki)),
    ],
  });
  const signingKey = o.keys ? undefined : generateKey(keyType);
  const signingSpki = o.keys?.signing.publicKey.spki ?? new LocalSigner(signingKey!).publicKey.spki;
  const signingDer = await certificate({
    issuer: rootName,
    subject: name(org, cn),
    spki: signingSpki,
    notBefore: now,
    notAfter: new Date(now.getTime() + signingDays * DAY_MS),
    signer: rootSigner,
    extensions: signingExtensions(signingSpki, rootSki),
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rootPem = toPem('CERTIFICATE', rootDer);
  const signingPem = toPem('CERTIFICATE', signingDer);
  const files: string[] = [];
  const write = (file: string, text: string, secret: boolean): void => {
    const p = join(dir, file);
    if (secret) writeSecretFile(p, text);
    else writeFileSync(p, text, { mode: 0o644 });
    files.push(p);
  };
  if (rootKey) write(ROOT_KEY_FILE, privateKeyToPem(rootKey, o.passphrase), true);
  write(ROOT_CERT_FILE, rootPem, false);
  if (signingKey) write(SIGNING_KEY_FILE, privateKeyToPem(signingKey, o.passphrase), true);
  write(SIGNING_CERT_FILE, signingPem, false);
  return { rootPem, signingPem, files };
}

function readPem(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new TsaError('INVALID_TSA_KEYS', `cannot read ${path}`);
  }
  if (text.length > MAX_PEM_FILE_BYTES) throw new TsaError('INVALID_TSA_KEYS', `${path} is too large`);
  return text;
}

function cert(path: string): { der: Buffer; x509: X509Certificate } {
  try {
    const der = fromPem(readPem(path), 'CERTIFICATE', path);
    return { der, x509: new X509Certificate(der) };
  } catch (e) {
    if (e instanceof TsaError) throw e;
    throw new TsaError('INVALID_TSA_KEYS', `${path} is not a PEM certificate`, { cause: e });
  }
}

export interface LoadedTsa extends TsaIdentity {
  leaf: X509Certificate;
  root: X509Certificate;
}

/**
 * Loads the signing key and chain, checking that they belong together and fit the profile.
 * `keySigner`: the signing key held elsewhere (a PKCS#11 token) instead of signing-key.pem.
 */
export function loadTsa(dir: string, passphrase?: string, keySigner?: Signer): LoadedTsa {
  if (!existsSync(join(dir, SIGNING_CERT_FILE))) throw new TsaError('NOT_INITIALIZED', `${dir} holds no TSA: run 'cairn tsa init --dir ${dir}'${keySigner ? ' or cairn hsm init' : ''}`);
  const leaf = cert(join(dir, SIGNING_CERT_FILE));
  const root = cert(join(dir, ROOT_CERT_FILE));
  let signer: Signer;
  if (keySigner) signer = keySigner;
  else {
    let key: KeyObject;
    try {
      key = privateKeyFromPem(readPem(join(dir, SIGNING_KEY_FILE)), passphrase);
    } catch (e) {
      if (e instanceof TsaError) throw e;
      throw new TsaError('INVALID_TSA_KEYS', `cannot load the TSA signing key: ${(e as Error).message}`, { cause: e });
    }
    signer = new LocalSigner(key);
  }
  try {
    checkTsaKey(signer);
  } catch (e) {
    throw new TsaError('INVALID_TSA_KEYS', (e as Error).message);
  }
  if (!leaf.x509.publicKey.export({ type: 'spki', format: 'der' }).equals(signer.publicKey.spki)) {
    throw new TsaError('INVALID_TSA_KEYS', 'the signing key does not match the signing certificate');
  }
  if (!root.x509.verify(root.x509.publicKey) || !leaf.x509.verify(root.x509.publicKey) || !leaf.x509.checkIssued(root.x509)) {
    throw new TsaError('INVALID_TSA_KEYS', 'the signing certificate is not issued by the root');
  }
  if (leaf.x509.ca || !root.x509.ca) throw new TsaError('INVALID_TSA_KEYS', 'the signing certificate must not be a CA; the root must be');
  const eku = leaf.x509.keyUsage ?? [];
  if (eku.length !== 1 || eku[0] !== OID.timeStamping) throw new TsaError('INVALID_TSA_KEYS', 'the signing certificate must have exactly the timeStamping extended key usage');
  // TBSCertificate: [0] version, serialNumber, signature, issuer, ...
  const tbs = children(children(readOne(leaf.der, TAG.SEQUENCE))[0]!);
  return {
    signer,
    leafDer: leaf.der,
    chainDer: [leaf.der, root.der],
    serialTlv: Buffer.from(tbs[1]!.raw),
    issuerName: Buffer.from(tbs[3]!.raw),
    leaf: leaf.x509,
    root: root.x509,
  };
}

export { RETIRED_DIR } from '@cairn/shared/key-rotation';

export interface RotateTsaSigningOptions {
  passphrase?: string;
  /** Validity of the new signing certificate (default: min(1825, what is left of the root)). */
  signingValidityDays?: number;
  clock: Clock;
  /**
   * The root and the signing key in a PKCS#11 token (`cairn hsm init`): the new key is generated
   * in the token, the certificate signed there, and no key file is read or written.
   */
  token?: TokenKeyRotation;
}

export interface RotateTsaSigningResult {
  signingPem: string;
  /** Where the previous signing certificate and key went (a file path, or a pkcs11: URI). */
  retired: string[];
}

/** The root signer (root-key.pem, or the token's root) and the current material. */
function currentTsa(dir: string, o: RotateTsaSigningOptions): { current: LoadedTsa; rootSigner: Signer } {
  if (o.token) {
    for (const f of [ROOT_KEY_FILE, SIGNING_KEY_FILE]) {
      if (existsSync(join(dir, f))) throw new TsaError('INVALID_TSA_KEYS', `${join(dir, f)} exists: this TSA's keys are files, rotate it without --pkcs11-module`);
    }
    return { current: loadTsa(dir, undefined, o.token.current), rootSigner: o.token.root };
  }
  if (!existsSync(join(dir, ROOT_KEY_FILE))) {
    throw new TsaError('INVALID_TSA_KEYS', `${join(dir, ROOT_KEY_FILE)} is missing: rotate the signing key on the offline machine that holds the TSA root key (or give --pkcs11-module when the root is in a token)`);
  }
  const current = loadTsa(dir, o.passphrase);
  try {
    return { current, rootSigner: new LocalSigner(privateKeyFromPem(readPem(join(dir, ROOT_KEY_FILE)), o.passphrase)) };
  } catch (e) {
    if (e instanceof TsaError) throw e;
    throw new TsaError('INVALID_TSA_KEYS', `cannot load the TSA root key: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A new TSA signing key and certificate under the same root (on the offline machine holding
 * root-key.pem, or with both keys in a token), as the CA's rotate-intermediate: the old
 * certificate (and key file) move to `retired/`, the service started on the directory signs with
 * the new one, and trusted_root.json keeps the old chain with a validFor.end (the development
 * ceremony of `cairn up` and `cairn trust build` merge it), so timestamps it made keep verifying.
 */
export async function rotateTsaSigning(dir: string, o: RotateTsaSigningOptions): Promise<RotateTsaSigningResult> {
  const { current, rootSigner } = currentTsa(dir, o);
  if (!current.root.publicKey.export({ type: 'spki', format: 'der' }).equals(rootSigner.publicKey.spki)) {
    throw new TsaError('INVALID_TSA_KEYS', `${o.token ? `the token's ${o.token.root.uri}` : 'root-key.pem'} does not match root.crt.pem`);
  }
  const issuer = certificateSubject(current.chainDer[current.chainDer.length - 1]!);
  const subject = certificateSubject(current.leafDer);
  if (!issuer || !subject) throw new TsaError('INVALID_TSA_KEYS', 'the certificate has no subject');
  const r = await rotateCertifiedKey({
    dir,
    keyFile: SIGNING_KEY_FILE,
    certFile: SIGNING_CERT_FILE,
    retiredStem: 'signing',
    what: 'signing certificate',
    currentSerial: current.leaf.serialNumber,
    rootSigner,
    rootValidTo: current.root.validTo,
    ...(o.signingValidityDays !== undefined ? { validityDays: o.signingValidityDays } : {}),
    clock: o.clock,
    ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}),
    ...(o.token ? { token: o.token } : {}),
    certify: ({ spki, notBefore, notAfter }) =>
      certificate({
        issuer,
        // The same subject as the retiring certificate: verifiers tell them apart by key (SKI/AKI).
        subject,
        spki,
        notBefore,
        notAfter,
        signer: rootSigner,
        extensions: signingExtensions(spki, keyId(rootSigner.publicKey.spki)),
      }),
    reload: (newSigner) => void loadTsa(dir, o.passphrase, newSigner),
    keyError: (message, cause) => new TsaError('INVALID_TSA_KEYS', message, { cause }),
    configError: (message) => new TsaError('INVALID_CONFIG', message),
  });
  return { signingPem: r.pem, retired: r.retired };
}
