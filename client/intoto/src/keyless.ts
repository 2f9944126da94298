/**
 * Keyless links: the link is signed with an ephemeral P-256 key certified by Cairn's CA and
 * recorded in the transparency log as a Rekor v1 `dsse` 0.0.1 entry, so the chain of custody itself
 * is in the accountability log. The result is the DSSE link plus a Sigstore bundle v0.3 (DSSE
 * content) that sigstore-js can verify.
 *
 * There is one keyless flow: `@cairn/sign`'s `attest` (token claims, freshness and
 * `email_verified` checks, Fulcio POST, Rekor POST with redirects refused and bodies capped, the
 * logged entry checked against the envelope, bundle). This module only turns a link into its
 * payload and the answer into an in-toto link file.
 */
import { X509Certificate } from 'node:crypto';
import { attest, SignError, type HttpOptions } from '@cairn/sign';
import { IntotoError } from './errors.ts';
import { dssePayloadOf, INTOTO_PAYLOAD_TYPE } from './metadata.ts';
import { pythonJsonDumps } from './python-json.ts';
import { publicKeyFromKeyObject } from './keys.ts';
import { linkToSignable, type Link } from './models.ts';

export interface KeylessOptions {
  identityToken: string;
  fulcioUrl: string;
  rekorUrl: string;
  /** Timeouts, byte caps, retries (and, for embedders, the fetch) of `@cairn/sign`'s HTTP path. */
  http?: HttpOptions;
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

/** The CA's and the log's failures keep the in-toto codes they always had; token refusals are `@cairn/sign`'s. */
function recoded(e: unknown): unknown {
  if (!(e instanceof SignError)) return e;
  if (e.code === 'CA_ERROR') return new IntotoError('CA_REQUEST_FAILED', e.message, { cause: e, details: e.details });
  if (e.code === 'TLOG_ERROR') return new IntotoError('LOG_REQUEST_FAILED', e.message, { cause: e, details: e.details });
  return e;
}

/** Signs a link keylessly and logs it; returns the DSSE link and a Sigstore bundle. */
export async function signLinkKeyless(link: Link, opts: KeylessOptions): Promise<KeylessResult> {
  const payload = dssePayloadOf(linkToSignable(link));
  let r: Awaited<ReturnType<typeof attest>>;
  try {
    r = await attest(payload, {
      identityToken: opts.identityToken,
      fulcioUrl: opts.fulcioUrl,
      rekorUrl: opts.rekorUrl,
      rekorVersion: 1,
      tlogKind: 'dsse',
      payloadType: INTOTO_PAYLOAD_TYPE,
      ...(opts.http !== undefined ? { http: opts.http } : {}),
    });
  } catch (e) {
    throw recoded(e);
  }
  const envelope = r.bundle.dsseEnvelope;
  if (r.certificate === undefined || r.logEntry === undefined || envelope === undefined || envelope.signatures.length !== 1) {
    throw new IntotoError('LOG_REQUEST_FAILED', 'the keyless flow returned no certificate, log entry or envelope');
  }
  const leaf = new X509Certificate(r.certificate);
  const ephemeral = publicKeyFromKeyObject(leaf.publicKey, 'ephemeral key');
  const envelopeFile = { payload: envelope.payload, payloadType: envelope.payloadType, signatures: [{ keyid: ephemeral.keyid, sig: envelope.signatures[0]!.sig }] };
  return {
    envelopeText: pythonJsonDumps(envelopeFile, { indent: 1, sortKeys: true }),
    bundleText: JSON.stringify(r.bundle, null, 2) + '\n',
    keyid: ephemeral.keyid,
    certificatePem: leaf.toString(),
    logIndex: r.logEntry.logIndex,
    identity: r.subject ?? '',
  };
}
