/**
 * Express helpers shared by every service: one JSON body parser with a size limit, one error
 * handler that turns everything into `{code, message}` and never leaks a stack or SQL text.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { isCairnError } from './errors.ts';
import type { Logger } from './logger.ts';
import type { LeanAnswer, LeanRoute } from './service.ts';

export type { LeanAnswer, LeanRoute };

export function jsonBody(limitBytes: number): RequestHandler {
  // strict=false: a bare JSON string or number reaches the handler, which rejects it with its
  // own code instead of body-parser's.
  const parser: RequestHandler = express.json({ limit: limitBytes, strict: false, type: () => true });
  return parser;
}

export function rawBody(limitBytes: number, type: string | string[] | ((req: IncomingMessage) => boolean) = '*/*'): RequestHandler {
  return express.raw({ limit: limitBytes, type });
}

interface BodyParserError {
  type?: string;
  status?: number;
}

/** The answer for an error: CairnErrors keep their status and code; nothing else leaks. */
export function errorAnswer(err: unknown, logger: Logger, where: { method?: string; path: string }): { status: number; json: { code: string; message: string } } {
  if (isCairnError(err)) return { status: err.status, json: { code: err.code, message: err.message } };
  const bp = err as BodyParserError;
  if (bp?.type === 'entity.too.large') return { status: 413, json: { code: 'BODY_TOO_LARGE', message: 'request body is larger than the limit' } };
  if (bp?.type === 'entity.parse.failed') return { status: 400, json: { code: 'INVALID_JSON', message: 'request body is not valid JSON' } };
  if (bp?.type !== undefined && typeof bp.status === 'number' && bp.status >= 400 && bp.status < 500) {
    return { status: bp.status, json: { code: 'BAD_REQUEST', message: 'malformed request body' } };
  }
  logger.error('unhandled error', { method: where.method, path: where.path, error: err instanceof Error ? err.message : String(err) });
  return { status: 500, json: { code: 'INTERNAL', message: 'internal error' } };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) return;
    const a = errorAnswer(err, logger, { method: req.method, path: req.path });
    res.status(a.status).json(a.json);
  };
}

function sendLean(res: ServerResponse, a: LeanAnswer, close = false): void {
  if (res.headersSent || res.destroyed) return;
  const body = a.raw ?? JSON.stringify(a.json);
  res.writeHead(a.status, {
    'content-type': a.raw ? 'application/octet-stream' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(close ? { connection: 'close' } : {}),
    ...a.headers,
  });
  res.end(body);
}

/**
 * Serves `req` on a lean route. Compressed bodies are not handled here: false, and nothing is
 * read, so the caller passes the request to the Express stack (whose body parser inflates).
 */
export function serveLean(route: LeanRoute, req: IncomingMessage, res: ServerResponse): boolean {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  const tooLarge = (): void => {
    // Stop reading and close after the answer: the rest of the body is not worth receiving.
    req.removeAllListeners('data');
    req.resume();
    sendLean(res, route.refuse({ type: 'entity.too.large', status: 413 }), true);
  };
  const declared = Number(req.headers['content-length']);
  if (declared > route.maxBodyBytes) {
    tooLarge();
    return true;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > route.maxBodyBytes) {
      over = true;
      tooLarge();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (over) return;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    route.handle(body, req.headers['content-type']).then(
      (a) => sendLean(res, a),
      (e: unknown) => sendLean(res, route.refuse(e)),
    );
  });
  // An aborted upload has nobody to answer.
  req.on('error', () => res.destroy());
  return true;
}

/** 404 for any route no component claimed. */
export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ code: 'NOT_FOUND', message: `no route for ${req.method} ${req.path}` });
};
