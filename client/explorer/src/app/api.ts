/**
 * Requests to the Cairn server this page came from (the CSP allows no other origin), each with a
 * byte cap and a time limit, and errors that say which request failed and why.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 15_000;
export const MAX_JSON_BYTES = 4 * 1024 * 1024;

async function request(path: string, init: RequestInit, maxBytes: number): Promise<{ status: number; bytes: Uint8Array }> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    const res = await fetch(path, { ...init, signal: ctl.signal, credentials: 'same-origin', redirect: 'error', cache: 'no-store' });
    const reader = res.body?.getReader();
    const chunks: Uint8Array[] = [];
    let n = 0;
    while (reader) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > maxBytes) {
        await reader.cancel();
        throw new ApiError(res.status, 'TOO_LARGE', `${path}: the answer is over ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
    const bytes = new Uint8Array(n);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
    return { status: res.status, bytes };
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(0, 'NETWORK', `${path}: ${ctl.signal.aborted ? 'no answer in time' : e instanceof Error ? e.message : String(e)}`);
  } finally {
    clearTimeout(timer);
  }
}

function parse(path: string, status: number, bytes: Uint8Array): unknown {
  const text = new TextDecoder().decode(bytes);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(status, 'BAD_JSON', `${path}: the answer (${status}) is not JSON`);
  }
  if (status < 200 || status >= 300) {
    const b = body as { code?: unknown; message?: unknown };
    throw new ApiError(status, typeof b?.code === 'string' ? b.code : `HTTP_${status}`, `${path}: ${typeof b?.message === 'string' ? b.message : `HTTP ${status}`}`);
  }
  return body;
}

export async function getJson(path: string, maxBytes = MAX_JSON_BYTES): Promise<unknown> {
  const r = await request(path, { method: 'GET' }, maxBytes);
  return parse(path, r.status, r.bytes);
}

/** The raw bytes of a GET (TUF metadata must be hashed as served); 404 is `undefined`. */
export async function getBytes(path: string, maxBytes = MAX_JSON_BYTES): Promise<Uint8Array | undefined> {
  const r = await request(path, { method: 'GET' }, maxBytes);
  if (r.status === 404) return undefined;
  if (r.status < 200 || r.status >= 300) parse(path, r.status, r.bytes);
  return r.bytes;
}

export async function postJson(path: string, body: unknown, maxBytes = MAX_JSON_BYTES): Promise<unknown> {
  const r = await request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, maxBytes);
  return parse(path, r.status, r.bytes);
}
