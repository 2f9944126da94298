/**
 * Sigstore bundle v0.3 as JSON (protobuf JSON mapping, reference §5.2), in the exact shape
 * sigstore-js 4.x emits (`@sigstore/bundle` build + `bundleToJSON`): field order mediaType,
 * verificationMaterial {certificate|publicKey, tlogEntries, timestampVerificationData},
 * then messageSignature or dsseEnvelope; empty lists are omitted as protobuf JSON omits them.
 */
export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

export interface TransparencyLogEntryJson {
  logIndex: string;
  logId: { keyId: string };
  kindVersion: { kind: string; version: string };
  /** Absent on Rekor v2 entries (no integrated time, sigstore-protocols §3.5). */
  integratedTime?: string;
  inclusionPromise?: { signedEntryTimestamp: string };
  inclusionProof?: {
    logIndex: string;
    rootHash: string;
    treeSize: string;
    hashes: string[];
    checkpoint: { envelope: string };
  };
  canonicalizedBody: string;
}

export interface DsseEnvelopeJson {
  payload: string;
  payloadType: string;
  signatures: { sig: string; keyid?: string }[];
}

export interface VerificationMaterialJson {
  certificate?: { rawBytes: string };
  publicKey?: { hint: string };
  tlogEntries?: TransparencyLogEntryJson[];
  timestampVerificationData: { rfc3161Timestamps?: { signedTimestamp: string }[] };
}

export interface BundleJson {
  mediaType: string;
  verificationMaterial: VerificationMaterialJson;
  messageSignature?: { messageDigest: { algorithm: 'SHA2_256'; digest: string }; signature: string };
  dsseEnvelope?: DsseEnvelopeJson;
}

/** Who signed: a CA-issued leaf (keyless) or a key known out of band by its hint. */
export type KeyMaterial = { kind: 'certificate'; leafDer: Buffer } | { kind: 'publicKey'; hint: string };

function verificationMaterial(key: KeyMaterial, tlogEntries: TransparencyLogEntryJson[], timestamps: Buffer[] = []): VerificationMaterialJson {
  // RFC 3161 timestamps: the DER TimeStampResp, base64 (sigstore-protocols §8.2).
  const tvd: VerificationMaterialJson['timestampVerificationData'] =
    timestamps.length > 0 ? { rfc3161Timestamps: timestamps.map((t) => ({ signedTimestamp: t.toString('base64') })) } : {};
  const vm: VerificationMaterialJson =
    key.kind === 'certificate'
      ? { certificate: { rawBytes: key.leafDer.toString('base64') }, timestampVerificationData: tvd }
      : { publicKey: { hint: key.hint }, timestampVerificationData: tvd };
  if (tlogEntries.length === 0) return vm;
  // Keep sigstore-js's field order: key content, tlogEntries, timestampVerificationData.
  const { timestampVerificationData, ...rest } = vm;
  return { ...rest, tlogEntries, timestampVerificationData };
}

export function messageSignatureBundle(key: KeyMaterial, digest: Buffer, signature: Buffer, tlogEntries: TransparencyLogEntryJson[], timestamps: Buffer[] = []): BundleJson {
  return {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: verificationMaterial(key, tlogEntries, timestamps),
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: digest.toString('base64') }, signature: signature.toString('base64') },
  };
}

export function dsseBundle(key: KeyMaterial, envelope: DsseEnvelopeJson, tlogEntries: TransparencyLogEntryJson[], timestamps: Buffer[] = []): BundleJson {
  return { mediaType: BUNDLE_V03_MEDIA_TYPE, verificationMaterial: verificationMaterial(key, tlogEntries, timestamps), dsseEnvelope: envelope };
}

/** Bundles are written as sigstore-js writes them: JSON without whitespace. */
export function serializeBundle(b: BundleJson): string {
  return JSON.stringify(b);
}
