/**
 * sigstore/timestamp-authority's HTTP API (openapi.yaml): `POST /api/v1/timestamp` with a DER
 * TimeStampReq (`application/timestamp-query`) or the JSON request (`application/json`), answered
 * with a DER TimeStampResp (`application/timestamp-reply`); `GET /api/v1/timestamp/certchain`
 * with the PEM chain. A refused DER query is answered as RFC 3161 §2.4.2 says, a TimeStampResp
 * with status rejection and the failInfo bit, with HTTP 400 so plain HTTP clients stop there too;
 * a refused JSON query gets timestamp-authority's JSON error. Nothing refused is signed or counted.
 */
import express, { Router, type ErrorRequestHandler, type Request } from 'express';
import { isCairnError, toPem, type Clock, type Counter, type Logger } from '@cairn/shared';
import { errorAnswer } from '@cairn/shared/http';
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

function formOf(req: Request): Form {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === TIMESTAMP_QUERY_TYPE) return 'der';
  if (type === 'application/json') return 'json';
  throw new TsaError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${TIMESTAMP_QUERY_TYPE} or application/json`);
}

export function tsaRouter(o: TsaRouteOptions): Router {
  const router = Router();
  const chainPem = o.tsa.chainDer.map((d) => toPem('CERTIFICATE', d)).join('');
  const notBefore = new Date(o.tsa.leaf.validFrom).getTime();
  const notAfter = new Date(o.tsa.leaf.validTo).getTime();

  router.get('/api/v1/timestamp/certchain', (_req, res) => {
    res.type(CERT_CHAIN_TYPE).set('Cache-Control', 'public, max-age=300').send(chainPem);
  });

  const raw = express.raw({ limit: MAX_QUERY_BYTES, type: () => true });
  router.post('/api/v1/timestamp', raw, async (req, res) => {
    const form = formOf(req);
    const body: unknown = req.body;
    const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
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
      res.status(200).type(TIMESTAMP_REPLY_TYPE).send(resp);
    } catch (e) {
      if (!(e instanceof TsaError) || form !== 'der') throw e;
      o.rejected.inc({ code: e.code });
      res.status(e.status).type(TIMESTAMP_REPLY_TYPE).set('X-Cairn-Code', e.code).send(rejectionResponse(e.code, e.message));
    }
  });

  const onError: ErrorRequestHandler = (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    const a = errorAnswer(err, o.logger, { method: req.method, path: req.path });
    if (isCairnError(err) || a.status < 500) o.rejected.inc({ code: a.json.code });
    res.status(a.status).json(a.json);
  };
  router.use('/api/v1/timestamp', onError);
  return router;
}
