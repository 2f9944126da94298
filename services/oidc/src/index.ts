/**
 * The built-in OpenID Connect issuer for networks that have none. Issuer URL `<baseUrl>/oidc`.
 *
 * Config section `oidc`: clientsFile (workload clients, see clients.ts), audiences (comma list,
 * default "sigstore"; the first is the default audience), tokenTtlSeconds (<= 600).
 * In development mode (`dev: true`) a development client `cairn-dev` exists; its credentials are
 * in `<dataDir>/dev-client.json` (0600) and `cairn token` may mint tokens from the state directory.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import {
  isRecord,
  section,
  sectionNumber,
  sectionString,
  type Service,
  type ServiceFactory,
} from '@cairn/shared';
import { writeSecretFile } from '@cairn/shared/key-files';
import { OidcError } from './errors.ts';
import { ClientRegistry, loadClientsFile, secretFromPlain, type Client } from './clients.ts';
import {
  DEFAULT_AUDIENCE,
  DEV_CLIENT_FILE,
  DEV_CLIENT_ID,
  MAX_TOKEN_TTL_SECONDS,
  TokenIssuer,
  devSubject,
  loadOrCreateIssuerKey,
  writeMode,
} from './issuer.ts';
import { oidcRouter } from './routes.ts';

export { OidcError, type OidcErrorCode } from './errors.ts';
export {
  TokenIssuer,
  mintDevToken,
  readMode,
  devSubject,
  DEV_CLIENT_ID,
  DEV_CLIENT_FILE,
  DEFAULT_AUDIENCE,
  MAX_TOKEN_TTL_SECONDS,
  type DevTokenOptions,
  type IssuerMode,
  type MintRequest,
} from './issuer.ts';
export { hashSecret, parseClientsFile, type Client, type ClientIdentity } from './clients.ts';

/** What the CA finds in `peers.oidc` to verify our tokens without an HTTP round trip. */
export interface OidcService extends Service {
  readonly issuer: string;
  jwks(): { keys: JWK[] };
}

interface DevClientFile {
  client_id: string;
  client_secret: string;
  issuer: string;
  token_endpoint: string;
  sub: string;
}

function loadOrCreateDevClient(dataDir: string, issuer: string): Client {
  const path = join(dataDir, DEV_CLIENT_FILE);
  let secret: string | undefined;
  if (existsSync(path)) {
    try {
      const doc = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      if (isRecord(doc) && typeof doc.client_secret === 'string' && doc.client_secret.length >= 32) secret = doc.client_secret;
    } catch {
      secret = undefined;
    }
  }
  secret ??= randomBytes(32).toString('base64url');
  const sub = devSubject(issuer);
  // Rewritten on each start: the issuer URL may change with the port.
  const file: DevClientFile = { client_id: DEV_CLIENT_ID, client_secret: secret, issuer, token_endpoint: `${issuer}/token`, sub };
  writeSecretFile(path, JSON.stringify(file, null, 2) + '\n');
  return { clientId: DEV_CLIENT_ID, secret: secretFromPlain(secret), identity: { sub }, audiences: undefined };
}

export const createService: ServiceFactory = async (ctx) => {
  const cfg = section(ctx.config, 'oidc');
  const issuerUrl = `${ctx.baseUrl}/oidc`;
  mkdirSync(ctx.dataDir, { recursive: true, mode: 0o700 });
  const { key, created } = loadOrCreateIssuerKey(ctx.dataDir);
  const issuer = await TokenIssuer.create(issuerUrl, key, ctx.clock);
  if (created) ctx.logger.info('created OIDC issuer signing key', { kid: issuer.kid });

  const audiences = sectionString(cfg, 'audiences', DEFAULT_AUDIENCE)
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (audiences.length === 0) throw new OidcError('INVALID_CLIENTS_FILE', 'oidc.audiences must name at least one audience');
  const ttlSeconds = sectionNumber(cfg, 'tokenTtlSeconds', MAX_TOKEN_TTL_SECONDS, 1, MAX_TOKEN_TTL_SECONDS);
  const clientsFile = sectionString(cfg, 'clientsFile');
  const registry = new ClientRegistry(clientsFile !== undefined ? loadClientsFile(clientsFile) : []);

  const dev = ctx.config.dev === true;
  if (dev) {
    if (registry.has(DEV_CLIENT_ID)) {
      throw new OidcError('INVALID_CLIENTS_FILE', `client_id ${DEV_CLIENT_ID} is reserved for development mode`);
    }
    registry.add(loadOrCreateDevClient(ctx.dataDir, issuerUrl));
    ctx.logger.warn('OIDC issuer in development mode: cairn token mints tokens for anyone with the state directory', {
      devClientFile: join(ctx.dataDir, DEV_CLIENT_FILE),
    });
  } else {
    // Production mode: the development client is refused, and its plaintext secret must not
    // stay on disk either (a later start in development mode makes a new one).
    const devFile = join(ctx.dataDir, DEV_CLIENT_FILE);
    if (existsSync(devFile)) {
      rmSync(devFile, { force: true });
      ctx.logger.warn('development mode is off: removed the development client and its secret', { code: 'DEV_CLIENT_REMOVED', devClientFile: devFile });
    }
  }
  // Persist the mode so `cairn token` can refuse when the issuer is not in development mode.
  writeMode(ctx.dataDir, { dev, issuer: issuerUrl });

  const router = oidcRouter({
    issuer,
    clients: registry,
    audiences,
    ttlSeconds,
    issued: ctx.metrics.counter('cairn_oidc_tokens_issued_total', 'ID tokens issued by the built-in OIDC issuer'),
    rejected: ctx.metrics.counter('cairn_oidc_token_rejections_total', 'token requests rejected, by code'),
  });

  const svc: OidcService = {
    name: 'oidc',
    router,
    issuer: issuerUrl,
    jwks: () => issuer.jwks(),
    ready: () => ({ ok: true }),
    trustInfo: () => [{ kind: 'oidc', issuer: issuerUrl }],
    close: () => Promise.resolve(),
  };
  return svc;
};
