/**
 * `sign(artifact, options)` and `attest(statement, options)`: the keyless flow of reference §9
 * (token -> ephemeral P-256 key -> proof of possession -> CA certificate -> signature -> Rekor v1
 * entry -> bundle v0.3) and the key-based fallback (a local key, `publicKey.hint`, still logged).
 */
import { generateKey, LocalSigner, sha256, systemClock, toPem, type Clock, type Signer } from '@cairn/shared';
import { dsseBundle, messageSignatureBundle, INTOTO_PAYLOAD_TYPE, type BundleJson, type KeyMaterial, type TransparencyLogEntryJson } from './bundle.ts';
import { envelopeJson, pae } from './dsse.ts';
import { checkV2EntryMatches, hashedRekordV2Request, keyDetailsOf, RekorV2Client } from './rekor-v2.ts';
import { TsaClient } from './tsa.ts';
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
  /** The Rekor API the log is written through: 1 (default; entry with a SET) or 2 (needs a TSA when keyless). */
  rekorVersion?: 1 | 2;
  /** RFC 3161 timestamp authority endpoint: the signature is timestamped and the token bundled. */
  tsaUrl?: string;
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
  /** The Rekor v1 entry, when written through v1. */
  logEntry?: LogEntry;
  /** The Rekor v2 entry (as it is in the bundle), when written through v2. */
  logEntryV2?: TransparencyLogEntryJson;
  /** RFC 3161 timestamps in the bundle. */
  timestamps: number;
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

interface Witnessed {
  entries: TransparencyLogEntryJson[];
  entry?: LogEntry;
  entryV2?: TransparencyLogEntryJson;
  timestamps: Buffer[];
}

/**
 * The log entry (v1 or v2) and the RFC 3161 timestamp, asked for in parallel as sigstore-js's
 * witnesses are. `v2` is the hashedrekord 0.0.2 digest and verifier (the signature is `signature`).
 */
async function witness(o: SignOptions, signature: Buffer, v1: () => Promise<{ entries: TransparencyLogEntryJson[]; entry?: LogEntry }>, v2: { digest: Buffer; id: Identity }): Promise<Witnessed> {
  const log = async (): Promise<Pick<Witnessed, 'entries' | 'entry' | 'entryV2'>> => {
    if (o.tlogUpload === false || o.rekorVersion !== 2) return v1();
    const verifier = v2.id.certificate
      ? { kind: 'x509Certificate' as const, der: v2.id.certificate, keyDetails: keyDetailsOf(v2.id.signer) }
      : { kind: 'publicKey' as const, der: v2.id.signer.publicKey.spki, keyDetails: keyDetailsOf(v2.id.signer) };
    const e = await new RekorV2Client(o.rekorUrl!, o.http).createEntry(hashedRekordV2Request(v2.digest, signature, verifier));
    checkV2EntryMatches(e, signature, v2.digest);
    return { entries: [e], entryV2: e };
  };
  const stamp = async (): Promise<Buffer[]> => (o.tsaUrl === undefined ? [] : [await new TsaClient(o.tsaUrl, o.http).timestamp(signature)]);
  const [l, timestamps] = await Promise.all([log(), stamp()]);
  return { ...l, timestamps };
}

function result(bundle: BundleJson, id: Identity, w: Witnessed): SignResult {
  return {
    bundle,
    ...(id.certificate !== undefined ? { certificate: id.certificate, certificateChain: id.chain ?? [], subject: id.subject } : {}),
    ...(w.entry !== undefined ? { logEntry: w.entry } : {}),
    ...(w.entryV2 !== undefined ? { logEntryV2: w.entryV2 } : {}),
    timestamps: w.timestamps.length,
  };
}

/** Everything that can be refused without a network call is refused before the CA is asked. */
function checkOptions(o: SignOptions): void {
  if (o.rekorVersion !== undefined && o.rekorVersion !== 1 && o.rekorVersion !== 2) throw new SignError('INPUT_INVALID', 'the Rekor API version is 1 or 2');
  if (o.signer === undefined && o.rekorVersion === 2 && o.tsaUrl === undefined) {
    // sigstore-protocols §3.5: a v2 entry has no integrated time; without a TSA the short-lived
    // certificate can never be shown valid at signing time.
    throw new SignError('TSA_REQUIRED', 'keyless signing through Rekor v2 needs a timestamp authority (--tsa-url), or use Rekor v1');
  }
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
  const w = await witness(o, signature, () => logEntryFor(o, () => hashedRekordEntry(digest.toString('hex'), signature, id.logPem), { kind: 'hashedrekord', signature, digest }), { digest, id });
  return result(messageSignatureBundle(id.material, digest, signature, w.entries, w.timestamps), id, w);
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
  const v1 = (): ReturnType<typeof logEntryFor> =>
    logEntryFor(o, () => (kind === 'intoto' ? intotoEntry(envelope, id.logPem) : dsseEntry(envelope, id.logPem)), { kind, signature, digest: sha256(payload) });
  // Rekor v2: hashedrekord 0.0.2 over SHA-256(PAE), the form rekor-tiles and sigstore-go accept (§3.6).
  const w = await witness(o, signature, v1, { digest: sha256(pae(payloadType, payload)), id });
  return result(dsseBundle(id.material, envelope, w.entries, w.timestamps), id, w);
}
