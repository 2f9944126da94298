/**
 * Offline verification of a Sigstore bundle (sigstore-protocols §7): nothing here touches the
 * network; everything comes from the bundle, the artifact (or its digest), the operator's policy
 * and the trust material.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { isRecord } from '@cairn/shared';
import { BundleError, parseBundle, parseBundleJson, type Bundle } from './bundle/index.ts';
import { verifyCertificatePath } from './chain.ts';
import { fail, VerifyError } from './errors.ts';
import { checkIdentity, compileIdentityPolicy, type IdentityPolicy } from './policy.ts';
import { pemKey, verifySignature } from './memo.ts';
import { pae as preAuthEncoding } from '@cairn/shared/dsse';
import { verifyPrehashed } from '@cairn/shared/prehash';
import { verifyEmbeddedScts } from './sct.ts';
import { verifyRfc3161Timestamp } from './timestamp.ts';
import { verifyTlogEntry, type EntryExpectations } from './tlog.ts';
import type { TrustMaterial } from './trusted-root.ts';
import { Certificate } from './x509.ts';

/** The artifact: its bytes, or its SHA-256 digest as `sha256:<64 hex>` or `{ sha256: <32 bytes> }`. */
export type ArtifactInput = Uint8Array | string | { sha256: Buffer };

export interface VerificationPolicy extends IdentityPolicy {
  /** Key-based bundles: the operator's public key (PEM text or KeyObject). */
  publicKey?: KeyObject | string;
  /** Defaults 1, 1 (0 for key-based bundles), 1 — as sigstore-js. */
  tlogThreshold?: number;
  ctlogThreshold?: number;
  timestampThreshold?: number;
}

export interface TrustedTime {
  source: 'transparency-log' | 'timestamp-authority';
  time: Date;
}

export interface VerificationResult {
  bundleVersion: string;
  signer: { type: 'certificate'; identity: string; issuer: string; certificate: Buffer } | { type: 'key'; spki: Buffer };
  timestamps: TrustedTime[];
  tlogEntries: number;
  scts: number;
  /** DSSE bundles: the envelope payload type and, for in-toto, the parsed statement. */
  payloadType?: string;
  statement?: Record<string, unknown>;
}

const SHA256_REF = /^sha256:([0-9a-f]{64})$/;
const MAX_THRESHOLD = 32;
const MAX_SUBJECTS = 1024;
const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const IN_TOTO_STATEMENT_TYPES = ['https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1'];

type Hash = 'sha256' | 'sha384' | 'sha512';
const BUNDLE_HASH: Record<string, Hash> = { SHA2_256: 'sha256', SHA2_384: 'sha384', SHA2_512: 'sha512' };

/** DUPLICATE_TLOG_ENTRY / DUPLICATE_TIMESTAMP for a bundle that carries one piece of evidence twice. */
function refuseDuplicates(entries: readonly { logId: Buffer; logIndex: number; canonicalizedBody: Buffer }[], timestamps: readonly Buffer[]): void {
  const positions = new Set<string>();
  const bodies = new Set<string>();
  for (const [i, e] of entries.entries()) {
    const position = `${e.logId.toString('hex')}/${e.logIndex}`;
    const body = createHash('sha256').update(e.canonicalizedBody).digest('hex');
    if (positions.has(position)) fail('DUPLICATE_TLOG_ENTRY', `transparency log entry ${i} repeats log ${e.logId.toString('hex')} index ${e.logIndex}; every entry counts once`);
    if (bodies.has(body)) fail('DUPLICATE_TLOG_ENTRY', `transparency log entry ${i} repeats the body of another entry; every entry counts once`);
    positions.add(position);
    bodies.add(body);
  }
  const seen = new Set<string>();
  for (const [i, t] of timestamps.entries()) {
    const h = createHash('sha256').update(t).digest('hex');
    if (seen.has(h)) fail('DUPLICATE_TIMESTAMP', `RFC 3161 timestamp ${i} repeats another; every timestamp counts once`);
    seen.add(h);
  }
}

function threshold(v: number | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 0 || v > MAX_THRESHOLD) fail('POLICY_INVALID', `${what} must be an integer 0-${MAX_THRESHOLD}`);
  return v;
}

interface Artifact {
  bytes: Uint8Array | undefined;
  sha256: Buffer;
}

function toArtifact(input: ArtifactInput): Artifact {
  if (typeof input === 'string') {
    const m = SHA256_REF.exec(input);
    if (!m) fail('POLICY_INVALID', 'an artifact digest must be written sha256:<64 lowercase hex>');
    return { bytes: undefined, sha256: Buffer.from(m[1]!, 'hex') };
  }
  if (input instanceof Uint8Array) return { bytes: input, sha256: createHash('sha256').update(input).digest() };
  if (!Buffer.isBuffer(input.sha256) || input.sha256.length !== 32) fail('POLICY_INVALID', 'an artifact digest must be 32 bytes of SHA-256');
  return { bytes: undefined, sha256: input.sha256 };
}

/** DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body. */
export { preAuthEncoding };

/** The digest a key's default scheme uses (Fulcio/Rekor v2 keyDetails convention). */
function keyHash(key: KeyObject): Hash | null {
  if (key.asymmetricKeyType === 'ed25519') return null;
  if (key.asymmetricKeyType === 'ec') {
    const c = key.asymmetricKeyDetails?.namedCurve;
    return c === 'secp384r1' ? 'sha384' : c === 'secp521r1' ? 'sha512' : 'sha256';
  }
  return 'sha256';
}

const spkiOf = new WeakMap<KeyObject, Buffer>();

function spkiBytes(key: KeyObject): Buffer {
  let b = spkiOf.get(key);
  if (!b) spkiOf.set(key, (b = key.export({ type: 'spki', format: 'der' })));
  return b;
}

function loadPolicyKey(k: KeyObject | string): KeyObject {
  if (typeof k !== 'string') return k;
  try {
    return pemKey(k);
  } catch (e) {
    return fail('POLICY_INVALID', 'the given public key is not a PEM public key', e);
  }
}

function parseStatement(payload: Buffer): Record<string, unknown> {
  let st: unknown;
  try {
    st = JSON.parse(payload.toString('utf8'));
  } catch {
    fail('BUNDLE_INVALID', 'the in-toto statement is not JSON');
  }
  if (!isRecord(st) || typeof st._type !== 'string' || !IN_TOTO_STATEMENT_TYPES.includes(st._type)) {
    fail('BUNDLE_INVALID', 'the DSSE payload is not an in-toto statement (v1 or v0.1)');
  }
  return st;
}

function subjectMatches(st: Record<string, unknown>, sha256: Buffer): boolean {
  const subjects = st.subject;
  if (!Array.isArray(subjects)) fail('BUNDLE_INVALID', 'the in-toto statement has no subject list');
  if (subjects.length > MAX_SUBJECTS) fail('BUNDLE_INVALID', `the in-toto statement has more than ${MAX_SUBJECTS} subjects`);
  const hex = sha256.toString('hex');
  return subjects.some((s) => isRecord(s) && isRecord(s.digest) && typeof s.digest.sha256 === 'string' && s.digest.sha256.toLowerCase() === hex);
}

/**
 * Verifies `bundleInput` (a parsed `Bundle`, its JSON text, or the decoded JSON value) for `artifact` under `policy` and `trust`.
 * Throws VerifyError with a stable code on the first failed check; returns what was proven.
 */
export function verify(bundleInput: unknown, artifactInput: ArtifactInput, policy: VerificationPolicy, trust: TrustMaterial): VerificationResult {
  const bundle = toBundle(bundleInput);
  const artifact = toArtifact(artifactInput);
  const identityPolicy = compileIdentityPolicy(policy);
  const material = bundle.verificationMaterial.content;
  const keyBased = material.type === 'publicKey';

  // 1. The signing key: the bundle's certificate (first of a chain) or the operator's key.
  let leaf: Certificate | undefined;
  let key: KeyObject;
  if (material.type === 'publicKey') {
    if (policy.publicKey === undefined) fail('KEY_REQUIRED', 'the bundle was signed with a managed key: pass the public key (--key)');
    key = loadPolicyKey(policy.publicKey);
  } else {
    const certs = material.type === 'certificate' ? [material.certificate] : material.certificates;
    const parsed = certs.map((c) => Certificate.fromDer(c));
    // The trust anchor comes from the trusted root only; a bundle carrying a root is malformed
    // (protobuf-specs: "MUST NOT include the root"), and trusting it would be a trap.
    if (parsed.some((c) => c.isSelfIssued)) fail('BUNDLE_INVALID', 'the bundle certificate chain includes a self-signed (root) certificate');
    leaf = parsed[0]!;
    key = leaf.publicKey;
    if (policy.publicKey !== undefined) {
      const want = spkiBytes(loadPolicyKey(policy.publicKey));
      if (!want.equals(leaf.spki)) fail('KEY_MISMATCH', 'the signing certificate does not hold the given public key');
    } else if (!identityPolicy.identity || !identityPolicy.issuer) {
      fail('POLICY_INVALID', 'a certificate bundle needs an expected identity and OIDC issuer (exact or pattern)');
    }
  }
  const spki = leaf ? leaf.spki : spkiBytes(key);
  const tlogThreshold = threshold(policy.tlogThreshold, 1, 'tlogThreshold');
  const ctlogThreshold = threshold(policy.ctlogThreshold, keyBased ? 0 : 1, 'ctlogThreshold');
  const timestampThreshold = threshold(policy.timestampThreshold, 1, 'timestampThreshold');

  // 2. The content: artifact binding and the signature itself.
  const content = bundle.content;
  let expect: EntryExpectations;
  let signature: Buffer;
  let statement: Record<string, unknown> | undefined;
  if (content.type === 'messageSignature') {
    signature = content.signature;
    const md = content.messageDigest;
    const alg: Hash = md ? BUNDLE_HASH[md.algorithm]! : 'sha256';
    let digest: Buffer;
    if (artifact.bytes) digest = alg === 'sha256' ? artifact.sha256 : createHash(alg).update(artifact.bytes).digest();
    else if (alg === 'sha256') digest = artifact.sha256;
    else fail('ARTIFACT_MISMATCH', `the bundle digests the artifact with ${alg}; verify the file itself, not its sha256`);
    if (md && !md.digest.equals(digest)) fail('ARTIFACT_MISMATCH', 'the artifact does not match the digest in the bundle');
    let ok: boolean | undefined;
    if (artifact.bytes) ok = verifySignature(key.asymmetricKeyType === 'ed25519' ? null : alg, artifact.bytes, key, spki, signature);
    else {
      ok = verifyPrehashed(key, alg, digest, signature);
      if (ok === undefined) fail('SIGNATURE_INVALID', `a ${key.asymmetricKeyType ?? 'unknown'} signature can only be verified over the artifact itself, not its digest`);
    }
    if (!ok) signatureFailure(keyBased, 'the signature over the artifact');
    expect = { signature, digest: { algorithm: alg, value: digest }, payloadSha256: undefined, certificate: leaf?.der, spki, isDsse: false };
  } else {
    signature = content.signatures[0]!.sig;
    const pae = preAuthEncoding(content.payloadType, content.payload);
    if (!verifySignature(keyHash(key), pae, key, spki, signature)) signatureFailure(keyBased, 'the DSSE envelope signature');
    if (content.payloadType !== IN_TOTO_PAYLOAD_TYPE) fail('ARTIFACT_MISMATCH', `the DSSE payload type ${content.payloadType} is not an in-toto statement, so it names no artifact`);
    statement = parseStatement(content.payload);
    if (!subjectMatches(statement, artifact.sha256)) fail('ARTIFACT_MISMATCH', 'the artifact digest is not a subject of the in-toto statement');
    const h = keyHash(key) ?? 'sha256';
    expect = {
      signature,
      digest: { algorithm: h, value: createHash(h).update(pae).digest() },
      payloadSha256: createHash('sha256').update(content.payload).digest(),
      payloadType: content.payloadType,
      certificate: leaf?.der,
      spki,
      isDsse: true,
    };
  }

  // 3. Transparency log entries: every entry must verify; enough of them must exist. A repeated
  // entry (same log and index, or the same body) is refused outright, as @sigstore/verify
  // refuses the duplicate timestamp it brings: copies must not meet a higher threshold.
  refuseDuplicates(bundle.verificationMaterial.tlogEntries, bundle.verificationMaterial.rfc3161Timestamps);
  const times: TrustedTime[] = [];
  let tlogCount = 0;
  for (const entry of bundle.verificationMaterial.tlogEntries) {
    const v = verifyTlogEntry(entry, trust.tlogs, expect);
    tlogCount++;
    if (v.integratedTime) times.push({ source: 'transparency-log', time: v.integratedTime });
  }
  if (tlogCount < tlogThreshold) fail('TLOG_THRESHOLD', `the bundle has ${tlogCount} verified transparency log entries, ${tlogThreshold} required`);

  // 4. RFC 3161 timestamps over the signature.
  for (const ts of bundle.verificationMaterial.rfc3161Timestamps) {
    times.push({ source: 'timestamp-authority', time: verifyRfc3161Timestamp(ts, signature, trust.timestampAuthorities) });
  }
  if (times.length < timestampThreshold) {
    fail('TIMESTAMP_THRESHOLD', `the bundle has ${times.length} trusted timestamps (SET-backed log entries or RFC 3161), ${timestampThreshold} required`);
  }

  // 5. Certificate: path to a trusted CA valid at every trusted time, SCTs, identity.
  let scts = 0;
  let signer: VerificationResult['signer'] = { type: 'key', spki };
  if (leaf) {
    if (times.length === 0) fail('TIMESTAMP_THRESHOLD', 'a certificate can only be checked at a trusted signing time, and the bundle has none');
    const path = verifyCertificatePath(leaf, trust.certificateAuthorities, times.map((t) => t.time));
    if (ctlogThreshold > 0) {
      scts = verifyEmbeddedScts(leaf, path[1]!, trust.ctlogs);
      if (scts < ctlogThreshold) fail('SCT_THRESHOLD', `the certificate has ${scts} verified SCTs, ${ctlogThreshold} required`);
    }
    const who = checkIdentity(leaf, identityPolicy);
    signer = { type: 'certificate', identity: who.identity, issuer: who.issuer, certificate: leaf.der };
  }
  return {
    bundleVersion: bundle.version,
    signer,
    timestamps: times,
    tlogEntries: tlogCount,
    scts,
    ...(content.type === 'dsseEnvelope' ? { payloadType: content.payloadType, statement } : {}),
  };
}

function signatureFailure(keyBased: boolean, what: string): never {
  if (keyBased) fail('KEY_MISMATCH', `${what} does not verify with the given public key`);
  return fail('SIGNATURE_INVALID', `${what} does not verify with the signing certificate's key`);
}

/** A `Bundle` already parsed by parseBundle (a bundle's JSON form has no `version`/`content`). */
function isParsedBundle(v: unknown): v is Bundle {
  return (
    isRecord(v) &&
    (v.version === '0.1' || v.version === '0.2' || v.version === '0.3') &&
    isRecord(v.content) &&
    typeof v.content.type === 'string' &&
    isRecord(v.verificationMaterial) &&
    Array.isArray(v.verificationMaterial.tlogEntries) &&
    Array.isArray(v.verificationMaterial.rfc3161Timestamps)
  );
}

function toBundle(input: unknown): Bundle {
  if (isParsedBundle(input)) return input;
  try {
    return typeof input === 'string' ? parseBundleJson(input) : parseBundle(input);
  } catch (e) {
    if (e instanceof BundleError) throw new VerifyError(e.code, e.message, { cause: e });
    throw e;
  }
}
