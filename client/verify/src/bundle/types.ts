/**
 * Sigstore bundle (`dev.sigstore.bundle.v1.Bundle`, protobuf-specs sigstore_bundle.proto) after
 * strict parsing: bytes decoded, int64 strings turned into numbers, oneofs made explicit.
 */

export type BundleVersion = '0.1' | '0.2' | '0.3';

export type HashAlgorithmName = 'SHA2_256' | 'SHA2_384' | 'SHA2_512';

export interface MessageDigest {
  algorithm: HashAlgorithmName;
  digest: Buffer;
}

export interface MessageSignatureContent {
  type: 'messageSignature';
  /** Absent only when the bundle omits it (allowed by the proto; the digest is a hint). */
  messageDigest: MessageDigest | undefined;
  signature: Buffer;
}

export interface DsseSignature {
  sig: Buffer;
  keyid: string;
}

export interface DsseEnvelopeContent {
  type: 'dsseEnvelope';
  payload: Buffer;
  payloadType: string;
  signatures: DsseSignature[];
}

export type BundleContent = MessageSignatureContent | DsseEnvelopeContent;

export type VerificationMaterialContent =
  | { type: 'certificate'; certificate: Buffer }
  | { type: 'x509CertificateChain'; certificates: Buffer[] }
  | { type: 'publicKey'; hint: string };

export interface InclusionProof {
  logIndex: number;
  rootHash: Buffer;
  treeSize: number;
  hashes: Buffer[];
  checkpoint: string;
}

export interface TransparencyLogEntry {
  logIndex: number;
  logId: Buffer;
  kind: string;
  version: string;
  /** Unix seconds; 0 when absent (Rekor v2 entries carry none). */
  integratedTime: number;
  signedEntryTimestamp: Buffer | undefined;
  inclusionProof: InclusionProof | undefined;
  canonicalizedBody: Buffer;
}

export interface Bundle {
  mediaType: string;
  version: BundleVersion;
  verificationMaterial: {
    content: VerificationMaterialContent;
    tlogEntries: TransparencyLogEntry[];
    /** DER TimeStampResp values (RFC 3161), as stored in `signedTimestamp`. */
    rfc3161Timestamps: Buffer[];
  };
  content: BundleContent;
}
