/**
 * Client of the Rekor v2 write API (`POST /api/v2/log/entries`, sigstore-protocols §3.1): a
 * hashedrekord 0.0.2 request (for DSSE the digest is SHA-256 of the PAE, as sigstore-go and
 * rekor-tiles do it, §3.6), and strict parsing of the TransparencyLogEntry answer, which goes
 * into the bundle as it is (no integrated time, no SET: the timestamp comes from a TSA).
 */
import { isRecord, type Signer } from '@cairn/shared';
import type { TransparencyLogEntryJson } from './bundle.ts';
import { SignError } from './errors.ts';
import { httpRequest, jsonOf, type HttpOptions } from './http.ts';
import { MAX_LOG_RESPONSE_BYTES, MAX_PROOF_HASHES, MAX_CHECKPOINT_BYTES } from './rekor.ts';

const DECIMAL = /^(?:0|[1-9]\d{0,18})$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** protobuf-specs PublicKeyDetails of a signing key, as Rekor v2 wants it in `keyDetails`. */
export function keyDetailsOf(signer: Signer): string {
  switch (signer.algorithm) {
    case 'ecdsa-p256-sha256':
      return 'PKIX_ECDSA_P256_SHA_256';
    case 'rsa-pkcs1-sha256': {
      const bits = signer.publicKey.keyObject.asymmetricKeyDetails?.modulusLength;
      if (bits === 2048 || bits === 3072 || bits === 4096) return `PKIX_RSA_PKCS1V15_${bits}_SHA256`;
      throw new SignError('KEY_UNSUPPORTED', `Rekor v2 takes RSA keys of 2048, 3072 or 4096 bits, not ${String(bits)}`);
    }
    default:
      throw new SignError('KEY_UNSUPPORTED', `Rekor v2 entries for ${signer.algorithm} keys are not written by this client`);
  }
}

export interface V2Verifier {
  /** The leaf certificate DER (keyless) or the DER SPKI (key-based). */
  der: Buffer;
  kind: 'x509Certificate' | 'publicKey';
  keyDetails: string;
}

/** CreateEntryRequest { hashedRekordRequestV002 } (protojson names, standard base64). */
export function hashedRekordV2Request(digest: Buffer, signature: Buffer, v: V2Verifier): Record<string, unknown> {
  return {
    hashedRekordRequestV002: {
      digest: digest.toString('base64'),
      signature: { content: signature.toString('base64'), verifier: { [v.kind]: { rawBytes: v.der.toString('base64') }, keyDetails: v.keyDetails } },
    },
  };
}

function bad(message: string): never {
  throw new SignError('TLOG_ERROR', `the Rekor v2 answer ${message}`);
}

function str(v: unknown, re: RegExp, what: string, max = 1 << 20): string {
  if (typeof v !== 'string' || v.length > max || !re.test(v)) bad(`has no valid ${what}`);
  return v;
}

/** Checks a TransparencyLogEntry answer field by field and returns it in bundle form. */
export function parseV2Entry(json: unknown): TransparencyLogEntryJson {
  if (!isRecord(json) || !isRecord(json.logId) || !isRecord(json.kindVersion) || !isRecord(json.inclusionProof)) bad('is not a TransparencyLogEntry');
  const p = json.inclusionProof;
  if (!isRecord(p.checkpoint) || !Array.isArray(p.hashes) || p.hashes.length > MAX_PROOF_HASHES) bad('has no valid inclusion proof');
  const entry: TransparencyLogEntryJson = {
    logIndex: str(json.logIndex, DECIMAL, 'logIndex'),
    logId: { keyId: str(json.logId.keyId, B64, 'logId.keyId', 88) },
    kindVersion: { kind: str(json.kindVersion.kind, /^[a-z]{1,32}$/, 'kind'), version: str(json.kindVersion.version, /^\d{1,3}\.\d{1,3}\.\d{1,3}$/, 'version') },
    inclusionProof: {
      logIndex: str(p.logIndex, DECIMAL, 'inclusionProof.logIndex'),
      rootHash: str(p.rootHash, B64, 'inclusionProof.rootHash', 88),
      treeSize: str(p.treeSize, DECIMAL, 'inclusionProof.treeSize'),
      hashes: p.hashes.map((h) => str(h, B64, 'inclusionProof.hashes', 88)),
      checkpoint: { envelope: str(p.checkpoint.envelope, /^[\s\S]+$/, 'checkpoint', MAX_CHECKPOINT_BYTES) },
    },
    canonicalizedBody: str(json.canonicalizedBody, B64, 'canonicalizedBody', MAX_LOG_RESPONSE_BYTES),
  };
  if (entry.inclusionProof!.logIndex !== entry.logIndex) bad('has an inclusion proof for another index');
  if (BigInt(entry.logIndex) >= BigInt(entry.inclusionProof!.treeSize)) bad('has an index outside the proven tree');
  return entry;
}

/** The entry the log recorded must be the one asked for: same kind, signature and digest. */
export function checkV2EntryMatches(e: TransparencyLogEntryJson, signature: Buffer, digest: Buffer): void {
  if (e.kindVersion.kind !== 'hashedrekord' || e.kindVersion.version !== '0.0.2') bad(`is a ${e.kindVersion.kind} ${e.kindVersion.version} entry, not hashedrekord 0.0.2`);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(e.canonicalizedBody, 'base64').toString('utf8'));
  } catch {
    bad('has a canonicalizedBody that is not JSON');
  }
  const spec = isRecord(body) && isRecord(body.spec) && isRecord(body.spec.hashedRekordV002) ? body.spec.hashedRekordV002 : undefined;
  const sig = spec && isRecord(spec.signature) ? spec.signature.content : undefined;
  const dig = spec && isRecord(spec.data) ? spec.data.digest : undefined;
  if (sig !== signature.toString('base64') || dig !== digest.toString('base64')) bad('records another signature or digest than the one sent');
}

export class RekorV2Client {
  constructor(
    private readonly baseUrl: string,
    private readonly http: HttpOptions = {},
  ) {}

  async createEntry(request: Record<string, unknown>): Promise<TransparencyLogEntryJson> {
    const res = await httpRequest(
      { method: 'POST', url: `${this.baseUrl.replace(/\/+$/, '')}/api/v2/log/entries`, headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) },
      'TLOG_ERROR',
      'the transparency log (Rekor v2)',
      // The v2 write waits for the checkpoint that covers the entry (sigstore-js allows 20 s).
      { maxBytes: MAX_LOG_RESPONSE_BYTES, timeoutMs: 20_000, ...this.http },
    );
    if (res.status !== 201 && res.status !== 200) bad(`came with HTTP ${res.status}`);
    return parseV2Entry(jsonOf(res, 'TLOG_ERROR', 'the transparency log (Rekor v2)'));
  }
}
