/**
 * One internal policy model, read from the two formats clusters already have (reference §5.5,
 * §5.6): sigstore policy-controller `ClusterImagePolicy` (policy.sigstore.dev/v1beta1) and Kyverno
 * `ClusterPolicy` `verifyImages` rules (kyverno.io/v1). Each reader is strict: a field Cairn does
 * not implement (CUE, Rego, JMESPath functions, KMS or Secret keys, another Rekor, ...) is refused
 * at load with POLICY_UNSUPPORTED and the field named; an unknown field is POLICY_INVALID. Nothing
 * is silently ignored. Every pattern is compiled by @cairn/shared/pattern (RE2 or the linear glob);
 * attestation conditions are the verifier's own Condition model (@cairn/verify).
 */
import { createHash, createPublicKey } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { fromPemAll, isCairnError, isRecord } from '@cairn/shared';
import { compileGlob, compileRegExp, globToRegExpSource } from '@cairn/shared/pattern';
import { makeCondition, parseCondition, resolvePredicateType, type Condition, type ConditionOp, type TrustMaterial } from '@cairn/verify';
import { type IdentityRule, type ImagePolicy, type ImageReference } from '@cairn/oci/verify';
import { AdmissionError, admissionFail } from './errors.ts';
import { POD_SPEC_PATHS } from './images.ts';

export const MAX_POLICY_FILE_BYTES = 1024 * 1024;
export const MAX_POLICY_FILES = 256;
export const MAX_POLICIES = 256;
export const MAX_IMAGE_GLOBS = 64;
export const MAX_AUTHORITIES = 32;

export type Mode = 'enforce' | 'audit' | 'warn';

/** A set of conditions: every `all` holds and, when `any` is given, at least one of `any`. */
export interface ConditionBlock {
  all: Condition[];
  any: Condition[];
}

export interface AttestationCheck {
  name: string;
  /** Resolved predicate type URI. */
  predicateType: string;
  /** Every block must hold for one verified attestation of the type. */
  blocks: ConditionBlock[];
}

export interface Authority {
  name: string;
  /** Identities and keys (absent for a static authority). */
  policy?: ImagePolicy;
  static?: { action: 'pass' | 'fail'; message: string };
  /** A verified signature is required (policy-controller: when no attestations are listed). */
  requireSignature: boolean;
  attestations: AttestationCheck[];
}

/** At least `count` of the authorities must pass (`all`: every one). */
export interface AuthorityGroup {
  what: string;
  count: number | 'all';
  authorities: Authority[];
}

export interface ResourceRule {
  kinds?: string[];
  /** Namespace globs (Kyverno: `*` and `?`). */
  namespaces?: ((ns: string) => boolean)[];
  /** policy-controller `match`: group/version/resource and matchLabels of the object. */
  group?: string;
  version?: string;
  resource?: string;
  matchLabels?: Record<string, string>;
}

export interface ResourceFilter {
  /** Any of these must match (none: everything matches). */
  match: ResourceRule[];
  /** None of these may match. */
  exclude: ResourceRule[];
}

export interface AdmissionPolicy {
  name: string;
  kind: 'ClusterImagePolicy' | 'ClusterPolicy';
  file: string;
  mode: Mode;
  /** The image patterns as written (messages, check-policy). */
  images: string[];
  matchesImage(ref: ImageReference): boolean;
  /** Every group must pass. */
  groups: AuthorityGroup[];
  mutateDigest: boolean;
  resources: ResourceFilter;
  /** sha256 of the policy's source document: part of every cache key. */
  digest: string;
}

export interface PolicySet {
  policies: AdmissionPolicy[];
  /** sha256 over the policies' digests: a reload with other content starts a new cache generation. */
  id: string;
  files: string[];
}

/** What a resource filter sees of a request. */
export interface ResourceContext {
  kind: string;
  group: string;
  version: string;
  resource: string;
  namespace: string;
  labels: Record<string, string>;
}

type Raw = Record<string, unknown>;

function invalid(where: string, message: string): never {
  return admissionFail('POLICY_INVALID', `${where}: ${message}`);
}

function unsupported(where: string, message: string): never {
  return admissionFail('POLICY_UNSUPPORTED', `${where}: ${message}`);
}

/** The keys of `o` must be among `known`; `refused` names the ones Cairn does not implement. */
function fields(o: unknown, where: string, known: readonly string[], refused: Record<string, string> = {}): Raw {
  if (!isRecord(o)) invalid(where, 'must be a mapping');
  for (const k of Object.keys(o)) {
    if (k in refused && o[k] !== undefined && o[k] !== null && o[k] !== '' && o[k] !== false) unsupported(`${where}.${k}`, refused[k]!);
    if (!known.includes(k) && !(k in refused)) invalid(where, `unknown field ${k.slice(0, 80)} (known: ${known.join(', ')})`);
  }
  return o;
}

function str(o: Raw, k: string, where: string, max = 4096): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) invalid(`${where}.${k}`, `must be a string of at most ${max} characters`);
  return v;
}

function list(o: Raw, k: string, where: string, max: number): unknown[] {
  const v = o[k];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) invalid(`${where}.${k}`, 'must be a list');
  if (v.length > max) invalid(`${where}.${k}`, `at most ${max} entries`);
  return v;
}

function bool(o: Raw, k: string, where: string, fallback: boolean): boolean {
  const v = o[k];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') invalid(`${where}.${k}`, 'must be true or false');
  return v;
}

/** Patterns through the one home; its PATTERN_INVALID becomes POLICY_INVALID with the place named. */
function pattern<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isCairnError(e)) invalid(where, e.message);
    throw e;
  }
}

function normalizeUrl(u: string): string {
  return u.replace(/\/+$/, '');
}

/** A Rekor URL in a policy must be a log of the trusted root: Cairn never reaches for another. */
function checkRekorUrl(url: string | undefined, where: string, trust: TrustMaterial | undefined): void {
  if (url === undefined || url === '' || trust === undefined) return;
  const known = trust.tlogs.map((t) => normalizeUrl(t.baseUrl));
  if (!known.includes(normalizeUrl(url))) unsupported(where, `${url.slice(0, 200)} is not a transparency log of the trusted root (${known.join(', ') || 'none'}); verification is offline against the trusted root`);
}

function checkFulcioUrl(url: string | undefined, where: string, trust: TrustMaterial | undefined): void {
  if (url === undefined || url === '' || trust === undefined) return;
  const known = trust.certificateAuthorities.map((c) => normalizeUrl(c.uri));
  if (!known.includes(normalizeUrl(url))) unsupported(where, `${url.slice(0, 200)} is not a certificate authority of the trusted root (${known.join(', ') || 'none'})`);
}

function publicKeys(pem: string, where: string): string[] {
  let blocks;
  try {
    blocks = fromPemAll(pem, where);
  } catch (e) {
    return invalid(where, `not PEM: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (blocks.length === 0) invalid(where, 'holds no PUBLIC KEY block');
  return blocks.map((b, i) => {
    if (b.label !== 'PUBLIC KEY') invalid(where, `block ${i} is ${b.label}, not PUBLIC KEY`);
    try {
      return createPublicKey({ key: b.der, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();
    } catch (e) {
      return invalid(where, `block ${i} is not a public key: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
}

function checkPolicyPatterns(p: ImagePolicy, where: string): ImagePolicy {
  for (const [i, r] of (p.identities ?? []).entries()) {
    if (r.issuerRegExp !== undefined) pattern(`${where}.identities[${i}].issuerRegExp`, () => compileRegExp(r.issuerRegExp!, 'issuer'));
    if (r.subjectRegExp !== undefined) pattern(`${where}.identities[${i}].subjectRegExp`, () => compileRegExp(r.subjectRegExp!, 'subject'));
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Image globs (reference §5.7)

/** policy-controller: `[a-zA-Z0-9-_:/*.@]`; `*` stops at `/`, `**` crosses it; Docker Hub as index.docker.io. */
const CIP_GLOB_CHARS = /^[a-zA-Z0-9\-_:/*.@]+$/;

function cipCandidates(r: ImageReference): string[] {
  const name = `${r.registry}/${r.repository}`;
  const out: string[] = [];
  if (r.tag !== undefined || r.digest === undefined) out.push(`${name}:${r.tag ?? 'latest'}`);
  if (r.digest !== undefined) out.push(`${name}@${r.digest}`);
  return out;
}

/** Kyverno: the image normalised (docker.io, tag latest); `*` also matches `/`. */
function kyvernoCandidates(r: ImageReference): string[] {
  const names = r.registry === 'index.docker.io' ? [`docker.io/${r.repository}`, ...(r.repository.startsWith('library/') ? [`docker.io/${r.repository.slice(8)}`] : [])] : [`${r.registry}/${r.repository}`];
  const out: string[] = [];
  for (const name of names) {
    if (r.tag !== undefined || r.digest === undefined) out.push(`${name}:${r.tag ?? 'latest'}`);
    if (r.digest !== undefined) out.push(`${name}@${r.digest}`);
  }
  return out;
}

function cipGlob(g: string, where: string): (s: string) => boolean {
  if (!CIP_GLOB_CHARS.test(g) || g.length > 1024) invalid(where, `glob ${g.slice(0, 80)} may hold only [a-zA-Z0-9-_:/*.@] (at most 1024 characters)`);
  const written = g === '*' ? 'index.docker.io/library/*' : g === '*/*' ? 'index.docker.io/*/*' : g;
  return pattern(where, () => compileGlob(written, 'image glob', { segment: '/', globstar: true }));
}

function kyvernoGlob(g: string, where: string): (s: string) => boolean {
  return pattern(where, () => compileGlob(g, 'image reference'));
}

// ---------------------------------------------------------------------------------------------
// Conditions

const KEY_RE = /^\{\{\s*([A-Za-z0-9_@$-]+(?:\.[A-Za-z0-9_@$-]+)*)\s*\}\}$/;

const KYVERNO_OPS: Record<string, ConditionOp | 'equals-or-glob'> = {
  Equals: 'equals-or-glob',
  Equal: 'equals-or-glob',
  NotEquals: 'not-equals',
  NotEqual: 'not-equals',
  In: 'all-in',
  AnyIn: 'any-in',
  AllIn: 'all-in',
  NotIn: 'all-not-in',
  AnyNotIn: 'any-not-in',
  AllNotIn: 'all-not-in',
  GreaterThan: 'gt',
  GreaterThanOrEquals: 'gte',
  LessThan: 'lt',
  LessThanOrEquals: 'lte',
};

function scalarText(v: unknown, where: string): string {
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return invalid(where, 'a condition value is a string, number or boolean (or a list of them)');
}

function kyvernoCondition(c: unknown, where: string): Condition {
  const o = fields(c, where, ['key', 'operator', 'value', 'message']);
  const key = o.key;
  if (typeof key !== 'string') invalid(`${where}.key`, 'must be a string like "{{ buildDefinition.buildType }}"');
  const m = KEY_RE.exec(key);
  if (!m) unsupported(`${where}.key`, `only a field path "{{ a.b.c }}" is implemented, not JMESPath expressions or functions: ${key.slice(0, 120)}`);
  const operator = o.operator;
  if (typeof operator !== 'string') invalid(`${where}.operator`, 'is required');
  if (/^Duration/.test(operator)) unsupported(`${where}.operator`, `${operator} is not implemented`);
  const op = KYVERNO_OPS[operator];
  if (op === undefined) invalid(`${where}.operator`, `unknown operator ${operator.slice(0, 40)} (Kyverno's: ${Object.keys(KYVERNO_OPS).join(', ')})`);
  const path = m[1]!.split('.');
  const raw = o.value;
  const values = Array.isArray(raw) ? raw.map((v) => scalarText(v, `${where}.value`)) : [scalarText(raw, `${where}.value`)];
  const source = `${key} ${operator} ${JSON.stringify(raw)}`.slice(0, 300);
  return pattern(where, () => {
    if (op === 'equals-or-glob') {
      if (values.length !== 1) invalid(`${where}.value`, `${operator} takes one value`);
      // Kyverno's Equals matches strings by wildcard, and its `*` also crosses `/`.
      const v = values[0]!;
      if (/[*?]/.test(v)) return makeCondition(path, 'glob', [v.replace(/\*+/g, '**')], source);
      return makeCondition(path, 'equals', values, source);
    }
    return makeCondition(path, op, values, source);
  });
}

function kyvernoBlocks(conditions: unknown[], where: string): ConditionBlock[] {
  return conditions.map((b, i) => {
    const o = fields(b, `${where}[${i}]`, ['all', 'any']);
    const all = list(o, 'all', `${where}[${i}]`, 32).map((c, j) => kyvernoCondition(c, `${where}[${i}].all[${j}]`));
    const any = list(o, 'any', `${where}[${i}]`, 32).map((c, j) => kyvernoCondition(c, `${where}[${i}].any[${j}]`));
    return { all, any };
  });
}

/** Cairn's conditions in a ClusterImagePolicy attestation (in place of CUE/Rego): `--condition` text or Kyverno's shape. */
function cipConditions(raw: unknown[], where: string): ConditionBlock[] {
  const all: Condition[] = [];
  const blocks: ConditionBlock[] = [];
  raw.forEach((c, i) => {
    if (typeof c === 'string') all.push(pattern(`${where}[${i}]`, () => parseCondition(c)));
    else if (isRecord(c) && ('all' in c || 'any' in c)) blocks.push(...kyvernoBlocks([c], `${where}[${i}]`));
    else all.push(kyvernoCondition(c, `${where}[${i}]`));
  });
  return all.length > 0 ? [{ all, any: [] }, ...blocks] : blocks;
}

// ---------------------------------------------------------------------------------------------
// policy-controller ClusterImagePolicy

function cipIdentity(i: unknown, where: string): IdentityRule {
  const o = fields(i, where, ['issuer', 'subject', 'issuerRegExp', 'subjectRegExp']);
  const r: IdentityRule = {};
  const issuer = str(o, 'issuer', where);
  const subject = str(o, 'subject', where);
  const issuerRegExp = str(o, 'issuerRegExp', where);
  const subjectRegExp = str(o, 'subjectRegExp', where);
  if (issuer !== undefined && issuer !== '') r.issuer = issuer;
  if (issuerRegExp !== undefined && issuerRegExp !== '') r.issuerRegExp = issuerRegExp;
  if (subject !== undefined && subject !== '') r.subject = subject;
  if (subjectRegExp !== undefined && subjectRegExp !== '') r.subjectRegExp = subjectRegExp;
  if ((r.issuer === undefined) === (r.issuerRegExp === undefined)) invalid(where, 'give exactly one of issuer and issuerRegExp');
  if ((r.subject === undefined) === (r.subjectRegExp === undefined)) invalid(where, 'give exactly one of subject and subjectRegExp');
  return r;
}

function cipAuthority(a: unknown, i: number, where: string, trust: TrustMaterial | undefined): Authority {
  const o = fields(a, where, ['name', 'keyless', 'key', 'static', 'ctlog', 'attestations', 'signatureFormat'], {
    source: 'signatures are read from the image repository itself (alternate source repositories are not implemented)',
    rfc3161timestamp: 'timestamp authorities come from the trusted root (trustRootRef is not implemented)',
  });
  const name = str(o, 'name', where, 253) ?? `authority-${i}`;
  const kinds = ['keyless', 'key', 'static'].filter((k) => o[k] !== undefined && o[k] !== null);
  if (kinds.length !== 1) invalid(where, 'an authority has exactly one of keyless, key, static');
  const fmt = str(o, 'signatureFormat', where);
  if (fmt !== undefined && fmt !== 'legacy' && fmt !== 'bundle') invalid(`${where}.signatureFormat`, 'is legacy or bundle (Cairn reads both either way)');
  let thresholds: Pick<ImagePolicy, 'tlogThreshold' | 'ctlogThreshold'> = {};
  if (o.ctlog !== undefined && o.ctlog !== null) {
    const c = fields(o.ctlog, `${where}.ctlog`, ['url'], { trustRootRef: 'the trust root is the one Cairn was started with (--tuf-mirror/--trusted-root)' });
    checkRekorUrl(str(c, 'url', `${where}.ctlog`), `${where}.ctlog.url`, trust);
  }
  let policy: ImagePolicy | undefined;
  let stat: Authority['static'];
  if (o.keyless !== undefined && o.keyless !== null) {
    const k = fields(o.keyless, `${where}.keyless`, ['url', 'identities', 'insecureIgnoreSCT'], {
      'ca-cert': 'certificate authorities come from the trusted root',
      trustRootRef: 'the trust root is the one Cairn was started with (--tuf-mirror/--trusted-root)',
    });
    checkFulcioUrl(str(k, 'url', `${where}.keyless`), `${where}.keyless.url`, trust);
    const ids = list(k, 'identities', `${where}.keyless`, 64).map((x, j) => cipIdentity(x, `${where}.keyless.identities[${j}]`));
    if (ids.length === 0) invalid(`${where}.keyless.identities`, 'at least one identity');
    if (bool(k, 'insecureIgnoreSCT', `${where}.keyless`, false)) thresholds = { ...thresholds, ctlogThreshold: 0 };
    policy = checkPolicyPatterns({ identities: ids, ...thresholds }, `${where}.keyless`);
  } else if (o.key !== undefined && o.key !== null) {
    const k = fields(o.key, `${where}.key`, ['data', 'hashAlgorithm'], { secretRef: 'keys are given inline (data)', kms: 'KMS keys are not implemented' });
    const data = str(k, 'data', `${where}.key`, 64 * 1024);
    if (data === undefined || data === '') invalid(`${where}.key.data`, 'a PEM public key is required');
    const h = str(k, 'hashAlgorithm', `${where}.key`);
    if (h !== undefined && h !== 'sha256') unsupported(`${where}.key.hashAlgorithm`, 'only sha256 is accepted');
    policy = { publicKeys: publicKeys(data, `${where}.key.data`), ...thresholds };
  } else {
    const s = fields(o.static, `${where}.static`, ['action', 'message']);
    const action = s.action;
    if (action !== 'pass' && action !== 'fail') invalid(`${where}.static.action`, 'is pass or fail');
    stat = { action, message: str(s, 'message', `${where}.static`, 1024) ?? `static ${action}` };
  }
  const attestations = list(o, 'attestations', where, 16).map((x, j): AttestationCheck => {
    const w = `${where}.attestations[${j}]`;
    const ao = fields(x, w, ['name', 'predicateType', 'conditions'], { policy: 'CUE and Rego policies are not implemented; write conditions (field path, operator, value) instead' });
    const pt = str(ao, 'predicateType', w, 512);
    if (pt === undefined) invalid(`${w}.predicateType`, 'is required');
    return { name: str(ao, 'name', w, 253) ?? `attestation-${j}`, predicateType: pattern(`${w}.predicateType`, () => resolvePredicateType(pt)), blocks: cipConditions(list(ao, 'conditions', w, 32), `${w}.conditions`) };
  });
  if (stat !== undefined && attestations.length > 0) invalid(where, 'a static authority has no attestations');
  return { name, ...(policy ? { policy } : {}), ...(stat ? { static: stat } : {}), requireSignature: attestations.length === 0 && stat === undefined, attestations };
}

function cipMatch(m: unknown, where: string): ResourceRule {
  const o = fields(m, where, ['group', 'version', 'resource', 'selector']);
  const r: ResourceRule = {};
  const g = str(o, 'group', where, 253);
  const v = str(o, 'version', where, 63);
  const res = str(o, 'resource', where, 253);
  if (g !== undefined) r.group = g;
  if (v !== undefined) r.version = v;
  if (res !== undefined) r.resource = res;
  if (o.selector !== undefined && o.selector !== null) {
    const s = fields(o.selector, `${where}.selector`, ['matchLabels'], { matchExpressions: 'only matchLabels is implemented' });
    const ml = s.matchLabels ?? {};
    if (!isRecord(ml) || !Object.values(ml).every((x) => typeof x === 'string')) invalid(`${where}.selector.matchLabels`, 'is a mapping of strings');
    r.matchLabels = ml as Record<string, string>;
  }
  return r;
}

function readClusterImagePolicy(doc: Raw, file: string, trust: TrustMaterial | undefined, digest: string): AdmissionPolicy {
  const name = metadataName(doc, file);
  const where = `${file}: ClusterImagePolicy ${name}`;
  const spec = fields(doc.spec, `${where} spec`, ['images', 'authorities', 'mode', 'match'], { policy: 'CUE and Rego policies are not implemented' });
  const images = list(spec, 'images', `${where} spec`, MAX_IMAGE_GLOBS).map((g, i) => {
    const o = fields(g, `${where} spec.images[${i}]`, ['glob'], { regex: 'image regular expressions were removed from policy-controller; use glob' });
    const glob = str(o, 'glob', `${where} spec.images[${i}]`, 1024);
    if (glob === undefined || glob === '') invalid(`${where} spec.images[${i}].glob`, 'is required');
    return glob;
  });
  if (images.length === 0) invalid(`${where} spec.images`, 'at least one glob');
  const matchers = images.map((g, i) => cipGlob(g, `${where} spec.images[${i}].glob`));
  const auths = list(spec, 'authorities', `${where} spec`, MAX_AUTHORITIES).map((a, i) => cipAuthority(a, i, `${where} spec.authorities[${i}]`, trust));
  if (auths.length === 0) invalid(`${where} spec.authorities`, 'at least one authority');
  const mode = str(spec, 'mode', `${where} spec`) ?? 'enforce';
  if (mode !== 'enforce' && mode !== 'warn' && mode !== 'audit') invalid(`${where} spec.mode`, 'is enforce, warn or audit');
  const match = list(spec, 'match', `${where} spec`, 32).map((m, i) => cipMatch(m, `${where} spec.match[${i}]`));
  return {
    name,
    kind: 'ClusterImagePolicy',
    file,
    mode,
    images,
    matchesImage: (r) => cipCandidates(r).some((c) => matchers.some((m) => m(c))),
    // Within one ClusterImagePolicy any authority may satisfy it.
    groups: [{ what: 'authorities', count: 1, authorities: auths }],
    mutateDigest: true,
    resources: { match, exclude: [] },
    digest,
  };
}

// ---------------------------------------------------------------------------------------------
// Kyverno ClusterPolicy verifyImages

const REKOR_FIELDS = ['url', 'ignoreTlog'];
const CTLOG_FIELDS = ['ignoreSCT'];

function kyvernoTransparency(o: Raw, where: string, trust: TrustMaterial | undefined): Pick<ImagePolicy, 'tlogThreshold' | 'ctlogThreshold'> {
  const t: Pick<ImagePolicy, 'tlogThreshold' | 'ctlogThreshold'> = {};
  if (o.rekor !== undefined && o.rekor !== null) {
    const r = fields(o.rekor, `${where}.rekor`, REKOR_FIELDS, { pubkey: 'the log keys come from the trusted root' });
    checkRekorUrl(str(r, 'url', `${where}.rekor`), `${where}.rekor.url`, trust);
    if (bool(r, 'ignoreTlog', `${where}.rekor`, false)) t.tlogThreshold = 0;
  }
  if (o.ctlog !== undefined && o.ctlog !== null) {
    const c = fields(o.ctlog, `${where}.ctlog`, CTLOG_FIELDS, { pubkey: 'the CT log keys come from the trusted root', tsaCertChain: 'timestamp authorities come from the trusted root' });
    if (bool(c, 'ignoreSCT', `${where}.ctlog`, false)) t.ctlogThreshold = 0;
  }
  return t;
}

/** Kyverno keyless issuer/subject: exact, or with `*`/`?` wildcards, or the *RegExp forms. */
function kyvernoSide(exact: string | undefined, re: string | undefined, where: string, what: string): Partial<IdentityRule> {
  const key = what === 'issuer' ? 'issuer' : 'subject';
  if (exact !== undefined && exact !== '' && re !== undefined && re !== '') invalid(where, `give ${what} or ${what}RegExp, not both`);
  if (re !== undefined && re !== '') return { [`${key}RegExp`]: re };
  if (exact === undefined || exact === '') return invalid(where, `${what} (or ${what}RegExp) is required`);
  if (/[*?]/.test(exact)) return { [`${key}RegExp`]: `^${globToRegExpSource(exact)}$` };
  return { [key]: exact };
}

function kyvernoEntry(e: unknown, where: string, trust: TrustMaterial | undefined): ImagePolicy {
  const o = fields(e, where, ['keys', 'keyless', 'signatureAlgorithm'], {
    certificates: 'certificate attestors are not implemented (use keyless with the trusted root)',
    attestor: 'nested attestor sets are not implemented',
    annotations: 'signed-payload annotation checks are not implemented',
    repository: 'signatures are read from the image repository itself',
  });
  const alg = str(o, 'signatureAlgorithm', where);
  if (alg !== undefined && alg !== 'sha256') unsupported(`${where}.signatureAlgorithm`, 'only sha256 is accepted');
  const kinds = ['keys', 'keyless'].filter((k) => o[k] !== undefined && o[k] !== null);
  if (kinds.length !== 1) invalid(where, 'an attestor entry has exactly one of keys and keyless');
  if (o.keys !== undefined && o.keys !== null) {
    const k = fields(o.keys, `${where}.keys`, ['publicKeys', 'rekor', 'ctlog', 'signatureAlgorithm'], { kms: 'KMS keys are not implemented', secret: 'keys are given inline (publicKeys)' });
    const pem = str(k, 'publicKeys', `${where}.keys`, 64 * 1024);
    if (pem === undefined || pem === '') invalid(`${where}.keys.publicKeys`, 'a PEM public key is required');
    if (pem.startsWith('k8s://')) unsupported(`${where}.keys.publicKeys`, 'k8s:// Secret references are not implemented; give the PEM');
    const a2 = str(k, 'signatureAlgorithm', `${where}.keys`);
    if (a2 !== undefined && a2 !== 'sha256') unsupported(`${where}.keys.signatureAlgorithm`, 'only sha256 is accepted');
    // Kyverno defaults ctlog.ignoreSCT to true for keys in practice (a key signature has no SCT); the verifier needs none for keys.
    return { publicKeys: publicKeys(pem, `${where}.keys.publicKeys`), ...kyvernoTransparency(k, `${where}.keys`, trust) };
  }
  const k = fields(o.keyless, `${where}.keyless`, ['issuer', 'issuerRegExp', 'subject', 'subjectRegExp', 'rekor', 'ctlog'], {
    roots: 'certificate authorities come from the trusted root',
    additionalExtensions: 'additional certificate extension checks are not implemented',
  });
  const id: IdentityRule = {
    ...kyvernoSide(str(k, 'issuer', `${where}.keyless`), str(k, 'issuerRegExp', `${where}.keyless`), `${where}.keyless`, 'issuer'),
    ...kyvernoSide(str(k, 'subject', `${where}.keyless`), str(k, 'subjectRegExp', `${where}.keyless`), `${where}.keyless`, 'subject'),
  };
  return checkPolicyPatterns({ identities: [id], ...kyvernoTransparency(k, `${where}.keyless`, trust) }, `${where}.keyless`);
}

function kyvernoAttestorSets(sets: unknown[], where: string, trust: TrustMaterial | undefined): { count: number | 'all'; entries: ImagePolicy[] }[] {
  return sets.map((s, i) => {
    const o = fields(s, `${where}[${i}]`, ['count', 'entries']);
    const entries = list(o, 'entries', `${where}[${i}]`, MAX_AUTHORITIES).map((e, j) => kyvernoEntry(e, `${where}[${i}].entries[${j}]`, trust));
    if (entries.length === 0) invalid(`${where}[${i}].entries`, 'at least one entry');
    const c = o.count;
    if (c !== undefined && c !== null && (typeof c !== 'number' || !Number.isInteger(c) || c < 1 || c > entries.length)) invalid(`${where}[${i}].count`, `is 1-${entries.length}`);
    return { count: typeof c === 'number' ? c : 'all', entries };
  });
}

function failureAction(v: unknown, where: string): Mode | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') invalid(where, 'is Enforce or Audit');
  const l = v.toLowerCase();
  if (l === 'enforce') return 'enforce';
  if (l === 'audit') return 'audit';
  return invalid(where, 'is Enforce or Audit');
}

const KYVERNO_RESOURCE_FIELDS = ['kinds', 'namespaces'];
const KYVERNO_RESOURCE_REFUSED = {
  names: 'resource name filters are not implemented',
  name: 'resource name filters are not implemented',
  selector: 'label selectors are not implemented in Kyverno match blocks',
  namespaceSelector: 'namespace selectors are not implemented (use namespaces)',
  annotations: 'annotation filters are not implemented',
  operations: 'operation filters are not implemented',
};
const POD_CONTROLLERS = Object.keys(POD_SPEC_PATHS);

function kyvernoResourceRules(block: unknown, where: string): ResourceRule[] {
  if (block === undefined || block === null) return [];
  const o = fields(block, where, ['any', 'all', 'resources'], { subjects: 'subject filters are not implemented', roles: 'role filters are not implemented', clusterRoles: 'role filters are not implemented' });
  const filters = [...(o.resources !== undefined ? [{ resources: o.resources }] : []), ...list(o, 'any', where, 32), ...list(o, 'all', where, 32)];
  if (list(o, 'all', where, 32).length > 1) unsupported(`${where}.all`, 'more than one filter under all is not implemented');
  return filters.map((f, i) => {
    const fo = fields(f, `${where}[${i}]`, ['resources'], { subjects: 'subject filters are not implemented', roles: 'role filters are not implemented', clusterRoles: 'role filters are not implemented' });
    const r = fields(fo.resources, `${where}[${i}].resources`, KYVERNO_RESOURCE_FIELDS, KYVERNO_RESOURCE_REFUSED);
    const rule: ResourceRule = {};
    const kinds = list(r, 'kinds', `${where}[${i}].resources`, 32).map((k) => {
      if (typeof k !== 'string') invalid(`${where}[${i}].resources.kinds`, 'holds strings');
      return k.includes('/') ? k.split('/').pop()! : k;
    });
    // Kyverno generates rules for the pod controllers from a Pod rule (autogen).
    if (kinds.length > 0) rule.kinds = kinds.includes('Pod') ? [...new Set([...kinds, ...POD_CONTROLLERS])] : kinds;
    const ns = list(r, 'namespaces', `${where}[${i}].resources`, 64).map((n, j) => {
      if (typeof n !== 'string' || n === '') invalid(`${where}[${i}].resources.namespaces[${j}]`, 'is a namespace name or glob');
      return pattern(`${where}[${i}].resources.namespaces[${j}]`, () => compileGlob(n, 'namespace'));
    });
    if (ns.length > 0) rule.namespaces = ns;
    return rule;
  });
}

function readClusterPolicy(doc: Raw, file: string, trust: TrustMaterial | undefined, digest: string): AdmissionPolicy[] {
  const name = metadataName(doc, file);
  const where = `${file}: ClusterPolicy ${name}`;
  const spec = fields(doc.spec, `${where} spec`, ['validationFailureAction', 'background', 'webhookTimeoutSeconds', 'failurePolicy', 'admission', 'rules', 'emitWarning'], {
    validationFailureActionOverrides: 'per-namespace overrides are not implemented',
    generateExisting: 'generate rules are not implemented',
    mutateExistingOnPolicyUpdate: 'mutate rules are not implemented',
    useServerSideApply: 'mutate rules are not implemented',
    webhookConfiguration: 'the webhook configuration is deploy/kubernetes/60-admission.yaml',
  });
  const specMode = failureAction(spec.validationFailureAction, `${where} spec.validationFailureAction`) ?? 'audit';
  const rules = list(spec, 'rules', `${where} spec`, 64);
  if (rules.length === 0) invalid(`${where} spec.rules`, 'at least one rule');
  const out: AdmissionPolicy[] = [];
  rules.forEach((rule, ri) => {
    const rw = `${where} rule ${ri}`;
    const r = fields(rule, rw, ['name', 'match', 'exclude', 'verifyImages'], {
      validate: 'only verifyImages rules are implemented',
      mutate: 'only verifyImages rules are implemented',
      generate: 'only verifyImages rules are implemented',
      preconditions: 'preconditions are not implemented',
      context: 'context variables are not implemented',
      imageExtractors: 'custom image extractors are not implemented',
      celPreconditions: 'CEL is not implemented',
    });
    const ruleName = str(r, 'name', rw, 253) ?? `rule-${ri}`;
    const resources: ResourceFilter = { match: kyvernoResourceRules(r.match, `${rw}.match`), exclude: kyvernoResourceRules(r.exclude, `${rw}.exclude`) };
    const vis = list(r, 'verifyImages', rw, 32);
    if (vis.length === 0) invalid(`${rw}.verifyImages`, 'a verifyImages rule is required');
    vis.forEach((vi, vj) => {
      const w = `${rw}.verifyImages[${vj}]`;
      const v = fields(vi, w, ['imageReferences', 'skipImageReferences', 'type', 'failureAction', 'mutateDigest', 'verifyDigest', 'required', 'useCache', 'attestors', 'attestations', 'cosignOCI11'], {
        repository: 'signatures are read from the image repository itself',
        imageRegistryCredentials: 'registry credentials come from the server (docker config)',
        validate: 'checks across attestations are not implemented',
        image: 'the deprecated single image field is not implemented; use imageReferences',
        key: 'the deprecated key field is not implemented; use attestors',
      });
      const type = str(v, 'type', w) ?? 'Cosign';
      if (type !== 'Cosign' && type !== 'SigstoreBundle') unsupported(`${w}.type`, `${type.slice(0, 40)} is not implemented (Cosign, SigstoreBundle)`);
      if (v.required === false) unsupported(`${w}.required`, 'required: false is not implemented (images matched are always verified)');
      const refs = list(v, 'imageReferences', w, MAX_IMAGE_GLOBS).map((g, i) => {
        if (typeof g !== 'string' || g === '') invalid(`${w}.imageReferences[${i}]`, 'is an image pattern');
        return g;
      });
      if (refs.length === 0) invalid(`${w}.imageReferences`, 'at least one pattern');
      const match = refs.map((g, i) => kyvernoGlob(g, `${w}.imageReferences[${i}]`));
      const skip = list(v, 'skipImageReferences', w, MAX_IMAGE_GLOBS).map((g, i) => {
        if (typeof g !== 'string' || g === '') invalid(`${w}.skipImageReferences[${i}]`, 'is an image pattern');
        return kyvernoGlob(g, `${w}.skipImageReferences[${i}]`);
      });
      const groups: AuthorityGroup[] = [];
      kyvernoAttestorSets(list(v, 'attestors', w, 16), `${w}.attestors`, trust).forEach((set, si) => {
        groups.push({ what: `attestors[${si}]`, count: set.count, authorities: set.entries.map((p, ei) => ({ name: `attestors[${si}].entries[${ei}]`, policy: p, requireSignature: true, attestations: [] })) });
      });
      list(v, 'attestations', w, 16).forEach((a, ai) => {
        const aw = `${w}.attestations[${ai}]`;
        const ao = fields(a, aw, ['type', 'predicateType', 'name', 'attestors', 'conditions']);
        const t = str(ao, 'type', aw, 512) ?? str(ao, 'predicateType', aw, 512);
        if (t === undefined || t === '') invalid(`${aw}.type`, 'is required');
        const check: AttestationCheck = { name: str(ao, 'name', aw, 253) ?? `attestations[${ai}]`, predicateType: pattern(`${aw}.type`, () => resolvePredicateType(t)), blocks: kyvernoBlocks(list(ao, 'conditions', aw, 16), `${aw}.conditions`) };
        const own = list(ao, 'attestors', aw, 16);
        const sets = kyvernoAttestorSets(own.length > 0 ? own : list(v, 'attestors', w, 16), own.length > 0 ? `${aw}.attestors` : `${w}.attestors`, trust);
        if (sets.length === 0) invalid(`${aw}.attestors`, 'an attestation needs attestors (its own or the entry’s)');
        sets.forEach((set, si) => {
          groups.push({ what: `${check.name} attestors[${si}]`, count: set.count, authorities: set.entries.map((p, ei) => ({ name: `${check.name} attestors[${si}].entries[${ei}]`, policy: p, requireSignature: false, attestations: [check] })) });
        });
      });
      if (groups.length === 0) invalid(w, 'attestors or attestations are required');
      out.push({
        name: vis.length > 1 || rules.length > 1 ? `${name}/${ruleName}${vis.length > 1 ? `[${vj}]` : ''}` : `${name}/${ruleName}`,
        kind: 'ClusterPolicy',
        file,
        mode: failureAction(v.failureAction, `${w}.failureAction`) ?? specMode,
        images: refs,
        matchesImage: (ref) => {
          const c = kyvernoCandidates(ref);
          return c.some((x) => match.some((m) => m(x))) && !c.some((x) => skip.some((m) => m(x)));
        },
        groups,
        mutateDigest: bool(v, 'mutateDigest', w, true),
        resources,
        digest: createHash('sha256').update(`${digest}\0${ri}\0${vj}`).digest('hex'),
      });
      bool(v, 'verifyDigest', w, true);
      bool(v, 'useCache', w, true);
      bool(v, 'cosignOCI11', w, false);
    });
  });
  return out;
}

function metadataName(doc: Raw, file: string): string {
  const md = doc.metadata;
  const name = isRecord(md) ? md.name : undefined;
  if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) invalid(`${file}: ${String(doc.kind)}`, 'metadata.name is required (a DNS name)');
  return name;
}

/** Reads every policy document of one YAML/JSON text (multi-document YAML and `kind: List` too). */
export function parsePolicies(text: string, file: string, trust?: TrustMaterial): AdmissionPolicy[] {
  if (text.length > MAX_POLICY_FILE_BYTES) invalid(file, `larger than ${MAX_POLICY_FILE_BYTES} bytes`);
  const docs = parseAllDocuments(text);
  const items: unknown[] = [];
  for (const d of Array.isArray(docs) ? docs : [docs]) {
    if (d.errors.length > 0) invalid(file, `not valid YAML: ${d.errors[0]!.message.split('\n')[0]}`);
    const j: unknown = d.toJS({ maxAliasCount: 100 });
    if (j === null || j === undefined) continue;
    if (isRecord(j) && j.kind === 'List' && Array.isArray(j.items)) items.push(...(j.items as unknown[]));
    else items.push(j);
  }
  const out: AdmissionPolicy[] = [];
  items.forEach((j, i) => {
    if (!isRecord(j)) invalid(`${file} document ${i}`, 'is not a mapping');
    const digest = createHash('sha256').update(JSON.stringify(j)).digest('hex');
    if (j.apiVersion === 'policy.sigstore.dev/v1beta1' && j.kind === 'ClusterImagePolicy') out.push(readClusterImagePolicy(j, file, trust, digest));
    else if (j.apiVersion === 'policy.sigstore.dev/v1alpha1' && j.kind === 'ClusterImagePolicy') out.push(readClusterImagePolicy(j, file, trust, digest));
    else if ((j.apiVersion === 'kyverno.io/v1' || j.apiVersion === 'kyverno.io/v2beta1') && (j.kind === 'ClusterPolicy' || j.kind === 'Policy')) {
      if (j.kind === 'Policy') unsupported(`${file} document ${i}`, 'namespaced Kyverno Policy objects are not implemented; use ClusterPolicy');
      out.push(...readClusterPolicy(j, file, trust, digest));
    } else if (j.kind === 'TrustRoot') unsupported(`${file} document ${i}`, 'TrustRoot objects are not read: the trust root is the one Cairn was started with (--tuf-mirror/--trusted-root)');
    else invalid(`${file} document ${i}`, `is ${String(j.apiVersion).slice(0, 60)} ${String(j.kind).slice(0, 60)}, not a policy.sigstore.dev ClusterImagePolicy or a kyverno.io/v1 ClusterPolicy`);
  });
  return out;
}

/** The files of `--policy` arguments: files as given, directories' *.yaml|*.yml|*.json (sorted). */
export function policyFiles(paths: readonly string[], cwd = process.cwd()): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    let st;
    try {
      st = statSync(abs);
    } catch {
      admissionFail('IO_ERROR', `cannot read policy ${p}`);
    }
    if (st.isDirectory()) {
      for (const n of readdirSync(abs).sort()) if (/\.(ya?ml|json)$/.test(n) && !n.startsWith('.')) out.push(join(abs, n));
    } else out.push(abs);
  }
  if (out.length > MAX_POLICY_FILES) admissionFail('POLICY_INVALID', `more than ${MAX_POLICY_FILES} policy files`);
  return out;
}

/** Loads the policy set of `--policy` paths; throws AdmissionError naming the file and field. */
export function loadPolicySet(paths: readonly string[], trust?: TrustMaterial, cwd = process.cwd()): PolicySet {
  const files = policyFiles(paths, cwd);
  const policies: AdmissionPolicy[] = [];
  for (const f of files) {
    let text: string;
    try {
      if (statSync(f).size > MAX_POLICY_FILE_BYTES) admissionFail('POLICY_INVALID', `${f}: larger than ${MAX_POLICY_FILE_BYTES} bytes`);
      text = readFileSync(f, 'utf8');
    } catch (e) {
      if (e instanceof AdmissionError) throw e;
      return admissionFail('IO_ERROR', `cannot read policy file ${f}`);
    }
    policies.push(...parsePolicies(text, f, trust));
  }
  if (policies.length === 0) admissionFail('POLICY_INVALID', `no policy in ${paths.join(', ')}`);
  if (policies.length > MAX_POLICIES) admissionFail('POLICY_INVALID', `more than ${MAX_POLICIES} policies`);
  const names = new Set<string>();
  for (const p of policies) {
    const key = `${p.kind}/${p.name}`;
    if (names.has(key)) admissionFail('POLICY_INVALID', `${p.file}: ${p.kind} ${p.name} is defined twice`);
    names.add(key);
  }
  const id = createHash('sha256').update(policies.map((p) => p.digest).join(',')).digest('hex');
  return { policies, id, files };
}

function ruleMatches(r: ResourceRule, c: ResourceContext): boolean {
  if (r.kinds !== undefined && !r.kinds.includes(c.kind)) return false;
  if (r.namespaces !== undefined && !r.namespaces.some((m) => m(c.namespace))) return false;
  if (r.group !== undefined && r.group !== c.group) return false;
  if (r.version !== undefined && r.version !== c.version) return false;
  if (r.resource !== undefined && r.resource !== c.resource) return false;
  if (r.matchLabels !== undefined && !Object.entries(r.matchLabels).every(([k, v]) => c.labels[k] === v)) return false;
  return true;
}

export function appliesTo(p: AdmissionPolicy, c: ResourceContext): boolean {
  if (p.resources.match.length > 0 && !p.resources.match.some((r) => ruleMatches(r, c))) return false;
  return !p.resources.exclude.some((r) => ruleMatches(r, c));
}
