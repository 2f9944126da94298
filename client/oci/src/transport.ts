/**
 * The one HTTP path of the registry client, on node:http/https (so a custom CA applies and every
 * byte is counted): a deadline and the caller's AbortSignal on every request, a byte cap on every
 * body (a longer body aborts the socket, it is never read to its end), retries with exponential
 * backoff on 429 and 5xx (Retry-After honoured up to a cap), and redirects followed by hand:
 * same host only, except where the caller allows another host (blob downloads, which registries
 * send to object storage), never from https to http, at most MAX_REDIRECTS hops.
 */
import http from 'node:http';
import type https from 'node:https';
import { createRequire } from 'node:module';
import { OciError } from './errors.ts';
import { isLoopbackHost } from './reference.ts';

export const MAX_REDIRECTS = 5;
export const DEFAULT_RETRIES = 3;
export const MAX_RETRIES = 6;
const BACKOFF_BASE_MS = 200;
const BACKOFF_CAP_MS = 4_000;
/** Largest error body read (a registry's JSON error): more is not read. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface TransportOptions {
  /** PEM text of the CA certificates trusted for https (in addition to none: replaces the default store). */
  ca?: string | undefined;
  /** Allow plain http to any host (else only loopback). */
  allowHttp?: boolean | undefined;
  retries?: number | undefined;
}

export interface RequestSpec {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH';
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Byte cap of the answer's body. */
  maxBytes: number;
  /** Redirects to another host allowed (blob downloads). Authorization is dropped on a host change. */
  crossHostRedirects?: boolean;
  /** The whole operation's signal (deadline and caller abort). */
  signal: AbortSignal;
  /** Statuses not retried even when 5xx/429 (none by default). */
  noRetry?: boolean;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: URL;
}

export function header(a: Answer, name: string): string | undefined {
  const v = a.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

function checkScheme(url: URL, o: TransportOptions): void {
  if (url.protocol === 'https:') return;
  if (url.protocol !== 'http:') throw new OciError('INSECURE_REFUSED', `unsupported URL scheme ${url.protocol}`);
  if (o.allowHttp === true || isLoopbackHost(url.host)) return;
  throw new OciError('INSECURE_REFUSED', `plain http to ${url.host} is refused: use https, or allow it explicitly (--allow-http-registry)`);
}

function abortError(signal: AbortSignal): OciError {
  const reason: unknown = signal.reason;
  if (reason instanceof OciError) return reason;
  if (reason instanceof DOMException && reason.name === 'TimeoutError') return new OciError('TIMEOUT', 'the registry operation ran past its deadline');
  return new OciError('ABORTED', 'the registry operation was aborted');
}

// TLS is loaded on the first https request: a loopback registry over plain http never needs it.
const requireLazily = createRequire(import.meta.url);
let httpsModule: typeof https | undefined;

function once(spec: RequestSpec, url: URL, headers: Record<string, string>, o: TransportOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    if (spec.signal.aborted) {
      reject(abortError(spec.signal));
      return;
    }
    const mod = url.protocol === 'https:' ? (httpsModule ??= requireLazily('node:https') as typeof https) : http;
    const req = mod.request(url, {
      method: spec.method,
      headers: { ...headers, ...(spec.body !== undefined ? { 'content-length': String(spec.body.length) } : {}) },
      ...(url.protocol === 'https:' && o.ca !== undefined ? { ca: o.ca } : {}),
      signal: spec.signal,
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (spec.signal.aborted) reject(abortError(spec.signal));
      else if (e instanceof OciError) reject(e);
      else reject(new OciError('NETWORK_ERROR', `cannot reach ${url.host}: ${e.code ?? e.message}`, { cause: e }));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      // Error answers are read with their own small cap: they are only ever shown.
      const cap = status >= 200 && status < 300 ? spec.maxBytes : Math.min(spec.maxBytes, MAX_ERROR_BODY_BYTES);
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (spec.method !== 'HEAD' && Number.isFinite(declared) && declared > cap) {
        req.destroy(new OciError('TOO_LARGE', `${url.host} answered with ${declared} bytes, more than the limit of ${cap}`));
        return;
      }
      const chunks: Buffer[] = [];
      let total = 0;
      res.on('data', (c: Buffer) => {
        total += c.length;
        if (total > cap) {
          req.destroy(new OciError('TOO_LARGE', `${url.host} answered with more than ${cap} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', () => undefined);
      res.on('end', () => resolve({ status, headers: res.headers, body: Buffer.concat(chunks, total), url }));
    });
    req.end(spec.body);
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(abortError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function retryDelay(a: Answer, attempt: number): number {
  const ra = header(a, 'retry-after');
  const secs = ra !== undefined && /^[0-9]{1,4}$/.test(ra) ? Number(ra) * 1000 : undefined;
  const backoff = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.min(BACKOFF_CAP_MS, secs ?? backoff);
}

/** One request with redirects and retries; never throws for an HTTP status (the caller decides). */
export async function request(spec: RequestSpec, o: TransportOptions): Promise<Answer> {
  const retries = Math.min(MAX_RETRIES, Math.max(0, o.retries ?? DEFAULT_RETRIES));
  for (let attempt = 0; ; attempt++) {
    const a = await followRedirects(spec, o);
    const transient = a.status === 429 || a.status >= 500;
    if (!transient || spec.noRetry === true || attempt >= retries) return a;
    await sleep(retryDelay(a, attempt), spec.signal);
  }
}

async function followRedirects(spec: RequestSpec, o: TransportOptions): Promise<Answer> {
  let url = spec.url;
  let headers = { ...(spec.headers ?? {}) };
  const origin = spec.url.host;
  checkScheme(url, o);
  for (let hop = 0; ; hop++) {
    const a = await once(spec, url, headers, o);
    if (![301, 302, 303, 307, 308].includes(a.status)) return a;
    const location = header(a, 'location');
    if (location === undefined) return a;
    if (hop >= MAX_REDIRECTS) throw new OciError('TOO_MANY_REDIRECTS', `more than ${MAX_REDIRECTS} redirects from ${origin}`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new OciError('REDIRECT_REFUSED', `${url.host} redirected to an invalid URL`);
    }
    if (url.protocol === 'https:' && next.protocol !== 'https:') throw new OciError('REDIRECT_REFUSED', `${url.host} redirected from https to ${next.protocol}`);
    checkScheme(next, o);
    if (next.host !== origin) {
      if (spec.crossHostRedirects !== true) throw new OciError('REDIRECT_REFUSED', `${origin} redirected to another host (${next.host}); only blob downloads may`);
      // Credentials are for the registry, never for the storage host it sends us to.
      const { authorization: _drop, ...rest } = headers;
      headers = rest;
    }
    url = next;
  }
}
