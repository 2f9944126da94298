/**
 * The Fulcio-compatible CA.
 *
 * Config section `ca`:
 *   issuersFile            Fulcio-format OIDC issuer config (YAML/JSON). Without it the CA trusts
 *                          the built-in issuer `<baseUrl>/oidc`, audience `sigstore`, with type
 *                          `cairn-builtin`: tokens with an email claim (email_verified required)
 *                          get an email SAN, all others need an absolute-URI sub and get a URI SAN.
 *   ctEnabled              true | false; unset = use a CT log if one is available (in-process or ctUrl).
 *   ctUrl                  base URL of an RFC 6962 log (split deployments).
 *   passphraseFile         file holding the CA key passphrase (or env CAIRN_CA_PASSPHRASE).
 *   clockToleranceSeconds  skew tolerated on token exp/nbf/iat (default 10, max 300).
 *   maxTokenLifetimeSeconds  longest token lifetime accepted (exp - iat, or exp - now without iat;
 *                          default 86400, 60-2592000); an issuer's MaxTokenLifetimeSeconds overrides it.
 *   devCurve               p256 | p384: curve of the development CA created on first start (default
 *                          p256: OpenSSL signs P-384 about 40 times slower, see README.md).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { keyPassphrase } from '@cairn/shared/key-files';
import { section, sectionBool, sectionValue, sectionNumber, sectionString, type Peers, type Service, type ServiceFactory } from '@cairn/shared';
import { CaError } from './errors.ts';
import { caFilesExist, initCa, loadCa, INTERMEDIATE_CERT_FILE } from './ca-keys.ts';
import { MAX_TOKEN_LIFETIME_LIMIT_SECONDS, builtinIssuersConfig, loadIssuersFile } from './identity/config.ts';
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, TokenVerifier } from './identity/verifier.ts';
import { CertificateAuthority } from './authority.ts';
import { HttpCtClient, InProcessCtClient, isInProcessLog, type CtClient } from './ct-client.ts';
import { caRouter } from './routes.ts';

export { CaError, type CaErrorCode } from './errors.ts';
export { initCa, loadCa, caFilesExist, ROOT_CERT_FILE, ROOT_KEY_FILE, INTERMEDIATE_CERT_FILE, INTERMEDIATE_KEY_FILE, type CaCurve, type CaInitOptions, type CaInitResult, type LoadedCa } from './ca-keys.ts';
export { rotateIntermediate, RETIRED_DIR, type RotateIntermediateOptions, type RotateIntermediateResult } from './ca-rotate.ts';
export { CertificateAuthority, LEAF_VALIDITY_MS, type Issued } from './authority.ts';
export { HttpCtClient, InProcessCtClient, type CtClient } from './ct-client.ts';
export { TokenVerifier, TOKEN_ALGORITHMS, type VerifiedToken } from './identity/verifier.ts';
export { parseIssuersConfig, loadIssuersFile, builtinIssuersConfig, findIssuer, metaRegex, type IssuersConfig, type IssuerConfig, type IssuerType } from './identity/config.ts';
export { principalFor, type Principal } from './identity/principal.ts';
export { MAX_SIGNING_REQUEST_BYTES } from './routes.ts';

/** The only place the CA reads the environment: the key passphrase. */
function passphrase(file: string | undefined): string | undefined {
  return keyPassphrase(file, process.env.CAIRN_CA_PASSPHRASE, (m) => {
    throw new CaError('INVALID_CONFIG', m);
  });
}

interface OidcPeer {
  issuer: string;
  jwks(): JSONWebKeySet;
}

function oidcPeer(peers: Peers): OidcPeer | undefined {
  const p = peers.oidc as unknown as Partial<OidcPeer> | undefined;
  return p && typeof p.issuer === 'string' && typeof p.jwks === 'function' ? (p as OidcPeer) : undefined;
}

function ctPeer(peers: Peers): unknown {
  const p = peers.ct as unknown as { log?: unknown } | undefined;
  if (isInProcessLog(p)) return p;
  if (p && isInProcessLog(p.log)) return p.log;
  return undefined;
}

function subjectOf(x509Subject: string): { organization: string; commonName: string } {
  const get = (k: string): string => x509Subject.split('\n').find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
  return { organization: get('O'), commonName: get('CN') };
}

export const createService: ServiceFactory = async (ctx, peers) => {
  const cfg = section(ctx.config, 'ca');
  mkdirSync(ctx.dataDir, { recursive: true, mode: 0o700 });
  const pass = passphrase(sectionString(cfg, 'passphraseFile'));
  if (!caFilesExist(ctx.dataDir)) {
    const curve = sectionString(cfg, 'devCurve', 'p256');
    if (curve !== 'p384' && curve !== 'p256') throw new CaError('INVALID_CONFIG', 'ca.devCurve must be p384 or p256');
    await initCa(ctx.dataDir, { curve: curve, passphrase: pass, organization: 'cairn', commonName: 'cairn development CA', clock: ctx.clock });
    ctx.logger.warn('created DEVELOPMENT CA keys; run `cairn ca init` for a production root', { dir: ctx.dataDir });
  } else if (!existsSync(join(ctx.dataDir, INTERMEDIATE_CERT_FILE))) {
    throw new CaError('INVALID_CA_KEYS', `${ctx.dataDir} holds an incomplete CA`);
  }
  const loaded = loadCa(ctx.dataDir, pass);

  // CT: explicit off, explicit URL, in-process peer, or (auto) none.
  const ctSetting = sectionValue(cfg, 'ctEnabled') === undefined || cfg.ctEnabled === '' ? undefined : sectionBool(cfg, 'ctEnabled', true);
  const ctUrl = sectionString(cfg, 'ctUrl');
  let ct: CtClient | undefined;
  if (ctSetting !== false) {
    const local = ctPeer(peers);
    if (ctUrl !== undefined) ct = new HttpCtClient(ctUrl);
    else if (local !== undefined && isInProcessLog(local)) {
      const c = new InProcessCtClient(local);
      c.trustRoot(loaded.rootDer);
      ct = c;
    } else if (ctSetting === true) {
      throw new CaError('INVALID_CONFIG', 'ca.ctEnabled is true but there is no in-process CT log and no ca.ctUrl');
    } else {
      ctx.logger.warn('no CT log: certificates carry no SCT (verifiers with a CT threshold will reject them)');
    }
  }

  const builtinUrl = `${ctx.baseUrl}/oidc`;
  const issuersFile = sectionString(cfg, 'issuersFile');
  const issuers = issuersFile !== undefined ? loadIssuersFile(issuersFile) : builtinIssuersConfig(builtinUrl);
  const localJwks = new Map<string, () => JSONWebKeySet>();
  const oidc = oidcPeer(peers);
  if (oidc) localJwks.set(oidc.issuer, () => oidc.jwks());
  const verifier = new TokenVerifier(issuers, {
    clock: ctx.clock,
    clockToleranceSeconds: sectionNumber(cfg, 'clockToleranceSeconds', 10, 0, 300),
    maxTokenLifetimeSeconds: sectionNumber(cfg, 'maxTokenLifetimeSeconds', DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, 60, MAX_TOKEN_LIFETIME_LIMIT_SECONDS),
    localJwks,
  });

  const authority = new CertificateAuthority(loaded, ctx.clock, ct);
  const router = caRouter({
    ca: authority,
    verifier,
    issuers,
    issued: ctx.metrics.counter('cairn_ca_certificates_issued_total', 'leaf certificates issued, by issuer type'),
    rejected: ctx.metrics.counter('cairn_ca_rejections_total', 'signing-certificate requests rejected, by code'),
  });
  const subject = subjectOf(loaded.root.subject);
  const validFrom = new Date(loaded.intermediate.validFrom).toISOString();
  const validTo = new Date(loaded.intermediate.validTo).toISOString();
  ctx.logger.info('CA ready', { ct: ct === undefined ? 'off' : ctUrl ?? 'in-process', issuers: issuers.issuers.size + issuers.meta.length });

  const svc: Service & { authority: CertificateAuthority } = {
    name: 'ca',
    router,
    authority,
    ready: () => ({ ok: true }),
    trustInfo: () => [
      {
        kind: 'ca',
        uri: ctx.baseUrl,
        subject,
        certChain: [loaded.intermediateDer.toString('base64'), loaded.rootDer.toString('base64')],
        validFrom,
        validTo,
      },
    ],
    close: () => Promise.resolve(),
  };
  return svc;
};
