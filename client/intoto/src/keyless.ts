/**
 * Keyless links: the link is signed with an ephemeral P-256 key certified by Cairn's CA (Fulcio v2
 * wire protocol) and recorded in the transparency log as a Rekor v1 `dsse` 0.0.1 entry, so the
 * chain of custody itself is in the accountability log. The result is the DSSE link plus a
 * Sigstore bundle v0.3 (DSSE content) that sigstore-js can verify.
 *
 * Wire details (sigstore-protocols digest §1.2-1.4, §2.2, §2.5, §5.2):
 * - PoP: ECDSA-SHA256 (DER) over the UTF-8 of the token's `email` (if present; then
 *   `email_verified` must be true) else its `sub`, exactly as sigstore-js does.
 * - POST {fulcio}/api/v2/signingCert {credentials:{oidcIdentityToken}, publicKeyRequest:{publicKey:
 *   {algorithm:"ECDSA", content: PEM}, proofOfPossession: b64}} -> chain.certificates[0] is the leaf.
 * - POST {rekor}/api/v1/log/entries {apiVersion:"0.0.1", kind:"dsse", spec:{proposedContent:
 *   {envelope: <envelope JSON string>, verifiers: [b64(leaf PEM)]}}} -> {<uuid>: LogEntry}.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { generateKey, isRecord, LocalSigner, toBase64 } from '@cairn/shared';
import { IntotoError } from './errors.ts';
import { dssePayloadOf, INTOTO_PAYLOAD_TYPE, pae } from './metadata.ts';
import { pythonJsonDumps } from './python-json.ts';
import { publicKeyFromKeyObject } from './keys.ts';
import { linkToSignable, type Link } from './models.ts';

export const MAX_RESPONSE_BYTES = 1024 * 1024;
export const MAX_TOKEN_BYTES = 16 * 1024;
export const HTTP_TIMEOUT_MS = 30_000;
export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export interface KeylessOptions {
  identityToken: string;
  fulcioUrl: string;
  rekorUrl: string;
  fetchImpl?: typeof fetch;
}

export interface KeylessResult {
  /** The DSSE envelope (the link file's content). */
  envelopeText: string;
  /** The Sigstore bundle JSON text. */
  bundleText: string;
  /** securesystemslib keyid of the ephemeral key (for the file name). */
  keyid: string;
  certificatePem: string;
  logIndex: number;
  identity: string;
}

/** The identity the CA checks the proof of possession against: email if present, else sub. */
export function tokenSubject(token: string): string {
  if (token.length > MAX_TOKEN_BYTES) throw new IntotoError('NO_IDENTITY_TOKEN', 'identity token is too large');
  const parts = token.split('.');
  if (parts.length !== 3) throw new IntotoError('NO_IDENTITY_TOKEN', 'identity token is not a JWT');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
  } catch {
    throw new IntotoError('NO_IDENTITY_TOKEN', 'identity token payload is not JSON');
  }
  if (!isRecord(claims)) throw new IntotoError('NO_IDENTITY_TOKEN', 'identity token payload is not an object');
  if (typeof claims.email === 'string') {
    if (claims.email_verified !== true && claims.email_verified !== 'true') throw new IntotoError('NO_IDENTITY_TOKEN', 'identity token email is not verified');
    return claims.email;
  }
  if (typeof claims.sub === 'string' && claims.sub !== '') return claims.sub;
  throw new IntotoError('NO_IDENTITY_TOKEN', 'identity token has neither email nor sub');
}

async function postJson(fetchImpl: typeof fetch, url: string, body: unknown, code: 'CA_REQUEST_FAILED' | 'LOG_REQUEST_FAILED'): Promise<unknown> {
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
  } catch (e) {
    throw new IntotoError(code, `POST ${url} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  const reader: ReadableStreamDefaultReader<Uint8Array> | undefined = res.body?.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > MAX_RESPONSE_BYTES) {
        await reader.cancel();
        throw new IntotoError(code, `response from ${url} is larger than ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(value);
    }
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const msg = isRecord(json) && typeof json.message === 'string' ? json.message : text.slice(0, 200);
    throw new IntotoError(code, `POST ${url} answered ${res.status}: ${msg}`, { details: { status: res.status } });
  }
  if (json === undefined) throw new IntotoError(code, `POST ${url} answered with invalid JSON`);
  return json;
}

function pemToDer(pem: string): Buffer {
  const b64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return Buffer.from(b64, 'base64');
}

/** Signs a link keylessly and logs it; returns the DSSE link and a Sigstore bundle. */
export async function signLinkKeyless(link: Link, opts: KeylessOptions): Promise<KeylessResult> {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const identity = tokenSubject(opts.identityToken);
  const priv = generateKey('ecdsa-p256');
  const signer = new LocalSigner(priv, 'ecdsa-p256-sha256');
  const pubPem = signer.publicKey.toPem();
  const pop = await signer.sign(Buffer.from(identity, 'utf8'));

  const caResp = await postJson(
    fetchImpl,
    `${opts.fulcioUrl.replace(/\/+$/, '')}/api/v2/signingCert`,
    {
      credentials: { oidcIdentityToken: opts.identityToken },
      publicKeyRequest: { publicKey: { algorithm: 'ECDSA', content: pubPem }, proofOfPossession: pop.toString('base64') },
    },
    'CA_REQUEST_FAILED',
  );
  const variant = isRecord(caResp) ? (caResp.signedCertificateEmbeddedSct ?? caResp.signedCertificateDetachedSct) : undefined;
  const certs = isRecord(variant) && isRecord(variant.chain) ? variant.chain.certificates : undefined;
  if (!Array.isArray(certs) || typeof certs[0] !== 'string') throw new IntotoError('CA_REQUEST_FAILED', 'CA response holds no certificate chain');
  const leafPem = certs[0];
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafPem);
  } catch {
    throw new IntotoError('CA_REQUEST_FAILED', 'CA returned an unparseable certificate');
  }
  if (!leaf.publicKey.export({ type: 'spki', format: 'der' }).equals(signer.publicKey.spki)) {
    throw new IntotoError('CA_REQUEST_FAILED', 'CA certified a different public key');
  }

  const payload = dssePayloadOf(linkToSignable(link));
  const sig = await signer.sign(pae(INTOTO_PAYLOAD_TYPE, payload));
  const payloadB64 = payload.toString('base64');
  const sigB64 = sig.toString('base64');
  // sigstore-js serialises the envelope with keys in this order and no empty keyid.
  const envelopeString = JSON.stringify({ payload: payloadB64, payloadType: INTOTO_PAYLOAD_TYPE, signatures: [{ sig: sigB64 }] });

  const logResp = await postJson(
    fetchImpl,
    `${opts.rekorUrl.replace(/\/+$/, '')}/api/v1/log/entries`,
    { apiVersion: '0.0.1', kind: 'dsse', spec: { proposedContent: { envelope: envelopeString, verifiers: [toBase64(Buffer.from(leafPem, 'utf8'))] } } },
    'LOG_REQUEST_FAILED',
  );
  if (!isRecord(logResp) || Object.keys(logResp).length !== 1) throw new IntotoError('LOG_REQUEST_FAILED', 'log response must hold exactly one entry');
  const entry = Object.values(logResp)[0];
  const tlogEntry = toTransparencyLogEntry(entry, payload, sigB64);

  const bundle = {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: {
      certificate: { rawBytes: toBase64(pemToDer(leafPem)) },
      tlogEntries: [tlogEntry],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    dsseEnvelope: { payload: payloadB64, payloadType: INTOTO_PAYLOAD_TYPE, signatures: [{ sig: sigB64 }] },
  };
  const ephemeral = publicKeyFromKeyObject(signer.publicKey.keyObject, 'ephemeral key');
  const envelopeFile = { payload: payloadB64, payloadType: INTOTO_PAYLOAD_TYPE, signatures: [{ keyid: ephemeral.keyid, sig: sigB64 }] };
  return {
    envelopeText: pythonJsonDumps(envelopeFile, { indent: 1, sortKeys: true }),
    bundleText: JSON.stringify(bundle, null, 2) + '\n',
    keyid: ephemeral.keyid,
    certificatePem: leafPem,
    logIndex: Number(tlogEntry.logIndex),
    identity,
  };
}

const HEX_RE = /^[0-9a-f]+$/;

/**
 * Rekor LogEntry -> bundle TransparencyLogEntry (what sigstore-js `toTransparencyLogEntry` does),
 * after checking the logged body is our envelope: kind dsse 0.0.1, payloadHash = sha256(payload),
 * the one signature = ours.
 */
function toTransparencyLogEntry(entry: unknown, payload: Buffer, sigB64: string) {
  const fail = (m: string): never => {
    throw new IntotoError('LOG_REQUEST_FAILED', `log entry: ${m}`);
  };
  if (!isRecord(entry)) return fail('not an object');
  const { body, integratedTime, logID, logIndex, verification } = entry;
  if (typeof body !== 'string' || typeof logID !== 'string' || !HEX_RE.test(logID) || typeof logIndex !== 'number' || typeof integratedTime !== 'number') {
    return fail('missing body, logID, logIndex or integratedTime');
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
  } catch {
    return fail('body is not base64 JSON');
  }
  if (!isRecord(decoded) || decoded.kind !== 'dsse' || decoded.apiVersion !== '0.0.1' || !isRecord(decoded.spec)) return fail('body is not a dsse 0.0.1 entry');
  const spec = decoded.spec;
  const ph = isRecord(spec.payloadHash) ? spec.payloadHash.value : undefined;
  if (ph !== createHash('sha256').update(payload).digest('hex')) fail('payloadHash does not match the link');
  const sigs = spec.signatures;
  if (!Array.isArray(sigs) || sigs.length !== 1 || !isRecord(sigs[0]) || sigs[0].signature !== sigB64) fail('logged signature is not ours');
  if (!isRecord(verification)) return fail('no verification data');
  const out: Record<string, unknown> = {
    logIndex: String(logIndex),
    logId: { keyId: Buffer.from(logID, 'hex').toString('base64') },
    kindVersion: { kind: 'dsse', version: '0.0.1' },
    integratedTime: String(integratedTime),
  };
  if (typeof verification.signedEntryTimestamp === 'string') out.inclusionPromise = { signedEntryTimestamp: verification.signedEntryTimestamp };
  const proof = verification.inclusionProof;
  if (isRecord(proof)) {
    const hashes = Array.isArray(proof.hashes) ? proof.hashes : [];
    if (typeof proof.rootHash !== 'string' || !hashes.every((h) => typeof h === 'string') || typeof proof.logIndex !== 'number' || typeof proof.treeSize !== 'number') {
      fail('malformed inclusion proof');
    }
    out.inclusionProof = {
      logIndex: String(proof.logIndex),
      rootHash: Buffer.from(proof.rootHash as string, 'hex').toString('base64'),
      treeSize: String(proof.treeSize),
      hashes: (hashes as string[]).map((h) => Buffer.from(h, 'hex').toString('base64')),
      checkpoint: { envelope: typeof proof.checkpoint === 'string' ? proof.checkpoint : '' },
    };
  }
  out.canonicalizedBody = body;
  return out as { logIndex: string } & Record<string, unknown>;
}
