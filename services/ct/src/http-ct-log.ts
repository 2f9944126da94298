/**
 * `CtLog` over HTTP (RFC 6962 §4.2 add-pre-chain), for a CA that runs apart from its CT log.
 * Same contract as the in-process log: resolves with the SCT once the log has stored the entry,
 * and checks the answer strictly (and, given the log's key, its signature over the precert).
 */
import { fromBase64, isRecord, type PublicKey } from '@cairn/shared';
import {
  issuerKeyHash,
  parseDigitallySigned,
  precertSignedData,
  removeExtensionFromTbs,
  splitCertificate,
  verifyDigitallySigned,
  OID_CT_POISON,
  type Sct,
} from '@cairn/shared/sct';
import { fetchCapped, FetchError } from '@cairn/shared/fetch';
import { CtError } from './errors.ts';
import type { CtLog } from './ct-log.ts';

/** An SCT response is small; anything bigger is not a CT log talking. */
export const MAX_SCT_RESPONSE_BYTES = 16 * 1024;
export const DEFAULT_CT_TIMEOUT_MS = 10_000;

export type HttpCtErrorCode = 'CT_UNAVAILABLE' | 'CT_REJECTED' | 'CT_BAD_RESPONSE';

export class HttpCtError extends Error {
  constructor(
    readonly code: HttpCtErrorCode,
    message: string,
    readonly status?: number,
    readonly remoteCode?: string,
  ) {
    super(message);
    this.name = 'HttpCtError';
  }
}

export interface HttpCtLogOptions {
  /** The log's key: when given, every SCT is verified before it is returned. */
  publicKey?: PublicKey;
  timeoutMs?: number;
}

/** Parses an RFC 6962 §4.1 SCT JSON response into an `Sct`; strict on every field. */
export function sctFromJson(doc: unknown): Sct {
  if (!isRecord(doc)) throw new CtError('INVALID_JSON', 'SCT response is not a JSON object');
  const { sct_version: version, id, timestamp, extensions, signature } = doc;
  if (version !== 0) throw new CtError('INVALID_REQUEST', 'sct_version must be 0');
  if (typeof id !== 'string' || typeof extensions !== 'string' || typeof signature !== 'string') {
    throw new CtError('INVALID_REQUEST', 'id, extensions and signature must be base64 strings');
  }
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) throw new CtError('INVALID_REQUEST', 'timestamp must be a non-negative integer');
  let logId: Buffer;
  let ext: Buffer;
  let sig: Buffer;
  try {
    logId = fromBase64(id, 'id');
    ext = fromBase64(extensions, 'extensions');
    sig = fromBase64(signature, 'signature');
    parseDigitallySigned(sig);
  } catch (e) {
    throw new CtError('INVALID_BASE64', 'SCT fields are not valid base64 / digitally-signed', { cause: e });
  }
  if (logId.length !== 32) throw new CtError('INVALID_REQUEST', 'id must be 32 bytes');
  return { sctVersion: 0, logId, timestamp, extensions: ext, signature: sig };
}

export class HttpCtLog implements CtLog {
  private readonly url: string;
  private readonly timeoutMs: number;

  /** `baseUrl` is the log's prefix: requests go to `${baseUrl}/ct/v1/...`. */
  constructor(
    baseUrl: string,
    private readonly options: HttpCtLogOptions = {},
  ) {
    this.url = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CT_TIMEOUT_MS;
  }

  async addPreChain(chainDer: Buffer[]): Promise<Sct> {
    let res;
    try {
      // A CT log never redirects add-pre-chain; following one would send the chain elsewhere.
      res = await fetchCapped(`${this.url}/ct/v1/add-pre-chain`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ chain: chainDer.map((c) => c.toString('base64')) }),
        timeoutMs: this.timeoutMs,
        maxBytes: MAX_SCT_RESPONSE_BYTES,
      });
    } catch (e) {
      if (e instanceof FetchError && e.code === 'TOO_LARGE') throw new HttpCtError('CT_BAD_RESPONSE', 'CT log response is too large');
      throw new HttpCtError('CT_UNAVAILABLE', `CT log unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    const text = res.body.toString('utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text) as unknown;
    } catch {
      throw new HttpCtError('CT_BAD_RESPONSE', `CT log answered ${res.status} with non-JSON`, res.status);
    }
    if (!res.ok) {
      const code = isRecord(doc) && typeof doc.code === 'string' ? doc.code : undefined;
      throw new HttpCtError(res.status >= 500 ? 'CT_UNAVAILABLE' : 'CT_REJECTED', `CT log refused the chain (${res.status} ${code ?? ''})`, res.status, code);
    }
    let sct: Sct;
    try {
      sct = sctFromJson(doc);
    } catch (e) {
      throw new HttpCtError('CT_BAD_RESPONSE', `CT log sent a malformed SCT: ${e instanceof Error ? e.message : String(e)}`);
    }
    const key = this.options.publicKey;
    if (key) {
      if (!sct.logId.equals(key.keyId)) throw new HttpCtError('CT_BAD_RESPONSE', 'SCT log id is not the configured log key');
      const tbs = removeExtensionFromTbs(splitCertificate(chainDer[0]!).tbs, OID_CT_POISON);
      const data = precertSignedData({ timestamp: sct.timestamp, issuerKeyHash: issuerKeyHash(chainDer[1]!), tbs, extensions: sct.extensions });
      if (!verifyDigitallySigned(key, data, sct.signature)) throw new HttpCtError('CT_BAD_RESPONSE', 'SCT signature does not verify with the log key');
    }
    return sct;
  }
}
