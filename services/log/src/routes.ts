/**
 * HTTP routes: Rekor v1 REST, Rekor v2 write, C2SP tlog-tiles read. Every handler validates
 * before it works and answers errors as `{code, message}` (LogError codes).
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { isCairnError, isRecord, type Counter, type Logger } from '@cairn/shared';
import { errorHandler, jsonBody, rawBody } from '@cairn/shared/http';
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

export function createRouter(o: RouteOptions): Router {
  const { log } = o;
  const router = Router();
  const json = jsonBody(o.maxBodyBytes);
  // Write bodies stay raw bytes here: they are parsed where the entry is prepared (a worker
  // thread under load), so the event loop neither parses nor copies the object tree.
  const raw = rawBody(o.maxBodyBytes, () => true);

  router.post(
    '/api/v1/log/entries',
    raw,
    wrap(async (req, res) => {
      try {
        const { entryId, entry } = await log.addV1(req.body);
        o.appended.inc({ api: 'v1' });
        res.status(201).setHeader('ETag', entryId).setHeader('Location', `/api/v1/log/entries/${entryId}`).json({ [entryId]: entry });
      } catch (e) {
        if (e instanceof LogError && e.code === 'DUPLICATE_ENTRY') res.setHeader('Location', `/api/v1/log/entries/${String(e.details?.entryId)}`);
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
        const entry = await log.addV2(req.body);
        o.appended.inc({ api: 'v2' });
        res.status(201).json(entry);
      } catch (e) {
        if (e instanceof LogError && e.code === 'DUPLICATE_ENTRY') res.setHeader('x-log-index', String(e.details?.logIndex));
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
    const bp = err as { type?: string };
    const code = isCairnError(err) ? err.code : bp?.type === 'entity.too.large' ? 'BODY_TOO_LARGE' : bp?.type === 'entity.parse.failed' ? 'INVALID_JSON' : 'INTERNAL';
    o.rejections.inc({ code });
    handle(err, req, res, next);
  });
  return router;
}
