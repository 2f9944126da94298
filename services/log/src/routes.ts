/**
 * HTTP routes: Rekor v1 REST, Rekor v2 write, C2SP tlog-tiles read. Every handler validates
 * before it works and answers errors as `{code, message}` (LogError codes).
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { isCairnError, isRecord, type Counter, type Logger } from '@cairn/shared';
import { errorAnswer, errorHandler, jsonBody, rawBody, type LeanAnswer, type LeanRoute } from '@cairn/shared/http';
import { parseTilePath } from '@cairn/shared/tiles';
import { LogError } from './errors.ts';
import { MAX_RETRIEVE_ITEMS, MAX_SEARCH_VALUE, type RekorLog } from './rekor-log.ts';
import { verifierFromPemB64, verifierIndexKeys } from './types/common.ts';

const DECIMAL_RE = /^(0|[1-9][0-9]{0,15})$/;
const HASH_SEARCH_RE = /^(?:(sha256|sha384|sha512):)?([0-9a-fA-F]+)$/;
const HASH_HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

export interface RouteOptions {
  log: RekorLog;
  maxBodyBytes: number;
  logger: Logger;
  rejections: Counter;
  appended: Counter;
  /** Witness cosignature lines for a v2 checkpoint note (tiles `/checkpoint` only). */
  cosignatures?: (note: string) => string[];
  extraRouter?: Router;
}

function decimal(v: unknown, what: string, code: 'INVALID_LOG_INDEX' | 'INVALID_PROOF_REQUEST'): number {
  if (typeof v !== 'string' || !DECIMAL_RE.test(v)) throw new LogError(code, `${what} must be a non-negative decimal integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new LogError(code, `${what} is too large`);
  return n;
}

type Handler = (req: Request, res: Response) => Promise<void> | void;
const wrap =
  (h: Handler) =>
  (req: Request, res: Response, next: NextFunction): void => {
    Promise.resolve(h(req, res)).catch(next);
  };

function searchKeys(q: Record<string, unknown>): string[] {
  const keys: string[] = [];
  const value = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_SEARCH_VALUE) throw new LogError('INVALID_SEARCH', `${what} must be a non-empty string`);
    return v;
  };
  if (q.hash !== undefined) {
    const m = HASH_SEARCH_RE.exec(value(q.hash, 'hash'));
    const alg = m?.[1] ?? 'sha256';
    if (!m || m[2]!.length !== HASH_HEX_LENGTH[alg]) throw new LogError('INVALID_SEARCH', 'hash must be [sha256|sha384|sha512:]<hex digest>');
    keys.push(`hash:${alg}:${m[2]!.toLowerCase()}`);
  }
  if (q.publicKey !== undefined) {
    if (!isRecord(q.publicKey)) throw new LogError('INVALID_SEARCH', 'publicKey must be {format, content}');
    if (q.publicKey.format !== 'x509') throw new LogError('INVALID_SEARCH', 'only x509 public keys are indexed');
    let v;
    try {
      v = verifierFromPemB64(q.publicKey.content, 'publicKey.content');
    } catch (e) {
      throw new LogError('INVALID_SEARCH', 'publicKey.content is not a base64 PEM key or certificate', { cause: e });
    }
    // The canonical-PEM key of the given material is what entries logged with it carry.
    keys.push(verifierIndexKeys(v)[0]!);
  }
  if (q.email !== undefined) keys.push(`id:${value(q.email, 'email').toLowerCase()}`);
  if (q.subject !== undefined) keys.push(`id:${value(q.subject, 'subject').toLowerCase()}`);
  if (keys.length === 0) throw new LogError('INVALID_SEARCH', 'give at least one of hash, publicKey, email, subject');
  return keys;
}

/** The rejection code of an error as the answer will carry it (metrics label). */
function rejectionCode(err: unknown): string {
  const bp = err as { type?: string };
  return isCairnError(err) ? err.code : bp?.type === 'entity.too.large' ? 'BODY_TOO_LARGE' : bp?.type === 'entity.parse.failed' ? 'INVALID_JSON' : 'INTERNAL';
}

/**
 * The log's routes: an Express router for everything, and the two write routes once more as
 * lean routes (served without the Express stack; same handlers, same answers and headers).
 */
export function createRoutes(o: RouteOptions): { router: Router; leanRoutes: LeanRoute[] } {
  const { log } = o;
  const router = Router();
  // Write answers, shared by the Express routes and the lean ones. A duplicate carries where the
  // existing entry is (Location for v1, x-log-index for v2).
  const writeV1 = async (body: unknown): Promise<LeanAnswer> => {
    const { entryId, entry } = await log.addV1(body);
    o.appended.inc({ api: 'v1' });
    return { status: 201, headers: { ETag: entryId, Location: `/api/v1/log/entries/${entryId}` }, json: { [entryId]: entry } };
  };
  const writeV2 = async (body: unknown): Promise<LeanAnswer> => {
    const entry = await log.addV2(body);
    o.appended.inc({ api: 'v2' });
    return { status: 201, json: entry };
  };
  const duplicateHeaders = (api: 'v1' | 'v2', e: unknown): Record<string, string> => {
    if (!(e instanceof LogError) || e.code !== 'DUPLICATE_ENTRY') return {};
    return api === 'v1' ? { Location: `/api/v1/log/entries/${String(e.details?.entryId)}` } : { 'x-log-index': String(e.details?.logIndex) };
  };
  const lean = (api: 'v1' | 'v2', path: string, write: (body: unknown) => Promise<LeanAnswer>): LeanRoute => ({
    method: 'POST',
    path,
    maxBodyBytes: o.maxBodyBytes,
    handle: write,
    refuse: (e) => {
      o.rejections.inc({ code: rejectionCode(e) });
      return { ...errorAnswer(e, o.logger, { method: 'POST', path }), headers: duplicateHeaders(api, e) };
    },
  });
  const leanRoutes = [lean('v1', '/api/v1/log/entries', writeV1), lean('v2', '/api/v2/log/entries', writeV2)];
  const json = jsonBody(o.maxBodyBytes);
  // Write bodies stay raw bytes here: they are parsed where the entry is prepared (a worker
  // thread under load), so the event loop neither parses nor copies the object tree.
  const raw = rawBody(o.maxBodyBytes, () => true);

  router.post(
    '/api/v1/log/entries',
    raw,
    wrap(async (req, res) => {
      try {
        const a = await writeV1(req.body);
        res.status(a.status).set(a.headers).json(a.json);
      } catch (e) {
        res.set(duplicateHeaders('v1', e));
        throw e;
      }
    }),
  );

  router.get(
    '/api/v1/log/entries',
    wrap(async (req, res) => {
      const index = decimal(req.query.logIndex, 'logIndex', 'INVALID_LOG_INDEX');
      const found = await log.entryByIndex(index);
      if (!found) throw new LogError('ENTRY_NOT_FOUND', `no entry at index ${index}`);
      res.json({ [found.entryId]: found.entry });
    }),
  );

  router.post(
    '/api/v1/log/entries/retrieve',
    json,
    wrap(async (req, res) => {
      const body: unknown = req.body;
      if (!isRecord(body)) throw new LogError('INVALID_SEARCH', 'body must be {entryUUIDs?, logIndexes?, entries?}');
      const list = (k: string): unknown[] => {
        const v = body[k];
        if (v === undefined) return [];
        if (!Array.isArray(v)) throw new LogError('INVALID_SEARCH', `${k} must be an array`);
        if (v.length > MAX_RETRIEVE_ITEMS) throw new LogError('TOO_MANY_ITEMS', `at most ${MAX_RETRIEVE_ITEMS} ${k}`);
        return v;
      };
      const uuids = list('entryUUIDs');
      const indexes = list('logIndexes');
      const entries = list('entries');
      for (const k of Object.keys(body)) if (!['entryUUIDs', 'logIndexes', 'entries'].includes(k)) throw new LogError('INVALID_SEARCH', `unknown field ${k}`);
      const out: Record<string, unknown>[] = [];
      for (const u of uuids) {
        if (typeof u !== 'string') throw new LogError('INVALID_ENTRY_ID', 'entryUUIDs must be strings');
        const f = await log.entryByUuid(u);
        if (f) out.push({ [f.entryId]: f.entry });
      }
      for (const i of indexes) {
        if (!Number.isSafeInteger(i) || (i as number) < 0) throw new LogError('INVALID_LOG_INDEX', 'logIndexes must be non-negative integers');
        const f = await log.entryByIndex(i as number);
        if (f) out.push({ [f.entryId]: f.entry });
      }
      for (const e of entries) {
        const f = await log.entryByProposed(e);
        if (f) out.push({ [f.entryId]: f.entry });
      }
      res.json(out);
    }),
  );

  router.get(
    '/api/v1/log/entries/:id',
    wrap(async (req, res) => {
      const found = await log.entryByUuid(String(req.params.id));
      if (!found) throw new LogError('ENTRY_NOT_FOUND', 'no such entry');
      res.json({ [found.entryId]: found.entry });
    }),
  );

  router.post(
    '/api/v1/index/retrieve',
    json,
    wrap((req, res) => {
      const q: unknown = req.body;
      if (!isRecord(q)) throw new LogError('INVALID_SEARCH', 'body must be a SearchIndex object');
      for (const k of Object.keys(q)) if (!['hash', 'publicKey', 'email', 'subject', 'operator'].includes(k)) throw new LogError('INVALID_SEARCH', `unknown field ${k}`);
      const op = q.operator ?? 'or';
      if (op !== 'and' && op !== 'or') throw new LogError('INVALID_SEARCH', 'operator must be and|or');
      res.json(log.search(searchKeys(q), op));
    }),
  );

  router.get('/api/v1/log', (_req, res) => {
    res.json(log.logInfo());
  });

  router.get('/api/v1/log/proof', (req, res) => {
    const size = log.engine.size;
    const first = req.query.firstSize === undefined ? 1 : decimal(req.query.firstSize, 'firstSize', 'INVALID_PROOF_REQUEST');
    const last = decimal(req.query.lastSize, 'lastSize', 'INVALID_PROOF_REQUEST');
    if (first < 1 || first > last || last > size) {
      throw new LogError('INVALID_PROOF_REQUEST', `need 1 <= firstSize <= lastSize <= ${size}`);
    }
    const hashes = log.engine.consistencyProof(first, last);
    res.json({ hashes: hashes.map((h) => h.toString('hex')), rootHash: log.engine.rootAt(last).toString('hex') });
  });

  router.get('/api/v1/log/publicKey', (_req, res) => {
    res.type('application/x-pem-file').send(log.publicKeyPem());
  });

  router.post(
    '/api/v2/log/entries',
    raw,
    wrap(async (req, res) => {
      try {
        const a = await writeV2(req.body);
        res.status(a.status).json(a.json);
      } catch (e) {
        res.set(duplicateHeaders('v2', e));
        throw e;
      }
    }),
  );

  // C2SP tlog-tiles read API.
  router.get('/checkpoint', (_req, res) => {
    const note = log.engine.checkpoint().signatures.v2!;
    const extra = o.cosignatures?.(note) ?? [];
    res.setHeader('Cache-Control', 'no-cache');
    res.type('text/plain; charset=utf-8').send(note + extra.join(''));
  });

  router.get(/^\/tile\/.+/, (req, res) => {
    let t;
    try {
      t = parseTilePath(req.path);
    } catch (e) {
      throw new LogError('INVALID_TILE_PATH', 'not a C2SP tlog-tiles path', { cause: e });
    }
    const width = t.width === 256 ? undefined : t.width;
    const bytes = t.kind === 'entries' ? log.engine.entryBundle(t.index, width) : log.engine.tile(t.level, t.index, width);
    if (!bytes) throw new LogError('TILE_NOT_FOUND', 'tile does not exist (yet)');
    // Tiles never change once they exist (a partial tile of width W is a fixed prefix).
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.type('application/octet-stream').send(bytes);
  });

  if (o.extraRouter) router.use(o.extraRouter);

  // Count rejections by code, then answer with the shared handler.
  const handle = errorHandler(o.logger);
  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    o.rejections.inc({ code: rejectionCode(err) });
    handle(err, req, res, next);
  });
  return { router, leanRoutes };
}
