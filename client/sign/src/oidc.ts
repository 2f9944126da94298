/**
 * The identity side of keyless signing: reading the (unverified) claims of an OIDC ID token to
 * choose the proof-of-possession subject, and obtaining a token with the OAuth 2.0
 * client-credentials grant (RFC 6749 §4.4) after OpenID Connect discovery (OIDC Discovery §4).
 * The CA verifies the token; the client only needs its claims to know what to sign.
 */
import { isRecord } from '@cairn/shared';
import { MAX_TOKEN_BYTES } from '@cairn/shared/limits';
import { SignError } from './errors.ts';
import { httpRequest, jsonOf, checkServiceUrl, type HttpOptions } from './http.ts';

/** Largest token accepted: the CA's own limit, from `@cairn/shared/limits`. */
export { MAX_TOKEN_BYTES };
export const MAX_SECRET_BYTES = 4 * 1024;
/** Seconds of clock skew tolerated when checking `exp` before asking the CA. */
export const EXP_LEEWAY_SECONDS = 30;

export type TokenClaims = Record<string, unknown>;

const JWT_PART = /^[A-Za-z0-9_-]+$/;

/** Decodes the payload of a compact JWS without verifying it (the CA does that). */
export function decodeTokenClaims(token: string): TokenClaims {
  if (token.length === 0) throw new SignError('TOKEN_MISSING', 'the identity token is empty');
  if (token.length > MAX_TOKEN_BYTES) throw new SignError('TOKEN_INVALID', `the identity token is longer than ${MAX_TOKEN_BYTES} bytes`);
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => JWT_PART.test(p))) {
    throw new SignError('TOKEN_INVALID', 'the identity token is not a compact JWT (three base64url parts)');
  }
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
  } catch {
    throw new SignError('TOKEN_INVALID', 'the identity token payload is not JSON');
  }
  if (!isRecord(claims)) throw new SignError('TOKEN_INVALID', 'the identity token payload is not a JSON object');
  return claims;
}

/**
 * What the proof of possession signs (reference §1.3, sigstore-js `extractJWTSubject`): the
 * `email` claim when present, which then requires `email_verified` true; otherwise `sub`.
 */
export function challengeSubject(claims: TokenClaims): string {
  const email = claims.email;
  if (email !== undefined) {
    if (typeof email !== 'string' || email === '') throw new SignError('TOKEN_INVALID', 'the token email claim is not a non-empty string');
    if (claims.email_verified !== true) throw new SignError('TOKEN_INVALID', 'the token email is not verified by the issuer (email_verified is not true)');
    return email;
  }
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') throw new SignError('TOKEN_INVALID', 'the token has neither an email nor a sub claim');
  return sub;
}

/** Rejects a token whose `exp` has passed: a clearer error than the CA's 401 a round trip later. */
export function checkTokenFresh(claims: TokenClaims, nowSeconds: number): void {
  const exp = claims.exp;
  if (exp === undefined) return;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new SignError('TOKEN_INVALID', 'the token exp claim is not a number');
  if (exp + EXP_LEEWAY_SECONDS < nowSeconds) throw new SignError('TOKEN_EXPIRED', 'the identity token has expired; get a fresh one');
}

export interface ClientCredentials {
  issuer: string;
  clientId: string;
  clientSecret: string;
  audience?: string;
}

/**
 * Discovery (`<issuer>/.well-known/openid-configuration`, whose `issuer` must equal the URL asked
 * for, OIDC Discovery §4.3), then the token endpoint with client_secret_post authentication.
 * Returns the `id_token` (or `access_token` when the issuer returns the JWT there).
 */
export async function clientCredentialsToken(c: ClientCredentials, http: HttpOptions = {}): Promise<string> {
  const issuer = c.issuer.replace(/\/+$/, '');
  checkServiceUrl(issuer, 'OIDC_ERROR', 'OIDC issuer');
  if (c.clientId === '' || c.clientSecret === '') throw new SignError('OIDC_ERROR', 'client id and client secret must be non-empty');
  if (c.clientSecret.length > MAX_SECRET_BYTES) throw new SignError('OIDC_ERROR', 'the client secret is too long');
  const discRes = await httpRequest(
    { method: 'GET', url: `${issuer}/.well-known/openid-configuration`, headers: { Accept: 'application/json' } },
    'OIDC_ERROR',
    'OIDC discovery',
    { maxBytes: 256 * 1024, ...http },
  );
  const disc = jsonOf(discRes, 'OIDC_ERROR', 'OIDC discovery');
  if (!isRecord(disc) || typeof disc.token_endpoint !== 'string') throw new SignError('OIDC_ERROR', 'the discovery document has no token_endpoint');
  if (disc.issuer !== issuer) throw new SignError('OIDC_ERROR', `the discovery document names issuer ${String(disc.issuer)}, not ${issuer}`);
  const tokenUrl = checkServiceUrl(disc.token_endpoint, 'OIDC_ERROR', 'token endpoint');
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: c.clientId, client_secret: c.clientSecret });
  if (c.audience !== undefined) form.set('audience', c.audience);
  const res = await httpRequest(
    {
      method: 'POST',
      url: tokenUrl.href,
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form.toString(),
    },
    'OIDC_ERROR',
    'OIDC token endpoint',
    { maxBytes: 64 * 1024, ...http },
  );
  const body = jsonOf(res, 'OIDC_ERROR', 'OIDC token endpoint');
  if (!isRecord(body)) throw new SignError('OIDC_ERROR', 'the token response is not a JSON object');
  const token = typeof body.id_token === 'string' ? body.id_token : typeof body.access_token === 'string' ? body.access_token : undefined;
  if (token === undefined) throw new SignError('OIDC_ERROR', 'the token response carries no id_token');
  decodeTokenClaims(token);
  return token;
}
