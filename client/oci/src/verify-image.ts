/**
 * `verifyImage`: finds every signature and attestation attached to an image digest, in both
 * formats (OCI 1.1 referrers carrying Sigstore bundles, found through the referrers API or its
 * tag-schema fallback; cosign's tag-based `.sig`/`.att` objects), and verifies each offline with
 * the one bundle verifier. Binding to the image: a referrer's `subject` must be the digest, a
 * bundle's statement subject or message digest must be the digest, a simple-signing payload's
 * docker-manifest-digest must be the digest. Never prints, never exits; every failure is a
 * finding with a stable code.
 */
import { createHash } from 'node:crypto';
import { isCairnError, isRecord } from '@cairn/shared';
import {
  checkAttestation,
  parseCondition,
  resolvePredicateType,
  verify,
  type Condition,
  type TrustMaterial,
  type VerificationPolicy,
  type VerificationResult,
} from '@cairn/verify';
import { OciError, ociFail } from './errors.ts';
import {
  BUNDLE_LAYER_MEDIA_TYPES,
  bundleFromAttestationLayer,
  bundleFromSignatureLayer,
  COSIGN_SIGN_PREDICATE,
  DSSE_LAYER_MEDIA_TYPE,
  MAX_PAYLOAD_BYTES,
  MAX_SIGNATURE_LAYERS,
  parseSimpleSigning,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from './cosign.ts';
import type { Descriptor, Manifest } from './manifest.ts';
import { compileRules, type CompiledRule, type ImagePolicy } from './policy.ts';
import { checkDigest, digestTag, formatReference, parseReference, type ImageReference } from './reference.ts';
import { resolveDigest, type ImageSource, type OperationOptions } from './registry.ts';

/** Referrer bundles and legacy layers examined per image (the rest are reported as skipped). */
export const MAX_FINDINGS = 512;
/** Largest bundle blob fetched. */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;
const SIGN_PREDICATES = [COSIGN_SIGN_PREDICATE];

export interface AttestationRequirement {
  /** A predicate type URI or an alias (slsaprovenance, spdxjson, ...). */
  predicateType: string;
  /** Parsed conditions, or condition text as `--condition` takes it ('PATH=VALUE', 'PATH=glob:P', 'PATH=one-of:A,B'). */
  conditions?: (Condition | string)[];
}

export interface VerifyImageOptions extends OperationOptions {
  client: ImageSource;
  /** The image: a reference (a tag is resolved once) or, with `digest`, the repository. */
  reference: string | ImageReference;
  /** Verify this digest in the reference's repository (no tag lookup). */
  digest?: string;
  trustedRoot: TrustMaterial;
  policy: ImagePolicy;
  /** Required attestations; each must be met by at least one verified attestation. */
  attestations?: AttestationRequirement[];
  /** Whether at least one verified signature is required (default true). */
  requireSignature?: boolean;
}

export type Signer = { type: 'certificate'; subject: string; issuer: string } | { type: 'key'; keySha256: string };

export interface Finding {
  kind: 'signature' | 'attestation';
  format: 'bundle' | 'legacy';
  /** Where it was found: `referrer sha256:...` or `sha256-<hex>.sig[layer]`. */
  source: string;
  verified: boolean;
  /** Why not (a stable code: VerifyError, OciError or shared codes). */
  code?: string;
  message?: string;
  signer?: Signer;
  signedAt?: string[];
  predicateType?: string;
  predicate?: unknown;
  /** Legacy signatures: the payload's docker-reference (cosign ignores it; reported only). */
  dockerReference?: string;
}

export interface RequirementResult {
  predicateType: string;
  satisfied: boolean;
  /** The sources of attestations that met it. */
  by: string[];
  code?: string;
}

export interface ImageVerification {
  reference: string;
  digest: string;
  /** A verified signature (unless not required) and every attestation requirement met. */
  verified: boolean;
  /** When not verified: NO_SIGNATURES, NO_ATTESTATIONS, or the code of the first failing finding. */
  code?: string;
  signatures: Finding[];
  attestations: Finding[];
  requirements: RequirementResult[];
  /** How referrers were found. */
  referrersVia: 'api' | 'tag' | 'layout';
}

function codeOf(e: unknown): { code: string; message: string } {
  if (isCairnError(e)) return { code: e.code, message: e.message };
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

function signerOf(r: VerificationResult): Signer {
  return r.signer.type === 'certificate'
    ? { type: 'certificate', subject: r.signer.identity, issuer: r.signer.issuer }
    : { type: 'key', keySha256: createHash('sha256').update(r.signer.spki).digest('hex') };
}

/**
 * The verifier runs once per candidate key (key-signed bundles), or once with matchers that accept
 * any listed issuer and subject, after which one rule must match both.
 */
function verifyWithPolicy(bundle: unknown, artifact: Uint8Array | string, policy: ImagePolicy, rules: CompiledRule[], trust: TrustMaterial): VerificationResult {
  const thresholds = { tlogThreshold: policy.tlogThreshold, ctlogThreshold: policy.ctlogThreshold, timestampThreshold: policy.timestampThreshold };
  let last: Error | undefined;
  if (rules.length > 0) {
    const p: VerificationPolicy = { ...thresholds, identityMatcher: (v) => rules.some((r) => r.subject(v)), issuerMatcher: (v) => rules.some((r) => r.issuer(v)) };
    try {
      const res = verify(bundle, artifact, p, trust);
      if (res.signer.type === 'certificate') {
        const { identity, issuer } = res.signer;
        if (!rules.some((r) => r.subject(identity) && r.issuer(issuer))) {
          throw new OciError('IDENTITY_MISMATCH', `no single identity of the policy matches both issuer ${issuer} and subject ${identity}`);
        }
      }
      return res;
    } catch (e) {
      if (!(isCairnError(e) && e.code === 'KEY_REQUIRED')) last = toError(e);
      if ((policy.publicKeys ?? []).length === 0) throw e;
    }
  }
  for (const key of policy.publicKeys ?? []) {
    try {
      return verify(bundle, artifact, { ...thresholds, publicKey: key }, trust);
    } catch (e) {
      last ??= toError(e);
      if (isCairnError(e) && e.code !== 'KEY_MISMATCH') last = e;
    }
  }
  throw last ?? new OciError('POLICY_INVALID', 'no identity or key to verify with');
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function isBundleReferrer(d: Descriptor): boolean {
  return d.artifactType === undefined || BUNDLE_LAYER_MEDIA_TYPES.includes(d.artifactType) || d.artifactType.startsWith('application/vnd.dev.sigstore.bundle');
}

function finish(f: Finding, r: VerificationResult): Finding {
  f.verified = true;
  f.signer = signerOf(r);
  f.signedAt = r.timestamps.map((t) => t.time.toISOString());
  return f;
}

function fail(f: Finding, e: unknown): Finding {
  const { code, message } = codeOf(e);
  f.verified = false;
  f.code = code;
  f.message = message;
  return f;
}

/** Referrer manifests and blobs fetched (and bundles verified) at once per image. */
export const FETCH_CONCURRENCY = 8;

/** One thing to examine: found by listing, examined (fetched and verified) afterwards, in parallel. */
type Task = { finding: Finding; examine?: () => Promise<Finding | undefined> };

/** Runs the tasks' examinations with at most `limit` in flight; results keep the tasks' order. */
async function examineAll(tasks: Task[], limit: number): Promise<Finding[]> {
  const out: (Finding | undefined)[] = tasks.map((t) => (t.examine ? undefined : t.finding));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      const ex = tasks[i]!.examine;
      if (ex) out[i] = await ex();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out.filter((f): f is Finding => f !== undefined);
}

const overBudget = (): OciError => new OciError('TOO_MANY_DESCRIPTORS', `more than ${MAX_FINDINGS} signatures and attestations; the rest are not examined`);

/** Lists the referrers (API or tag schema); each bundle referrer becomes a task. */
async function referrerTasks(o: VerifyImageOptions, repo: ImageReference, digest: string, rules: CompiledRule[], signal: AbortSignal) {
  let via: ImageVerification['referrersVia'] = o.client.kind === 'layout' ? 'layout' : 'tag';
  let descriptors: Descriptor[];
  try {
    const r = await o.client.referrers(repo, digest, { signal });
    via = r.via;
    descriptors = r.descriptors.filter(isBundleReferrer);
  } catch (e) {
    return { tasks: [{ finding: fail({ kind: 'signature', format: 'bundle', source: `referrers of ${digest}`, verified: false }, e) }], via };
  }
  const tasks = descriptors.map((d): Task & { finding: Finding } => {
    const predicateHint = d.annotations?.['dev.sigstore.bundle.predicateType'];
    const f: Finding = { kind: predicateHint !== undefined && !SIGN_PREDICATES.includes(predicateHint) ? 'attestation' : 'signature', format: 'bundle', source: `referrer ${d.digest}`, verified: false };
    return { finding: f, examine: () => examineReferrer(o, repo, digest, d, f, rules, signal) };
  });
  return { tasks, via };
}

async function examineReferrer(o: VerifyImageOptions, repo: ImageReference, digest: string, d: Descriptor, f: Finding, rules: CompiledRule[], signal: AbortSignal): Promise<Finding | undefined> {
  try {
    const m: Manifest = await o.client.getManifest(repo, d.digest, { signal });
    if (m.kind !== 'manifest') ociFail('MANIFEST_INVALID', 'a referrer is not an image manifest');
    // The referrers index and the fallback tag are registry data: the manifest's own subject decides.
    if (m.subject?.digest !== digest) ociFail('SUBJECT_MISMATCH', `the referrer's subject is ${m.subject?.digest ?? 'missing'}, not ${digest}`);
    const layer = m.layers.find((l) => BUNDLE_LAYER_MEDIA_TYPES.includes(l.mediaType)) ?? (m.artifactType !== undefined && BUNDLE_LAYER_MEDIA_TYPES.includes(m.artifactType) ? m.layers[0] : undefined);
    // Not a Sigstore bundle (an SBOM, a signature of another tool): not ours to judge.
    if (!layer) return undefined;
    if (layer.size > MAX_BUNDLE_BYTES) ociFail('TOO_LARGE', `the bundle blob is ${layer.size} bytes, over ${MAX_BUNDLE_BYTES}`);
    const bytes = await o.client.getBlob(repo, layer, { signal });
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      ociFail('PAYLOAD_INVALID', 'the bundle blob is not JSON');
    }
    const isDsse = isRecord(json) && json.dsseEnvelope !== undefined;
    const r = verifyWithPolicy(json, digest, o.policy, rules, o.trustedRoot);
    if (isDsse && r.statement) {
      const pt = typeof r.statement.predicateType === 'string' ? r.statement.predicateType : undefined;
      f.predicateType = pt;
      f.predicate = r.statement.predicate;
      f.kind = pt !== undefined && SIGN_PREDICATES.includes(pt) ? 'signature' : 'attestation';
    } else {
      f.kind = 'signature';
    }
    return finish(f, r);
  } catch (e) {
    return fail(f, e);
  }
}

/** Reads cosign's `sha256-<hex>.sig` / `.att` manifest; each layer becomes a task. */
async function legacyTasks(o: VerifyImageOptions, repo: ImageReference, digest: string, suffix: 'sig' | 'att', rules: CompiledRule[], signal: AbortSignal): Promise<Task[]> {
  const tag = digestTag(digest, suffix);
  const kind = suffix === 'sig' ? 'signature' : 'attestation';
  let m: Manifest;
  try {
    m = await o.client.getManifest(repo, tag, { signal });
  } catch (e) {
    if (e instanceof OciError && e.code === 'NOT_FOUND') return [];
    return [{ finding: fail({ kind, format: 'legacy', source: tag, verified: false }, e) }];
  }
  if (m.kind !== 'manifest') return [{ finding: fail({ kind, format: 'legacy', source: tag, verified: false }, new OciError('MANIFEST_INVALID', `${tag} is not an image manifest`)) }];
  if (m.layers.length > MAX_SIGNATURE_LAYERS) {
    return [{ finding: fail({ kind, format: 'legacy', source: tag, verified: false }, new OciError('TOO_MANY_DESCRIPTORS', `${tag} has ${m.layers.length} layers, more than ${MAX_SIGNATURE_LAYERS}`)) }];
  }
  return m.layers.map((layer, i) => {
    const f: Finding = { kind, format: 'legacy', source: `${tag}[${i}]`, verified: false };
    return { finding: f, examine: () => examineLegacyLayer(o, repo, digest, suffix, layer, f, rules, signal) };
  });
}

async function examineLegacyLayer(o: VerifyImageOptions, repo: ImageReference, digest: string, suffix: 'sig' | 'att', layer: Descriptor, f: Finding, rules: CompiledRule[], signal: AbortSignal): Promise<Finding | undefined> {
  try {
    const want = suffix === 'sig' ? SIMPLE_SIGNING_MEDIA_TYPE : DSSE_LAYER_MEDIA_TYPE;
    if (layer.mediaType !== want) return undefined;
    if (layer.size > MAX_PAYLOAD_BYTES) ociFail('TOO_LARGE', `the layer is ${layer.size} bytes, over ${MAX_PAYLOAD_BYTES}`);
    const bytes = await o.client.getBlob(repo, layer, { signal });
    const a = layer.annotations ?? {};
    if (suffix === 'sig') {
      const r = verifyWithPolicy(bundleFromSignatureLayer(bytes, a), bytes, o.policy, rules, o.trustedRoot);
      const payload = parseSimpleSigning(bytes);
      if (payload.dockerReference !== undefined) f.dockerReference = payload.dockerReference;
      // reference §4.3: the payload's digest is what binds the detached signature to the image.
      if (payload.digest.toLowerCase() !== digest) ociFail('SUBJECT_MISMATCH', `the signed payload names ${payload.digest.slice(0, 80)}, not ${digest}`);
      return finish(f, r);
    }
    const r = verifyWithPolicy(bundleFromAttestationLayer(bytes, a), digest, o.policy, rules, o.trustedRoot);
    f.predicateType = typeof r.statement?.predicateType === 'string' ? r.statement.predicateType : undefined;
    f.predicate = r.statement?.predicate;
    return finish(f, r);
  } catch (e) {
    return fail(f, e);
  }
}

/**
 * Verifies what is attached to an image. Throws OciError only when the image itself cannot be
 * found or read (or the options are wrong); everything about signatures is in the result.
 */
export async function verifyImage(o: VerifyImageOptions): Promise<ImageVerification> {
  const rules = compileRules(o.policy);
  const requirements = (o.attestations ?? []).map((a) => ({
    predicateType: resolvePredicateType(a.predicateType),
    conditions: (a.conditions ?? []).map((c) => (typeof c === 'string' ? parseCondition(c) : c)),
  }));
  const signal = o.signal ?? AbortSignal.timeout(o.timeoutMs ?? 60_000);
  const repo = typeof o.reference === 'string' ? parseReference(o.reference) : o.reference;
  let digest: string;
  if (o.digest !== undefined) digest = checkDigest(o.digest, 'digest');
  else digest = (await resolveDigest(o.client, repo, { signal })).digest;
  // The three lists are independent reads: fetched at once. What they name is then examined in
  // parallel (bounded), the budget applied in a fixed order (referrers, .sig, .att) so the result
  // does not depend on which answer came first.
  const [ref, sig, att] = await Promise.all([
    referrerTasks(o, repo, digest, rules, signal),
    legacyTasks(o, repo, digest, 'sig', rules, signal),
    legacyTasks(o, repo, digest, 'att', rules, signal),
  ]);
  const tasks: Task[] = [];
  let budget = MAX_FINDINGS;
  for (const t of [...ref.tasks, ...sig, ...att]) {
    if (t.examine === undefined) {
      tasks.push(t);
    } else if (budget-- > 0) {
      tasks.push(t);
    } else {
      tasks.push({ finding: fail(t.finding, overBudget()) });
      break;
    }
  }
  const all = await examineAll(tasks, FETCH_CONCURRENCY);
  const signatures = all.filter((f) => f.kind === 'signature');
  const attestations = all.filter((f) => f.kind === 'attestation');
  const results: RequirementResult[] = requirements.map((req) => {
    const by: string[] = [];
    let code: string | undefined;
    for (const f of attestations) {
      if (!f.verified) continue;
      if (f.predicateType !== req.predicateType) {
        code ??= 'PREDICATE_TYPE_MISMATCH';
        continue;
      }
      try {
        checkAttestation({ predicateType: f.predicateType, predicate: f.predicate }, req.predicateType, req.conditions);
        by.push(f.source);
      } catch (e) {
        code = codeOf(e).code;
      }
    }
    return { predicateType: req.predicateType, satisfied: by.length > 0, by, ...(by.length === 0 ? { code: code ?? 'NO_ATTESTATIONS' } : {}) };
  });
  const needSig = o.requireSignature !== false;
  const sigOk = !needSig || signatures.some((f) => f.verified);
  const attOk = results.every((r) => r.satisfied);
  let code: string | undefined;
  if (!sigOk) code = signatures.find((f) => !f.verified)?.code ?? 'NO_SIGNATURES';
  else if (!attOk) code = results.find((r) => !r.satisfied)?.code ?? 'NO_ATTESTATIONS';
  return {
    reference: formatReference({ ...repo, digest }),
    digest,
    verified: sigOk && attOk,
    ...(code !== undefined ? { code } : {}),
    signatures,
    attestations,
    requirements: results,
    referrersVia: ref.via,
  };
}
