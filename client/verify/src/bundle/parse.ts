/**
 * Strict Sigstore bundle parsing (protobuf-specs sigstore_bundle.proto; version rules as
 * @sigstore/bundle validate.js and sigstore-go pkg/bundle/bundle.go apply them).
 */
import { CairnError, parseJson } from '@cairn/shared';
import { Fields, type Fail } from './json-fields.ts';
import type {
  Bundle,
  BundleContent,
  BundleVersion,
  HashAlgorithmName,
  InclusionProof,
  TransparencyLogEntry,
  VerificationMaterialContent,
} from './types.ts';

export type BundleErrorCode = 'BUNDLE_INVALID' | 'UNSUPPORTED_BUNDLE_VERSION';

export class BundleError extends CairnError<BundleErrorCode> {
  constructor(code: BundleErrorCode, message: string) {
    super(code, message);
  }
}

/** Size limits on attacker-controlled parts of a bundle. */
export const BUNDLE_LIMITS = {
  maxBundleBytes: 16 * 1024 * 1024,
  maxCertificateBytes: 64 * 1024,
  maxChainCertificates: 10,
  maxTlogEntries: 32,
  maxTimestamps: 32,
  maxTimestampBytes: 64 * 1024,
  maxProofHashes: 64,
  maxCheckpointChars: 16 * 1024,
  maxBodyBytes: 4 * 1024 * 1024,
  maxSignatureBytes: 8 * 1024,
  maxPayloadBytes: 8 * 1024 * 1024,
  maxPayloadTypeChars: 256,
  maxHintChars: 1024,
} as const;

export const BUNDLE_MEDIA_TYPES: Readonly<Record<string, BundleVersion>> = {
  'application/vnd.dev.sigstore.bundle+json;version=0.1': '0.1',
  'application/vnd.dev.sigstore.bundle+json;version=0.2': '0.2',
  'application/vnd.dev.sigstore.bundle+json;version=0.3': '0.3',
  'application/vnd.dev.sigstore.bundle.v0.3+json': '0.3',
};

const HASH_ALGORITHMS: readonly HashAlgorithmName[] = ['SHA2_256', 'SHA2_384', 'SHA2_512'];

const fail: Fail = (message) => {
  throw new BundleError('BUNDLE_INVALID', message);
};

/** Parses bundle JSON text (bounded) into a `Bundle`. */
export function parseBundleJson(text: string): Bundle {
  if (text.length > BUNDLE_LIMITS.maxBundleBytes) fail(`bundle is larger than ${BUNDLE_LIMITS.maxBundleBytes} bytes`);
  let json: unknown;
  try {
    json = parseJson(text, 'bundle');
  } catch {
    fail('bundle is not valid JSON');
  }
  return parseBundle(json);
}

/** Parses an already-decoded bundle JSON value into a `Bundle`. */
export function parseBundle(json: unknown): Bundle {
  const top = new Fields(json, 'bundle', fail, ['mediaType', 'verificationMaterial', 'messageSignature', 'dsseEnvelope']);
  const mediaType = top.string('mediaType', 128);
  const version = BUNDLE_MEDIA_TYPES[mediaType];
  if (version === undefined) {
    throw new BundleError('UNSUPPORTED_BUNDLE_VERSION', `unsupported bundle media type "${mediaType.slice(0, 128)}" (supported: v0.1, v0.2, v0.3)`);
  }

  const vm = top.child('verificationMaterial', [
    'publicKey',
    'x509CertificateChain',
    'certificate',
    'tlogEntries',
    'timestampVerificationData',
  ]);
  const content = parseMaterialContent(vm, version);
  const tlogEntries = vm.optArray('tlogEntries', BUNDLE_LIMITS.maxTlogEntries).map((e, i) => parseTlogEntry(e, `bundle.verificationMaterial.tlogEntries[${i}]`, version));
  const tvd = vm.optChild('timestampVerificationData', ['rfc3161Timestamps']);
  const rfc3161Timestamps = (tvd?.optArray('rfc3161Timestamps', BUNDLE_LIMITS.maxTimestamps) ?? []).map((t, i) =>
    new Fields(t, `bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[${i}]`, fail, ['signedTimestamp']).bytes(
      'signedTimestamp',
      BUNDLE_LIMITS.maxTimestampBytes,
    ),
  );

  const hasMsg = top.has('messageSignature');
  const hasDsse = top.has('dsseEnvelope');
  if (hasMsg === hasDsse) fail('bundle must hold exactly one of messageSignature and dsseEnvelope');
  const bundleContent: BundleContent = hasMsg ? parseMessageSignature(top) : parseDsse(top);

  return { mediaType, version, verificationMaterial: { content, tlogEntries, rfc3161Timestamps }, content: bundleContent };
}

function parseMaterialContent(vm: Fields, version: BundleVersion): VerificationMaterialContent {
  const present = ['publicKey', 'x509CertificateChain', 'certificate'].filter((k) => vm.has(k));
  if (present.length !== 1) fail('verificationMaterial must hold exactly one of publicKey, x509CertificateChain and certificate');
  if (vm.has('publicKey')) {
    const pk = vm.child('publicKey', ['hint']);
    return { type: 'publicKey', hint: pk.optString('hint', BUNDLE_LIMITS.maxHintChars) ?? '' };
  }
  if (vm.has('certificate')) {
    if (version !== '0.3') fail(`a v${version} bundle carries x509CertificateChain, not certificate`);
    const c = vm.child('certificate', ['rawBytes']);
    const der = c.bytes('rawBytes', BUNDLE_LIMITS.maxCertificateBytes);
    if (der.length === 0) fail('verificationMaterial.certificate.rawBytes is empty');
    return { type: 'certificate', certificate: der };
  }
  // v0.3 forbids the chain form (sigstore-js validate.js, sigstore-go bundle.go).
  if (version === '0.3') fail('a v0.3 bundle must carry certificate, not x509CertificateChain');
  const chain = vm.child('x509CertificateChain', ['certificates']);
  const certs = chain.optArray('certificates', BUNDLE_LIMITS.maxChainCertificates).map((c, i) => {
    const der = new Fields(c, `bundle.verificationMaterial.x509CertificateChain.certificates[${i}]`, fail, ['rawBytes']).bytes(
      'rawBytes',
      BUNDLE_LIMITS.maxCertificateBytes,
    );
    if (der.length === 0) fail('an x509CertificateChain certificate is empty');
    return der;
  });
  if (certs.length === 0) fail('verificationMaterial.x509CertificateChain is empty');
  return { type: 'x509CertificateChain', certificates: certs };
}

function parseTlogEntry(value: unknown, path: string, version: BundleVersion): TransparencyLogEntry {
  const e = new Fields(value, path, fail, [
    'logIndex',
    'logId',
    'kindVersion',
    'integratedTime',
    'inclusionPromise',
    'inclusionProof',
    'canonicalizedBody',
  ]);
  // proto3 JSON omits fields holding their default: a missing int64 is 0, a missing list empty.
  const logIndex = e.optInt('logIndex') ?? 0;
  const logId = e.child('logId', ['keyId']).bytes('keyId', 64);
  const kv = e.child('kindVersion', ['kind', 'version']);
  const kind = kv.string('kind', 64);
  const kindVersion = kv.string('version', 32);
  const integratedTime = e.optInt('integratedTime') ?? 0;
  const promise = e.optChild('inclusionPromise', ['signedEntryTimestamp']);
  const signedEntryTimestamp = promise?.bytes('signedEntryTimestamp', BUNDLE_LIMITS.maxSignatureBytes);
  const proofFields = e.optChild('inclusionProof', ['logIndex', 'rootHash', 'treeSize', 'hashes', 'checkpoint']);
  let inclusionProof: InclusionProof | undefined;
  if (proofFields) {
    const hashes = proofFields.optArray('hashes', BUNDLE_LIMITS.maxProofHashes).map((h, i) => {
      if (typeof h !== 'string') fail(`${path}.inclusionProof.hashes[${i}] must be a base64 string`);
      return new Fields({ h }, `${path}.inclusionProof.hashes[${i}]`, fail, ['h']).bytes('h', 64);
    });
    const cp = proofFields.optChild('checkpoint', ['envelope']);
    inclusionProof = {
      logIndex: proofFields.optInt('logIndex') ?? 0,
      rootHash: proofFields.bytes('rootHash', 64),
      treeSize: proofFields.optInt('treeSize') ?? 0,
      hashes,
      checkpoint: cp?.string('envelope', BUNDLE_LIMITS.maxCheckpointChars) ?? '',
    };
  }
  const canonicalizedBody = e.bytes('canonicalizedBody', BUNDLE_LIMITS.maxBodyBytes);
  if (canonicalizedBody.length === 0) fail(`${path}.canonicalizedBody is empty`);

  // Version rules (@sigstore/bundle validate.js): v0.1 needs the SET; v0.2+ need proof + checkpoint.
  if (version === '0.1') {
    if (!signedEntryTimestamp) fail(`${path} lacks inclusionPromise, which a v0.1 bundle requires`);
  } else if (!inclusionProof || inclusionProof.checkpoint === '') {
    fail(`${path} lacks an inclusionProof with a checkpoint, which a v${version} bundle requires`);
  }
  return { logIndex, logId, kind, version: kindVersion, integratedTime, signedEntryTimestamp, inclusionProof, canonicalizedBody };
}

function parseMessageSignature(top: Fields): BundleContent {
  const m = top.child('messageSignature', ['messageDigest', 'signature']);
  const md = m.optChild('messageDigest', ['algorithm', 'digest']);
  const messageDigest = md ? { algorithm: md.enumValue('algorithm', HASH_ALGORITHMS), digest: md.bytes('digest', 64) } : undefined;
  if (messageDigest && messageDigest.digest.length === 0) fail('messageSignature.messageDigest.digest is empty');
  const signature = m.bytes('signature', BUNDLE_LIMITS.maxSignatureBytes);
  if (signature.length === 0) fail('messageSignature.signature is empty');
  return { type: 'messageSignature', messageDigest, signature };
}

function parseDsse(top: Fields): BundleContent {
  const d = top.child('dsseEnvelope', ['payload', 'payloadType', 'signatures']);
  const payload = d.bytes('payload', BUNDLE_LIMITS.maxPayloadBytes);
  if (payload.length === 0) fail('dsseEnvelope.payload is empty');
  const payloadType = d.string('payloadType', BUNDLE_LIMITS.maxPayloadTypeChars);
  const sigs = d.array('signatures', 16);
  // A bundle's DSSE envelope carries exactly one signature (protobuf-specs sigstore_bundle.proto).
  if (sigs.length !== 1) fail('dsseEnvelope must carry exactly one signature');
  const signatures = sigs.map((s, i) => {
    const f = new Fields(s, `bundle.dsseEnvelope.signatures[${i}]`, fail, ['sig', 'keyid']);
    const sig = f.bytes('sig', BUNDLE_LIMITS.maxSignatureBytes);
    if (sig.length === 0) fail('dsseEnvelope signature is empty');
    return { sig, keyid: f.optString('keyid', 256) ?? '' };
  });
  return { type: 'dsseEnvelope', payload, payloadType, signatures };
}
