/**
 * Token minting for the built-in issuer: ES256 JWTs (RFC 7519) signed with the issuer's P-256
 * key, `kid` = RFC 7638 JWK thumbprint, lifetime capped at ten minutes. Used by the token
 * endpoint and, in development mode only, by `cairn token` directly from the state directory.
 */
import { randomBytes, type KeyObject, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import { isRecord, privateKeyFromPem, type Clock } from '@cairn/shared';
import { writeSecretFile, loadOrCreatePrivateKey } from '@cairn/shared/key-files';
import { OidcError } from './errors.ts';
import { isAbsoluteUri, isEmail, type ClientIdentity } from './clients.ts';

export const SIGNING_KEY_FILE = 'signing-key.pem';
export const MODE_FILE = 'mode.json';
export const DEV_CLIENT_FILE = 'dev-client.json';
export const DEV_CLIENT_ID = 'cairn-dev';
/** Upper bound on token lifetime (the brief: tokens live at most 10 minutes). */
export const MAX_TOKEN_TTL_SECONDS = 600;
export const DEFAULT_AUDIENCE = 'sigstore';
export const ID_TOKEN_ALG = 'ES256';

export interface MintRequest {
  identity: ClientIdentity;
  audience: string;
  ttlSeconds?: number;
  /** The OAuth client the token was issued to (`azp`). */
  clientId?: string;
}

export class TokenIssuer {
  private constructor(
    readonly issuer: string,
    private readonly key: KeyObject,
    readonly publicJwk: JWK,
    private readonly clock: Clock,
  ) {}

  static async create(issuer: string, key: KeyObject, clock: Clock): Promise<TokenIssuer> {
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new OidcError('NOT_INITIALIZED', 'the OIDC signing key must be ECDSA P-256');
    }
    const jwk = await exportJWK(createPublicKey(key));
    const kid = await calculateJwkThumbprint(jwk, 'sha256');
    return new TokenIssuer(issuer, key, { ...jwk, kid, alg: ID_TOKEN_ALG, use: 'sig' }, clock);
  }

  get kid(): string {
    return this.publicJwk.kid!;
  }

  jwks(): { keys: JWK[] } {
    return { keys: [{ ...this.publicJwk }] };
  }

  async mint(req: MintRequest): Promise<{ token: string; expiresIn: number }> {
    const ttl = req.ttlSeconds ?? MAX_TOKEN_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS) {
      throw new OidcError('INVALID_REQUEST', `token lifetime must be 1-${MAX_TOKEN_TTL_SECONDS} seconds`);
    }
    const { identity } = req;
    if (identity.email === undefined && !isAbsoluteUri(identity.sub)) {
      throw new OidcError('INVALID_CLAIMS', 'a token without email needs a URI subject');
    }
    if (identity.email !== undefined && !isEmail(identity.email)) throw new OidcError('INVALID_CLAIMS', 'email is not an email address');
    const now = Math.floor(this.clock.now().getTime() / 1000);
    const claims: Record<string, unknown> = {};
    // sigstore clients sign the email when present and the sub otherwise (Fulcio §1.3); URI
    // subjects therefore carry no email claim at all.
    if (identity.email !== undefined) {
      claims.email = identity.email;
      claims.email_verified = identity.emailVerified === true;
    }
    if (req.clientId !== undefined) claims.azp = req.clientId;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: ID_TOKEN_ALG, kid: this.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(identity.sub)
      .setAudience(req.audience)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttl)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(this.key);
    return { token, expiresIn: ttl };
  }
}

/** What the issuer persists about how it was started; `cairn token` trusts only this. */
export interface IssuerMode {
  dev: boolean;
  issuer: string;
}

export function writeMode(dataDir: string, mode: IssuerMode): void {
  // Not secret, but written atomically so a reader never sees half a file.
  writeSecretFile(join(dataDir, MODE_FILE), JSON.stringify(mode, null, 2) + '\n');
}

export function readMode(dataDir: string): IssuerMode {
  const path = join(dataDir, MODE_FILE);
  if (!existsSync(path)) throw new OidcError('NOT_INITIALIZED', `no OIDC issuer state in ${dataDir} (start the stack once first)`);
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch {
    throw new OidcError('NOT_INITIALIZED', `${path} is not valid JSON`);
  }
  if (!isRecord(doc) || typeof doc.dev !== 'boolean' || typeof doc.issuer !== 'string') {
    throw new OidcError('NOT_INITIALIZED', `${path} is malformed`);
  }
  return { dev: doc.dev, issuer: doc.issuer };
}

export function loadOrCreateIssuerKey(dataDir: string): { key: KeyObject; created: boolean } {
  return loadOrCreatePrivateKey(join(dataDir, SIGNING_KEY_FILE), 'ecdsa-p256');
}

export interface DevTokenOptions {
  subject?: string;
  email?: string;
  audience?: string;
  ttlSeconds?: number;
}

/** The default subject of development tokens: a URI under the issuer. */
export function devSubject(issuer: string): string {
  return `${issuer}/clients/${DEV_CLIENT_ID}`;
}

/**
 * Mints a development token from an issuer state directory (`<data-dir>/oidc`), signing locally
 * with the issuer key. Refuses unless the issuer was last started in development mode.
 */
export async function mintDevToken(oidcDir: string, options: DevTokenOptions, clock: Clock): Promise<string> {
  const mode = readMode(oidcDir);
  if (!mode.dev) {
    throw new OidcError('DEV_MODE_OFF', 'the OIDC issuer was not started in development mode; development tokens are refused');
  }
  const keyPath = join(oidcDir, SIGNING_KEY_FILE);
  if (!existsSync(keyPath)) throw new OidcError('NOT_INITIALIZED', `no issuer key in ${oidcDir}`);
  const key = privateKeyFromPem(readFileSync(keyPath, 'utf8'));
  const issuer = await TokenIssuer.create(mode.issuer, key, clock);
  if (options.subject !== undefined && options.email === undefined && !isAbsoluteUri(options.subject)) {
    throw new OidcError('INVALID_CLAIMS', '--subject must be an absolute URI (use --email for email identities)');
  }
  if (options.email !== undefined && !isEmail(options.email)) throw new OidcError('INVALID_CLAIMS', '--email is not an email address');
  const identity: ClientIdentity =
    options.email !== undefined
      ? { sub: options.subject ?? options.email, email: options.email, emailVerified: true }
      : { sub: options.subject ?? devSubject(mode.issuer) };
  const { token } = await issuer.mint({
    identity,
    audience: options.audience ?? DEFAULT_AUDIENCE,
    ttlSeconds: options.ttlSeconds ?? MAX_TOKEN_TTL_SECONDS,
    clientId: DEV_CLIENT_ID,
  });
  return token;
}
