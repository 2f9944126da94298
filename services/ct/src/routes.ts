/**
 * RFC 6962 §4 HTTP API under /ct/v1, plus the Cairn extension GET /ct/v1/public-key (PEM).
 * Errors are `{code, message}` from CtError through the shared error handler.
 */
import { Router, type Request, type RequestHandler } from 'express';
import { fromBase64 } from '@cairn/shared';
import { jsonBody } from '@cairn/shared/http';
import type { Sct } from '@cairn/shared/sct';
import { CtError } from './errors.ts';
import { decodeChainRequest, MAX_SUBMISSION_BYTES } from './chain.ts';
import type { EngineCtLog } from './ct-log.ts';

const DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;

/** RFC 6962 §4.1 response: the SCT as JSON, binary fields base64. */
export interface SctJson {
  sct_version: number;
  id: string;
  timestamp: number;
  extensions: string;
  signature: string;
}

export function sctToJson(sct: Sct): SctJson {
  return {
    sct_version: sct.sctVersion,
    id: sct.logId.toString('base64'),
    timestamp: sct.timestamp,
    extensions: sct.extensions.toString('base64'),
    signature: sct.signature.toString('base64'),
  };
}

function queryInt(req: Request, name: string): number {
  const v = req.query[name];
  if (typeof v !== 'string' || !DECIMAL.test(v)) throw new CtError('INVALID_PARAMETER', `${name} must be a non-negative decimal integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new CtError('INVALID_PARAMETER', `${name} is too large`);
  return n;
}

function queryHash(req: Request, name: string): Buffer {
  const v = req.query[name];
  if (typeof v !== 'string' || v.length > 64) throw new CtError('INVALID_PARAMETER', `${name} must be a base64 SHA-256 hash`);
  let b: Buffer;
  try {
    b = fromBase64(v, name);
  } catch (e) {
    throw new CtError('INVALID_PARAMETER', `${name} must be a base64 SHA-256 hash`, { cause: e });
  }
  if (b.length !== 32) throw new CtError('INVALID_PARAMETER', `${name} must be 32 bytes`);
  return b;
}

export function ctRouter(log: EngineCtLog): Router {
  const r = Router();
  const body = jsonBody(MAX_SUBMISSION_BYTES);
  // Express 5 forwards rejected promises from async handlers to the error handler.
  const submit =
    (kind: 'precert' | 'x509'): RequestHandler =>
    async (req, res) => {
      const chain = decodeChainRequest(req.body);
      const sct = kind === 'precert' ? await log.addPreChain(chain) : await log.addChain(chain);
      res.json(sctToJson(sct));
    };
  r.post('/ct/v1/add-pre-chain', body, submit('precert'));
  r.post('/ct/v1/add-chain', body, submit('x509'));

  r.get('/ct/v1/get-sth', (_req, res) => {
    res.json(log.signedTreeHead());
  });
  r.get('/ct/v1/get-sth-consistency', (req, res) => {
    const first = queryInt(req, 'first');
    const second = queryInt(req, 'second');
    res.json({ consistency: log.consistency(first, second).map((h) => h.toString('base64')) });
  });
  r.get('/ct/v1/get-proof-by-hash', (req, res) => {
    const hash = queryHash(req, 'hash');
    const treeSize = queryInt(req, 'tree_size');
    const p = log.proofByHash(hash, treeSize);
    res.json({ leaf_index: p.leafIndex, audit_path: p.auditPath.map((h) => h.toString('base64')) });
  });
  r.get('/ct/v1/get-entries', (req, res) => {
    const start = queryInt(req, 'start');
    const end = queryInt(req, 'end');
    res.json({ entries: log.entries(start, end) });
  });
  r.get('/ct/v1/get-roots', (_req, res) => {
    res.json({ certificates: log.acceptedRoots().map((root) => root.der.toString('base64')) });
  });
  r.get('/ct/v1/public-key', (_req, res) => {
    res.type('application/x-pem-file').send(log.publicKey.toPem());
  });
  return r;
}
