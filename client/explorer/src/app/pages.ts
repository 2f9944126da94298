/** The entry, log and trust pages. */
import { getJson } from './api.ts';
import { fromBase64, fromHex, fromUtf8, toHex } from './bytes.ts';
import { code, duration, errorBox, fields, h, link, mark, route, table, when, type Child } from './dom.ts';
import { decodeEntry, identityOf, verifyEntry, type Decoded, type LogEntry } from './entry.ts';
import { verifyConsistency } from './merkle.ts';
import { verifyCheckpoint, type Checkpoint } from './note.ts';
import { entryRows, fetchByIndexes, fetchEntry } from './search.ts';
import { trust, within, type Trust, type TrustedLog } from './trust.ts';
import { PIN_KEY } from './tuf.ts';
import { parseCertificate, type Certificate } from './x509.ts';

function certificateView(c: Certificate, integrated: Date): HTMLElement {
  const inside = integrated >= c.notBefore && integrated <= c.notAfter;
  const validity = `${c.notBefore.toISOString()} to ${c.notAfter.toISOString()} (${duration(c.notAfter.getTime() - c.notBefore.getTime())})`;
  const relative = inside
    ? `integrated ${duration(integrated.getTime() - c.notBefore.getTime())} after issuance, ${duration(c.notAfter.getTime() - integrated.getTime())} before expiry`
    : `integrated OUTSIDE the validity window`;
  return h(
    'section',
    { class: 'cert', id: 'certificate' },
    h('h3', null, 'Certificate'),
    fields([
      ['subject', c.subject || '(empty)'],
      ['issuer', c.issuer],
      ['serial', code(c.serial)],
      ['validity', validity],
      ['at integration', [mark(inside, 'inside the validity window', 'outside the validity window'), ' ', relative]],
      ['signature algorithm', c.signatureAlgorithm],
    ]),
    h('h4', null, 'Subject alternative names'),
    h('ul', { class: 'sans' }, c.sans.map((s) => h('li', null, `${s.type}: `, h('span', { class: 'san' }, s.value)))),
    h('h4', null, 'Extensions'),
    table(
      ['name', 'OID', 'critical', 'value'],
      c.extensions.map((x) => [x.name, code(x.oid), x.critical ? 'yes' : '', h('span', { class: 'ext-value' }, x.value)]),
      'extensions',
    ),
  );
}

function statementView(d: Decoded): HTMLElement | null {
  const s = d.statement;
  if (!s) return d.kind === 'dsse' || d.kind === 'intoto' ? h('p', { class: 'hint' }, 'The log holds no copy of this statement (only its hash).') : null;
  return h(
    'section',
    { id: 'statement' },
    h('h3', null, 'In-toto statement'),
    fields([
      ['type', s.type],
      ['predicate type', h('span', { id: 'predicate-type' }, s.predicateType)],
    ]),
    h('h4', null, 'Subjects'),
    table(['name', 'digest'], s.subjects.map((x) => [h('span', { class: 'subject-name' }, x.name), code(x.digest)]), 'subjects'),
    h('h4', null, 'Predicate'),
    h('pre', { id: 'predicate' }, s.predicate),
  );
}

export async function entryPage(id: string): Promise<Child> {
  let e: LogEntry;
  try {
    e = await fetchEntry(id);
  } catch (err) {
    return [h('h1', null, 'Entry'), errorBox(err)];
  }
  const d = decodeEntry(e);
  const who = identityOf(d);
  const integrated = new Date(e.integratedTime * 1000);
  const verdict = h('div', { id: 'verdict', class: 'verdict pending', data: { state: 'pending' } }, 'verifying in this browser…');
  const checksBox = h('ul', { class: 'checks', id: 'checks' });
  const out: Child = [
    h('h1', null, `Entry ${e.logIndex}`),
    verdict,
    checksBox,
    fields([
      ['kind', `${d.kind} ${d.apiVersion}`],
      ['log index', String(e.logIndex)],
      ['entry UUID', code(id)],
      ['integrated', when(e.integratedTime)],
      ['log ID', code(e.logID)],
      ['artifact digest', d.digest ? link(route('search', d.digest), h('span', { id: 'digest' }, d.digest)) : ''],
      ['signer', who.identity && who.identity !== 'public key' ? link(route('identity', who.identity), h('span', { id: 'identity' }, who.identity)) : who.identity],
      ['OIDC issuer', h('span', { id: 'oidc-issuer' }, who.issuer)],
    ]),
    d.problems.map((p) => h('p', { class: 'error' }, p)),
    d.signers.map((s, i) => [
      h('h2', null, d.signers.length > 1 ? `Signature ${i + 1}` : 'Signature'),
      h('pre', { class: 'sig' }, s.signature),
      s.certificate ? certificateView(s.certificate, integrated) : h('pre', { class: 'key' }, s.publicKeyPem ?? ''),
    ]),
    statementView(d),
    h('details', null, h('summary', null, 'Canonical body'), h('pre', { id: 'body' }, prettyBody(e.body))),
  ];
  void (async () => {
    try {
      const checks = await verifyEntry(id, e, await trust());
      const ok = checks.length > 0 && checks.every((c) => c.ok);
      verdict.className = `verdict ${ok ? 'ok' : 'bad'}`;
      verdict.dataset.state = ok ? 'verified' : 'not-verified';
      verdict.replaceChildren(mark(ok, 'verified: the log signed a tree that contains this entry', 'not verified'));
      verdict.dataset.at = String(Math.round(performance.now()));
      checksBox.replaceChildren(...checks.map((c) => h('li', { class: c.ok ? 'ok' : 'bad' }, mark(c.ok, c.what, c.what), ' ', c.detail)));
    } catch (err) {
      verdict.className = 'verdict bad';
      verdict.dataset.state = 'not-verified';
      verdict.replaceChildren(mark(false, '', 'not verified: the trust root could not be loaded'));
      checksBox.replaceChildren(h('li', { class: 'bad' }, errorBox(err)));
    }
  })();
  return out;
}

function prettyBody(b64: string): string {
  try {
    return JSON.stringify(JSON.parse(fromUtf8(fromBase64(b64))), null, 2);
  } catch {
    return b64;
  }
}

const CHECKPOINT_KEY = 'cairn.log.checkpoint';

async function signedHead(t: Trust, envelope: string): Promise<{ cp: Checkpoint; log: TrustedLog }> {
  let last: unknown = new Error('no transparency log in the trust root');
  for (const log of t.tlogs) {
    try {
      return { cp: (await verifyCheckpoint(envelope, log)).checkpoint, log };
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

/** Whether the tree (size1, root1) is a prefix of the verified head, with the server's proof checked here. */
async function consistencyCheck(size1: number, root1: Uint8Array | undefined, size2: number, root2: Uint8Array): Promise<{ ok: boolean; detail: string }> {
  const p = (await getJson(`/api/v1/log/proof?firstSize=${size1}&lastSize=${size2}`)) as { hashes: string[]; rootHash: string };
  if (p.rootHash.toLowerCase() !== toHex(root2)) return { ok: false, detail: `the server's root at ${size2} is not the one checked` };
  let first = root1;
  if (!first) {
    const r = (await getJson(`/api/v1/log/proof?firstSize=1&lastSize=${size1}`)) as { rootHash: string };
    first = fromHex(r.rootHash);
  }
  const ok = await verifyConsistency(size1, size2, first, root2, p.hashes.map(fromHex));
  return { ok, detail: `tree ${size1} (root ${toHex(first).slice(0, 16)}…) ${ok ? 'is a prefix of' : 'is NOT a prefix of'} tree ${size2} (root ${toHex(root2).slice(0, 16)}…), ${p.hashes.length} proof hashes` };
}

function timeline(entries: [string, LogEntry][]): HTMLElement {
  if (entries.length === 0) return h('p', null, 'No entries yet.');
  const times = entries.map(([, e]) => e.integratedTime);
  const lo = Math.min(...times);
  const hi = Math.max(...times);
  const buckets = 24;
  const span = Math.max(1, hi - lo + 1);
  const counts = new Array<number>(buckets).fill(0);
  for (const t of times) counts[Math.min(buckets - 1, Math.floor(((t - lo) / span) * buckets))]!++;
  const max = Math.max(...counts);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${buckets * 10} 60`);
  svg.setAttribute('class', 'timeline');
  svg.setAttribute('role', 'img');
  counts.forEach((c, i) => {
    const r = document.createElementNS(ns, 'rect');
    const hgt = max === 0 ? 0 : (c / max) * 56;
    r.setAttribute('x', String(i * 10 + 1));
    r.setAttribute('y', String(58 - hgt));
    r.setAttribute('width', '8');
    r.setAttribute('height', String(hgt));
    const title = document.createElementNS(ns, 'title');
    title.textContent = `${c} entries`;
    r.appendChild(title);
    svg.appendChild(r);
  });
  return h('figure', { id: 'timeline' }, svg, h('figcaption', null, `the newest ${entries.length} entries, ${when(lo)} to ${when(hi)}`));
}

export async function logPage(): Promise<Child> {
  const head = h('h1', null, 'The log');
  let info: { rootHash: string; treeSize: number; signedTreeHead: string; treeID: string };
  try {
    info = (await getJson('/api/v1/log')) as typeof info;
  } catch (e) {
    return [head, errorBox(e)];
  }
  const verdict = h('div', { id: 'checkpoint-verdict', class: 'verdict pending', data: { state: 'pending' } }, 'verifying the checkpoint…');
  const gossip = h('p', { id: 'since-last-visit' });
  const result = h('p', { id: 'consistency-result' });
  const first = h('input', { id: 'first-size', type: 'number', value: String(Math.max(1, Math.floor(info.treeSize / 2))) }) as HTMLInputElement;
  const second = h('input', { id: 'second-size', type: 'number', value: String(info.treeSize) }) as HTMLInputElement;
  const form = h(
    'form',
    {
      id: 'consistency-form',
      class: 'inline',
      on: {
        submit: (ev) => {
          ev.preventDefault();
          result.replaceChildren('checking…');
          void (async () => {
            try {
              const a = Number(first.value);
              const b = Number(second.value);
              if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 1 || a > b || b > info.treeSize) throw new Error(`need 1 ≤ first ≤ second ≤ ${info.treeSize}`);
              const rootB = b === info.treeSize ? fromHex(info.rootHash) : fromHex(((await getJson(`/api/v1/log/proof?firstSize=1&lastSize=${b}`)) as { rootHash: string }).rootHash);
              const r = await consistencyCheck(a, undefined, b, rootB);
              result.replaceChildren(mark(r.ok, 'consistent', 'not consistent'), ' ', r.detail, b === info.treeSize ? ' (the second root is the signed checkpoint’s)' : '');
              result.dataset.state = r.ok ? 'consistent' : 'inconsistent';
            } catch (e) {
              result.replaceChildren(errorBox(e));
              result.dataset.state = 'error';
            }
          })();
        },
      },
    },
    'Consistency between sizes ',
    first,
    ' and ',
    second,
    ' ',
    h('button', { type: 'submit' }, 'Check in this browser'),
  );
  const size = info.treeSize;
  const newest = Array.from({ length: Math.min(size, 100) }, (_, i) => size - 1 - i);
  let entries: [string, LogEntry][] = [];
  try {
    entries = await fetchByIndexes(newest);
  } catch {
    entries = [];
  }
  void (async () => {
    try {
      const t = await trust();
      const { cp, log } = await signedHead(t, info.signedTreeHead);
      const ok = cp.size === info.treeSize && toHex(cp.rootHash) === info.rootHash.toLowerCase();
      verdict.className = `verdict ${ok ? 'ok' : 'bad'}`;
      verdict.dataset.state = ok ? 'verified' : 'not-verified';
      verdict.replaceChildren(mark(ok, `checkpoint signed by ${log.baseUrl}`, 'checkpoint does not match the log info'));
      // What this browser saw last time must be a prefix of what it sees now.
      const prev = JSON.parse(localStorage.getItem(CHECKPOINT_KEY) ?? 'null') as { size: number; root: string } | null;
      if (prev && prev.size >= 1 && prev.size <= cp.size) {
        const r = prev.size === cp.size ? { ok: prev.root === toHex(cp.rootHash), detail: `same size ${cp.size} as on your last visit` } : await consistencyCheck(prev.size, fromHex(prev.root), cp.size, cp.rootHash);
        gossip.replaceChildren(mark(r.ok, 'consistent with your last visit', 'INCONSISTENT with what this browser saw before'), ' ', r.detail);
      } else if (prev && prev.size > cp.size) {
        gossip.replaceChildren(mark(false, '', `the log is smaller (${cp.size}) than on your last visit (${prev.size})`));
      }
      if (ok && (!prev || prev.size <= cp.size)) localStorage.setItem(CHECKPOINT_KEY, JSON.stringify({ size: cp.size, root: toHex(cp.rootHash) }));
    } catch (e) {
      verdict.className = 'verdict bad';
      verdict.dataset.state = 'not-verified';
      verdict.replaceChildren(mark(false, '', 'checkpoint not verified'), ' ', errorBox(e));
    }
  })();
  return [
    head,
    verdict,
    fields([
      ['tree size', h('span', { id: 'tree-size' }, String(info.treeSize))],
      ['root hash', code(info.rootHash)],
      ['tree ID', info.treeID],
    ]),
    h('pre', { id: 'checkpoint' }, info.signedTreeHead),
    gossip,
    form,
    result,
    h('h2', null, 'Entries over time'),
    timeline(entries),
    h('h2', null, 'Newest entries'),
    entryRows(entries.slice(0, 20)),
  ];
}

function windowText(w: { start?: string; end?: string }): string {
  return `${w.start ?? '…'} to ${w.end ?? 'open'}`;
}

export async function trustPage(): Promise<Child> {
  const head = h('h1', null, 'Trust root');
  let t: Trust;
  try {
    t = await trust();
  } catch (e) {
    const pinned = e instanceof Error && e.message.includes('pinned');
    return [
      head,
      h('div', { class: 'verdict bad', id: 'tuf-verdict', data: { state: 'not-verified' } }, mark(false, '', 'the TUF repository did not verify')),
      errorBox(e),
      // A new deployment (or an attack) changed root v1: only the auditor decides to trust the new one.
      pinned
        ? h(
            'button',
            {
              id: 'forget-root',
              type: 'button',
              on: {
                click: () => {
                  localStorage.removeItem(PIN_KEY);
                  location.reload();
                },
              },
            },
            'Forget the pinned root v1 (only after checking the new one with your ceremony record)',
          )
        : null,
    ];
  }
  const now = new Date();
  const logTable = (list: TrustedLog[], cls: string): HTMLElement =>
    table(
      ['base URL', 'key', 'log ID', 'valid', ''],
      list.map((l) => [l.baseUrl, l.keyDetails, code(l.logIdHex), windowText(l.validFor), within(l.validFor, now) ? 'current' : 'not current']),
      cls,
    );
  return [
    head,
    h('div', { class: 'verdict ok', id: 'tuf-verdict', data: { state: 'verified' } }, mark(true, 'TUF chain verified in this browser: root → timestamp → snapshot → targets → trusted_root.json', '')),
    fields([['root v1 SHA-256 (the anchor)', code(t.tuf.anchor)]]),
    t.tuf.warnings.length > 0 ? h('ul', { class: 'warnings', id: 'tuf-warnings' }, t.tuf.warnings.map((w) => h('li', null, w))) : null,
    h('h2', null, 'TUF roles'),
    table(
      ['role', 'version', 'threshold', 'key IDs', 'valid signatures', 'expires'],
      t.tuf.roles.map((r) => [r.role, String(r.version), String(r.threshold), h('span', { class: 'keyids' }, r.keyids.map((k) => h('code', null, k.slice(0, 16)))), String(r.signedBy.length), `${r.expires} (${Date.parse(r.expires) > now.getTime() ? 'in ' : 'EXPIRED '}${duration(Date.parse(r.expires) - now.getTime())}${Date.parse(r.expires) > now.getTime() ? '' : ' ago'})`]),
      'roles',
    ),
    h('h2', null, 'Transparency logs'),
    logTable(t.tlogs, 'tlogs'),
    h('h2', null, 'Certificate transparency logs'),
    logTable(t.ctlogs, 'ctlogs'),
    h('h2', null, 'Certificate and timestamp authorities'),
    table(
      ['kind', 'subject', 'URI', 'valid', 'chain'],
      t.authorities.map((a) => [
        a.kind === 'ca' ? 'CA' : 'TSA',
        a.subject,
        a.uri,
        windowText(a.validFor),
        h(
          'ul',
          null,
          a.chain.map((der) => {
            try {
              const c = parseCertificate(der);
              return h('li', null, `${c.subject} (until ${c.notAfter.toISOString().slice(0, 10)})`);
            } catch {
              return h('li', null, 'undecodable certificate');
            }
          }),
        ),
      ]),
      'authorities',
    ),
  ];
}
