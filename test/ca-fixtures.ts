/**
 * Shared pieces of the CA and OIDC tests: a test OIDC issuer (its own ES256 key, optionally
 * served over HTTP with discovery + JWKS), a stack runner, and raw Fulcio v2 requests.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { loadConfig, type ComponentName } from '@cairn/shared';
import { startStack, type Stack } from '@cairn/host';

export function tempDir(prefix = 'cairn-ca-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A stand-in OIDC provider: signs whatever claims a test wants. */
export class TestIssuer {
  server: Server | undefined;
  url = '';
  jwksFetches = 0;
  private constructor(
    readonly key: KeyObject,
    readonly jwk: JWK,
  ) {}

  static async create(): Promise<TestIssuer> {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = await exportJWK(createPublicKey(privateKey));
    jwk.kid = await calculateJwkThumbprint(jwk);
    jwk.alg = 'ES256';
    return new TestIssuer(privateKey, jwk);
  }

  get kid(): string {
    return this.jwk.kid!;
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.jwk] };
  }

  /** Serves discovery and JWKS on 127.0.0.1:0; the issuer URL is http://127.0.0.1:P/issuer. */
  async serve(): Promise<string> {
    this.server = createServer((req, res) => {
      if (req.url === '/issuer/.well-known/openid-configuration') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: this.url, jwks_uri: `${this.url}/jwks` }));
      } else if (req.url === '/issuer/jwks') {
        this.jwksFetches++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(this.jwks()));
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/issuer`;
    return this.url;
  }

  async close(): Promise<void> {
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
  }

  writeJwksFile(dir: string): string {
    const p = join(dir, `jwks-${this.kid.slice(0, 8)}.json`);
    writeFileSync(p, JSON.stringify(this.jwks()));
    return p;
  }

  /** Signs claims; iss/aud/iat/exp default to a valid token for `issuer`. */
  async token(claims: Record<string, unknown>, o: { issuer?: string; aud?: string; expSecondsFromNow?: number; nbfSecondsFromNow?: number; kid?: string } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    let jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? this.kid })
      .setIssuer(o.issuer ?? this.url)
      .setAudience(o.aud ?? 'sigstore')
      .setIssuedAt(now - 5)
      .setExpirationTime(now + (o.expSecondsFromNow ?? 300));
    if (o.nbfSecondsFromNow !== undefined) jwt = jwt.setNotBefore(now + o.nbfSecondsFromNow);
    return jwt.sign(this.key);
  }
}

export interface CaStackOptions {
  components?: ComponentName[];
  ca?: Record<string, unknown>;
  dev?: boolean;
  dataDir?: string;
}

export async function startCaStack(o: CaStackOptions = {}): Promise<{ stack: Stack; dir: string }> {
  const dir = o.dataDir ?? tempDir();
  const config = loadConfig({ overrides: { port: 0, dataDir: dir, logLevel: 'silent', dev: o.dev ?? true } });
  if (o.ca) config.sections.ca = { ...o.ca };
  const stack = await startStack(config, { components: o.components ?? ['oidc', 'ct', 'ca'] });
  return { stack, dir };
}

export function ecKey(curve: 'P-256' | 'P-384' | 'P-521' = 'P-256'): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: curve }).privateKey;
}

export function publicPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** Proof of possession as sigstore clients make it: the key's default hash over the UTF-8 name. */
export function pop(key: KeyObject, name: string): string {
  const t = key.asymmetricKeyType;
  let hash: string | null = 'sha256';
  if (t === 'ed25519') hash = null;
  else if (t === 'ec') {
    const c = key.asymmetricKeyDetails?.namedCurve;
    hash = c === 'secp384r1' ? 'sha384' : c === 'secp521r1' ? 'sha512' : 'sha256';
  }
  return cryptoSign(hash, Buffer.from(name, 'utf8'), key).toString('base64');
}

export interface CertResponse {
  status: number;
  body: any;
}

export async function requestCert(
  baseUrl: string,
  token: string | undefined,
  key: KeyObject,
  name: string,
  o: { viaHeader?: boolean; proof?: string; content?: string } = {},
): Promise<CertResponse> {
  const body: Record<string, unknown> = {
    publicKeyRequest: { publicKey: { algorithm: 'ECDSA', content: o.content ?? publicPem(key) }, proofOfPossession: o.proof ?? pop(key, name) },
  };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) {
    if (o.viaHeader) headers.authorization = `Bearer ${token}`;
    else body.credentials = { oidcIdentityToken: token };
  }
  return postJson(`${baseUrl}/api/v2/signingCert`, body, headers);
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<CertResponse> {
  const res = await fetch(url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* PEM or empty */
  }
  return { status: res.status, body: parsed };
}

/** CT tree size, to prove a rejected request left no entry. */
export async function ctTreeSize(baseUrl: string): Promise<number> {
  const res = await fetch(`${baseUrl}/ct/v1/get-sth`);
  const j = (await res.json()) as { tree_size: number };
  return j.tree_size;
}
