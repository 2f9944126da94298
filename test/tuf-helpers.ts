/** Shared fixtures for the test/tuf-*.test.ts suites: trust info, the ceremony via the CLI, mirrors. */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createPublicKey, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { generateKey, sha256, type TrustInfo } from '@cairn/shared';
import { main } from '@cairn/cli';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function cli(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t), env, cwd: process.cwd() });
  return { code, out, err };
}

/** The `[CODE]` a failed CLI command printed (the stable code, not the message). */
export function errorCode(r: CliResult): string | undefined {
  return /error \[([A-Z0-9_]+)\]/.exec(r.err)?.[1];
}

function logInfo(kind: 'tlog' | 'ctlog', baseUrl: string): TrustInfo {
  const spki = createPublicKey(generateKey('ecdsa-p256')).export({ type: 'spki', format: 'der' });
  return {
    kind,
    baseUrl,
    publicKey: spki.toString('base64'),
    keyDetails: 'PKIX_ECDSA_P256_SHA_256',
    logId: sha256(spki).toString('base64'),
    validFrom: '2026-01-01T00:00:00Z',
  };
}

/** Trust info as a Cairn stack would serve it: a log, a CT log, a CA with a real self-signed root. */
export async function makeTrustInfos(baseUrl = 'http://127.0.0.1:3000'): Promise<TrustInfo[]> {
  x509.cryptoProvider.set(webcrypto as never);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=cairn test root, O=cairn',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2036-01-01T00:00:00Z'),
    keys: keys as never,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  return [
    logInfo('ctlog', `${baseUrl}/ct`),
    logInfo('tlog', baseUrl),
    {
      kind: 'ca',
      uri: baseUrl,
      subject: { organization: 'cairn', commonName: 'cairn test root' },
      certChain: [Buffer.from(cert.rawData).toString('base64')],
      validFrom: '2026-01-01T00:00:00Z',
    },
    { kind: 'oidc', issuer: `${baseUrl}/oidc` },
  ];
}

export interface Ceremony {
  repo: string;
  keys: string;
  /** published 1.root.json: what clients are seeded with */
  root: string;
  trustInfoFile: string;
}

export async function must(p: Promise<CliResult>): Promise<CliResult> {
  const r = await p;
  if (r.code !== 0) throw new Error(`cli failed (${r.code}): ${r.err}`);
  return r;
}

/**
 * The threshold ceremony through the CLI: three keyholders (separate key files), root and targets
 * threshold 2, trust material staged, two keyholders sign, publish.
 */
export async function runCeremony(repo: string, keys: string, infos: TrustInfo[], extra: string[] = []): Promise<Ceremony> {
  await must(cli(['tuf', 'init', '--dir', repo, '--generate-keys', '3', '--keys-out', keys, '--root-threshold', '2', ...extra]));
  const trustInfoFile = join(keys, 'trust-info.json');
  writeFileSync(trustInfoFile, JSON.stringify(infos));
  await must(cli(['trust', 'build', '--trust-info', trustInfoFile, '--dir', repo]));
  await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, 'keyholder-1.pem')]));
  await must(cli(['tuf', 'sign', '--dir', repo, '--key', join(keys, 'keyholder-2.pem')]));
  await must(cli(['tuf', 'publish', '--dir', repo]));
  return { repo, keys, root: join(repo, 'repository', '1.root.json'), trustInfoFile };
}

/** A dumb mirror serving a directory at /tuf/ (the attacker-controlled mirror of the attack tests). */
export async function staticMirror(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    if (!path.startsWith('/tuf/')) {
      res.writeHead(404).end();
      return;
    }
    const rel = normalize(path.slice('/tuf/'.length));
    const file = join(dir, rel);
    if (rel.startsWith('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/tuf`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export function freshDir(base: string, name: string): string {
  const d = join(base, name);
  mkdirSync(d, { recursive: true });
  return d;
}
