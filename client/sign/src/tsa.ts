/**
 * Client of an RFC 3161 timestamp authority (sigstore/timestamp-authority API, sigstore-protocols
 * §8.1): what is timestamped is the signature. The query is DER (as sigstore-go sends it) with a
 * SHA-256 imprint of the signature and a random nonce; the reply is checked before it goes into a
 * bundle: status granted, the imprint ours, the nonce echoed. Whether the TSA is trusted is the
 * verifier's business (@cairn/verify, client/verify/src/timestamp.ts: the one RFC 3161 verifier).
 */
import { createHash, randomBytes } from 'node:crypto';
import { children, integer, nullValue, octetString, oid, readOne, readUnsignedInteger, seq, TAG } from '@cairn/shared/der';
import { parseTimestampResponse } from '@cairn/verify';
import { SignError } from './errors.ts';
import { httpRequest, type HttpOptions } from './http.ts';

/** A TimeStampResp is a few KiB even with an embedded certificate. */
export const MAX_TIMESTAMP_RESPONSE_BYTES = 64 * 1024;
const SHA256_OID = '2.16.840.1.101.3.4.2.1';

export class TsaClient {
  constructor(
    /** The full endpoint URL (signing configs list TSAs that way); a bare origin gets /api/v1/timestamp. */
    private readonly url: string,
    private readonly http: HttpOptions = {},
  ) {}

  private endpoint(): string {
    let u: URL;
    try {
      u = new URL(this.url);
    } catch {
      throw new SignError('TSA_ERROR', `TSA URL ${JSON.stringify(this.url.slice(0, 200))} is not a URL`);
    }
    // As sigstore-js: a URL without a path is a base URL.
    return u.pathname === '/' ? `${u.origin}/api/v1/timestamp` : this.url;
  }

  /** The DER TimeStampResp for `signature`. */
  async timestamp(signature: Buffer): Promise<Buffer> {
    const imprint = createHash('sha256').update(signature).digest();
    const nonce = BigInt(`0x${randomBytes(8).toString('hex')}`) | 1n;
    // RFC 3161 §2.4.1 TimeStampReq { version 1, messageImprint, nonce } (certReq FALSE: the
    // trusted root holds the TSA chain).
    const query = seq(integer(1), seq(seq(oid(SHA256_OID), nullValue()), octetString(imprint)), integer(nonce));
    const res = await httpRequest(
      { method: 'POST', url: this.endpoint(), headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' }, body: query },
      'TSA_ERROR',
      'the timestamp authority',
      { maxBytes: MAX_TIMESTAMP_RESPONSE_BYTES, ...this.http },
    );
    let parsed: ReturnType<typeof parseTimestampResponse>;
    try {
      parsed = parseTimestampResponse(res.body);
    } catch (e) {
      throw new SignError('TSA_ERROR', `the timestamp authority's reply is not a granted RFC 3161 timestamp: ${(e as Error).message}`, { cause: e });
    }
    if (parsed.imprintAlgorithm !== 'sha256' || !parsed.imprint.equals(imprint)) throw new SignError('TSA_ERROR', 'the timestamp authority timestamped something else');
    const tst = children(readOne(parsed.tstInfo, TAG.SEQUENCE), 16);
    // TSTInfo: version, policy, messageImprint, serialNumber, genTime, accuracy?, ordering?, nonce?, ...
    const echoed = tst.slice(5).find((t) => t.tag === TAG.INTEGER);
    if (!echoed || readUnsignedInteger(echoed) !== nonce) throw new SignError('TSA_ERROR', 'the timestamp authority did not echo the nonce (RFC 3161 §2.4.2)');
    return res.body;
  }
}
