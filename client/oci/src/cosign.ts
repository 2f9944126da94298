/**
 * cosign's storage formats (reference §4): the tag-based `.sig`/`.att` objects (simple-signing
 * payload or DSSE envelope layers with cosign's annotations) and the OCI 1.1 referrer manifest
 * carrying a Sigstore bundle. Building them from a signing result, and turning a legacy layer
 * back into a Sigstore bundle v0.1 so the one bundle verifier checks it.
 */
import { fromPemAll, isRecord, toPem } from '@cairn/shared';
import { ociFail } from './errors.ts';
import { EMPTY_DIGEST, OCI_EMPTY, OCI_IMAGE_CONFIG, OCI_MANIFEST, sha256Digest, type Descriptor } from './manifest.ts';
import type { TransparencyLogEntryJson, BundleJson } from '@cairn/sign';

export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const DSSE_LAYER_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json';
export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** Media types a referrer bundle layer may have (older sigstore-js writes these). */
export const BUNDLE_LAYER_MEDIA_TYPES = [
  BUNDLE_ARTIFACT_TYPE,
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
  'application/vnd.dev.sigstore.bundle+json;version=0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.1',
];
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
/** cosign v3's predicate type for `cosign sign` in the bundle format. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/** Annotation keys as cosign's code constants (pkg/oci/static/signature.go). */
export const ANNOTATION = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161: 'dev.sigstore.cosign/rfc3161timestamp',
  predicateType: 'predicateType',
  bundleContent: 'dev.sigstore.bundle.content',
  bundlePredicateType: 'dev.sigstore.bundle.predicateType',
  created: 'org.opencontainers.image.created',
} as const;

/** Signatures in one `.sig`/`.att` manifest (cosign appends one layer per signature). */
export const MAX_SIGNATURE_LAYERS = 256;
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** reference §4.3: the payload cosign signs, in cosign's key order. */
export function simpleSigningPayload(dockerReference: string, digest: string, optional?: Record<string, string>): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': digest }, type: SIMPLE_SIGNING_TYPE },
      optional: optional ?? null,
    }),
  );
}

export interface SimpleSigning {
  dockerReference: string | undefined;
  digest: string;
  optional: Record<string, unknown> | null;
}

/** Reads a simple-signing payload; the digest key is matched case-insensitively (reference §4.3). */
export function parseSimpleSigning(payload: Buffer): SimpleSigning {
  let j: unknown;
  try {
    j = JSON.parse(payload.toString('utf8'));
  } catch {
    return ociFail('PAYLOAD_INVALID', 'the simple-signing payload is not JSON');
  }
  if (!isRecord(j) || !isRecord(j.critical)) ociFail('PAYLOAD_INVALID', 'the simple-signing payload has no critical section');
  const c = j.critical;
  if (c.type !== SIMPLE_SIGNING_TYPE) ociFail('PAYLOAD_INVALID', 'the simple-signing payload type is not "cosign container image signature"');
  const image = isRecord(c.image) ? c.image : undefined;
  const key = image ? Object.keys(image).find((k) => k.toLowerCase() === 'docker-manifest-digest') : undefined;
  const digest = key !== undefined ? image?.[key] : undefined;
  if (typeof digest !== 'string') ociFail('PAYLOAD_INVALID', 'the simple-signing payload names no docker-manifest-digest');
  const identity = isRecord(c.identity) ? c.identity['docker-reference'] : undefined;
  return { dockerReference: typeof identity === 'string' ? identity : undefined, digest, optional: isRecord(j.optional) ? j.optional : null };
}

/** The legacy `bundle` annotation: Rekor's SET and entry (reference §4.2). */
export function rekorBundleAnnotation(e: TransparencyLogEntryJson): string | undefined {
  if (e.inclusionPromise === undefined) return undefined;
  return JSON.stringify({
    SignedEntryTimestamp: e.inclusionPromise.signedEntryTimestamp,
    Payload: { body: e.canonicalizedBody, integratedTime: Number(e.integratedTime), logIndex: Number(e.logIndex), logID: Buffer.from(e.logId.keyId, 'base64').toString('hex') },
  });
}

/** Annotations of a legacy layer from a Cairn signing result. */
export function legacyAnnotations(bundle: BundleJson, o: { signature: string; certificate?: Buffer; chain?: Buffer[]; predicateType?: string }): Record<string, string> {
  const a: Record<string, string> = { [ANNOTATION.signature]: o.signature };
  if (o.predicateType !== undefined) a[ANNOTATION.predicateType] = o.predicateType;
  if (o.certificate !== undefined) a[ANNOTATION.certificate] = toPem('CERTIFICATE', o.certificate);
  if (o.chain !== undefined && o.chain.length > 0) a[ANNOTATION.chain] = o.chain.map((c) => toPem('CERTIFICATE', c)).join('');
  const entry = bundle.verificationMaterial.tlogEntries?.[0];
  const rb = entry ? rekorBundleAnnotation(entry) : undefined;
  if (rb !== undefined) a[ANNOTATION.bundle] = rb;
  // cosign's timestamp annotation: the TSA's reply over the signature, as JSON holding base64 DER.
  const ts = bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps?.[0];
  if (ts !== undefined) a[ANNOTATION.rfc3161] = JSON.stringify({ SignedRFC3161Timestamp: ts.signedTimestamp });
  return a;
}

/** cosign's signature-image config: an image config whose rootfs lists the layer digests. */
export function signatureConfig(layers: readonly Descriptor[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
}

export function signatureManifest(config: Buffer, layers: readonly Descriptor[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_IMAGE_CONFIG, size: config.length, digest: sha256Digest(config) },
      layers,
    }),
  );
}

/** cosign BUNDLE_SPEC.md: the referrer manifest carrying one Sigstore bundle. */
export function referrerManifest(bundleBytes: Buffer, subject: Descriptor, o: { predicateType?: string; content: 'dsse-envelope' | 'message-signature'; created: Date }): Buffer {
  const annotations: Record<string, string> = { [ANNOTATION.created]: o.created.toISOString().replace(/\.[0-9]{3}Z$/, 'Z'), [ANNOTATION.bundleContent]: o.content };
  if (o.predicateType !== undefined) annotations[ANNOTATION.bundlePredicateType] = o.predicateType;
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: BUNDLE_ARTIFACT_TYPE,
      config: { mediaType: OCI_EMPTY, digest: EMPTY_DIGEST, size: 2 },
      layers: [{ mediaType: BUNDLE_ARTIFACT_TYPE, digest: sha256Digest(bundleBytes), size: bundleBytes.length }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    }),
  );
}

const BUNDLE_V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1';

function tlogFromAnnotation(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return ociFail('PAYLOAD_INVALID', 'the dev.sigstore.cosign/bundle annotation is not JSON');
  }
  if (!isRecord(j) || typeof j.SignedEntryTimestamp !== 'string' || !isRecord(j.Payload)) ociFail('PAYLOAD_INVALID', 'the cosign bundle annotation lacks SignedEntryTimestamp/Payload');
  const p = j.Payload;
  if (typeof p.body !== 'string' || typeof p.integratedTime !== 'number' || typeof p.logIndex !== 'number' || typeof p.logID !== 'string' || !/^[0-9a-f]{64}$/.test(p.logID)) {
    ociFail('PAYLOAD_INVALID', 'the cosign bundle annotation Payload is malformed');
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8'));
  } catch {
    return ociFail('PAYLOAD_INVALID', 'the logged entry body is not JSON');
  }
  if (!isRecord(body) || typeof body.kind !== 'string' || typeof body.apiVersion !== 'string') ociFail('PAYLOAD_INVALID', 'the logged entry body names no kind/apiVersion');
  return [
    {
      logIndex: String(p.logIndex),
      logId: { keyId: Buffer.from(p.logID, 'hex').toString('base64') },
      kindVersion: { kind: body.kind, version: body.apiVersion },
      integratedTime: String(p.integratedTime),
      inclusionPromise: { signedEntryTimestamp: j.SignedEntryTimestamp },
      canonicalizedBody: p.body,
    },
  ];
}

/** A signed RFC 3161 token is a few KiB; the cap keeps a hostile annotation from growing the bundle. */
const MAX_TIMESTAMP_BYTES = 64 * 1024;

/** cosign's `dev.sigstore.cosign/rfc3161timestamp` annotation as the bundle's timestamp data. */
function timestampsFromAnnotation(text: string | undefined): { rfc3161Timestamps?: { signedTimestamp: string }[] } {
  if (text === undefined) return {};
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return ociFail('PAYLOAD_INVALID', 'the dev.sigstore.cosign/rfc3161timestamp annotation is not JSON');
  }
  const ts = isRecord(j) ? j.SignedRFC3161Timestamp : undefined;
  if (typeof ts !== 'string' || ts.length === 0 || ts.length > MAX_TIMESTAMP_BYTES || !/^[A-Za-z0-9+/]+={0,2}$/.test(ts) || ts.length % 4 !== 0) {
    ociFail('PAYLOAD_INVALID', 'the rfc3161timestamp annotation holds no base64 SignedRFC3161Timestamp');
  }
  return { rfc3161Timestamps: [{ signedTimestamp: ts }] };
}

function material(a: Record<string, string>): Record<string, unknown> {
  const pem = a[ANNOTATION.certificate];
  if (pem === undefined || pem === '') return { publicKey: { hint: '' } };
  let blocks;
  try {
    blocks = fromPemAll(pem, 'certificate annotation');
  } catch (e) {
    return ociFail('PAYLOAD_INVALID', 'the certificate annotation is not PEM', e);
  }
  const leaf = blocks[0];
  if (!leaf || leaf.label !== 'CERTIFICATE') ociFail('PAYLOAD_INVALID', 'the certificate annotation holds no certificate');
  // Only the leaf: the path to a CA is built from the trusted root, never from registry data.
  return { x509CertificateChain: { certificates: [{ rawBytes: leaf.der.toString('base64') }] } };
}

/** A legacy `.sig` layer (payload bytes + annotations) as a Sigstore bundle v0.1 with a message signature. */
export function bundleFromSignatureLayer(payload: Buffer, a: Record<string, string>): Record<string, unknown> {
  const sig = a[ANNOTATION.signature];
  if (sig === undefined || sig === '') ociFail('PAYLOAD_INVALID', 'the layer has no dev.cosignproject.cosign/signature annotation');
  return {
    mediaType: BUNDLE_V01,
    verificationMaterial: { ...material(a), tlogEntries: tlogFromAnnotation(a[ANNOTATION.bundle]), timestampVerificationData: timestampsFromAnnotation(a[ANNOTATION.rfc3161]) },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(sha256Digest(payload).slice(7), 'hex').toString('base64') }, signature: sig },
  };
}

/** A legacy `.att` layer (a DSSE envelope) as a Sigstore bundle v0.1 with that envelope. */
export function bundleFromAttestationLayer(envelope: Buffer, a: Record<string, string>): Record<string, unknown> {
  let env: unknown;
  try {
    env = JSON.parse(envelope.toString('utf8'));
  } catch {
    return ociFail('PAYLOAD_INVALID', 'the attestation layer is not a DSSE envelope (JSON)');
  }
  if (!isRecord(env) || typeof env.payload !== 'string' || typeof env.payloadType !== 'string' || !Array.isArray(env.signatures)) {
    ociFail('PAYLOAD_INVALID', 'the attestation layer is not a DSSE envelope');
  }
  return {
    mediaType: BUNDLE_V01,
    verificationMaterial: { ...material(a), tlogEntries: tlogFromAnnotation(a[ANNOTATION.bundle]), timestampVerificationData: timestampsFromAnnotation(a[ANNOTATION.rfc3161]) },
    dsseEnvelope: { payload: env.payload, payloadType: env.payloadType, signatures: env.signatures },
  };
}
