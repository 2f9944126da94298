/**
 * `sign(artifact, options)` and `attest(statement, options)`: the keyless flow of reference §9
 * (token -> ephemeral P-256 key -> proof of possession -> CA certificate -> signature -> Rekor v1
 * entry -> bundle v0.3) and the key-based fallback (a local key, `publicKey.hint`, still logged).
 */
import { generateKey, LocalSigner, sha256, systemClock, toPem, type Clock, type Signer } from '@cairn/shared';
import { dsseBundle, messageSignatureBundle, INTOTO_PAYLOAD_TYPE, type BundleJson, type KeyMaterial, type TransparencyLogEntryJson } from './bundle.ts';
import { envelopeJson, pae } from './dsse.ts';
import { SignError } from './errors.ts';
import { FulcioClient } from './fulcio.ts';
import type { HttpOptions } from './http.ts';
import { challengeSubject, checkTokenFresh, decodeTokenClaims } from './oidc.ts';
import {
  checkEntryMatches,
  dsseEntry,
  hashedRekordEntry,
  intotoEntry,
  RekorClient,
  toTransparencyLogEntry,
  type EntryExpectation,
  type LogEntry,
  type ProposedEntry,
} from './rekor.ts';

/** Largest artifact or statement signed in memory. */
export const MAX_ARTIFACT_BYTES = 1024 * 1024 * 1024;
export const MAX_STATEMENT_BYTES = 16 * 1024 * 1024;

/** Key algorithms accepted for `--key` signing: what hashedrekord with a SHA-256 digest can carry. */
export const KEY_ALGORITHMS = ['ecdsa-p256-sha256', 'rsa-pkcs1-sha256'] as const;

export interface SignOptions {
  /** Keyless: the OIDC identity token. Exactly one of identityToken and signer. */
  identityToken?: string;
  /** Key-based: a local (or KMS) signer. */
  signer?: Signer;
  /** Key-based: the `publicKey.hint` (default: base64 SHA-256 of the DER SPKI). */
  keyHint?: string;
  fulcioUrl?: string;
  rekorUrl?: string;
  /** Default true. Without it the bundle has no tlog entry (key-based only makes sense then). */
  tlogUpload?: boolean;
  http?: HttpOptions;
  clock?: Clock;
}

export interface AttestOptions extends SignOptions {
  payloadType?: string;
  /** Rekor v1 kind for the envelope: dsse 0.0.1 (default) or intoto 0.0.2. */
  tlogKind?: 'dsse' | 'intoto';
}

export interface SignResult {
  bundle: BundleJson;
  /** Keyless: the leaf certificate (DER) and the identity the proof of possession named. */
  certificate?: Buffer;
  /** Keyless: the rest of the chain as the CA returned it (DER; cosign's chain annotation). */
  certificateChain?: Buffer[];
  subject?: string;
  logEntry?: LogEntry;
}

interface Identity {
  signer: Signer;
  material: KeyMaterial;
  /** What the log entry names as verifier: the leaf PEM or the public key PEM. */
  logPem: string;
  certificate?: Buffer;
  chain?: Buffer[];
  subject?: string;
}

function checkKeyAlgorithm(signer: Signer): void {
  if (!(KEY_ALGORITHMS as readonly string[]).includes(signer.algorithm)) {
    throw new SignError('KEY_UNSUPPORTED', `keys of type ${signer.algorithm} cannot sign here; use ECDSA P-256 or RSA 2048-4096 (PKCS#1 v1.5, SHA-256)`);
  }
}

async function identityFor(o: SignOptions): Promise<Identity> {
  if (o.signer !== undefined && o.identityToken !== undefined) throw new SignError('INPUT_INVALID', 'give either an identity token or a key, not both');
  if (o.signer !== undefined) {
    checkKeyAlgorithm(o.signer);
    const hint = o.keyHint ?? sha256(o.signer.publicKey.spki).toString('base64');
    return { signer: o.signer, material: { kind: 'publicKey', hint }, logPem: o.signer.publicKey.toPem() };
  }
  if (o.identityToken === undefined || o.identityToken === '') throw new SignError('TOKEN_MISSING', 'keyless signing needs an OIDC identity token (or sign with a key)');
  const claims = decodeTokenClaims(o.identityToken);
  checkTokenFresh(claims, Math.floor((o.clock ?? systemClock).now().getTime() / 1000));
  const subject = challengeSubject(claims);
  if (o.fulcioUrl === undefined) throw new SignError('URL_MISSING', 'keyless signing needs the CA URL');
  // An ephemeral P-256 key lives only in this process (reference §1.2: what sigstore-js sends).
  const signer = new LocalSigner(generateKey('ecdsa-p256'));
  const proofOfPossession = await signer.sign(Buffer.from(subject, 'utf8'));
  const cert = await new FulcioClient(o.fulcioUrl, o.http).createSigningCertificate({ token: o.identityToken, publicKey: signer.publicKey, proofOfPossession });
  return { signer, material: { kind: 'certificate', leafDer: cert.leaf }, logPem: toPem('CERTIFICATE', cert.leaf), certificate: cert.leaf, chain: cert.chain, subject };
}

async function logEntryFor(o: SignOptions, proposed: () => ProposedEntry, expect: EntryExpectation): Promise<{ entries: TransparencyLogEntryJson[]; entry?: LogEntry }> {
  if (o.tlogUpload === false) return { entries: [] };
  if (o.rekorUrl === undefined) throw new SignError('URL_MISSING', 'uploading to the transparency log needs its URL (or disable the upload)');
  const entry = await new RekorClient(o.rekorUrl, o.http).createEntry(proposed());
  checkEntryMatches(entry, expect);
  return { entries: [toTransparencyLogEntry(entry)], entry };
}

/** Everything that can be refused without a network call is refused before the CA is asked. */
function checkOptions(o: SignOptions): void {
  if (o.tlogUpload === false && o.signer === undefined) {
    // A keyless bundle without a log entry has no signing time: nothing can ever verify it.
    throw new SignError('INPUT_INVALID', 'keyless signing always uploads to the transparency log');
  }
  if (o.tlogUpload !== false && o.rekorUrl === undefined) throw new SignError('URL_MISSING', 'uploading to the transparency log needs its URL (or disable the upload)');
  if (o.signer === undefined && o.fulcioUrl === undefined) throw new SignError('URL_MISSING', 'keyless signing needs the CA URL');
}

/** Signs an artifact's bytes: messageSignature with a SHA2_256 digest, hashedrekord 0.0.1 entry. */
export async function sign(artifact: Uint8Array, o: SignOptions): Promise<SignResult> {
  if (artifact.byteLength > MAX_ARTIFACT_BYTES) throw new SignError('INPUT_INVALID', `artifacts over ${MAX_ARTIFACT_BYTES} bytes are not signed in memory`);
  checkOptions(o);
  const id = await identityFor(o);
  const digest = sha256(artifact);
  const signature = await id.signer.sign(artifact);
  const { entries, entry } = await logEntryFor(o, () => hashedRekordEntry(digest.toString('hex'), signature, id.logPem), { kind: 'hashedrekord', signature, digest });
  return {
    bundle: messageSignatureBundle(id.material, digest, signature, entries),
    ...(id.certificate !== undefined ? { certificate: id.certificate, certificateChain: id.chain ?? [], subject: id.subject } : {}),
    ...(entry !== undefined ? { logEntry: entry } : {}),
  };
}

/**
 * Signs a payload (normally an in-toto Statement: bytes as they are, or an object serialized with
 * JSON.stringify) in a DSSE envelope; dsse 0.0.1 or intoto 0.0.2 entry.
 */
export async function attest(statement: Uint8Array | Record<string, unknown>, o: AttestOptions): Promise<SignResult> {
  const payload = statement instanceof Uint8Array ? statement : Buffer.from(JSON.stringify(statement), 'utf8');
  if (payload.byteLength > MAX_STATEMENT_BYTES) throw new SignError('INPUT_INVALID', `statements over ${MAX_STATEMENT_BYTES} bytes are refused`);
  checkOptions(o);
  const payloadType = o.payloadType ?? INTOTO_PAYLOAD_TYPE;
  const id = await identityFor(o);
  const signature = await id.signer.sign(pae(payloadType, payload));
  // sigstore-js sets keyid to the key hint for key-based envelopes, empty (omitted) for keyless.
  const envelope = envelopeJson(payloadType, payload, signature, id.material.kind === 'publicKey' ? id.material.hint : '');
  const kind = o.tlogKind ?? 'dsse';
  const { entries, entry } = await logEntryFor(o, () => (kind === 'intoto' ? intotoEntry(envelope, id.logPem) : dsseEntry(envelope, id.logPem)), {
    kind,
    signature,
    digest: sha256(payload),
  });
  return {
    bundle: dsseBundle(id.material, envelope, entries),
    ...(id.certificate !== undefined ? { certificate: id.certificate, certificateChain: id.chain ?? [], subject: id.subject } : {}),
    ...(entry !== undefined ? { logEntry: entry } : {}),
  };
}
