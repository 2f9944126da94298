/**
 * OIDC issuer configuration in Fulcio's format (pkg/config/config.go): `OIDCIssuers` /
 * `oidc-issuers`, `MetaIssuers` / `meta-issuers`, `CIIssuerMetadata` / `ci-issuer-metadata`,
 * with per-issuer `IssuerURL`, `ClientID`, `Type`, `CIProvider`, `SubjectDomain`,
 * `SPIFFETrustDomain`, `ChallengeClaim`, `SkipEmailVerification`, `IssuerClaim` (either spelling).
 *
 * Cairn additions: `JWKSFile` / `jwks-file` (a static JWKS for issuers the CA cannot reach) and
 * the issuer type `cairn-builtin` (the default for the built-in issuer): a token with an `email`
 * claim is an email identity (needs `email_verified`), any other token needs an absolute-URI `sub`
 * and becomes a URI identity.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isRecord, parseYaml } from '@cairn/shared';
import { compileRegExp } from '@cairn/shared/pattern';
import { CaError } from '../errors.ts';
import { fieldForKey, type ExtensionField } from '../profile/extensions.ts';

export const MAX_ISSUERS_FILE_BYTES = 1024 * 1024;
export const MAX_ISSUERS = 1000;
const MAX_TEMPLATE_LENGTH = 1024;

export const ISSUER_TYPES = [
  'email',
  'uri',
  'spiffe',
  'kubernetes',
  'github-workflow',
  'gitlab-pipeline',
  'ci-provider',
  'username',
  'cairn-builtin',
] as const;
export type IssuerType = (typeof ISSUER_TYPES)[number];

export interface IssuerConfig {
  issuerUrl: string;
  clientId: string;
  type: IssuerType;
  ciProvider?: string;
  subjectDomain?: string;
  spiffeTrustDomain?: string;
  challengeClaim?: string;
  skipEmailVerification: boolean;
  issuerClaim?: string;
  jwksFile?: string;
  description?: string;
  /** Cairn extension: the longest token lifetime accepted from this issuer (overrides ca.maxTokenLifetimeSeconds). */
  maxTokenLifetimeSeconds?: number;
}

/** Upper bound of any configured token lifetime: 30 days. */
export const MAX_TOKEN_LIFETIME_LIMIT_SECONDS = 30 * 86_400;

/** A template compiled at load: literal text and `{{ .claim }}` references, nothing else. */
export type Template = readonly ({ text: string } | { claim: string })[];

export interface CiProviderMetadata {
  defaults: Record<string, string>;
  extensions: Map<ExtensionField, Template>;
  san: Template;
}

/** A compiled meta-issuer pattern (RE2: linear in the issuer URL). */
export interface MetaPattern {
  test(s: string): boolean;
}

export interface MetaIssuer {
  pattern: string;
  regex: MetaPattern;
  config: IssuerConfig;
}

export interface IssuersConfig {
  issuers: Map<string, IssuerConfig>;
  meta: MetaIssuer[];
  ciMetadata: Map<string, CiProviderMetadata>;
}

function bad(message: string): never {
  throw new CaError('INVALID_CONFIG', message);
}

/** Reads `obj[a] ?? obj[b]` (Go JSON name or YAML name). */
function pick(obj: Record<string, unknown>, ...names: string[]): unknown {
  for (const n of names) if (obj[n] !== undefined) return obj[n];
  return undefined;
}

function optString(obj: Record<string, unknown>, where: string, ...names: string[]): string | undefined {
  const v = pick(obj, ...names);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') bad(`${where}: ${names[0]} must be a string`);
  return v;
}

const ISSUER_KEYS = new Map<string, string>(
  [
    ['IssuerURL', 'issuer-url'],
    ['ClientID', 'client-id'],
    ['Type', 'type'],
    ['CIProvider', 'ci-provider'],
    ['SubjectDomain', 'subject-domain'],
    ['SPIFFETrustDomain', 'spiffe-trust-domain'],
    ['ChallengeClaim', 'challenge-claim'],
    ['SkipEmailVerification', 'skip-email-verification'],
    ['IssuerClaim', 'issuer-claim'],
    ['JWKSFile', 'jwks-file'],
    ['Description', 'description'],
    ['MaxTokenLifetimeSeconds', 'max-token-lifetime-seconds'],
    ['Contact', 'contact'],
  ].flatMap(([a, b]) => [
    [a!, a!],
    [b!, a!],
  ]),
);

function parseUrl(s: string, where: string): URL {
  try {
    return new URL(s);
  } catch {
    return bad(`${where}: ${s} is not a URL`);
  }
}

/** Top two DNS labels, as Fulcio compares issuer and subject domains. */
function topTwo(host: string): string {
  return host.split('.').slice(-2).join('.');
}

function parseIssuer(raw: unknown, key: string, baseDir: string, meta: boolean): IssuerConfig {
  const where = `issuer ${key}`;
  if (!isRecord(raw)) bad(`${where} must be a mapping`);
  for (const k of Object.keys(raw)) if (!ISSUER_KEYS.has(k)) bad(`${where}: unknown key ${k}`);
  const type = optString(raw, where, 'Type', 'type');
  if (type === undefined || !(ISSUER_TYPES as readonly string[]).includes(type)) bad(`${where}: Type must be one of ${ISSUER_TYPES.join(', ')}`);
  const issuerUrl = optString(raw, where, 'IssuerURL', 'issuer-url') ?? key;
  if (!meta) {
    if (issuerUrl !== key) bad(`${where}: IssuerURL must equal its key`);
    parseUrl(issuerUrl, where);
  }
  const clientId = optString(raw, where, 'ClientID', 'client-id');
  if (clientId === undefined) bad(`${where}: ClientID is required`);
  const skip = pick(raw, 'SkipEmailVerification', 'skip-email-verification');
  if (skip !== undefined && typeof skip !== 'boolean') bad(`${where}: SkipEmailVerification must be true or false`);
  const cfg: IssuerConfig = { issuerUrl, clientId, type: type as IssuerType, skipEmailVerification: skip === true };
  const set = (field: keyof IssuerConfig, ...names: string[]): void => {
    const v = optString(raw, where, ...names);
    if (v !== undefined) (cfg as unknown as Record<string, unknown>)[field] = v;
  };
  set('ciProvider', 'CIProvider', 'ci-provider');
  set('subjectDomain', 'SubjectDomain', 'subject-domain');
  set('spiffeTrustDomain', 'SPIFFETrustDomain', 'spiffe-trust-domain');
  set('challengeClaim', 'ChallengeClaim', 'challenge-claim');
  set('issuerClaim', 'IssuerClaim', 'issuer-claim');
  set('description', 'Description', 'description');
  const jwks = optString(raw, where, 'JWKSFile', 'jwks-file');
  if (jwks !== undefined) cfg.jwksFile = resolve(baseDir, jwks);
  const lifetime = pick(raw, 'MaxTokenLifetimeSeconds', 'max-token-lifetime-seconds');
  if (lifetime !== undefined) {
    if (typeof lifetime !== 'number' || !Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_TOKEN_LIFETIME_LIMIT_SECONDS) {
      bad(`${where}: MaxTokenLifetimeSeconds must be an integer 1-${MAX_TOKEN_LIFETIME_LIMIT_SECONDS}`);
    }
    cfg.maxTokenLifetimeSeconds = lifetime;
  }

  // Fulcio validateConfig rules.
  if (cfg.type === 'spiffe') {
    if (meta) bad(`${where}: SPIFFE issuers cannot be meta issuers`);
    if (cfg.spiffeTrustDomain === undefined) bad(`${where}: SPIFFETrustDomain is required for spiffe issuers`);
  }
  if (cfg.type === 'uri') {
    if (cfg.subjectDomain === undefined) bad(`${where}: SubjectDomain is required for uri issuers`);
    const sd = parseUrl(cfg.subjectDomain, where);
    if (!meta) {
      const iu = parseUrl(issuerUrl, where);
      if (sd.protocol !== iu.protocol || topTwo(sd.hostname) !== topTwo(iu.hostname)) {
        bad(`${where}: SubjectDomain must share scheme and top two labels with the issuer`);
      }
    }
  }
  if (cfg.type === 'username') {
    if (cfg.subjectDomain === undefined || cfg.subjectDomain.includes('://')) bad(`${where}: username issuers need a SubjectDomain without scheme`);
    if (!meta && topTwo(cfg.subjectDomain) !== topTwo(parseUrl(issuerUrl, where).hostname)) {
      bad(`${where}: SubjectDomain must share the top two labels with the issuer host`);
    }
  }
  if (cfg.type === 'ci-provider' && cfg.ciProvider === undefined) bad(`${where}: ci-provider issuers need CIProvider`);
  if (cfg.issuerClaim !== undefined && cfg.type !== 'email') bad(`${where}: IssuerClaim is only for email issuers`);
  return cfg;
}

/**
 * Fulcio MetaRegex: every `*` becomes `[-_a-zA-Z0-9]+`, everything else is matched literally,
 * anchored. The pattern comes from the operator's config file, but the issuer URL it is matched
 * against comes from a token: RE2 (@cairn/shared/pattern), since `*-*-*` over a backtracking
 * engine is polynomial in the URL.
 */
export function metaRegex(pattern: string): MetaPattern {
  const quoted = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[-_a-zA-Z0-9]+');
  try {
    const test = compileRegExp(quoted, `meta issuer ${pattern}`, { anchored: true });
    return { test };
  } catch (e) {
    return bad(`meta issuer ${pattern}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Compiles `{{ .claim }}` templates; a bare claim name means "copy that claim". */
export function compileTemplate(t: string, where: string): Template {
  if (t.length > MAX_TEMPLATE_LENGTH) bad(`${where}: template too long`);
  if (!t.includes('{{')) {
    if (!/^[A-Za-z0-9_.-]+$/.test(t)) bad(`${where}: a bare template must be a claim name`);
    return [{ claim: t }];
  }
  const out: ({ text: string } | { claim: string })[] = [];
  let rest = t;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      if (rest.includes('}}')) bad(`${where}: unbalanced }}`);
      out.push({ text: rest });
      break;
    }
    if (open > 0) {
      const text = rest.slice(0, open);
      if (text.includes('}}')) bad(`${where}: unbalanced }}`);
      out.push({ text });
    }
    const close = rest.indexOf('}}', open);
    if (close < 0) bad(`${where}: unterminated {{`);
    const m = /^\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(rest.slice(open + 2, close));
    if (!m) bad(`${where}: only {{ .claim }} references are supported in templates`);
    out.push({ claim: m[1]! });
    rest = rest.slice(close + 2);
  }
  return out;
}

function stringMap(raw: unknown, where: string): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) bad(`${where} must be a mapping`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') bad(`${where}.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

function parseCiMetadata(raw: unknown, name: string): CiProviderMetadata {
  const where = `CIIssuerMetadata ${name}`;
  if (!isRecord(raw)) bad(`${where} must be a mapping`);
  const known = ['DefaultTemplateValues', 'default-template-values', 'ExtensionTemplates', 'extension-templates', 'SubjectAlternativeNameTemplate', 'subject-alternative-name-template'];
  for (const k of Object.keys(raw)) if (!known.includes(k)) bad(`${where}: unknown key ${k}`);
  const defaults = stringMap(pick(raw, 'DefaultTemplateValues', 'default-template-values'), `${where}.default-template-values`);
  const templates = stringMap(pick(raw, 'ExtensionTemplates', 'extension-templates'), `${where}.extension-templates`);
  const extensions = new Map<ExtensionField, Template>();
  for (const [k, v] of Object.entries(templates)) {
    const field = fieldForKey(k);
    if (field === undefined) bad(`${where}: unknown extension ${k}`);
    // Fulcio forces the issuer to the token's iss and 1.24 to its sub.
    if (field === 'issuer' || field === 'tokenSubject') continue;
    extensions.set(field, compileTemplate(v, `${where}.${k}`));
  }
  const san = optString(raw, where, 'SubjectAlternativeNameTemplate', 'subject-alternative-name-template');
  if (san === undefined) bad(`${where}: SubjectAlternativeNameTemplate is required`);
  return { defaults, extensions, san: compileTemplate(san, `${where}.subject-alternative-name-template`) };
}

/** Parses a Fulcio-format issuers document (already decoded from YAML/JSON). */
export function parseIssuersConfig(doc: unknown, baseDir = '.'): IssuersConfig {
  if (!isRecord(doc)) bad('the issuers file must hold a mapping');
  const known = ['OIDCIssuers', 'oidc-issuers', 'MetaIssuers', 'meta-issuers', 'CIIssuerMetadata', 'ci-issuer-metadata'];
  for (const k of Object.keys(doc)) if (!known.includes(k)) bad(`issuers file: unknown key ${k}`);
  const issuers = new Map<string, IssuerConfig>();
  const meta: MetaIssuer[] = [];
  const ciMetadata = new Map<string, CiProviderMetadata>();
  const ci = pick(doc, 'CIIssuerMetadata', 'ci-issuer-metadata');
  if (ci !== undefined) {
    if (!isRecord(ci)) bad('CIIssuerMetadata must be a mapping');
    for (const [name, v] of Object.entries(ci)) ciMetadata.set(name, parseCiMetadata(v, name));
  }
  const plain = pick(doc, 'OIDCIssuers', 'oidc-issuers') ?? {};
  if (!isRecord(plain)) bad('OIDCIssuers must be a mapping');
  const metas = pick(doc, 'MetaIssuers', 'meta-issuers') ?? {};
  if (!isRecord(metas)) bad('MetaIssuers must be a mapping');
  if (Object.keys(plain).length + Object.keys(metas).length > MAX_ISSUERS) bad(`more than ${MAX_ISSUERS} issuers`);
  for (const [url, v] of Object.entries(plain)) issuers.set(url, parseIssuer(v, url, baseDir, false));
  for (const [pattern, v] of Object.entries(metas)) {
    if (!pattern.includes('*')) bad(`meta issuer ${pattern} has no *`);
    meta.push({ pattern, regex: metaRegex(pattern), config: parseIssuer(v, pattern, baseDir, true) });
  }
  for (const cfg of [...issuers.values(), ...meta.map((m) => m.config)]) {
    if (cfg.type === 'ci-provider' && !ciMetadata.has(cfg.ciProvider!)) bad(`issuer ${cfg.issuerUrl}: no CIIssuerMetadata named ${cfg.ciProvider!}`);
  }
  if (issuers.size + meta.length === 0) bad('the issuers file configures no issuer');
  return { issuers, meta, ciMetadata };
}

export function loadIssuersFile(path: string): IssuersConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return bad(`cannot read issuers file ${path}`);
  }
  if (text.length > MAX_ISSUERS_FILE_BYTES) bad(`issuers file ${path} is too large`);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return bad(`issuers file ${path} is not valid YAML or JSON`);
  }
  return parseIssuersConfig(doc, dirname(resolve(path)));
}

/** The default with no issuers file: trust the built-in issuer, audience `sigstore`. */
export function builtinIssuersConfig(issuerUrl: string): IssuersConfig {
  return {
    issuers: new Map([[issuerUrl, { issuerUrl, clientId: 'sigstore', type: 'cairn-builtin', skipEmailVerification: false, description: 'Cairn built-in issuer' }]]),
    meta: [],
    ciMetadata: new Map(),
  };
}

/** Fulcio GetIssuer: an exact key first, then the first matching meta pattern. */
export function findIssuer(config: IssuersConfig, iss: string): IssuerConfig | undefined {
  const exact = config.issuers.get(iss);
  if (exact) return exact;
  for (const m of config.meta) if (m.regex.test(iss)) return { ...m.config, issuerUrl: iss };
  return undefined;
}
