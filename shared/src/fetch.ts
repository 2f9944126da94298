/**
 * Bounded HTTP reads, the one home for them: a byte cap on every body (checked on the declared
 * length and again while reading, so an oversized body is never read whole), a timeout that covers
 * the headers and the body, and no redirect that leaves the origin asked for (by default none at
 * all). Failures are a `FetchError` with a closed reason; each caller turns it into its own code.
 */
import { CairnError } from './errors.ts';

export type FetchFailure = 'URL_INVALID' | 'UNREACHABLE' | 'TIMEOUT' | 'TOO_LARGE' | 'REDIRECT_REFUSED';

export class FetchError extends CairnError<FetchFailure> {}

/** Redirects followed at the most, whatever the caller asks for. */
export const MAX_REDIRECTS = 5;

export interface CappedFetchOptions {
  /** Largest body read; a larger one is TOO_LARGE. */
  maxBytes: number;
  timeoutMs: number;
  method?: 'GET' | 'POST' | 'PUT' | 'HEAD';
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Same-origin redirects followed (default 0: every redirect is REDIRECT_REFUSED); cross-origin ones are always refused. */
  sameOriginRedirects?: number;
  /** For embedders and tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

export interface CappedResponse {
  status: number;
  ok: boolean;
  headers: Headers;
  body: Buffer;
  /** The URL that answered (differs from the one asked for after a same-origin redirect). */
  url: string;
}

function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
}

/** http(s) only; anything else is URL_INVALID. */
export function checkHttpUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FetchError('URL_INVALID', `${JSON.stringify(url.slice(0, 200))} is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new FetchError('URL_INVALID', `URL must be http(s), got ${u.protocol}`);
  return u;
}

/** Reads at most `maxBytes` of a response body; a longer one is TOO_LARGE, never silently truncated. */
export async function readCappedBody(res: Response, maxBytes: number, what = 'the response'): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new FetchError('TOO_LARGE', `${what} has ${declared} bytes, more than the limit of ${maxBytes}`, { details: { maxBytes } });
  }
  if (res.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    // Leaving the loop early cancels the stream, so an oversized body is never read to its end.
    for await (const value of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += value.byteLength;
      if (total > maxBytes) throw new FetchError('TOO_LARGE', `${what} is larger than ${maxBytes} bytes`, { details: { maxBytes } });
      chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    }
  } catch (e) {
    if (e instanceof FetchError) throw e;
    throw new FetchError(isTimeout(e) ? 'TIMEOUT' : 'UNREACHABLE', `${what} broke off: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return Buffer.concat(chunks, total);
}

/** One request: capped body, timeout over headers and body, redirects as `sameOriginRedirects` allows. */
export async function fetchCapped(url: string, o: CappedFetchOptions): Promise<CappedResponse> {
  let target = checkHttpUrl(url);
  const origin = target.origin;
  const doFetch = o.fetch ?? globalThis.fetch;
  const signal = AbortSignal.timeout(o.timeoutMs);
  const allowed = Math.min(Math.max(0, o.sameOriginRedirects ?? 0), MAX_REDIRECTS);
  for (let hops = 0; ; hops++) {
    let res: Response;
    try {
      res = await doFetch(target.href, { method: o.method ?? 'GET', headers: o.headers, body: o.body, redirect: 'manual', signal });
    } catch (e) {
      const timedOut = isTimeout(e);
      throw new FetchError(timedOut ? 'TIMEOUT' : 'UNREACHABLE', `${target.origin} ${timedOut ? `did not answer within ${o.timeoutMs} ms` : 'is unreachable'}`, { cause: e });
    }
    if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
      await res.body?.cancel().catch(() => undefined);
      let next: URL;
      try {
        next = new URL(res.headers.get('location')!, target);
      } catch {
        throw new FetchError('REDIRECT_REFUSED', `${target.origin} redirected to something that is not a URL`);
      }
      if (next.origin !== origin) throw new FetchError('REDIRECT_REFUSED', `${origin} redirected to another origin (${next.origin}); refused`);
      if (hops >= allowed) throw new FetchError('REDIRECT_REFUSED', `${origin} answered with a redirect (${res.status}); redirects are not followed here`);
      // 303 (and 301/302 after a POST, as browsers do) continue as GET without a body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && o.method === 'POST')) o = { ...o, method: 'GET', body: undefined };
      target = next;
      continue;
    }
    const body = await readCappedBody(res, o.maxBytes, `the answer of ${target.origin}`);
    return { status: res.status, ok: res.ok, headers: res.headers, body, url: target.href };
  }
}
