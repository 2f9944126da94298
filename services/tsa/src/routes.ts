/**
 * sigstore/timestamp-authority's HTTP API (openapi.yaml): `POST /api/v1/timestamp` with a DER
 * TimeStampReq (`application/timestamp-query`) or the JSON request (`application/json`), answered
 * with a DER TimeStampResp (`application/timestamp-reply`); `GET /api/v1/timestamp/certchain`
 * with the PEM chain. A refused DER query is answered as RFC 3161 §2.4.2 says, a TimeStampResp
 * with status rejection and the failInfo bit, with HTTP 400 so plain HTTP clients stop there too;
 * a refused JSON query gets timestamp-authority's JSON error. Nothing refused is signed or counted.
 */
import express, { Router, type ErrorRequestHandler } from 'express';
import { isCairnError, toPem, type Clock, type Counter, type Logger } from '@cairn/shared';
import { errorAnswer, type LeanAnswer, type LeanRoute } from '@cairn/shared/http';
import { TsaError } from './errors.ts';
import { MAX_QUERY_BYTES, parseDerQuery, parseJsonQuery, type TimestampQuery } from './request.ts';
import { grantedResponse, rejectionResponse } from './token.ts';
import type { LoadedTsa } from './tsa-keys.ts';
import type { SerialCounter } from './serial.ts';

export const TIMESTAMP_QUERY_TYPE = 'application/timestamp-query';
export const TIMESTAMP_REPLY_TYPE = 'application/timestamp-reply';
export const CERT_CHAIN_TYPE = 'application/pem-certificate-chain';

export interface TsaRouteOptions {
  tsa: LoadedTsa;
  serials: SerialCounter;
  policy: string;
  accuracySeconds: number;
  clock: Clock;
  logger: Logger;
  issued: Counter;
  rejected: Counter;
}

type Form = 'der' | 'json';

function formOf(contentType: string | undefined): Form {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === TIMESTAMP_QUERY_TYPE) return 'der';
  if (type === 'application/json') return 'json';
  throw new TsaError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${TIMESTAMP_QUERY_TYPE} or application/json`);
}

/**
 * The routes, and `POST /api/v1/timestamp` also as a lean route (served without the Express
 * stack, same answers: see LeanRoute): a timestamp is one signature, so the HTTP framework's own
 * cost is a large share of each request.
 */
export function tsaRoutes(o: TsaRouteOptions): { router: Router; leanRoutes: LeanRoute[] } {
  const router = Router();
  const chainPem = o.tsa.chainDer.map((d) => toPem('CERTIFICATE', d)).join('');
  const notBefore = new Date(o.tsa.leaf.validFrom).getTime();
  const notAfter = new Date(o.tsa.leaf.validTo).getTime();

  router.get('/api/v1/timestamp/certchain', (_req, res) => {
    res.type(CERT_CHAIN_TYPE).set('Cache-Control', 'public, max-age=300').send(chainPem);
  });

  /** One answer for both paths; a thrown error is a refusal of a JSON query or not a query at all. */
  const answer = async (contentType: string | undefined, bytes: Buffer): Promise<LeanAnswer> => {
    const form = formOf(contentType);
    let q: TimestampQuery;
    try {
      q = form === 'der' ? parseDerQuery(bytes) : parseJsonQuery(bytes);
      // RFC 3161 §2.4.1 reqPolicy: "the TSA policy under which the TimeStampToken SHOULD be provided".
      if (q.policy !== undefined && q.policy !== o.policy) throw new TsaError('UNACCEPTED_POLICY', `policy ${q.policy} is not served (this TSA serves ${o.policy})`);
      const now = o.clock.now();
      // A token made outside the signing certificate's validity would never verify.
      if (now.getTime() < notBefore || now.getTime() > notAfter) throw new TsaError('TIME_NOT_AVAILABLE', 'the TSA signing certificate is not valid now');
      const resp = await grantedResponse(q, { identity: o.tsa, policy: o.policy, serial: o.serials.take(), genTime: now, accuracySeconds: o.accuracySeconds });
      o.issued.inc();
      return { status: 200, headers: { 'content-type': TIMESTAMP_REPLY_TYPE }, json: undefined, raw: resp };
    } catch (e) {
      if (!(e instanceof TsaError) || form !== 'der') throw e;
      o.rejected.inc({ code: e.code });
      return { status: e.status, headers: { 'content-type': TIMESTAMP_REPLY_TYPE, 'x-cairn-code': e.code }, json: undefined, raw: rejectionResponse(e.code, e.message) };
    }
  };
  const refuse = (err: unknown, where: { method?: string; path: string }): LeanAnswer => {
    const a = errorAnswer(err, o.logger, where);
    if (isCairnError(err) || a.status < 500) o.rejected.inc({ code: a.json.code });
    return a;
  };

  const raw = express.raw({ limit: MAX_QUERY_BYTES, type: () => true });
  router.post('/api/v1/timestamp', raw, async (req, res) => {
    const body: unknown = req.body;
    const a = await answer(req.headers['content-type'], Buffer.isBuffer(body) ? body : Buffer.alloc(0));
    res.status(a.status).set(a.headers).send(a.raw);
  });
  const onError: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const a = refuse(err, { method: req.method, path: req.path });
    res.status(a.status).json(a.json);
  };
  router.use('/api/v1/timestamp', onError);

  const lean: LeanRoute = {
    method: 'POST',
    path: '/api/v1/timestamp',
    maxBodyBytes: MAX_QUERY_BYTES,
    handle: (body, contentType) => answer(contentType, body),
    refuse: (err) => refuse(err, { method: 'POST', path: '/api/v1/timestamp' }),
  };
  return { router, leanRoutes: [lean] };
}
