/**
 * Reads a log through the C2SP tlog-tiles API: `<base>/checkpoint`, `<base>/tile/<L>/<N>[.p/<W>]`
 * and `<base>/tile/entries/<N>[.p/<W>]`. Every response has a byte cap and a timeout; a partial
 * tile that is gone (404) is replaced by the full tile, as tlog-tiles allows logs to delete
 * partial tiles once the full one exists.
 */
import { MAX_NOTE_BYTES } from '@cairn/shared/checkpoint';
import { fetchCapped, FetchError } from '@cairn/shared/fetch';
import { FULL_TILE_BYTES, MAX_ENTRY_BUNDLE_BYTES, TILE_WIDTH, entriesPath, parseEntryBundle, tilePath } from '@cairn/shared/tiles';
import { MonitorError } from './errors.ts';

export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/** Transient failures (network errors, 5xx) are retried this many times. */
const RETRIES = 2;
const RETRY_DELAY_MS = 250;

/** The read side of a tiled log. */
export interface TlogReader {
  checkpoint(): Promise<string>;
  /** Exactly `width` hashes of tile (level, index). */
  tile(level: number, index: number, width: number): Promise<Buffer>;
  /** Exactly `width` entries of entry bundle `index`. */
  entries(index: number, width: number): Promise<Buffer[]>;
}

class HttpStatusError extends Error {
  constructor(readonly status: number, url: string) {
    super(`GET ${url} answered ${status}`);
  }
}

export class HttpTlogReader implements TlogReader {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs = DEFAULT_FETCH_TIMEOUT_MS,
  ) {
    let u: URL;
    try {
      u = new URL(baseUrl);
    } catch {
      throw new MonitorError('FETCH_FAILED', `log URL ${JSON.stringify(baseUrl)} is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new MonitorError('FETCH_FAILED', 'log URL must be http(s)');
    this.base = u.href.replace(/\/+$/, '');
  }

  private async get(path: string, cap: number): Promise<Buffer> {
    const url = `${this.base}/${path}`;
    let lastError: unknown;
    for (let attempt = 0; attempt <= RETRIES; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, RETRY_DELAY_MS * attempt));
      let res;
      try {
        res = await fetchCapped(url, { maxBytes: cap, timeoutMs: this.timeoutMs });
      } catch (e) {
        if (e instanceof FetchError && e.code === 'TOO_LARGE') throw new MonitorError('RESPONSE_TOO_LARGE', `${url} is larger than ${cap} bytes`, { cause: e });
        lastError = e;
        continue;
      }
      if (res.status === 200) return res.body;
      lastError = new HttpStatusError(res.status, url);
      // 429 and 5xx are worth another try; any other status is the answer.
      if (res.status < 500 && res.status !== 429) break;
    }
    if (lastError instanceof HttpStatusError) throw lastError;
    throw new MonitorError('FETCH_FAILED', `GET ${url} failed: ${lastError instanceof Error ? lastError.message : String(lastError)}`, { cause: lastError });
  }

  /** Fetches the partial resource, falling back to the full one when the partial is gone. */
  private async getTileLike(partial: string, full: string, width: number, cap: number): Promise<Buffer> {
    try {
      return await this.get(width === TILE_WIDTH ? full : partial, cap);
    } catch (e) {
      if (e instanceof HttpStatusError && e.status === 404 && width !== TILE_WIDTH) {
        try {
          return await this.get(full, cap);
        } catch (e2) {
          throw asMonitorError(e2);
        }
      }
      throw asMonitorError(e);
    }
  }

  async checkpoint(): Promise<string> {
    try {
      return (await this.get('checkpoint', MAX_NOTE_BYTES)).toString('utf8');
    } catch (e) {
      throw asMonitorError(e);
    }
  }

  async tile(level: number, index: number, width: number): Promise<Buffer> {
    const bytes = await this.getTileLike(tilePath(level, index, width), tilePath(level, index), width, FULL_TILE_BYTES);
    // A full tile may stand in for the partial one; anything else is malformed.
    if (bytes.length !== width * 32 && bytes.length !== FULL_TILE_BYTES) {
      throw new MonitorError('INVALID_RESPONSE', `tile ${level}/${index} has ${bytes.length} bytes, expected ${width * 32}`);
    }
    return bytes.subarray(0, width * 32);
  }

  async entries(index: number, width: number): Promise<Buffer[]> {
    const bytes = await this.getTileLike(entriesPath(index, width), entriesPath(index), width, MAX_ENTRY_BUNDLE_BYTES);
    let list: Buffer[];
    try {
      list = parseEntryBundle(bytes);
    } catch (e) {
      throw new MonitorError('INVALID_RESPONSE', `entry bundle ${index} is malformed`, { cause: e });
    }
    if (list.length !== width && list.length !== TILE_WIDTH) {
      throw new MonitorError('INVALID_RESPONSE', `entry bundle ${index} holds ${list.length} entries, expected ${width}`);
    }
    return list.slice(0, width);
  }
}

function asMonitorError(e: unknown): unknown {
  if (e instanceof HttpStatusError) return new MonitorError('FETCH_FAILED', e.message, { cause: e });
  return e;
}
