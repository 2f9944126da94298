/**
 * Express helpers shared by every service: one JSON body parser with a size limit, one error
 * handler that turns everything into `{code, message}` and never leaks a stack or SQL text.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
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
  code?: unknown;
  errno?: unknown;
}

export interface ErrorAnswer {
  status: number;
  json: { code: string; message: string };
}

/**
 * The answer for a request the client got wrong before any handler saw it: body-parser's
 * refusals, a compressed body that does not decompress, a path whose percent-encoding does not
 * decode. Undefined for anything else. One mapping for the Express path and the lean routes.
 */
export function clientErrorAnswer(err: unknown): ErrorAnswer | undefined {
  if (err instanceof URIError) return { status: 400, json: { code: 'INVALID_PATH_ENCODING', message: 'the request path has invalid percent-encoding' } };
  const bp = err as BodyParserError | null;
  if (bp === null || typeof bp !== 'object') return undefined;
  if (bp.type === 'entity.too.large') return { status: 413, json: { code: 'BODY_TOO_LARGE', message: 'request body is larger than the limit' } };
  if (bp.type === 'entity.parse.failed') return { status: 400, json: { code: 'INVALID_JSON', message: 'request body is not valid JSON' } };
  if (bp.type === 'encoding.unsupported') {
    return { status: 415, json: { code: 'UNSUPPORTED_CONTENT_ENCODING', message: `unsupported Content-Encoding (accepted: ${ACCEPTED_ENCODINGS.join(', ')})` } };
  }
  // zlib's refusal of a body that is not what its Content-Encoding says (Z_DATA_ERROR, brotli's
  // ERR__ERROR_FORMAT_*), passed on by body-parser with status 400 and no type.
  if (bp.type === undefined && bp.status === 400 && typeof bp.errno === 'number' && typeof bp.code === 'string') {
    return { status: 400, json: { code: 'INVALID_CONTENT_ENCODING', message: 'request body does not decode with its Content-Encoding' } };
  }
  if (bp.type !== undefined && typeof bp.status === 'number' && bp.status >= 400 && bp.status < 500) {
    return { status: bp.status, json: { code: 'BAD_REQUEST', message: 'malformed request body' } };
  }
  return undefined;
}

/** Content-Encodings a request body may have (body-parser inflates them under the same size limit). */
export const ACCEPTED_ENCODINGS: readonly string[] = ['identity', 'gzip', 'deflate', 'br'];

/**
 * 400 INVALID_PATH_ENCODING for a request target whose path does not percent-decode (`/%`,
 * `/%zz`, `/%ff%fe`, overlong UTF-8 such as `%c0%ae`); undefined when it decodes.
 */
export function pathEncodingError(url: string | undefined): ErrorAnswer | undefined {
  if (url === undefined || !url.includes('%')) return undefined;
  const q = url.indexOf('?');
  try {
    decodeURIComponent(q < 0 ? url : url.slice(0, q));
    return undefined;
  } catch (e) {
    return clientErrorAnswer(e);
  }
}

/** The answer for an error: CairnErrors keep their status and code; nothing else leaks. */
export function errorAnswer(err: unknown, logger: Logger, where: { method?: string; path: string }): ErrorAnswer {
  if (isCairnError(err)) return { status: err.status, json: { code: err.code, message: err.message } };
  const client = clientErrorAnswer(err);
  if (client) return client;
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

/** Writes a JSON answer outside Express (the host's own refusals). */
export function sendJson(res: ServerResponse, a: ErrorAnswer, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(a.json);
  res.writeHead(a.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
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

/**
 * The largest request head (request line and headers) a server reads, set explicitly on every
 * server (it is also Node's default). A larger one is 431 HEADERS_TOO_LARGE.
 */
export const MAX_HEADER_BYTES = 16_384;

/**
 * A 'clientError' handler: a request the HTTP parser refused gets a JSON `{code, message}` answer
 * instead of Node's bare one (431 HEADERS_TOO_LARGE for a head over MAX_HEADER_BYTES, 408 for a
 * head that did not arrive in time, 400 MALFORMED_REQUEST otherwise). The rest of what the client
 * sends is read and dropped for a moment before the socket closes, so the client reads the
 * answer instead of a connection reset (closing a socket with unread bytes sends RST).
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', `request headers are larger than ${MAX_HEADER_BYTES} bytes`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'REQUEST_TIMEOUT', 'the request did not arrive in time']
        : [400, 'Bad Request', 'MALFORMED_REQUEST', 'the request is not valid HTTP/1.1'];
  const body = JSON.stringify({ code, message });
  socket.on('error', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  socket.resume();
  setTimeout(() => socket.destroy(), CLIENT_ERROR_DRAIN_MS).unref();
}

/** How long the rest of a refused request is read (and dropped) before its socket closes. */
const CLIENT_ERROR_DRAIN_MS = 2_000;
