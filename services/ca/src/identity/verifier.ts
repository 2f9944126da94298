/**
 * OIDC identity-token verification (Fulcio pkg/identity/authorize.go, go-oidc semantics) with
 * jose: explicit asymmetric algorithm allow-list (never HS*, never none), exact issuer, the
 * issuer's ClientID as audience, exp/nbf with a small clock tolerance.
 *
 * Key sources, per issuer: the in-process built-in issuer's JWKS; a static JWKS file; or OIDC
 * discovery + remote JWKS (jose caches keys and refetches on an unknown `kid` at most once per
 * cooldown, which bounds what a token with a made-up `kid` can make us fetch).
 */
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { isRecord, type Clock } from '@cairn/shared';
import { fetchCapped } from '@cairn/shared/fetch';
import { MAX_TOKEN_BYTES } from '@cairn/shared/limits';
import { CaError } from '../errors.ts';
import { findIssuer, type IssuerConfig, type IssuersConfig } from './config.ts';

/** Asymmetric JWS algorithms accepted on identity tokens (RFC 7518 §3.1, RFC 8037). */
export const TOKEN_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export { MAX_TOKEN_BYTES };
const MAX_DISCOVERY_BYTES = 256 * 1024;
const MAX_JWKS_FILE_BYTES = 256 * 1024;
const MAX_CACHED_ISSUERS = 1000;
/** How long a failed discovery is remembered before the next attempt. */
export const DISCOVERY_RETRY_MS = 5000;
/** Default longest token lifetime: a day (Sigstore's providers issue minutes). */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 86_400;
const TOKEN_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface TokenVerifierOptions {
  clock: Clock;
  /** Seconds of clock skew tolerated on exp/nbf/iat. */
  clockToleranceSeconds: number;
  /** Longest accepted token lifetime (exp - iat, or exp - now without iat); an issuer's MaxTokenLifetimeSeconds overrides it. Default 24 h. */
  maxTokenLifetimeSeconds?: number;
  /** In-process key sets by issuer URL (the built-in issuer). */
  localJwks?: Map<string, () => JSONWebKeySet>;
  fetchTimeoutMs?: number;
  /** Minimum time between JWKS refetches triggered by an unknown kid. */
  jwksCooldownMs?: number;
}

export interface VerifiedToken {
  claims: JWTPayload & Record<string, unknown>;
  issuer: IssuerConfig;
}

export class TokenVerifier {
  private readonly keySets = new Map<string, JWTVerifyGetKey>();
  private readonly pending = new Map<string, Promise<JWTVerifyGetKey>>();
  /** When discovery last failed per issuer: failures are remembered briefly so a dead issuer
   * does not turn every request into an outbound fetch. */
  private readonly failedAt = new Map<string, number>();

  constructor(
    private readonly config: IssuersConfig,
    private readonly o: TokenVerifierOptions,
  ) {}

  async verify(token: string): Promise<VerifiedToken> {
    if (token.length > MAX_TOKEN_BYTES || !TOKEN_RE.test(token)) throw new CaError('MALFORMED_TOKEN', 'the identity token is not a compact JWS');
    let alg: unknown;
    let payload: JWTPayload;
    try {
      alg = decodeProtectedHeader(token).alg;
      payload = decodeJwt(token);
    } catch (e) {
      throw new CaError('MALFORMED_TOKEN', 'the identity token cannot be decoded', { cause: e });
    }
    if (typeof alg !== 'string' || !(TOKEN_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new CaError('TOKEN_ALG_NOT_ALLOWED', `token algorithm ${String(alg)} is not allowed`);
    }
    const iss = payload.iss;
    if (typeof iss !== 'string' || iss === '') throw new CaError('MALFORMED_TOKEN', 'the identity token has no issuer');
    const issuer = findIssuer(this.config, iss);
    if (!issuer) throw new CaError('UNKNOWN_ISSUER', 'the token issuer is not configured on this CA');
    const keys = await this.keySetFor(issuer);
    try {
      const { payload: claims } = await jwtVerify(token, keys, {
        algorithms: [...TOKEN_ALGORITHMS],
        issuer: iss,
        audience: issuer.clientId,
        clockTolerance: this.o.clockToleranceSeconds,
        currentDate: this.o.clock.now(),
        requiredClaims: ['exp', 'iss', 'aud'],
      });
      this.checkTimeBounds(claims, issuer);
      return { claims: claims, issuer };
    } catch (e) {
      throw mapJoseError(e);
    }
  }

  /**
   * Bounds jose leaves open: a token issued in the future (iat > now + tolerance) and a token
   * that lives longer than the configured maximum (exp - iat; exp - now when there is no iat).
   * Sigstore's providers issue tokens for minutes; a stolen long-lived token would be a
   * certificate factory.
   */
  private checkTimeBounds(claims: JWTPayload, issuer: IssuerConfig): void {
    const now = Math.floor(this.o.clock.now().getTime() / 1000);
    const tolerance = this.o.clockToleranceSeconds;
    const max = issuer.maxTokenLifetimeSeconds ?? this.o.maxTokenLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
    const exp = claims.exp!;
    if (claims.iat !== undefined) {
      if (claims.iat > now + tolerance) throw new CaError('TOKEN_ISSUED_IN_FUTURE', `the identity token was issued ${claims.iat - now} s in the future (tolerance ${tolerance} s)`);
      if (exp - claims.iat > max) throw new CaError('TOKEN_LIFETIME_TOO_LONG', `the identity token lives ${exp - claims.iat} s (exp - iat); at most ${max} s are accepted`);
    } else if (exp - now > max) {
      throw new CaError('TOKEN_LIFETIME_TOO_LONG', `the identity token has no iat and expires in ${exp - now} s; at most ${max} s are accepted`);
    }
  }

  private keySetFor(cfg: IssuerConfig): Promise<JWTVerifyGetKey> {
    const known = this.keySets.get(cfg.issuerUrl);
    if (known) return Promise.resolve(known);
    const failed = this.failedAt.get(cfg.issuerUrl);
    if (failed !== undefined && this.o.clock.now().getTime() - failed < DISCOVERY_RETRY_MS) {
      return Promise.reject(new CaError('ISSUER_UNREACHABLE', 'the issuer was unreachable moments ago; retry later'));
    }
    let p = this.pending.get(cfg.issuerUrl);
    if (!p) {
      p = this.createKeySet(cfg).then(
        (ks) => {
          if (this.keySets.size >= MAX_CACHED_ISSUERS) this.keySets.delete(this.keySets.keys().next().value!);
          this.keySets.set(cfg.issuerUrl, ks);
          this.pending.delete(cfg.issuerUrl);
          return ks;
        },
        (e: unknown) => {
          this.pending.delete(cfg.issuerUrl);
          if (this.failedAt.size >= MAX_CACHED_ISSUERS) this.failedAt.clear();
          this.failedAt.set(cfg.issuerUrl, this.o.clock.now().getTime());
          throw e;
        },
      );
      this.pending.set(cfg.issuerUrl, p);
    }
    return p;
  }

  private async createKeySet(cfg: IssuerConfig): Promise<JWTVerifyGetKey> {
    const local = this.o.localJwks?.get(cfg.issuerUrl);
    if (local) return createLocalJWKSet(local());
    if (cfg.jwksFile !== undefined) return createLocalJWKSet(readJwksFile(cfg.jwksFile));
    const jwksUri = await this.discover(cfg.issuerUrl);
    return createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: this.o.fetchTimeoutMs ?? 5000,
      cooldownDuration: this.o.jwksCooldownMs ?? 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  }

  /** OIDC Discovery 1.0 §4: fetch the provider metadata; its issuer must equal the iss. */
  private async discover(iss: string): Promise<string> {
    const url = `${iss.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    let doc: unknown;
    try {
      const res = await fetchCapped(url, { maxBytes: MAX_DISCOVERY_BYTES, timeoutMs: this.o.fetchTimeoutMs ?? 5000 });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = JSON.parse(res.body.toString('utf8')) as unknown;
    } catch (e) {
      throw new CaError('ISSUER_UNREACHABLE', 'cannot fetch the issuer OIDC discovery document', { cause: e });
    }
    if (!isRecord(doc) || doc.issuer !== iss || typeof doc.jwks_uri !== 'string') {
      throw new CaError('ISSUER_UNREACHABLE', 'the issuer discovery document is malformed or names another issuer');
    }
    try {
      const u = new URL(doc.jwks_uri);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('scheme');
    } catch {
      throw new CaError('ISSUER_UNREACHABLE', 'the issuer jwks_uri is not an http(s) URL');
    }
    return doc.jwks_uri;
  }
}

export function readJwksFile(path: string): JSONWebKeySet {
  let doc: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    if (text.length > MAX_JWKS_FILE_BYTES) throw new Error('too large');
    doc = JSON.parse(text) as unknown;
  } catch (e) {
    throw new CaError('INVALID_CONFIG', `cannot read JWKS file ${path}`, { cause: e });
  }
  if (!isRecord(doc) || !Array.isArray(doc.keys)) throw new CaError('INVALID_CONFIG', `${path} is not a JWKS`);
  return doc as unknown as JSONWebKeySet;
}

function mapJoseError(e: unknown): CaError {
  if (e instanceof CaError) return e;
  if (e instanceof joseErrors.JWTExpired) return new CaError('TOKEN_EXPIRED', 'the identity token has expired', { cause: e });
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'aud':
        return new CaError('TOKEN_WRONG_AUDIENCE', 'the identity token audience is not this CA', { cause: e });
      case 'nbf':
        return new CaError('TOKEN_NOT_YET_VALID', 'the identity token is not valid yet', { cause: e });
      case 'iat':
        return new CaError('TOKEN_NOT_YET_VALID', 'the identity token was issued in the future', { cause: e });
      default:
        return new CaError('TOKEN_INVALID_CLAIMS', `the identity token claim ${e.claim} is invalid`, { cause: e });
    }
  }
  if (e instanceof joseErrors.JWKSNoMatchingKey) return new CaError('TOKEN_UNKNOWN_KID', 'no key of the issuer matches the token kid', { cause: e });
  if (e instanceof joseErrors.JWKSMultipleMatchingKeys) return new CaError('TOKEN_UNKNOWN_KID', 'the token names no single issuer key', { cause: e });
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return new CaError('TOKEN_BAD_SIGNATURE', 'the identity token signature does not verify', { cause: e });
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return new CaError('TOKEN_ALG_NOT_ALLOWED', 'the token algorithm is not allowed', { cause: e });
  if (e instanceof joseErrors.JWKSTimeout) return new CaError('ISSUER_UNREACHABLE', 'the issuer JWKS did not answer in time', { cause: e });
  if (e instanceof joseErrors.JOSEError && (e.code === 'ERR_JOSE_GENERIC' || e.code === 'ERR_JWKS_INVALID')) {
    return new CaError('ISSUER_UNREACHABLE', 'cannot fetch the issuer JWKS', { cause: e });
  }
  return new CaError('MALFORMED_TOKEN', 'the identity token is invalid', { cause: e });
}
