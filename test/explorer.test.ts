/**
 * The explorer in a real browser (issue 19): Debian's Chromium driven by playwright-core against
 * `cairn up` on a loopback port, with entries written by `cairn sign` (the README's Rekor v2 path
 * with a TSA timestamp, and a key), `cairn attest`, the `sigstore` CLI and the sigstore library.
 * Every search kind, the entry page's in-browser verification (and its failure behind a proxy that
 * tampers with the proof), the log and trust pages, entries carrying HTML and script shown as
 * text with no script run, the Content-Security-Policy enforced, and no request leaving the origin.
 * Screenshots of each page go to test-artifacts/explorer/ (CAIRN_TEST_ARTIFACTS overrides).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { cairn, run, ROOT, SIGSTORE_BIN, startCairn, tempDir, type UpProcess } from './helpers/cli.ts';

// Code passed to page.evaluate runs in the browser; these name its globals for the type checker.
declare const document: any;
declare const window: any;
declare const location: any;
declare const localStorage: any;

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SUBJECT = 'https://ci.example.internal/pipelines/42';
const XSS_SUBJECT = 'https://ci.example.internal/"><img/src=x/onerror=window.__xss=1><script>window.__xss=2</script>';
const JS_SUBJECT = 'javascript:window.__xss=3';
const XSS_SUBJECT_NAME = '<script>window.__xss=4</script>';
const XSS_PREDICATE = '"><img src=x onerror="window.__xss=5"> <a href="javascript:window.__xss=6">click</a>';
const EMAIL = 'auditor-test@example.internal';
const SHOTS = process.env.CAIRN_TEST_ARTIFACTS ?? join(ROOT, 'test-artifacts/explorer');

let up: UpProcess;
let dataDir: string;
let work: string;
let browser: Browser;
const proxies: Server[] = [];
let proxyUrl: string;
let statementProxyUrl: string;
const env: Record<string, string> = {};
const signed: { v2Digest: string; keyPem: string; keyDigest: string; attestDigest: string; sigstoreAttest: boolean } = {
  v2Digest: '',
  keyPem: '',
  keyDigest: '',
  attestDigest: '',
  sigstoreAttest: false,
};

function token(o: { subject?: string; email?: string } = { subject: SUBJECT }): string {
  const args = ['token', '--data-dir', dataDir, ...(o.email ? ['--email', o.email] : ['--subject', o.subject ?? SUBJECT])];
  const r = cairn(args);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function sha256File(p: string): string {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

function file(name: string, content: string): string {
  const p = join(work, name);
  writeFileSync(p, content);
  return p;
}

function sign(args: string[]): void {
  const r = cairn(['sign', ...args, '--url', up.url], { env });
  assert.equal(r.status, 0, r.stderr + r.stdout);
}

/**
 * A proxy in front of cairn that corrupts what it passes on: every inclusion proof (one hex digit
 * of the root), or every stored statement (its predicate replaced).
 */
function startTamperingProxy(target: string, what: 'proof' | 'statement'): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) headers[k] = v;
        const r = await fetch(target + req.url, { method: req.method, headers, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined, redirect: 'manual' });
        let body = Buffer.from(await r.arrayBuffer());
        if (req.url?.startsWith('/api/v1/log/entries')) {
          const text = body.toString('utf8');
          body = Buffer.from(
            what === 'proof'
              ? text.replace(/"rootHash":"([0-9a-f]{63})([0-9a-f])"/g, (_m, head: string, last: string) => `"rootHash":"${head}${last === '0' ? '1' : '0'}"`)
              : text.replace(/"attestation":\{"data":"([A-Za-z0-9+/=]+)"/g, (_m, data: string) => {
                  const st = JSON.parse(Buffer.from(data, 'base64').toString('utf8'));
                  st.predicate = { note: 'swapped on the way' };
                  return `"attestation":{"data":"${Buffer.from(JSON.stringify(st)).toString('base64')}"`;
                }),
          );
        }
        const out: Record<string, string> = {};
        r.headers.forEach((v, k) => {
          if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
        });
        res.writeHead(r.status, out).end(body);
      })().catch((e: unknown) => res.writeHead(502).end(String(e)));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (the explorer tests drive a real browser)`);
  assert.ok(existsSync(join(ROOT, 'client/explorer/dist/app.js')), 'the explorer is not built: npm run build');
  mkdirSync(SHOTS, { recursive: true });
  dataDir = tempDir('cairn-ui-data-');
  work = tempDir('cairn-ui-work-');
  env.CAIRN_TRUST_CACHE = join(work, 'trust');
  up = await startCairn(['up', '--port', '0', '--data-dir', dataDir]);
  // The README's path: trust init, then cairn sign writes Rekor v2 with an RFC 3161 timestamp.
  const init = cairn(['trust', 'init', '--mirror', `${up.url}/tuf`, '--root', join(dataDir, 'tuf/repository/1.root.json')], { env });
  assert.equal(init.status, 0, init.stderr);
  const artifact = file('artifact.txt', 'hello from the explorer test\n');
  sign([artifact, '--bundle', join(work, 'a.json'), '--identity-token', token()]);
  signed.v2Digest = sha256File(artifact);
  const v2 = JSON.parse(readFileSync(join(work, 'a.json'), 'utf8'));
  assert.equal(v2.verificationMaterial.tlogEntries[0].kindVersion.version, '0.0.2', 'the README path writes a Rekor v2 entry');

  // A key-signed entry (found by its public key).
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = file('key.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  signed.keyPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const keyed = file('keyed.txt', 'signed with a key\n');
  sign([keyed, '--key', keyFile, '--bundle', join(work, 'k.json')]);
  signed.keyDigest = sha256File(keyed);

  // An email identity, and identities holding markup and a javascript: URI.
  sign([file('mail.txt', 'mail\n'), '--bundle', join(work, 'm.json'), '--identity-token', token({ email: EMAIL })]);
  sign([file('x1.txt', 'x1\n'), '--bundle', join(work, 'x1.json'), '--identity-token', token({ subject: XSS_SUBJECT })]);
  sign([file('x2.txt', 'x2\n'), '--bundle', join(work, 'x2.json'), '--identity-token', token({ subject: JS_SUBJECT })]);

  // cairn attest (dsse 0.0.1 through Rekor v1) of a statement whose subject name and predicate hold markup.
  const subjectFile = file('attested.bin', 'attested artifact\n');
  signed.attestDigest = sha256File(subjectFile);
  const statement = file(
    'statement.json',
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: XSS_SUBJECT_NAME, digest: { sha256: signed.attestDigest } }],
      predicateType: 'https://example.internal/xss-test/v1',
      predicate: { note: XSS_PREDICATE, url: 'javascript:window.__xss=7' },
    }),
  );
  const at = cairn(['attest', '--statement', statement, '--bundle', join(work, 'att.json'), '--url', up.url, '--rekor-version', '1', '--no-tsa', '--identity-token', token()], { env });
  assert.equal(at.status, 0, at.stderr + at.stdout);

  // sigstore-js: the sigstore CLI attests (intoto 0.0.2), the library signs (hashedrekord 0.0.1).
  const home = tempDir('cairn-ui-home-');
  const sa = run(SIGSTORE_BIN, ['attest', join(ROOT, 'test/vectors/conformance/statement.json'), '--fulcio-url', up.url, '--rekor-url', up.url, '-o', join(work, 'sa.json')], {
    env: { CI: 'true', SIGSTORE_ID_TOKEN: token(), HOME: home, XDG_DATA_HOME: join(home, 'data'), XDG_CACHE_HOME: join(home, 'cache') },
  });
  assert.equal(sa.status, 0, sa.stderr + sa.stdout);
  const sigstore = await import('sigstore');
  const idToken = token();
  await sigstore.sign(Buffer.from('hello from the sigstore library\n'), { fulcioURL: up.url, rekorURL: up.url, identityProvider: { getToken: () => Promise.resolve(idToken) } });

  for (const [what, set] of [
    ['proof', (u: string) => (proxyUrl = u)],
    ['statement', (u: string) => (statementProxyUrl = u)],
  ] as const) {
    const p = await startTamperingProxy(up.url, what);
    proxies.push(p.server);
    set(p.url);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  for (const p of proxies) await new Promise<void>((r) => p.close(() => r()));
  await up?.stop();
});

interface Visit {
  page: Page;
  context: BrowserContext;
  requests: string[];
  errors: string[];
  dialogs: string[];
}

async function open(base: string, hash: string): Promise<Visit> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const v: Visit = { page, context, requests: [], errors: [], dialogs: [] };
  page.on('request', (r) => v.requests.push(r.url()));
  page.on('pageerror', (e) => v.errors.push(e.message));
  page.on('dialog', (d) => {
    v.dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(`${base}/ui/${hash}`);
  await page.waitForSelector('body[data-state=ready]');
  return v;
}

async function shot(v: Visit, name: string): Promise<void> {
  await v.page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function search(v: Visit, query: string): Promise<void> {
  await v.page.fill('#q', query);
  await v.page.click('#search-form button');
  await v.page.waitForFunction((q) => document.body.dataset.state === 'ready' && decodeURIComponent(location.hash).includes(q.slice(0, 20)), query);
  await v.page.waitForSelector('body[data-state=ready]');
}

async function verdictOf(page: Page, selector = '#verdict'): Promise<string> {
  await page.waitForSelector(`${selector}:not([data-state=pending])`, { timeout: 20_000 });
  return (await page.getAttribute(selector, 'data-state')) ?? '';
}

test('GET / redirects to the explorer, served with a strict CSP that the browser enforces', async () => {
  const r = await fetch(`${up.url}/`, { redirect: 'manual' });
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), '/ui/');
  const ui = await fetch(`${up.url}/ui/`);
  const csp = ui.headers.get('content-security-policy') ?? '';
  for (const d of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]) assert.ok(csp.includes(d), `CSP has ${d}: ${csp}`);
  assert.ok(!csp.includes('unsafe'), 'no unsafe-* source');
  assert.equal(ui.headers.get('x-content-type-options'), 'nosniff');
  assert.equal((await fetch(`${up.url}/ui/nope.js`)).status, 404);
  const v = await open(up.url, '');
  // The policy is in force: an inline script added to the page does not run, markup sinks are refused (Trusted Types).
  const blocked = await v.page.evaluate(async () => {
    const violations: string[] = [];
    document.addEventListener('securitypolicyviolation', (e: { violatedDirective: string }) => violations.push(e.violatedDirective));
    const s = document.createElement('script');
    try {
      s.src = 'data:text/javascript,window.__inline=1';
    } catch {
      // Trusted Types refuse a string script URL outright
    }
    document.head.appendChild(s);
    let trustedTypes = false;
    try {
      document.createElement('div').innerHTML = '<b>x</b>';
    } catch {
      trustedTypes = true;
    }
    await new Promise((r) => setTimeout(r, 300));
    return { ran: (window as unknown as { __inline?: number }).__inline ?? null, trustedTypes, violated: violations.length > 0 };
  });
  assert.deepEqual(blocked, { ran: null, trustedTypes: true, violated: true });
  await shot(v, 'search-empty');
  await v.context.close();
});

test('search by URI identity finds the README example entry; its page verifies the inclusion proof in the browser', async () => {
  const v = await open(up.url, '');
  await search(v, SUBJECT);
  const count = await v.page.textContent('#result-count');
  assert.match(count ?? '', /^\d+ results? \(subject search\)/);
  const rows = await v.page.$$eval('table.results tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
  assert.ok(rows.some((r) => r.includes('hashedrekord 0.0.2') && r.includes(SUBJECT)), `a v2 hashedrekord row for the identity: ${rows.join(' | ')}`);
  await shot(v, 'search-results');
  // Open the v2 entry of the README's artifact.
  const link = v.page.locator('table.results tbody tr', { hasText: 'hashedrekord 0.0.2' }).filter({ hasText: signed.v2Digest.slice(0, 20) }).locator('td:first-child a');
  await link.click();
  await v.page.waitForSelector('#verdict');
  assert.equal(await verdictOf(v.page), 'verified');
  const checks = await v.page.$$eval('#checks li', (lis) => lis.map((li) => li.textContent ?? ''));
  for (const c of ['log in the trust root', 'entry UUID is the leaf hash', 'inclusion proof (RFC 6962)', 'checkpoint signed by the log']) {
    assert.ok(checks.some((x) => x.startsWith(`\u2713 ${c}`)), `check "${c}" passed: ${checks.join(' | ')}`);
  }
  assert.equal(await v.page.textContent('#identity'), SUBJECT);
  assert.equal(await v.page.textContent('#digest'), `sha256:${signed.v2Digest}`);
  assert.equal(await v.page.textContent('#oidc-issuer'), `${up.url}/oidc`);
  const ext = await v.page.$$eval('table.extensions tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
  assert.ok(ext.some((e) => e.startsWith('Fulcio issuer1.3.6.1.4.1.57264.1.8')), `the Fulcio issuer extension by name: ${ext.join(' | ')}`);
  assert.ok(ext.some((e) => e.startsWith('extKeyUsage') && e.includes('codeSigning')));
  assert.match((await v.page.textContent('#certificate')) ?? '', /inside the validity window/);
  await shot(v, 'entry');
  assert.deepEqual(v.errors, []);
  await v.context.close();
});

test('search by digest, email, public key, log index and entry UUID', async () => {
  const v = await open(up.url, '');
  await search(v, `sha256:${signed.v2Digest}`);
  assert.match((await v.page.textContent('#result-count')) ?? '', /^1 result \(hash search\)/);

  await search(v, EMAIL);
  assert.match((await v.page.textContent('#result-count')) ?? '', /^1 result \(email search\)/);
  assert.ok(((await v.page.textContent('table.results')) ?? '').includes(EMAIL));

  await search(v, signed.keyPem);
  assert.match((await v.page.textContent('#result-count')) ?? '', /^1 result \(publicKey search\)/);
  assert.ok(((await v.page.textContent('table.results')) ?? '').includes(signed.keyDigest.slice(0, 20)));

  // A log index and a UUID open the entry itself.
  await search(v, '0');
  await v.page.waitForSelector('#verdict');
  assert.equal(await v.page.textContent('h1'), 'Entry 0');
  const uuid = (await v.page.textContent('dl.fields dd:nth-of-type(3)'))!.trim();
  assert.match(uuid, /^[0-9a-f]{80}$/);
  await v.page.goto(`${up.url}/ui/`);
  await v.page.waitForSelector('body[data-state=ready]');
  await search(v, uuid);
  await v.page.waitForSelector('#verdict');
  assert.equal(await v.page.textContent('h1'), 'Entry 0');
  assert.equal(await verdictOf(v.page), 'verified');

  // Nothing found and unsearchable input say so.
  await search(v, `sha256:${'0'.repeat(64)}`);
  assert.ok(await v.page.$('#no-results'));
  await search(v, 'two words');
  assert.equal(await v.page.getAttribute('p.error', 'data-code'), 'ERROR');
  assert.match((await v.page.textContent('p.error')) ?? '', /no spaces/);
  await v.context.close();
});

test('entries written by cairn attest, the sigstore CLI and the sigstore library verify in the browser', async () => {
  const v = await open(up.url, '#/log');
  // The newest entries: every one of them verifies.
  const links = await v.page.$$eval('table.results tbody tr td:first-child a', (as) => as.map((a) => a.getAttribute('href')!));
  assert.ok(links.length >= 8, `the log page lists the newest entries (${links.length})`);
  const kinds = new Set<string>();
  for (const href of links) {
    await v.page.goto(`${up.url}/ui/${href}`);
    await v.page.waitForSelector('body[data-state=ready]');
    assert.equal(await verdictOf(v.page), 'verified', `entry ${href}`);
    kinds.add(((await v.page.textContent('dl.fields dd:nth-of-type(1)')) ?? '').trim());
  }
  for (const k of ['hashedrekord 0.0.2', 'hashedrekord 0.0.1', 'dsse 0.0.1', 'intoto 0.0.2']) assert.ok(kinds.has(k), `an entry of kind ${k} among ${[...kinds].join(', ')}`);
  await v.context.close();
});

test('a tampered inclusion proof or stored statement shows "not verified"', async () => {
  const v = await open(proxyUrl, '');
  await search(v, SUBJECT);
  await v.page.locator('table.results tbody tr td:first-child a').first().click();
  await v.page.waitForSelector('#verdict');
  assert.equal(await verdictOf(v.page), 'not-verified');
  const failed = await v.page.$$eval('#checks li.bad', (lis) => lis.map((li) => li.textContent ?? ''));
  assert.ok(failed.some((f) => f.includes('inclusion proof')), `the inclusion proof check failed: ${failed.join(' | ')}`);
  assert.match((await v.page.textContent('#verdict')) ?? '', /not verified/);
  await shot(v, 'entry-tampered');
  await v.context.close();
  // A stored statement changed on the way is caught by its hash (the proof itself is intact).
  const w = await open(statementProxyUrl, `#/search/${signed.attestDigest}`);
  await w.page.locator('table.results tbody tr td:first-child a').first().click();
  await w.page.waitForSelector('#statement');
  assert.match((await w.page.textContent('#predicate')) ?? '', /swapped on the way/);
  assert.equal(await verdictOf(w.page), 'not-verified');
  const bad = await w.page.$$eval('#checks li.bad', (lis) => lis.map((li) => li.textContent ?? ''));
  assert.equal(bad.length, 1, bad.join(' | '));
  assert.ok(bad[0]!.startsWith('\u2717 stored statement is the logged payload'), bad[0]);
  await w.context.close();
});

test('markup and javascript: URLs in identities, subject names and predicates show as text and run nothing', async () => {
  const v = await open(up.url, '');
  await search(v, XSS_SUBJECT);
  assert.ok(((await v.page.textContent('table.results')) ?? '').includes(XSS_SUBJECT), 'the identity is shown literally in the results');
  await v.page.locator('table.results tbody tr td:first-child a').first().click();
  await v.page.waitForSelector('#verdict');
  assert.equal(await v.page.textContent('#identity'), XSS_SUBJECT);
  await shot(v, 'entry-markup-identity');

  await search(v, JS_SUBJECT);
  const idLink = v.page.locator('table.results tbody tr td:nth-child(3) a').first();
  assert.equal(await idLink.textContent(), JS_SUBJECT);
  assert.match((await idLink.getAttribute('href')) ?? '', /^#\/identity\/javascript%3A/, 'links stay inside the app');
  await idLink.click();
  await v.page.waitForSelector('#identity-summary');
  assert.match((await v.page.textContent('#identity-summary')) ?? '', /entries1first seen/);

  await search(v, signed.attestDigest);
  await v.page.locator('table.results tbody tr td:first-child a').first().click();
  await v.page.waitForSelector('#statement');
  assert.equal(await v.page.textContent('.subject-name'), XSS_SUBJECT_NAME);
  assert.equal(await v.page.textContent('#predicate-type'), 'https://example.internal/xss-test/v1');
  const predicate = (await v.page.textContent('#predicate')) ?? '';
  assert.ok(predicate.includes(JSON.stringify(XSS_PREDICATE).slice(1, -1)), `the predicate is pretty-printed JSON text: ${predicate}`);
  assert.equal(await verdictOf(v.page), 'verified');
  assert.ok(((await v.page.textContent('#checks')) ?? '').includes('\u2713 stored statement is the logged payload'));
  await shot(v, 'entry-statement');

  const state = await v.page.evaluate(() => ({
    xss: (window as unknown as { __xss?: unknown }).__xss ?? null,
    injected: document.querySelectorAll('main img, main script, main iframe, main [onerror]').length,
    hrefs: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')!).filter((h) => !h.startsWith('#/')),
  }));
  assert.deepEqual(state, { xss: null, injected: 0, hrefs: [] });
  assert.deepEqual(v.dialogs, []);
  await v.context.close();
});

test('the log page verifies the checkpoint and a consistency proof in the browser', async () => {
  const v = await open(up.url, '#/log');
  assert.equal(await verdictOf(v.page, '#checkpoint-verdict'), 'verified');
  const size = Number(await v.page.textContent('#tree-size'));
  assert.ok(size >= 8);
  assert.ok(await v.page.$('#timeline svg rect'));
  await v.page.fill('#first-size', '3');
  await v.page.fill('#second-size', String(size));
  await v.page.click('#consistency-form button');
  await v.page.waitForSelector('#consistency-result[data-state]');
  assert.equal(await v.page.getAttribute('#consistency-result', 'data-state'), 'consistent');
  await shot(v, 'log');
  // A second visit checks the log against the checkpoint this browser kept from the first.
  await v.page.reload();
  await v.page.waitForSelector('body[data-state=ready]');
  assert.equal(await verdictOf(v.page, '#checkpoint-verdict'), 'verified');
  await v.page.waitForFunction(() => (document.getElementById('since-last-visit')?.textContent ?? '') !== '');
  assert.match((await v.page.textContent('#since-last-visit')) ?? '', /consistent with your last visit/);
  // Sizes out of range are refused in the page, with nothing fetched.
  await v.page.fill('#first-size', String(size + 5));
  await v.page.click('#consistency-form button');
  await v.page.waitForSelector('#consistency-result[data-state=error]');
  await v.context.close();
});

test('the trust page shows the TUF roles and trusted_root.json, verified in the browser', async () => {
  const v = await open(up.url, '#/trust');
  assert.equal(await v.page.getAttribute('#tuf-verdict', 'data-state'), 'verified');
  const roles = await v.page.$$eval('table.roles tbody tr', (trs) => trs.map((tr) => tr.firstChild?.textContent ?? ''));
  assert.deepEqual(roles, ['root', 'timestamp', 'snapshot', 'targets']);
  assert.ok(((await v.page.textContent('table.tlogs')) ?? '').includes(up.url));
  const auth = (await v.page.textContent('table.authorities')) ?? '';
  assert.ok(auth.includes('CA') && auth.includes('TSA'), 'CAs and TSAs listed');
  assert.match((await v.page.textContent('#tuf-warnings')) ?? '', /pinned in this browser/);
  await shot(v, 'trust');
  // Another root v1 than the one this browser pinned: refused, until the auditor forgets the pin.
  await v.page.evaluate(() => localStorage.setItem('cairn.tuf.root1.sha256', '0'.repeat(64)));
  await v.page.reload();
  await v.page.waitForSelector('body[data-state=ready]');
  assert.equal(await v.page.getAttribute('#tuf-verdict', 'data-state'), 'not-verified');
  assert.match((await v.page.textContent('main')) ?? '', /is not the one this browser pinned/);
  await v.page.click('#forget-root');
  await v.page.waitForSelector('#tuf-verdict[data-state=verified]');
  await v.context.close();
});

test('no request leaves the Cairn origin', async () => {
  const v = await open(up.url, '#/log');
  await verdictOf(v.page, '#checkpoint-verdict');
  await v.page.goto(`${up.url}/ui/#/trust`);
  await v.page.waitForSelector('#tuf-verdict');
  await v.page.goto(`${up.url}/ui/#/search/${encodeURIComponent(SUBJECT)}`);
  await v.page.waitForSelector('#result-count');
  const outside = v.requests.filter((u) => !u.startsWith(`${up.url}/`));
  assert.deepEqual(outside, []);
  assert.ok(v.requests.some((u) => u.startsWith(`${up.url}/tuf/`)), 'the trust root came from this server');
  await v.context.close();
});

test('the explorer answers UI_NOT_BUILT when its files are missing, and can be turned off', async () => {
  const { explorerRouter } = await import('@cairn/explorer/serve');
  const express = (await import('express')).default;
  const app = express();
  app.use(explorerRouter(join(work, 'no-such-dist')));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const r = await fetch(`${base}/ui/`);
  assert.equal(r.status, 503);
  assert.equal(((await r.json()) as { code: string }).code, 'UI_NOT_BUILT');
  await new Promise((r2) => server.close(r2));
  const off = await startCairn(['serve', 'log', '--port', '0', '--data-dir', tempDir('cairn-ui-off-'), '--set', 'ui.enabled=false']);
  try {
    assert.equal((await fetch(`${off.url}/ui/`)).status, 404);
  } finally {
    await off.stop();
  }
  const on = await startCairn(['serve', 'log', '--port', '0', '--data-dir', tempDir('cairn-ui-log-')]);
  try {
    assert.equal((await fetch(`${on.url}/ui/`)).status, 200, 'cairn serve log serves the explorer');
  } finally {
    await on.stop();
  }
});
