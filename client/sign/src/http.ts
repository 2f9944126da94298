/**
 * The one HTTP path of the signing client: global fetch with a per-attempt timeout, a byte cap on
 * every response body, and a small bounded retry on 408, 429 and 5xx only (what sigstore-js's
 * fetchWithRetry treats as transient). Connection failures are not retried: an unreachable
 * service fails fast with the caller's error code.
 */
import { isRecord } from '@cairn/shared';
import { fetchCapped, FetchError } from '@cairn/shared/fetch';
import { SignError, type SignErrorCode } from './errors.ts';

export const DEFAULT_TIMEOUT_MS = 15_000;
/** Largest response body read from the CA, the log or an OIDC issuer. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_RETRIES = 2;
/** Hard ceiling whatever the caller asks for. */
export const MAX_RETRIES = 5;
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 2_000;

export interface HttpOptions {
  timeoutMs?: number;
  maxBytes?: number;
  retries?: number;
  /** For tests and embedders; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Statuses handed back to the caller instead of raising (e.g. 409 from the log). */
  accept?: readonly number[];
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The server's own `{code, message}` (Cairn, Rekor, Fulcio/grpc-gateway, OAuth `error`). */
function serverError(body: Buffer): { code?: string; message?: string } {
  try {
    const j = JSON.parse(body.toString('utf8')) as unknown;
    if (!isRecord(j)) return {};
    const code = typeof j.code === 'string' || typeof j.code === 'number' ? String(j.code) : typeof j.error === 'string' ? j.error : undefined;
    const message = typeof j.message === 'string' ? j.message : typeof j.error_description === 'string' ? j.error_description : undefined;
    return { code: code?.slice(0, 100), message: message?.slice(0, 500) };
  } catch {
    return {};
  }
}

export function checkServiceUrl(url: string, code: SignErrorCode, what: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new SignError(code, `${what} URL ${JSON.stringify(url.slice(0, 200))} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new SignError(code, `${what} URL must be http(s), got ${u.protocol}`);
  return u;
}

export async function httpRequest(req: HttpRequest, code: SignErrorCode, what: string, opts: HttpOptions = {}): Promise<HttpResponse> {
  checkServiceUrl(req.url, code, what);
  const doFetch = opts.fetch ?? globalThis.fetch;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? MAX_RESPONSE_BYTES;
  const retries = Math.min(Math.max(0, opts.retries ?? DEFAULT_RETRIES), MAX_RETRIES);
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetchCapped(req.url, { method: req.method, headers: req.headers, body: req.body, maxBytes, timeoutMs, fetch: doFetch });
    } catch (e) {
      if (!(e instanceof FetchError)) throw e;
      const origin = new URL(req.url).origin;
      const detail =
        e.code === 'TOO_LARGE'
          ? `answered with more than ${maxBytes} bytes`
          : e.code === 'TIMEOUT'
            ? `did not answer within ${timeoutMs} ms`
            : e.code === 'REDIRECT_REFUSED'
              ? 'answered with a redirect, which is not followed'
              : 'is unreachable';
      throw new SignError(code, `${what} at ${origin} ${detail}`, { cause: e });
    }
    const body = res.body;
    if (res.ok || req.accept?.includes(res.status)) return { status: res.status, headers: res.headers, body };
    if (retryable(res.status) && attempt < retries) {
      await sleep(Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt));
      continue;
    }
    const se = serverError(body);
    const detail = se.message !== undefined ? `: ${se.code !== undefined ? `[${se.code}] ` : ''}${se.message}` : '';
    throw new SignError(code, `${what} answered HTTP ${res.status}${detail}`, { details: { status: res.status, serverCode: se.code } });
  }
}

export function jsonOf(res: HttpResponse, code: SignErrorCode, what: string): unknown {
  try {
    return JSON.parse(res.body.toString('utf8')) as unknown;
  } catch {
    throw new SignError(code, `${what} did not answer with JSON`);
  }
}
