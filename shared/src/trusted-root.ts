/**
 * Builds `trusted_root.json` (dev.sigstore.trustroot.v1.TrustedRoot) and `signing_config.v0.2.json`
 * (dev.sigstore.trustroot.v1.SigningConfig, media type v0.2) from the components' `TrustInfo`.
 * Pure functions: `cairn up` calls them in-process, `cairn trust build` on fetched or saved info.
 *
 * What both sigstore-js and sigstore-go accept (reference §6.1-6.2): mediaType exactly
 * `application/vnd.dev.sigstore.trustedroot+json;version=0.1`, `hashAlgorithm: SHA2_256` and a
 * `publicKey.validFor.start` on every tlog/ctlog, known keyDetails names only, CA chains ending
 * in the self-signed root.
 */
import { fromBase64, isRecord, type TrustInfo } from './index.ts';
import { CairnError } from './errors.ts';

/** Codes of the trust-material model: a TrustInfo or trusted_root.json that does not parse. */
export type TrustedRootErrorCode = 'INVALID_TRUST_INFO' | 'INVALID_TRUSTED_ROOT';

export class TrustedRootError extends CairnError<TrustedRootErrorCode> {}

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
export const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';
/** TUF target names: the one sigstore-js fetches and the one sigstore-go/cosign fetch. */
export const TRUSTED_ROOT_TARGET = 'trusted_root.json';
export const SIGNING_CONFIG_TARGET = 'signing_config.v0.2.json';
export const MAX_TRUST_INFOS = 256;
const MAX_CHAIN = 10;
const MAX_B64_CHARS = 64 * 1024;

/** keyDetails both sigstore-go (`ParseTransparencyLogs`) and sigstore-js parse for log keys. */
export const LOG_KEY_DETAILS: readonly string[] = [
  'PKIX_ECDSA_P256_SHA_256',
  'PKIX_ECDSA_P384_SHA_384',
  'PKIX_ECDSA_P521_SHA_512',
  'PKIX_ED25519',
];

export interface ValidFor {
  start: string;
  end?: string;
}

export interface TransparencyLogInstance {
  baseUrl: string;
  hashAlgorithm: 'SHA2_256';
  publicKey: { rawBytes: string; keyDetails: string; validFor: ValidFor };
  logId: { keyId: string };
}

export interface CertificateAuthority {
  subject: { organization: string; commonName: string };
  uri: string;
  certChain: { certificates: { rawBytes: string }[] };
  validFor: ValidFor;
}

export interface TrustedRootJson {
  mediaType: string;
  tlogs: TransparencyLogInstance[];
  certificateAuthorities: CertificateAuthority[];
  ctlogs: TransparencyLogInstance[];
  timestampAuthorities: CertificateAuthority[];
}

export interface ServiceJson {
  url: string;
  majorApiVersion: number;
  validFor: ValidFor;
  operator: string;
}

export interface SigningConfigJson {
  mediaType: string;
  caUrls: ServiceJson[];
  oidcUrls: ServiceJson[];
  rekorTlogUrls: ServiceJson[];
  rekorTlogConfig: { selector: 'ANY' };
  tsaUrls: ServiceJson[];
  tsaConfig?: { selector: 'ANY' };
}

function bad(message: string): never {
  throw new TrustedRootError('INVALID_TRUST_INFO', message);
}

const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

function checkTime(v: unknown, what: string): string {
  if (typeof v !== 'string' || !RFC3339_RE.test(v) || Number.isNaN(new Date(v).getTime())) bad(`${what} must be an RFC 3339 time`);
  return v;
}

function checkUrl(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > 2048) bad(`${what} must be a URL`);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return bad(`${what} must be a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') bad(`${what} must be http(s)`);
  return v.replace(/\/+$/, '');
}

function checkB64(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_B64_CHARS) bad(`${what} must be base64`);
  try {
    fromBase64(v, what);
  } catch {
    bad(`${what} must be base64`);
  }
  return v;
}

function validFor(start: string, end: string | undefined): ValidFor {
  return end === undefined ? { start } : { start, end };
}

/** Checks a parsed `GET /api/cairn/v1/trust-info` answer (or a saved copy of it). */
export function parseTrustInfos(doc: unknown): TrustInfo[] {
  if (!Array.isArray(doc)) bad('trust info must be a JSON array');
  if (doc.length > MAX_TRUST_INFOS) bad(`more than ${MAX_TRUST_INFOS} trust info entries`);
  return doc.map((x: unknown, i) => {
    if (!isRecord(x)) bad(`entry ${i} is not an object`);
    const w = `entry ${i}`;
    if (x.kind === 'tlog' || x.kind === 'ctlog') {
      if (typeof x.keyDetails !== 'string' || !LOG_KEY_DETAILS.includes(x.keyDetails)) bad(`${w}: unsupported keyDetails`);
      const logId = checkB64(x.logId, `${w} logId`);
      if (fromBase64(logId).length !== 32) bad(`${w}: logId must be 32 bytes`);
      const info: TrustInfo = {
        kind: x.kind,
        baseUrl: checkUrl(x.baseUrl, `${w} baseUrl`),
        publicKey: checkB64(x.publicKey, `${w} publicKey`),
        keyDetails: x.keyDetails,
        logId,
        validFrom: checkTime(x.validFrom, `${w} validFrom`),
      };
      if (x.validTo !== undefined) info.validTo = checkTime(x.validTo, `${w} validTo`);
      if (x.majorApiVersions !== undefined) {
        const v = x.majorApiVersions;
        if (x.kind !== 'tlog' || !Array.isArray(v) || v.length === 0 || v.length > 2 || !v.every((n) => n === 1 || n === 2)) bad(`${w}: majorApiVersions must list 1 and/or 2 (tlogs only)`);
        info.majorApiVersions = [...new Set(v as number[])];
      }
      return info;
    }
    if (x.kind === 'ca' || x.kind === 'tsa') {
      if (!isRecord(x.subject) || typeof x.subject.organization !== 'string' || typeof x.subject.commonName !== 'string') bad(`${w}: bad subject`);
      if (!Array.isArray(x.certChain) || x.certChain.length === 0 || x.certChain.length > MAX_CHAIN) bad(`${w}: certChain must hold 1..${MAX_CHAIN} certificates`);
      const info: Extract<TrustInfo, { kind: 'ca' | 'tsa' }> = {
        kind: x.kind,
        uri: checkUrl(x.uri, `${w} uri`),
        subject: { organization: x.subject.organization, commonName: x.subject.commonName },
        certChain: x.certChain.map((c: unknown, j) => checkB64(c, `${w} certChain[${j}]`)),
        validFrom: checkTime(x.validFrom, `${w} validFrom`),
      };
      if (x.validTo !== undefined) info.validTo = checkTime(x.validTo, `${w} validTo`);
      return info;
    }
    if (x.kind === 'oidc') return { kind: 'oidc', issuer: checkUrl(x.issuer, `${w} issuer`) };
    return bad(`${w}: unknown kind`);
  });
}

function logInstance(i: Extract<TrustInfo, { kind: 'tlog' | 'ctlog' }>): TransparencyLogInstance {
  return {
    baseUrl: i.baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: i.publicKey, keyDetails: i.keyDetails, validFor: validFor(i.validFrom, i.validTo) },
    logId: { keyId: i.logId },
  };
}

/** The trusted root for a set of components' trust info (deduplicated by log ID / chain). */
export function buildTrustedRoot(infos: TrustInfo[]): TrustedRootJson {
  const checked = parseTrustInfos(infos);
  const tlogs = new Map<string, TransparencyLogInstance>();
  const ctlogs = new Map<string, TransparencyLogInstance>();
  const cas = new Map<string, CertificateAuthority>();
  const tsas = new Map<string, CertificateAuthority>();
  for (const i of checked) {
    if (i.kind === 'tlog') tlogs.set(i.logId, logInstance(i));
    else if (i.kind === 'ctlog') ctlogs.set(i.logId, logInstance(i));
    else if (i.kind === 'ca' || i.kind === 'tsa') {
      // TSA chains are [signing certificate, ..., root] (sigstore-protocols §6.1).
      (i.kind === 'ca' ? cas : tsas).set(i.certChain.join('.'), {
        subject: i.subject,
        uri: i.uri,
        certChain: { certificates: i.certChain.map((rawBytes) => ({ rawBytes })) },
        validFor: validFor(i.validFrom, i.validTo),
      });
    }
  }
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [...tlogs.values()],
    certificateAuthorities: [...cas.values()],
    ctlogs: [...ctlogs.values()],
    timestampAuthorities: [...tsas.values()],
  };
}

function caKey(ca: CertificateAuthority): string {
  return ca.certChain.certificates.map((c) => c.rawBytes).join('.');
}

/**
 * Keeps retired keys: every log or CA of `previous` that `next` no longer lists stays, with
 * `validFor.end` set to `retiredAt` unless it already had an end, so bundles signed while it was
 * current keep verifying after a service key rotation (DESIGN.md, trust distribution).
 */
export function mergeTrustedRoot(previous: TrustedRootJson, next: TrustedRootJson, retiredAt: Date): TrustedRootJson {
  const retiredEnd = retiredAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
  // A retired key's window closes at the retirement, or earlier if it already ended (a CA's
  // window may carry its certificate's notAfter, which must not keep a retired chain valid).
  const end = (current: string | undefined): string =>
    current !== undefined && new Date(current).getTime() < retiredAt.getTime() ? current : retiredEnd;
  const retireLog = (l: TransparencyLogInstance): TransparencyLogInstance => ({
    ...l,
    publicKey: { ...l.publicKey, validFor: { start: l.publicKey.validFor.start, end: end(l.publicKey.validFor.end) } },
  });
  const mergeLogs = (old: TransparencyLogInstance[], cur: TransparencyLogInstance[]): TransparencyLogInstance[] => {
    const ids = new Set(cur.map((l) => l.logId.keyId));
    return [...old.filter((l) => !ids.has(l.logId.keyId)).map(retireLog), ...cur];
  };
  const curCas = new Set(next.certificateAuthorities.map(caKey));
  const curTsas = new Set(next.timestampAuthorities.map(caKey));
  return {
    ...next,
    tlogs: mergeLogs(previous.tlogs, next.tlogs),
    ctlogs: mergeLogs(previous.ctlogs, next.ctlogs),
    certificateAuthorities: [
      ...previous.certificateAuthorities
        .filter((c) => !curCas.has(caKey(c)))
        .map((c) => ({ ...c, validFor: { start: c.validFor.start, end: end(c.validFor.end) } })),
      ...next.certificateAuthorities,
    ],
    timestampAuthorities: [
      ...previous.timestampAuthorities
        .filter((c) => !curTsas.has(caKey(c)))
        .map((c) => ({ ...c, validFor: { start: c.validFor.start, end: end(c.validFor.end) } })),
      ...next.timestampAuthorities,
    ],
  };
}

function fail(m: string): never {
  throw new TrustedRootError('INVALID_TRUSTED_ROOT', m);
}

/**
 * Checks the shape of a trusted_root.json document and returns it as its JSON type, for the code
 * that merges, caches and rewrites the document (ceremonies, `cairn trust`). It decodes no key and
 * no certificate: trust material for verification comes only from @cairn/verify's
 * `parseTrustedRoot`, the one strict parser, which every verification path runs on this output.
 */
export function readTrustedRootDocument(doc: unknown): TrustedRootJson {
  if (!isRecord(doc)) fail('trusted root must be an object');
  const d = doc;
  if (d.mediaType !== TRUSTED_ROOT_MEDIA_TYPE) fail('trusted root has an unexpected mediaType');
  for (const k of ['tlogs', 'certificateAuthorities', 'ctlogs', 'timestampAuthorities']) {
    if (d[k] !== undefined && !Array.isArray(d[k])) fail(`${k} must be an array`);
  }
  const logs = (v: unknown): TransparencyLogInstance[] =>
    ((v ?? []) as unknown[]).map((l) => {
      if (!isRecord(l) || !isRecord(l.publicKey) || !isRecord(l.logId) || !isRecord(l.publicKey.validFor)) fail('malformed log entry');
      if (typeof l.logId.keyId !== 'string' || typeof l.publicKey.rawBytes !== 'string' || typeof l.publicKey.validFor.start !== 'string') fail('malformed log entry');
      return l as unknown as TransparencyLogInstance;
    });
  const cas = (v: unknown): CertificateAuthority[] =>
    ((v ?? []) as unknown[]).map((c) => {
      if (!isRecord(c) || !isRecord(c.certChain) || !Array.isArray(c.certChain.certificates) || !isRecord(c.validFor)) fail('malformed certificate authority');
      return c as unknown as CertificateAuthority;
    });
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: logs(d.tlogs),
    certificateAuthorities: cas(d.certificateAuthorities),
    ctlogs: logs(d.ctlogs),
    timestampAuthorities: cas(d.timestampAuthorities),
  };
}

export interface SigningConfigUrls {
  /** Fulcio base URLs (default: the `uri` of each CA). */
  ca?: string[];
  /** OIDC issuer URLs (default: the `oidc` entries' issuer). */
  oidc?: string[];
  /** Rekor v1 base URLs (default: the `tlog` entries' baseUrl). */
  rekor?: string[];
  /** Full RFC 3161 endpoint URLs (default: the `tsa` entries' uri). */
  tsa?: string[];
  /** `validFor.start` of services without their own date (default: the earliest validFrom). */
  start?: string;
}

function operatorOf(url: string): string {
  return new URL(url).hostname;
}

/**
 * signing_config v0.2 (reference §6.2): CA and OIDC with majorApiVersion 1 (the Fulcio v2 REST API
 * is "major version 1" there), Rekor base URLs, selector ANY (the only one sigstore-js accepts);
 * `tsaConfig` only when there is a TSA, since its presence makes sigstore-js require one.
 *
 * A log serving Rekor v2 is listed with majorApiVersion 2 **only when a TSA is listed too**: v2
 * entries carry no integrated time, and clients pick the newest current log they speak, so a v2
 * log advertised without a TSA would make every client write bundles nobody can verify
 * (sigstore-protocols §3.5). The v2 entry comes first with a start no earlier than the TSA's, so
 * both "highest version" (sigstore-go) and "newest start" (sigstore-js) choose it; the v1 entry
 * stays for older clients.
 */
export function buildSigningConfig(infos: TrustInfo[], urls: SigningConfigUrls = {}): SigningConfigJson {
  const checked = parseTrustInfos(infos);
  const starts = checked.flatMap((i) => ('validFrom' in i ? [i.validFrom] : [])).sort();
  const defaultStart = urls.start !== undefined ? checkTime(urls.start, 'start') : (starts[0] ?? bad('no dated trust info to take a start time from'));
  // A service with an end (a retired log key, or the CA intermediate's notAfter) is listed with
  // validFor.end: clients skip it once that time has passed (protobuf-specs Service.valid_for).
  const svc = (url: string, start: string, end?: string, majorApiVersion = 1): ServiceJson => ({
    url,
    majorApiVersion,
    validFor: end === undefined ? { start } : { start, end },
    operator: operatorOf(url),
  });
  // One entry per URL: a key rotated at the same URL keeps the entry that is valid longest.
  const lasts = (x: ServiceJson): string => x.validFor.end ?? '\uffff';
  const uniq = (xs: ServiceJson[]): ServiceJson[] => {
    const byUrl = new Map<string, ServiceJson>();
    for (const x of xs) {
      const key = `${x.majorApiVersion} ${x.url}`;
      const prev = byUrl.get(key);
      if (!prev || lasts(x) > lasts(prev)) byUrl.set(key, x);
    }
    return [...byUrl.values()];
  };
  const cas = checked.filter((i) => i.kind === 'ca');
  const tlogs = checked.filter((i): i is Extract<TrustInfo, { kind: 'tlog' | 'ctlog' }> => i.kind === 'tlog');
  const oidcs = checked.filter((i) => i.kind === 'oidc');
  const caUrls = urls.ca ? urls.ca.map((u) => svc(checkUrl(u, '--ca-url'), defaultStart)) : cas.map((c) => svc(c.uri, c.validFrom, c.validTo));
  const rekor = urls.rekor
    ? urls.rekor.map((u) => svc(checkUrl(u, '--rekor-url'), defaultStart))
    : tlogs.map((t) => svc(t.baseUrl, t.validFrom, t.validTo));
  const oidc = (urls.oidc ?? oidcs.map((o) => o.issuer)).map((u) => svc(checkUrl(u, 'oidc url'), defaultStart));
  const tsaInfos = checked.filter((i) => i.kind === 'tsa');
  const tsa = urls.tsa ? urls.tsa.map((u) => svc(checkUrl(u, '--tsa-url'), defaultStart)) : tsaInfos.map((t) => svc(t.uri, t.validFrom, t.validTo));
  if (tsa.length > 0 && !urls.rekor) {
    const tsaStart = tsa.map((t) => t.validFor.start).sort()[0]!;
    const later = (a: string, b: string): string => (Date.parse(a) >= Date.parse(b) ? a : b);
    const v2 = tlogs.filter((t) => t.majorApiVersions?.includes(2)).map((t) => svc(t.baseUrl, later(t.validFrom, tsaStart), t.validTo, 2));
    const v1 = rekor.filter((r) => tlogs.some((t) => t.baseUrl === r.url && (t.majorApiVersions ?? [1]).includes(1)));
    rekor.splice(0, rekor.length, ...v2, ...v1);
  }
  const config: SigningConfigJson = {
    mediaType: SIGNING_CONFIG_MEDIA_TYPE,
    caUrls: uniq(caUrls),
    oidcUrls: uniq(oidc),
    rekorTlogUrls: uniq(rekor),
    rekorTlogConfig: { selector: 'ANY' },
    tsaUrls: uniq(tsa),
  };
  if (tsa.length > 0) config.tsaConfig = { selector: 'ANY' };
  return config;
}
