/**
 * From verified token claims to what the certificate says (Fulcio pkg/identity/<type>/principal.go):
 * the string the proof of possession signs (`Name()`, §1.3), the SAN (§1.9) and the 57264
 * extensions (§1.10).
 */
import { isRecord } from '@cairn/shared';
import { CaError } from '../errors.ts';
import { MAX_EXTENSION_VALUE_BYTES, type FulcioExtensions } from '../profile/extensions.ts';
import type { SubjectAltName } from '../profile/certificate.ts';
import type { CiProviderMetadata, IssuerConfig, IssuersConfig, Template } from './config.ts';

export interface Principal {
  /** What the proof of possession must sign (UTF-8). */
  name: string;
  san: SubjectAltName;
  extensions: FulcioExtensions;
}

export type Claims = Record<string, unknown>;

const EMAIL_RE = /^[^\s@]{1,256}@[^\s@]{1,256}$/;
const MAX_CLAIM_LENGTH = MAX_EXTENSION_VALUE_BYTES;

function reject(message: string): never {
  throw new CaError('IDENTITY_REJECTED', message);
}

function claimString(claims: Claims, name: string, required = true): string | undefined {
  const v = claims[name];
  if (v === undefined || v === null || v === '') {
    if (required) throw new CaError('TOKEN_INVALID_CLAIMS', `the token lacks the ${name} claim`);
    return undefined;
  }
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
  else if (typeof v === 'boolean') s = String(v);
  else throw new CaError('TOKEN_INVALID_CLAIMS', `the ${name} claim must be a string`);
  if (Buffer.byteLength(s) > MAX_CLAIM_LENGTH) throw new CaError('TOKEN_INVALID_CLAIMS', `the ${name} claim is too long`);
  return s;
}

function req(claims: Claims, name: string): string {
  return claimString(claims, name, true)!;
}

function absoluteUri(s: string): URL | undefined {
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s)) return undefined;
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

function emailPrincipal(claims: Claims, cfg: IssuerConfig, iss: string): Principal {
  const email = req(claims, 'email');
  if (!EMAIL_RE.test(email)) throw new CaError('TOKEN_INVALID_CLAIMS', 'the email claim is not an email address');
  if (!cfg.skipEmailVerification && claims.email_verified !== true) {
    throw new CaError('EMAIL_NOT_VERIFIED', 'the token email is not verified (email_verified is not true)');
  }
  let issuer = iss;
  if (cfg.issuerClaim !== undefined) {
    const v = jsonPath(claims, cfg.issuerClaim);
    if (typeof v !== 'string' || v === '') throw new CaError('TOKEN_INVALID_CLAIMS', `the token lacks the issuer claim ${cfg.issuerClaim}`);
    issuer = v;
  }
  return { name: email, san: { kind: 'email', value: email }, extensions: { issuer, tokenSubject: claimString(claims, 'sub', false) } };
}

/** `$.a.b` or `a.b` paths into the claims (Fulcio IssuerClaim), bounded depth. */
function jsonPath(claims: Claims, path: string): unknown {
  const parts = path.replace(/^\$\./, '').split('.');
  if (parts.length > 8) return undefined;
  let cur: unknown = claims;
  for (const p of parts) {
    if (!isRecord(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

function uriPrincipal(claims: Claims, iss: string, subjectDomain: string | undefined): Principal {
  const sub = req(claims, 'sub');
  const u = absoluteUri(sub);
  if (!u) reject('the token subject is not an absolute URI');
  if (subjectDomain !== undefined) {
    const d = new URL(subjectDomain);
    if (u.protocol !== d.protocol || u.host !== d.host) reject('the token subject is outside the issuer SubjectDomain');
  }
  return { name: sub, san: { kind: 'uri', value: sub }, extensions: { issuer: iss, tokenSubject: sub } };
}

function spiffePrincipal(claims: Claims, cfg: IssuerConfig, iss: string): Principal {
  const sub = req(claims, 'sub');
  const prefix = `spiffe://${cfg.spiffeTrustDomain!}/`;
  if (!sub.startsWith(prefix) || sub.length === prefix.length || !absoluteUri(sub)) reject('the SPIFFE ID is not in the configured trust domain');
  return { name: sub, san: { kind: 'uri', value: sub }, extensions: { issuer: iss, tokenSubject: sub } };
}

function kubernetesPrincipal(claims: Claims, iss: string): Principal {
  const sub = req(claims, 'sub');
  const k = claims['kubernetes.io'];
  if (!isRecord(k) || typeof k.namespace !== 'string' || !isRecord(k.serviceaccount) || typeof k.serviceaccount.name !== 'string') {
    throw new CaError('TOKEN_INVALID_CLAIMS', 'the token lacks the kubernetes.io namespace and service account');
  }
  const safe = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
  if (!safe.test(k.namespace) || !safe.test(k.serviceaccount.name)) throw new CaError('TOKEN_INVALID_CLAIMS', 'malformed kubernetes.io claims');
  const uri = `https://kubernetes.io/namespaces/${k.namespace}/serviceaccounts/${k.serviceaccount.name}`;
  return { name: sub, san: { kind: 'uri', value: uri }, extensions: { issuer: iss, tokenSubject: sub } };
}

function usernamePrincipal(claims: Claims, cfg: IssuerConfig, iss: string): Principal {
  const sub = req(claims, 'sub');
  if (sub.includes('!') || sub.includes('@')) reject('a username subject must contain neither ! nor @');
  return { name: sub, san: { kind: 'username', value: `${sub}!${cfg.subjectDomain!}` }, extensions: { issuer: iss, tokenSubject: sub } };
}

const GITHUB = 'https://github.com';

function githubPrincipal(claims: Claims, iss: string): Principal {
  const sub = req(claims, 'sub');
  const c = (n: string): string => req(claims, n);
  const ext: FulcioExtensions = {
    issuer: iss,
    githubWorkflowTrigger: c('event_name'),
    githubWorkflowSha: c('sha'),
    githubWorkflowName: c('workflow'),
    githubWorkflowRepository: c('repository'),
    githubWorkflowRef: c('ref'),
    buildSignerUri: `${GITHUB}/${c('job_workflow_ref')}`,
    buildSignerDigest: c('job_workflow_sha'),
    runnerEnvironment: c('runner_environment'),
    sourceRepositoryUri: `${GITHUB}/${c('repository')}`,
    sourceRepositoryDigest: c('sha'),
    sourceRepositoryRef: c('ref'),
    sourceRepositoryIdentifier: c('repository_id'),
    sourceRepositoryOwnerUri: `${GITHUB}/${c('repository_owner')}`,
    sourceRepositoryOwnerIdentifier: c('repository_owner_id'),
    buildConfigUri: `${GITHUB}/${c('workflow_ref')}`,
    buildConfigDigest: c('workflow_sha'),
    buildTrigger: c('event_name'),
    runInvocationUri: `${GITHUB}/${c('repository')}/actions/runs/${c('run_id')}/attempts/${c('run_attempt')}`,
    sourceRepositoryVisibilityAtSigning: c('repository_visibility'),
    deploymentEnvironment: claimString(claims, 'environment', false),
    tokenSubject: sub,
  };
  return { name: sub, san: { kind: 'uri', value: `${GITHUB}/${c('job_workflow_ref')}` }, extensions: ext };
}

function gitlabPrincipal(claims: Claims, iss: string): Principal {
  const sub = req(claims, 'sub');
  const c = (n: string): string => req(claims, n);
  const base = new URL(iss).origin;
  const refType = c('ref_type');
  const ref = refType === 'branch' ? `refs/heads/${c('ref')}` : refType === 'tag' ? `refs/tags/${c('ref')}` : reject(`unsupported GitLab ref_type ${refType}`);
  const configUri = `https://${c('ci_config_ref_uri')}`;
  const ext: FulcioExtensions = {
    issuer: iss,
    buildSignerUri: configUri,
    buildSignerDigest: c('ci_config_sha'),
    runnerEnvironment: c('runner_environment'),
    sourceRepositoryUri: `${base}/${c('project_path')}`,
    sourceRepositoryDigest: c('sha'),
    sourceRepositoryRef: ref,
    sourceRepositoryIdentifier: c('project_id'),
    sourceRepositoryOwnerUri: `${base}/${c('namespace_path')}`,
    sourceRepositoryOwnerIdentifier: c('namespace_id'),
    buildConfigUri: configUri,
    buildConfigDigest: c('ci_config_sha'),
    buildTrigger: c('pipeline_source'),
    runInvocationUri: `${base}/${c('project_path')}/-/jobs/${c('job_id')}`,
    sourceRepositoryVisibilityAtSigning: c('project_visibility'),
    tokenSubject: sub,
  };
  return { name: sub, san: { kind: 'uri', value: configUri }, extensions: ext };
}

/** Renders a compiled template; a referenced value missing from claims and defaults is an error. */
export function renderTemplate(t: Template, data: Record<string, string>, what: string): string {
  let out = '';
  for (const part of t) {
    if ('text' in part) out += part.text;
    else {
      const v = data[part.claim];
      if (v === undefined) throw new CaError('TOKEN_INVALID_CLAIMS', `${what}: the token lacks the ${part.claim} claim`);
      out += v;
    }
  }
  return out;
}

function ciProviderPrincipal(claims: Claims, meta: CiProviderMetadata, iss: string): Principal {
  const sub = req(claims, 'sub');
  const data: Record<string, string> = { ...meta.defaults };
  for (const k of Object.keys(claims)) {
    const v = claims[k];
    if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) data[k] = claimString(claims, k)!;
  }
  const ext: FulcioExtensions = { issuer: iss, tokenSubject: sub };
  for (const [field, t] of meta.extensions) {
    // A template naming an absent optional claim (e.g. GitHub `environment`) leaves its extension out.
    if (t.some((p) => 'claim' in p && data[p.claim] === undefined)) continue;
    const v = renderTemplate(t, data, field);
    if (Buffer.byteLength(v) > MAX_EXTENSION_VALUE_BYTES) throw new CaError('TOKEN_INVALID_CLAIMS', `${field} is too long`);
    ext[field] = v;
  }
  const san = renderTemplate(meta.san, data, 'subject alternative name');
  if (!absoluteUri(san)) reject('the CI provider SAN template does not produce a URI');
  return { name: sub, san: { kind: 'uri', value: san }, extensions: ext };
}

/** Maps verified claims to the principal for the issuer's type. */
export function principalFor(claims: Claims, cfg: IssuerConfig, config: IssuersConfig): Principal {
  const iss = req(claims, 'iss');
  let p: Principal;
  switch (cfg.type) {
    case 'email':
      p = emailPrincipal(claims, cfg, iss);
      break;
    case 'uri':
      p = uriPrincipal(claims, iss, cfg.subjectDomain);
      break;
    case 'spiffe':
      p = spiffePrincipal(claims, cfg, iss);
      break;
    case 'kubernetes':
      p = kubernetesPrincipal(claims, iss);
      break;
    case 'username':
      p = usernamePrincipal(claims, cfg, iss);
      break;
    case 'github-workflow':
      p = githubPrincipal(claims, iss);
      break;
    case 'gitlab-pipeline':
      p = gitlabPrincipal(claims, iss);
      break;
    case 'ci-provider':
      p = ciProviderPrincipal(claims, config.ciMetadata.get(cfg.ciProvider!)!, iss);
      break;
    case 'cairn-builtin':
      p = claims.email !== undefined ? emailPrincipal(claims, cfg, iss) : uriPrincipal(claims, iss, undefined);
      break;
  }
  if (cfg.challengeClaim !== undefined) p.name = req(claims, cfg.challengeClaim);
  return p;
}

/** Fulcio issuerToChallengeClaim for /api/v2/configuration. */
export function challengeClaimOf(cfg: IssuerConfig): string {
  if (cfg.challengeClaim !== undefined) return cfg.challengeClaim;
  return cfg.type === 'email' ? 'email' : 'sub';
}
