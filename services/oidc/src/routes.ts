/**
 * OpenID Connect discovery (OIDC Discovery 1.0 §3-4), the JWKS (RFC 7517) and an OAuth 2.0
 * client-credentials token endpoint (RFC 6749 §4.4) that returns an ID token.
 */
import express, { Router, type ErrorRequestHandler, type Request } from 'express';
import { isCairnError, type Counter } from '@cairn/shared';
import { clientErrorAnswer } from '@cairn/shared/http';
import { OidcError } from './errors.ts';
import { MAX_CLIENT_ID_LENGTH, MAX_SECRET_LENGTH, type ClientRegistry } from './clients.ts';
import { ID_TOKEN_ALG, type TokenIssuer } from './issuer.ts';

export const MAX_TOKEN_REQUEST_BYTES = 16 * 1024;

export interface OidcRouteOptions {
  issuer: TokenIssuer;
  clients: ClientRegistry;
  /** Audiences any client may request; the first is the default. */
  audiences: string[];
  ttlSeconds: number;
  issued: Counter;
  rejected: Counter;
}

/** OAuth error names (RFC 6749 §5.2) for our codes, so stock OAuth clients understand us too. */
function oauthError(code: string): string {
  switch (code) {
    case 'INVALID_CLIENT':
      return 'invalid_client';
    case 'UNSUPPORTED_GRANT_TYPE':
      return 'unsupported_grant_type';
    case 'INVALID_AUDIENCE':
      return 'invalid_target';
    case 'BODY_TOO_LARGE':
    case 'INVALID_JSON':
    case 'INVALID_REQUEST':
    case 'INVALID_CONTENT_ENCODING':
    case 'UNSUPPORTED_CONTENT_ENCODING':
      return 'invalid_request';
    default:
      return 'server_error';
  }
}

function param(body: Record<string, unknown>, name: string, max: number): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  // A repeated form parameter arrives as an array: RFC 6749 §3.2 forbids repeats.
  if (typeof v !== 'string') throw new OidcError('INVALID_REQUEST', `${name} must be a single string`);
  if (v.length > max) throw new OidcError('INVALID_REQUEST', `${name} is too long`);
  return v;
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function basicCredentials(req: Request): { id: string; secret: string } | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Basic ([A-Za-z0-9+/=]{1,4096})$/.exec(h);
  if (!m) throw new OidcError('INVALID_CLIENT', 'Authorization must be HTTP Basic client credentials');
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) throw new OidcError('INVALID_CLIENT', 'malformed Basic credentials');
  try {
    return { id: decodeURIComponent(text.slice(0, colon).replace(/\+/g, ' ')), secret: decodeURIComponent(text.slice(colon + 1).replace(/\+/g, ' ')) };
  } catch {
    throw new OidcError('INVALID_CLIENT', 'malformed Basic credentials');
  }
}

export function oidcRouter(o: OidcRouteOptions): Router {
  const router = Router();
  const iss = o.issuer.issuer;
  const discovery = {
    issuer: iss,
    jwks_uri: `${iss}/jwks`,
    token_endpoint: `${iss}/token`,
    grant_types_supported: ['client_credentials'],
    response_types_supported: ['id_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [ID_TOKEN_ALG],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'azp', 'email', 'email_verified'],
  };
  router.get('/oidc/.well-known/openid-configuration', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(discovery);
  });
  router.get('/oidc/jwks', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(o.issuer.jwks());
  });

  const form = express.urlencoded({ extended: false, limit: MAX_TOKEN_REQUEST_BYTES, parameterLimit: 32 });
  const json = express.json({ limit: MAX_TOKEN_REQUEST_BYTES, strict: true });
  router.post('/oidc/token', form, json, async (req, res) => {
    const body: unknown = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new OidcError('INVALID_REQUEST', 'the token request must be form-urlencoded or a JSON object');
    }
    const b = body as Record<string, unknown>;
    const grant = param(b, 'grant_type', 64);
    if (grant === undefined) throw new OidcError('INVALID_REQUEST', 'grant_type is required');
    if (grant !== 'client_credentials') throw new OidcError('UNSUPPORTED_GRANT_TYPE', 'only grant_type=client_credentials is supported');
    const basic = basicCredentials(req);
    const bodyId = param(b, 'client_id', MAX_CLIENT_ID_LENGTH);
    const bodySecret = param(b, 'client_secret', MAX_SECRET_LENGTH);
    if (basic !== undefined && bodySecret !== undefined) {
      // RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
      throw new OidcError('INVALID_REQUEST', 'use either HTTP Basic or client_secret, not both');
    }
    const id = basic?.id ?? bodyId;
    const secret = basic?.secret ?? bodySecret;
    if (id === undefined || secret === undefined || id.length > MAX_CLIENT_ID_LENGTH || secret.length > MAX_SECRET_LENGTH) {
      throw new OidcError('INVALID_CLIENT', 'client authentication failed');
    }
    if (basic !== undefined && bodyId !== undefined && bodyId !== basic.id) throw new OidcError('INVALID_REQUEST', 'client_id does not match the Basic credentials');
    const client = o.clients.authenticate(id, secret);
    if (!client) throw new OidcError('INVALID_CLIENT', 'client authentication failed');
    const requested = param(b, 'audience', 256);
    const audience = requested ?? o.audiences[0]!;
    const allowed = client.audiences ?? o.audiences;
    if (!allowed.includes(audience)) throw new OidcError('INVALID_AUDIENCE', 'the requested audience is not allowed for this client');
    const { token, expiresIn } = await o.issuer.mint({ identity: client.identity, audience, ttlSeconds: o.ttlSeconds, clientId: client.clientId });
    o.issued.inc();
    // RFC 6749 §5.1: token responses must not be cached.
    res.set('Cache-Control', 'no-store').set('Pragma', 'no-cache').json({
      access_token: token,
      id_token: token,
      token_type: 'Bearer',
      expires_in: expiresIn,
    });
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, next) => {
    let code: string;
    let status: number;
    let message: string;
    if (isCairnError(err)) {
      code = err.code;
      status = err.status;
      message = err.message;
    } else {
      const client = clientErrorAnswer(err);
      if (client === undefined) return next(err);
      status = client.status;
      message = client.json.message;
      code = client.json.code === 'BAD_REQUEST' ? 'INVALID_REQUEST' : client.json.code;
    }
    o.rejected.inc({ code });
    if (status === 401) res.set('WWW-Authenticate', 'Basic realm="cairn-oidc"');
    res.status(status).set('Cache-Control', 'no-store').json({ code, message, error: oauthError(code), error_description: message });
  };
  router.use('/oidc', onError);
  return router;
}
