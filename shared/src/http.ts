/**
 * Express helpers shared by every service: one JSON body parser with a size limit, one error
 * handler that turns everything into `{code, message}` and never leaks a stack or SQL text.
 */
import type { IncomingMessage } from 'node:http';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { isCairnError } from './errors.ts';
import type { Logger } from './logger.ts';

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

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    if (res.headersSent) return;
    if (isCairnError(err)) {
      res.status(err.status).json({ code: err.code, message: err.message });
      return;
    }
    const bp = err as BodyParserError;
    if (bp?.type === 'entity.too.large') {
      res.status(413).json({ code: 'BODY_TOO_LARGE', message: 'request body is larger than the limit' });
      return;
    }
    if (bp?.type === 'entity.parse.failed') {
      res.status(400).json({ code: 'INVALID_JSON', message: 'request body is not valid JSON' });
      return;
    }
    if (bp?.type !== undefined && typeof bp.status === 'number' && bp.status >= 400 && bp.status < 500) {
      res.status(bp.status).json({ code: 'BAD_REQUEST', message: 'malformed request body' });
      return;
    }
    logger.error('unhandled error', { method: req.method, path: req.path, error: err instanceof Error ? err.message : String(err) });
    res.status(500).json({ code: 'INTERNAL', message: 'internal error' });
  };
}

/** 404 for any route no component claimed. */
export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ code: 'NOT_FOUND', message: `no route for ${req.method} ${req.path}` });
};
