/**
 * The decision: an AdmissionReview v1 request in, a response out (reference §5.1). Each image
 * of the object is resolved to a digest (tag lookups cached briefly), matched against the policy
 * set, and verified per (policy, repository, digest) with @cairn/oci's verifyImage against the
 * trusted root loaded at start: offline verification, the registry the only network peer.
 * Results are cached in a bounded LRU with a TTL; concurrent requests for the same key share one
 * verification; each request runs under a deadline below the webhook timeout. Fail-closed: a
 * registry that cannot be reached denies in enforce mode.
 */
import { CairnError, isCairnError, isRecord, type Logger } from '@cairn/shared';
import { evaluateCondition } from '@cairn/verify';
import { parseReference, resolveDigest, verifyImage, type Finding, type ImageReference, type ImageSource, type ImageVerification } from '@cairn/oci/verify';
import type { TrustMaterial } from '@cairn/verify';
import { AdmissionError } from './errors.ts';
import { extractImages, type ImageSite } from './images.ts';
import { appliesTo, type AdmissionPolicy, type AttestationCheck, type Authority, type Mode, type PolicySet, type ResourceContext } from './policy.ts';
import { TtlLru } from './lru.ts';

export const REVIEW_API_VERSION = 'admission.k8s.io/v1';
export const MAX_UID_LENGTH = 128;
const MAX_MESSAGE = 4000;
const MAX_WARNING = 256;

export type NoMatch = 'allow' | 'warn' | 'deny';

export interface EngineOptions {
  policies: () => PolicySet;
  trust: TrustMaterial;
  client: ImageSource;
  /** Verified (and definitively refused) results, per (policy set, policy, repository, digest). */
  cacheTtlMs?: number;
  cacheSize?: number;
  /** Negative results (not signed, wrong identity, ...) live shorter, so a newly signed image is admitted soon. */
  negativeTtlMs?: number;
  /** Tag -> digest resolutions. */
  tagTtlMs?: number;
  /** Deadline of one request (below the webhook's timeoutSeconds). */
  timeoutMs?: number;
  noMatch?: NoMatch;
  /** Only these namespaces are checked (empty: all). */
  namespaces?: string[];
  /** Never checked (kube-system, the webhook's own namespace). */
  excludeNamespaces?: string[];
  logger: Logger;
  onDecision?: (d: DecisionRecord) => void;
}

export interface ImageFailure {
  image: string;
  policy: string;
  mode: Mode;
  code: string;
  reason: string;
}

export interface DecisionRecord {
  uid: string;
  endpoint: 'validate' | 'mutate';
  result: 'allowed' | 'denied' | 'warned' | 'audited' | 'skipped' | 'invalid';
  code?: string;
  failures: ImageFailure[];
  namespace?: string;
  kind?: string;
  name?: string;
  dryRun: boolean;
}

interface Outcome {
  ok: boolean;
  code?: string;
  reason?: string;
  /** Registry trouble or the deadline: never cached. */
  transient?: boolean;
}

interface ReviewRequest {
  uid: string;
  kind: string;
  group: string;
  version: string;
  resource: string;
  subResource: string;
  namespace: string;
  name: string;
  operation: string;
  object: unknown;
  dryRun: boolean;
}

export interface HttpAnswer {
  status: number;
  body: unknown;
}

const TRANSIENT = new Set(['NETWORK_ERROR', 'TIMEOUT', 'ABORTED', 'REGISTRY_ERROR', 'AUTH_REQUIRED', 'AUTH_FAILED', 'TOKEN_INVALID', 'DENIED', 'TOO_MANY_REDIRECTS', 'INTERNAL']);

const WHY: Record<string, string> = {
  NO_SIGNATURES: 'no valid signature',
  IDENTITY_MISMATCH: 'signed by another identity',
  ISSUER_MISMATCH: 'signed by another identity (issuer)',
  KEY_MISMATCH: 'not signed by the policy key',
  SUBJECT_MISMATCH: 'signed for another digest',
  NO_ATTESTATIONS: 'attestation missing',
  CONDITION_FAILED: 'attestation condition false',
  NOT_FOUND: 'image not found in the registry',
  NETWORK_ERROR: 'registry unreachable (fail-closed)',
  TIMEOUT: 'verification deadline passed (fail-closed)',
  REFERENCE_INVALID: 'not a valid image reference',
  DIGEST_UNSUPPORTED: 'only sha256 digests are accepted',
  NO_MATCHING_POLICY: 'no policy matches the image',
  STATIC_FAIL: 'a static authority refuses it',
};

function codeOf(e: unknown): string {
  return isCairnError(e) ? e.code : 'INTERNAL';
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function reviewFail(message: string, code: 'REVIEW_INVALID' | 'REVIEW_UNSUPPORTED' = 'REVIEW_INVALID'): never {
  throw new AdmissionError(code, message);
}

/** Validates the envelope (400 when it is not an AdmissionReview v1 with a request.uid). */
export function parseReview(body: unknown): ReviewRequest {
  if (!isRecord(body)) reviewFail('the body is not a JSON object');
  if (body.kind !== 'AdmissionReview') reviewFail(`kind is ${JSON.stringify(body.kind ?? null).slice(0, 60)}, not AdmissionReview`, body.kind === undefined ? 'REVIEW_INVALID' : 'REVIEW_UNSUPPORTED');
  if (body.apiVersion !== REVIEW_API_VERSION) reviewFail(`apiVersion is ${JSON.stringify(body.apiVersion ?? null).slice(0, 60)}, not ${REVIEW_API_VERSION} (admissionReviewVersions: [v1])`, 'REVIEW_UNSUPPORTED');
  const r = body.request;
  if (!isRecord(r)) reviewFail('the AdmissionReview has no request');
  if (typeof r.uid !== 'string' || r.uid === '' || r.uid.length > MAX_UID_LENGTH) reviewFail(`request.uid is missing or not a string of 1-${MAX_UID_LENGTH} characters`);
  const k = isRecord(r.kind) ? r.kind : {};
  const res = isRecord(r.resource) ? r.resource : {};
  const s = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 253) : '');
  return {
    uid: r.uid,
    kind: s(k.kind),
    group: s(k.group),
    version: s(k.version),
    resource: s(res.resource),
    subResource: s(r.subResource),
    namespace: s(r.namespace),
    name: s(r.name) || (isRecord(r.object) && isRecord(r.object.metadata) ? s(r.object.metadata.name) || s(r.object.metadata.generateName) : ''),
    operation: s(r.operation),
    object: r.object,
    dryRun: r.dryRun === true,
  };
}

function response(uid: string, o: { allowed: boolean; status?: { code: number; reason: string; message: string }; warnings?: string[]; audit?: Record<string, string>; patch?: unknown[] }): HttpAnswer {
  const resp: Record<string, unknown> = { uid, allowed: o.allowed };
  if (o.status) resp.status = { ...o.status, message: o.status.message.slice(0, MAX_MESSAGE) };
  if (o.warnings && o.warnings.length > 0) resp.warnings = o.warnings.slice(0, 32).map((w) => (w.length > MAX_WARNING ? `${w.slice(0, MAX_WARNING - 1)}…` : w));
  if (o.audit && Object.keys(o.audit).length > 0) resp.auditAnnotations = o.audit;
  if (o.patch && o.patch.length > 0) {
    resp.patchType = 'JSONPatch';
    resp.patch = Buffer.from(JSON.stringify(o.patch)).toString('base64');
  }
  return { status: 200, body: { apiVersion: REVIEW_API_VERSION, kind: 'AdmissionReview', response: resp } };
}

function authorityKey(a: Authority): string {
  return a.name;
}

export class AdmissionEngine {
  private readonly results: TtlLru<string, Outcome>;
  private readonly tags: TtlLru<string, string>;
  private readonly inflight = new Map<string, Promise<Outcome>>();
  private readonly tagInflight = new Map<string, Promise<string>>();
  readonly stats = { cacheHits: 0, cacheMisses: 0, verifications: 0, tagHits: 0, tagMisses: 0, shared: 0 };
  private readonly timeoutMs: number;
  private readonly negativeTtlMs: number;

  constructor(private readonly o: EngineOptions) {
    this.results = new TtlLru(o.cacheSize ?? 10_000, o.cacheTtlMs ?? 10 * 60_000);
    this.tags = new TtlLru(Math.max(1024, Math.floor((o.cacheSize ?? 10_000) / 4)), o.tagTtlMs ?? 10_000);
    this.timeoutMs = o.timeoutMs ?? 8_000;
    this.negativeTtlMs = o.negativeTtlMs ?? 30_000;
  }

  /** Drops every cached result (after a policy reload the set id changes anyway). */
  clear(): void {
    this.results.clear();
    this.tags.clear();
  }

  get cacheSize(): number {
    return this.results.size;
  }

  /** One review, validated. `body` is parsed JSON; envelope errors are thrown (the server answers 400). */
  async review(body: unknown, endpoint: 'validate' | 'mutate'): Promise<HttpAnswer> {
    const req = parseReview(body);
    const record: DecisionRecord = { uid: req.uid, endpoint, result: 'allowed', failures: [], namespace: req.namespace, kind: req.kind, name: req.name, dryRun: req.dryRun };
    const done = (a: HttpAnswer): HttpAnswer => {
      this.o.onDecision?.(record);
      return a;
    };
    const skip = (why: string): HttpAnswer => {
      record.result = 'skipped';
      record.code = why;
      return done(response(req.uid, { allowed: true }));
    };
    if (req.operation === 'DELETE' || req.operation === 'CONNECT' || req.object === null || req.object === undefined) return skip('NO_OBJECT');
    // Sub-resources carry no pod spec of their own, except ephemeral containers (an UPDATE of pods/ephemeralcontainers sends the Pod).
    if (req.subResource !== '' && req.subResource !== 'ephemeralcontainers') return skip('SUBRESOURCE');
    if (req.namespace !== '' && (this.o.excludeNamespaces ?? []).includes(req.namespace)) return skip('NAMESPACE_EXCLUDED');
    if ((this.o.namespaces ?? []).length > 0 && !(this.o.namespaces ?? []).includes(req.namespace)) return skip('NAMESPACE_NOT_SELECTED');
    let sites: ImageSite[] | undefined;
    try {
      sites = extractImages(req.kind, req.object);
    } catch (e) {
      record.result = 'invalid';
      record.code = codeOf(e);
      return done(response(req.uid, { allowed: false, status: { code: 400, reason: codeOf(e), message: `[${codeOf(e)}] ${messageOf(e)}` } }));
    }
    if (sites === undefined) return skip('KIND_NOT_COVERED');
    if (sites.length === 0) return done(response(req.uid, { allowed: true }));

    const set = this.o.policies();
    const obj = isRecord(req.object) ? req.object : {};
    const md = isRecord(obj.metadata) ? obj.metadata : {};
    const labels = isRecord(md.labels) ? (Object.fromEntries(Object.entries(md.labels).filter(([, v]) => typeof v === 'string')) as Record<string, string>) : {};
    const ctx: ResourceContext = { kind: req.kind, group: req.group, version: req.version, resource: req.resource, namespace: req.namespace, labels };
    const applicable = set.policies.filter((p) => appliesTo(p, ctx));
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const byImage = new Map<string, ImageSite[]>();
    for (const s of sites) byImage.set(s.image, [...(byImage.get(s.image) ?? []), s]);

    const failures: ImageFailure[] = [];
    const patch: { op: 'replace'; path: string; value: string }[] = [];
    await Promise.all(
      [...byImage].map(async ([image, where]) => {
        let ref: ImageReference;
        try {
          ref = parseReference(image);
        } catch (e) {
          failures.push({ image, policy: '-', mode: 'enforce', code: codeOf(e), reason: `${WHY[codeOf(e)] ?? 'invalid'}: ${messageOf(e)}` });
          return;
        }
        const matched = applicable.filter((p) => p.matchesImage(ref));
        if (matched.length === 0) {
          const mode = this.o.noMatch ?? 'warn';
          if (mode !== 'allow') failures.push({ image, policy: '(none)', mode: mode === 'deny' ? 'enforce' : 'warn', code: 'NO_MATCHING_POLICY', reason: WHY.NO_MATCHING_POLICY! });
          return;
        }
        let digest = ref.digest;
        if (digest === undefined) {
          try {
            digest = await this.resolveTag(ref, deadline);
          } catch (e) {
            const code = codeOf(e);
            for (const p of matched) failures.push({ image, policy: p.name, mode: p.mode, code, reason: `${WHY[code] ?? 'tag not resolved'}: ${messageOf(e)}` });
            return;
          }
        }
        const outcomes = await Promise.all(matched.map((p) => this.outcome(set, p, ref, digest, deadline)));
        let allOk = true;
        outcomes.forEach((out, i) => {
          const p = matched[i]!;
          if (!out.ok) {
            allOk = false;
            failures.push({ image, policy: p.name, mode: p.mode, code: out.code ?? 'NOT_VERIFIED', reason: out.reason ?? WHY[out.code ?? ''] ?? 'not verified' });
          }
        });
        if (endpoint === 'mutate' && ref.digest === undefined && allOk && matched.some((p) => p.mutateDigest)) {
          const at = image.lastIndexOf('@');
          const base = at >= 0 ? image.slice(0, at) : image;
          const slash = base.lastIndexOf('/');
          const colon = base.lastIndexOf(':');
          const name = colon > slash ? base.slice(0, colon) : base;
          for (const s of where) patch.push({ op: 'replace', path: s.pointer, value: `${name}@${digest}` });
        }
      }),
    );
    failures.sort((a, b) => (a.image === b.image ? a.policy.localeCompare(b.policy) : a.image.localeCompare(b.image)));
    record.failures = failures;
    const enforced = failures.filter((f) => f.mode === 'enforce');
    const warned = failures.filter((f) => f.mode === 'warn');
    const audited = failures.filter((f) => f.mode === 'audit');
    const line = (f: ImageFailure): string => `image ${f.image}: policy ${f.policy}: [${f.code}] ${f.reason}`;
    const warnings = warned.map((f) => `cairn: ${line(f)}`);
    const audit: Record<string, string> = {};
    if (audited.length > 0) audit['audit-failures'] = JSON.stringify(audited.map((f) => ({ image: f.image, policy: f.policy, code: f.code, reason: f.reason.slice(0, 300) }))).slice(0, 8192);
    if (enforced.length > 0) {
      record.result = 'denied';
      record.code = enforced[0]!.code;
      return done(response(req.uid, { allowed: false, status: { code: 403, reason: enforced[0]!.code, message: enforced.map(line).join('; ') }, warnings, audit }));
    }
    record.result = warned.length > 0 ? 'warned' : audited.length > 0 ? 'audited' : 'allowed';
    if (audited.length > 0) this.o.logger.warn('admission audit: allowed despite failures', { uid: req.uid, namespace: req.namespace, kind: req.kind, name: req.name, failures: audited });
    // Stable order: RFC 6902 patches apply in sequence.
    patch.sort((a, b) => a.path.localeCompare(b.path));
    return done(response(req.uid, { allowed: true, warnings, audit, ...(endpoint === 'mutate' ? { patch } : {}) }));
  }

  private async resolveTag(ref: ImageReference, signal: AbortSignal): Promise<string> {
    const key = `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`;
    const hit = this.tags.get(key);
    if (hit !== undefined) {
      this.stats.tagHits++;
      return hit;
    }
    this.stats.tagMisses++;
    let p = this.tagInflight.get(key);
    if (!p) {
      p = resolveDigest(this.o.client, { ...ref, tag: ref.tag ?? 'latest' }, { signal: AbortSignal.timeout(this.timeoutMs) })
        .then((r) => {
          this.tags.set(key, r.digest);
          return r.digest;
        })
        .finally(() => this.tagInflight.delete(key));
      this.tagInflight.set(key, p);
    }
    return raceDeadline(p, signal);
  }

  private async outcome(set: PolicySet, p: AdmissionPolicy, ref: ImageReference, digest: string, signal: AbortSignal): Promise<Outcome> {
    const key = `${set.id}\0${p.digest}\0${ref.registry}/${ref.repository}\0${digest}`;
    const hit = this.results.get(key);
    if (hit !== undefined) {
      this.stats.cacheHits++;
      return hit;
    }
    this.stats.cacheMisses++;
    let pr = this.inflight.get(key);
    if (pr) this.stats.shared++;
    else {
      pr = this.evaluate(p, ref, digest)
        .then((out) => {
          if (!out.transient) this.results.set(key, out, out.ok ? undefined : this.negativeTtlMs);
          return out;
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pr);
    }
    try {
      return await raceDeadline(pr, signal);
    } catch (e) {
      return { ok: false, code: codeOf(e), reason: WHY[codeOf(e)] ?? messageOf(e), transient: true };
    }
  }

  /** Every group of the policy must pass; a group needs `count` of its authorities (or all). */
  private async evaluate(p: AdmissionPolicy, ref: ImageReference, digest: string): Promise<Outcome> {
    this.stats.verifications++;
    const signal = AbortSignal.timeout(this.timeoutMs);
    const repo: ImageReference = { registry: ref.registry, repository: ref.repository };
    // One registry read per distinct identity/key set: authorities that only differ in attestation checks share it.
    const verified = new Map<string, Promise<ImageVerification>>();
    const run = (a: Authority): Promise<ImageVerification> => {
      const k = JSON.stringify([a.policy, a.requireSignature]);
      let v = verified.get(k);
      if (!v) {
        v = verifyImage({ client: this.o.client, reference: repo, digest, trustedRoot: this.o.trust, policy: a.policy!, requireSignature: a.requireSignature, signal });
        verified.set(k, v);
      }
      return v;
    };
    for (const g of p.groups) {
      const results = await Promise.all(g.authorities.map((a) => this.authority(a, run)));
      const passed = results.filter((r) => r.ok).length;
      const need = g.count === 'all' ? g.authorities.length : g.count;
      if (passed < need) {
        const failed = results.filter((r) => !r.ok);
        const transient = failed.find((r) => r.transient);
        const first = transient ?? failed[0]!;
        const names = g.authorities.map((a, i) => (results[i]!.ok ? undefined : `${authorityKey(a)}: [${results[i]!.code}] ${results[i]!.reason}`)).filter((x) => x !== undefined);
        return { ok: false, code: first.code, reason: `${WHY[first.code ?? ''] ?? 'not verified'} (${g.what}: ${passed} of ${need} needed passed; ${names.join('; ')})`.slice(0, 1500), transient: transient !== undefined };
      }
    }
    return { ok: true };
  }

  private async authority(a: Authority, run: (a: Authority) => Promise<ImageVerification>): Promise<Outcome> {
    if (a.static) return a.static.action === 'pass' ? { ok: true } : { ok: false, code: 'STATIC_FAIL', reason: a.static.message };
    let r: ImageVerification;
    try {
      r = await run(a);
    } catch (e) {
      const code = codeOf(e);
      return { ok: false, code, reason: messageOf(e).slice(0, 300), transient: TRANSIENT.has(code) };
    }
    if (a.requireSignature && !r.verified) {
      const f = r.signatures.find((x) => !x.verified && x.code !== undefined);
      const code = r.code ?? 'NO_SIGNATURES';
      const transient = TRANSIENT.has(code) || r.signatures.some((x) => x.code !== undefined && TRANSIENT.has(x.code));
      return { ok: false, code, reason: f?.message ? `${f.message}`.slice(0, 300) : (WHY[code] ?? code), transient };
    }
    for (const check of a.attestations) {
      const out = attestationOutcome(check, r.attestations);
      if (!out.ok) return { ...out, transient: r.attestations.some((x) => x.code !== undefined && TRANSIENT.has(x.code)) };
    }
    return { ok: true };
  }
}

function attestationOutcome(check: AttestationCheck, found: Finding[]): Outcome {
  const candidates = found.filter((f) => f.verified && f.predicateType === check.predicateType);
  if (candidates.length === 0) {
    const bad = found.find((f) => !f.verified && f.code !== undefined);
    return { ok: false, code: 'NO_ATTESTATIONS', reason: `no verified ${check.predicateType} attestation${bad ? ` (one was refused: [${bad.code}] ${bad.message ?? ''})` : ''}`.slice(0, 500) };
  }
  let failed: string | undefined;
  for (const f of candidates) {
    const broken = check.blocks.map((b) => {
      const all = b.all.find((c) => !evaluateCondition(f.predicate, c));
      if (all) return all.source;
      if (b.any.length > 0 && !b.any.some((c) => evaluateCondition(f.predicate, c))) return `any of ${b.any.map((c) => c.source).join(' | ')}`;
      return undefined;
    });
    const first = broken.find((x) => x !== undefined);
    if (first === undefined) return { ok: true };
    failed ??= first;
  }
  return { ok: false, code: 'CONDITION_FAILED', reason: `${check.name} (${check.predicateType}): condition false: ${failed}`.slice(0, 500) };
}

function raceDeadline<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new AdmissionErrorTimeout());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new AdmissionErrorTimeout());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

class AdmissionErrorTimeout extends CairnError<'TIMEOUT'> {
  constructor() {
    super('TIMEOUT', 'the decision deadline passed');
  }
}
