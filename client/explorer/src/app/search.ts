/** Search as the Rekor v1 API offers it (digest, email, URI identity, public key, log index, UUID), with pages of results. */
import { ApiError, getJson, postJson } from './api.ts';
import { toBase64, utf8 } from './bytes.ts';
import { errorBox, h, link, route, table, when, type Child } from './dom.ts';
import { decodeEntry, identityOf, type LogEntry } from './entry.ts';

export const PAGE_SIZE = 20;
/** The log's search index answers at most this many entry IDs (Rekor's cap; the oldest ones). */
export const SEARCH_CAP = 1000;
const capped = (n: number): string => (n >= SEARCH_CAP ? ' — the index answers at most 1,000 (the oldest); narrow the search for newer ones' : '');
/** POST /api/v1/log/entries/retrieve takes at most 10 items per list. */
const RETRIEVE_CHUNK = 10;
const MAX_QUERY = 8192;

export type Query =
  | { kind: 'index'; index: number }
  | { kind: 'uuid'; uuid: string }
  | { kind: 'hash'; hash: string; alsoUuid: boolean }
  | { kind: 'email'; email: string }
  | { kind: 'subject'; subject: string }
  | { kind: 'publicKey'; pem: string };

/** What the search box holds; an Error for what cannot be searched. */
export function classify(raw: string): Query {
  const q = raw.trim();
  if (q === '') throw new Error('type a digest, an email or URI identity, a public key (PEM), a log index or an entry UUID');
  if (q.length > MAX_QUERY) throw new Error(`a search is at most ${MAX_QUERY} characters`);
  if (/^(0|[1-9][0-9]{0,15})$/.test(q)) return { kind: 'index', index: Number(q) };
  const lower = q.toLowerCase();
  if (/^[0-9a-f]{80}$/.test(lower)) return { kind: 'uuid', uuid: lower };
  if (/^[0-9a-f]{64}$/.test(lower)) return { kind: 'hash', hash: `sha256:${lower}`, alsoUuid: true };
  if (/^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$/.test(lower)) return { kind: 'hash', hash: lower, alsoUuid: false };
  const alg = /^(sha256|sha384|sha512):/.exec(lower);
  if (alg) throw new Error(`a ${alg[1]} digest is ${{ sha256: 64, sha384: 96, sha512: 128 }[alg[1] as 'sha256']} hex digits`);
  if (/^[0-9a-f]{96}$/.test(lower)) return { kind: 'hash', hash: `sha384:${lower}`, alsoUuid: false };
  if (/^[0-9a-f]{128}$/.test(lower)) return { kind: 'hash', hash: `sha512:${lower}`, alsoUuid: false };
  if (q.includes('-----BEGIN ')) return { kind: 'publicKey', pem: q.endsWith('\n') ? q : `${q}\n` };
  if (/^[^\s@/:]+@[^\s@/]+$/.test(q)) return { kind: 'email', email: q };
  if (/\s/.test(q)) throw new Error('an identity has no spaces');
  return { kind: 'subject', subject: q };
}

/** Entry IDs matching the query, oldest first. */
export async function findIds(q: Query): Promise<string[]> {
  switch (q.kind) {
    case 'index': {
      const found = (await postJson('/api/v1/log/entries/retrieve', { logIndexes: [q.index] })) as Record<string, unknown>[];
      return found.flatMap((o) => Object.keys(o));
    }
    case 'uuid':
      return [q.uuid];
    case 'hash': {
      const ids = (await postJson('/api/v1/index/retrieve', { hash: q.hash })) as string[];
      if (q.alsoUuid) {
        const found = (await postJson('/api/v1/log/entries/retrieve', { entryUUIDs: [q.hash.slice(7)] })) as Record<string, unknown>[];
        for (const o of found) for (const k of Object.keys(o)) if (!ids.includes(k)) ids.push(k);
      }
      return ids;
    }
    case 'email':
      return (await postJson('/api/v1/index/retrieve', { email: q.email })) as string[];
    case 'subject':
      return (await postJson('/api/v1/index/retrieve', { subject: q.subject })) as string[];
    case 'publicKey':
      return (await postJson('/api/v1/index/retrieve', { publicKey: { format: 'x509', content: toBase64(utf8(q.pem)) } })) as string[];
  }
}

/** POST /api/v1/log/entries/retrieve in chunks of RETRIEVE_CHUNK, by UUIDs or by log indexes. */
async function retrieve<T>(field: 'entryUUIDs' | 'logIndexes', items: T[]): Promise<[string, LogEntry][]> {
  const out: [string, LogEntry][] = [];
  for (let i = 0; i < items.length; i += RETRIEVE_CHUNK) {
    const found = (await postJson('/api/v1/log/entries/retrieve', { [field]: items.slice(i, i + RETRIEVE_CHUNK) })) as Record<string, LogEntry>[];
    for (const o of found) for (const [k, v] of Object.entries(o)) out.push([k, v]);
  }
  return out;
}

export const fetchEntries = (ids: string[]): Promise<[string, LogEntry][]> => retrieve('entryUUIDs', ids);
export const fetchByIndexes = (indexes: number[]): Promise<[string, LogEntry][]> => retrieve('logIndexes', indexes);

export async function fetchEntry(id: string): Promise<LogEntry> {
  const o = (await getJson(`/api/v1/log/entries/${encodeURIComponent(id)}`)) as Record<string, LogEntry>;
  const e = Object.values(o)[0];
  if (!e) throw new ApiError(404, 'ENTRY_NOT_FOUND', 'no such entry');
  return e;
}

/** The results table: index, kind, identity, digest, integrated time. */
export function entryRows(entries: [string, LogEntry][]): HTMLElement {
  const rows: Child[][] = entries.map(([id, e]) => {
    const d = decodeEntry(e);
    const who = identityOf(d);
    return [
      link(route('entry', id), String(e.logIndex)),
      `${d.kind} ${d.apiVersion}`,
      who.identity && who.identity !== 'public key' ? link(route('identity', who.identity), who.identity) : who.identity,
      d.digest ? link(route('search', d.digest), d.digest.length > 30 ? `${d.digest.slice(0, 30)}…` : d.digest) : '',
      when(e.integratedTime),
    ];
  });
  return table(['index', 'kind', 'signer', 'digest', 'integrated'], rows, 'results');
}

export function pager(base: string, page: number, total: number): HTMLElement {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  return h(
    'nav',
    { class: 'pager' },
    page > 1 ? link(`${base}?page=${page - 1}`, '← newer') : null,
    ` page ${page} of ${pages} (${total} entr${total === 1 ? 'y' : 'ies'}) `,
    page < pages ? link(`${base}?page=${page + 1}`, 'older →') : null,
  );
}

export function searchForm(value: string): HTMLElement {
  const input = h('textarea', {
    id: 'q',
    name: 'q',
    rows: 1,
    placeholder: 'sha256:…, you@example.com, https://ci.example/pipelines/1, a PEM public key, a log index or an entry UUID',
    value,
    on: {
      // Enter searches; Shift+Enter adds a line (a pasted PEM key has several).
      keydown: (ev) => {
        const k = ev as KeyboardEvent;
        if (k.key === 'Enter' && !k.shiftKey) {
          k.preventDefault();
          (input.closest('form') as HTMLFormElement).requestSubmit();
        }
      },
    },
  });
  return h(
    'form',
    {
      class: 'search',
      id: 'search-form',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          location.hash = route('search', (input as HTMLTextAreaElement).value.trim());
        },
      },
    },
    input,
    h('button', { type: 'submit' }, 'Search'),
  );
}

export async function searchPage(query: string, page: number): Promise<Child> {
  const box = document.getElementById('q') as HTMLTextAreaElement | null;
  if (box && box.value.trim() !== query) box.value = query;
  const head = [h('h1', null, 'Search the log')];
  if (query === '') return [head, h('p', { class: 'hint' }, 'Results come from this server’s Rekor search index; every entry page verifies its inclusion proof in this browser.')];
  let q: Query;
  try {
    q = classify(query);
  } catch (e) {
    return [head, errorBox(e)];
  }
  try {
    // Newest first: the index answers oldest first.
    const ids = (await findIds(q)).reverse();
    if (ids.length === 0) return [head, h('p', { class: 'empty', id: 'no-results' }, `No entries for ${query}.`)];
    if (q.kind === 'uuid' || (ids.length === 1 && q.kind === 'index')) location.replace(route('entry', ids[0]!));
    const slice = ids.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
    const entries = await fetchEntries(slice);
    return [head, h('p', { class: 'count', id: 'result-count' }, `${ids.length} result${ids.length === 1 ? '' : 's'} (${q.kind} search)${capped(ids.length)}`), entryRows(entries), pager(route('search', query), page, ids.length)];
  } catch (e) {
    return [head, errorBox(e)];
  }
}

export async function identityPage(identity: string, page: number): Promise<Child> {
  const head = h('h1', null, 'Identity ', h('span', { class: 'ident' }, identity));
  try {
    const q = classify(identity);
    const ids = await findIds(q.kind === 'email' ? q : { kind: 'subject', subject: identity });
    if (ids.length === 0) return [head, h('p', { class: 'empty' }, 'No entries for this identity.')];
    const [first] = await fetchEntries([ids[0]!]);
    const [last] = await fetchEntries([ids[ids.length - 1]!]);
    const newest = [...ids].reverse();
    const entries = await fetchEntries(newest.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE));
    return [
      head,
      h(
        'dl',
        { class: 'fields', id: 'identity-summary' },
        h('dt', null, 'entries'),
        h('dd', null, `${ids.length}${capped(ids.length)}`),
        h('dt', null, 'first seen'),
        h('dd', null, first ? `${when(first[1].integratedTime)} (index ${first[1].logIndex})` : ''),
        h('dt', null, ids.length >= SEARCH_CAP ? 'last seen (of these)' : 'last seen'),
        h('dd', null, last ? `${when(last[1].integratedTime)} (index ${last[1].logIndex})` : ''),
      ),
      entryRows(entries),
      pager(route('identity', identity), page, ids.length),
    ];
  } catch (e) {
    return [head, errorBox(e)];
  }
}
