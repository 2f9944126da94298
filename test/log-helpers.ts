/** Shared helpers for the transparency-log tests: a log on port 0 and Rekor request builders. */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalizeJcs, loadConfig, silentLogger, type TrustInfo } from '@cairn/shared';
import { startStack, type Stack } from '@cairn/host';

export interface LogServer {
  stack: Stack;
  url: string;
  dataDir: string;
  trust: Extract<TrustInfo, { baseUrl: string }>;
  stop(removeData?: boolean): Promise<void>;
}

export async function startLog(
  dataDir = mkdtempSync(join(tmpdir(), 'cairn-log-')),
  overrides: { maxBodyBytes?: number } = {},
  configFile?: string,
  storeUrl?: string,
): Promise<LogServer> {
  const flags = { ...(configFile === undefined ? {} : { config: configFile }), ...(storeUrl === undefined ? {} : { store: storeUrl }) };
  const stack = await startStack(loadConfig({ flags, overrides: { port: 0, dataDir, ...overrides } }), { components: ['log'], logger: silentLogger });
  const trust = ((await (await fetch(`${stack.url}/api/cairn/v1/trust-info`)).json()) as TrustInfo[]).find((t) => t.kind === 'tlog') as LogServer['trust'];
  return {
    stack,
    url: stack.url,
    dataDir,
    trust,
    async stop(removeData = true) {
      await stack.close();
      if (removeData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function keyPair(curve = 'P-256'): { privateKey: KeyObject; publicKey: KeyObject; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
  return { privateKey, publicKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

export function hashedRekord(artifact: Buffer, k = keyPair(), pem = k.pem): { entry: Record<string, unknown>; signature: Buffer; digest: Buffer } {
  const digest = createHash('sha256').update(artifact).digest();
  const signature = sign('sha256', artifact, k.privateKey);
  return {
    digest,
    signature,
    entry: {
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: { data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } }, signature: { content: signature.toString('base64'), publicKey: { content: b64(pem) } } },
    },
  };
}

export function pae(type: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `), payload]);
}

export function dsseEnvelope(payload: Buffer, k = keyPair(), type = 'application/vnd.in-toto+json'): { payload: string; payloadType: string; signatures: { sig: string }[] } {
  return { payload: payload.toString('base64'), payloadType: type, signatures: [{ sig: sign('sha256', pae(type, payload), k.privateKey).toString('base64') }] };
}

/**
 * An intoto 0.0.2 proposal of `payload` as @sigstore/sign builds it: the envelope's payload and
 * signature base64 again inside the entry, the hash over the JCS envelope, the payload's hash.
 */
export function intoto002(payload: Buffer, k = keyPair(), env = dsseEnvelope(payload, k)): Record<string, unknown> {
  const sig = env.signatures[0]!.sig;
  const envHash = createHash('sha256').update(canonicalizeJcs({ payloadType: env.payloadType, payload: env.payload, signatures: [{ sig, publicKey: k.pem }] })).digest('hex');
  return {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType: env.payloadType, payload: b64(env.payload), signatures: [{ sig: b64(sig), publicKey: b64(k.pem) }] },
        hash: { algorithm: 'sha256', value: envHash },
        payloadHash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') },
      },
    },
  };
}

export async function post(url: string, body: unknown): Promise<{ status: number; headers: Headers; json: any }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, headers: r.headers, json };
}

/** A leaf certificate (self-signed by a throwaway CA) with the given SANs, for identity tests. */
export async function certificateFor(k: ReturnType<typeof keyPair>, sans: { type: 'email' | 'url'; value: string }[]): Promise<string> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  const { webcrypto } = await import('node:crypto');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const ca = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const pub = await webcrypto.subtle.importKey('spki', k.publicKey.export({ type: 'spki', format: 'der' }), alg, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a',
    subject: '',
    issuer: 'CN=test ca',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 600_000),
    publicKey: pub,
    signingKey: ca.privateKey,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension(sans, true)],
  });
  return cert.toString('pem') + '\n';
}
