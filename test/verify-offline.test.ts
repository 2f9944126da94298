/**
 * The verify path is offline by construction: its module graph imports nothing that can reach
 * the network, and verification succeeds with `fetch` replaced by a function that throws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { REPO, HAPPY_CASES, loadCase } from './verify-fixtures.ts';

const NETWORK_MODULES = new Set([
  'http',
  'https',
  'http2',
  'net',
  'tls',
  'dns',
  'dgram',
  'undici',
  'node-fetch',
  'axios',
  'make-fetch-happen',
].flatMap((m) => [m, `node:${m}`, `${m}/promises`, `node:${m}/promises`]));

const IMPORT_RE = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Workspace packages by name: their folder and exports map (the one way packages reach each other). */
const WORKSPACES = new Map<string, { dir: string; exports: Record<string, string> }>();
for (const dir of ['shared', ...['client', 'services'].flatMap((top) => readdirSync(join(REPO, top)).map((d) => join(top, d)))]) {
  const pj = join(REPO, dir, 'package.json');
  if (!existsSync(pj)) continue;
  const m = JSON.parse(readFileSync(pj, 'utf8')) as { name: string; exports: Record<string, string> };
  WORKSPACES.set(m.name, { dir: join(REPO, dir), exports: m.exports });
}

function resolveSpecifier(from: string, spec: string): string | undefined {
  if (spec.startsWith('.')) return resolve(dirname(from), spec);
  const m = /^(@cairn\/[^/]+)(?:\/(.+))?$/.exec(spec);
  const ws = m ? WORKSPACES.get(m[1]!) : undefined;
  if (ws) {
    const target = ws.exports[m![2] ? `./${m![2]}` : '.'];
    return target ? join(ws.dir, target) : undefined;
  }
  return undefined; // a package or builtin: judged by name
}

/** Every module reachable by static or dynamic import from `entry`, with the bare specifiers seen. */
function importGraph(entry: string): { files: string[]; bare: Set<string> } {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const stack = [entry];
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      const target = resolveSpecifier(f, spec);
      if (target) {
        assert.ok(existsSync(target), `${f} imports missing ${spec}`);
        stack.push(target);
      } else {
        bare.add(spec);
      }
    }
  }
  return { files: [...seen], bare };
}

test('the verify module graph imports no network module and calls no fetch', () => {
  const { files, bare } = importGraph(join(REPO, 'client', 'verify', 'src', 'index.ts'));
  assert.ok(files.length >= 10, `expected the whole verify graph, got ${files.length} files`);
  assert.ok(files.some((f) => f.endsWith('shared/src/merkle.ts')) && files.some((f) => f.endsWith('shared/src/checkpoint.ts')));
  for (const b of bare) assert.ok(!NETWORK_MODULES.has(b), `the verify graph imports ${b}`);
  for (const f of files) {
    const src = readFileSync(f, 'utf8');
    assert.doesNotMatch(src, /\bfetch\s*\(/, `${f} calls fetch`);
    assert.doesNotMatch(src, /\bXMLHttpRequest\b|\bWebSocket\b/, `${f} uses a network API`);
    if (!f.endsWith('.test.ts')) assert.doesNotMatch(src, /\b(?:writeFileSync|writeSync|appendFileSync|mkdirSync|renameSync|rmSync|createWriteStream|writeAtomic)\b/, `${f} writes files`);
  }
});

test('the graph walker itself sees a network import when there is one', () => {
  // Guard against a walker that never finds anything: the stack runner does import node:http.
  const { bare } = importGraph(join(REPO, 'services', 'host', 'src', 'stack.ts'));
  assert.ok([...bare].some((b) => NETWORK_MODULES.has(b)), 'expected stack.ts to import a network module');
});

test('verification passes with fetch replaced by a throwing function', async () => {
  const original = globalThis.fetch;
  let calls = 0;
  globalThis.fetch = (() => {
    calls++;
    throw new Error('network access during verification');
  });
  try {
    const { verify, parseTrustedRoot } = await import('@cairn/verify');
    for (const name of HAPPY_CASES) {
      const c = loadCase(name);
      const policy = c.keyPem ? { publicKey: c.keyPem } : { identity: c.identity, issuer: c.issuer };
      verify(c.bundle, c.artifact, policy, parseTrustedRoot(c.trust));
    }
    assert.equal(calls, 0);
  } finally {
    globalThis.fetch = original;
  }
});

test('--offline makes any fetch fail with NETWORK_FORBIDDEN until the command ends', async () => {
  const original = globalThis.fetch;
  const { forbidNetwork } = await import('@cairn/verify');
  const restore = forbidNetwork();
  try {
    await assert.rejects(() => fetch('http://127.0.0.1:9/'), (e: unknown) => (e as { code?: string }).code === 'NETWORK_FORBIDDEN');
  } finally {
    restore();
  }
  assert.equal(globalThis.fetch, original);
});

test('cairn verify --offline: fetch fails with NETWORK_FORBIDDEN during the whole run', async () => {
  // The command blocks fetch while it runs: prove it by observing fetch from inside the run.
  const { main } = await import('@cairn/cli');
  const c = loadCase('happy-path-v0.3');
  let seen: unknown;
  let socket: unknown;
  let lookup: unknown;
  const io = {
    stdout: () => {
      seen = globalThis.fetch('http://127.0.0.1:9/').catch((e: unknown) => (e as { code?: string }).code);
      try {
        net.connect(9, '127.0.0.1');
      } catch (e) {
        socket = (e as { code?: string }).code;
      }
      try {
        dns.lookup('example.com', () => undefined);
      } catch (e) {
        lookup = (e as { code?: string }).code;
      }
    },
    stderr: () => undefined,
    env: {},
    cwd: process.cwd(),
  };
  const code = await main(
    ['verify', c.artifactPath, '--bundle', join(REPO, 'test', 'vectors', 'conformance', 'bundle-verify', c.name, 'bundle.sigstore.json'), '--certificate-identity', c.identity, '--certificate-oidc-issuer', c.issuer, '--trusted-root', join(REPO, 'test', 'vectors', 'conformance', 'production_trusted_root.json'), '--offline'],
    io,
  );
  assert.equal(code, 0);
  assert.equal(await seen, 'NETWORK_FORBIDDEN');
  assert.equal(socket, 'NETWORK_FORBIDDEN');
  assert.equal(lookup, 'NETWORK_FORBIDDEN');
  // Restored after the command: a socket can connect again (to a local server).
  const server = net.createServer((c) => c.end()).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve, reject) => net.connect(port, '127.0.0.1', resolve).once('error', reject));
  server.close();
});
