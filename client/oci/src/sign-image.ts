/**
 * `signImage` / `attestImage`: REF is resolved to a digest once; the signature or attestation is
 * written as a Sigstore bundle v0.3 in an OCI 1.1 referrer (cosign v3's default; the referrers
 * tag schema is kept up to date when the registry has no referrers API), or with
 * `format: 'legacy'` as a layer appended to cosign's `sha256-<hex>.sig` / `.att` manifest.
 * The keyless and key-based flows are the signer's (`sign`, `attest`); nothing is re-implemented.
 */
import { attest, buildStatement, resolvePredicateType, serializeBundle, sign, type SignOptions, type SignResult } from '@cairn/sign';
import { OciError, ociFail } from './errors.ts';
import {
  ANNOTATION,
  COSIGN_SIGN_PREDICATE,
  DSSE_LAYER_MEDIA_TYPE,
  legacyAnnotations,
  MAX_SIGNATURE_LAYERS,
  referrerManifest,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureConfig,
  signatureManifest,
  simpleSigningPayload,
} from './cosign.ts';
import { describe, EMPTY_BLOB, OCI_MANIFEST, type Descriptor, type Manifest } from './manifest.ts';
import { digestTag, parseReference, repositoryName, type ImageReference } from './reference.ts';
import { resolveDigest, type OperationOptions, type RegistryClient } from './registry.ts';

export interface SignImageOptions extends OperationOptions {
  client: RegistryClient;
  reference: string | ImageReference;
  /** The signer's options: identityToken (keyless) or signer (key), CA and log URLs. */
  sign: SignOptions;
  /** `bundle` (default): OCI 1.1 referrer; `legacy`: cosign's `.sig`/`.att` tags. */
  format?: 'bundle' | 'legacy';
  /** An index: also sign each platform manifest it lists. */
  recursive?: boolean;
  /** Legacy signatures: the simple-signing `optional` annotations (cosign -a k=v). */
  annotations?: Record<string, string>;
  /** Write `created` annotations at this time (tests). */
  now?: Date;
}

export interface AttestImageOptions extends SignImageOptions {
  predicateType: string;
  predicate: Record<string, unknown>;
}

export interface SignedObject {
  /** The image digest signed. */
  digest: string;
  format: 'bundle' | 'legacy';
  /** Referrer manifest digest, or the legacy tag. */
  location: string;
  /** Referrers: through the API or the tag schema fallback. */
  via?: 'api' | 'tag';
  result: SignResult;
}

export const MAX_RECURSIVE_MANIFESTS = 64;

function targets(m: Manifest, recursive: boolean): Descriptor[] {
  const own = describe(m);
  if (!recursive || m.kind !== 'index') return [own];
  if (m.manifests.length > MAX_RECURSIVE_MANIFESTS) ociFail('TOO_MANY_DESCRIPTORS', `the index lists more than ${MAX_RECURSIVE_MANIFESTS} manifests`);
  return [own, ...m.manifests];
}

async function appendLegacy(client: RegistryClient, repo: ImageReference, digest: string, suffix: 'sig' | 'att', layer: Descriptor, payload: Buffer, o: OperationOptions): Promise<string> {
  const tag = digestTag(digest, suffix);
  let layers: Descriptor[] = [];
  try {
    const existing = await client.getManifest(repo, tag, o);
    layers = existing.layers;
  } catch (e) {
    if (!(e instanceof OciError && e.code === 'NOT_FOUND')) throw e;
  }
  // cosign's dupe detector: the same payload with the same signature is not added twice.
  const dupe = layers.some((l) => l.digest === layer.digest && l.annotations?.[ANNOTATION.signature] === layer.annotations?.[ANNOTATION.signature] && suffix === 'sig');
  if (!dupe) layers = [...layers, layer];
  if (layers.length > MAX_SIGNATURE_LAYERS) ociFail('TOO_MANY_DESCRIPTORS', `${tag} would hold more than ${MAX_SIGNATURE_LAYERS} signatures`);
  await client.pushBlob(repo, payload, o);
  const config = signatureConfig(layers);
  await client.pushBlob(repo, config, o);
  await client.putManifest(repo, tag, signatureManifest(config, layers), OCI_MANIFEST, o);
  return tag;
}

async function pushBundle(client: RegistryClient, repo: ImageReference, subject: Descriptor, r: SignResult, predicateType: string | undefined, now: Date, o: OperationOptions) {
  const bytes = Buffer.from(serializeBundle(r.bundle));
  await client.pushBlob(repo, bytes, o);
  await client.pushBlob(repo, EMPTY_BLOB, o);
  const manifest = referrerManifest(bytes, subject, { content: r.bundle.dsseEnvelope ? 'dsse-envelope' : 'message-signature', created: now, ...(predicateType !== undefined ? { predicateType } : {}) });
  return client.pushReferrer(repo, manifest, o);
}

function statementFor(repo: ImageReference, digest: string, predicateType: string, predicate: unknown): Record<string, unknown> {
  return buildStatement([{ name: repositoryName(repo), digest: { sha256: digest.slice(7) } }], predicateType, predicate);
}

/** cosign's legacy objects hold a Rekor v1 entry and its SET; a Rekor v2 entry cannot be carried. */
function checkLegacyLog(o: { format?: 'bundle' | 'legacy'; sign: SignOptions }): void {
  if (o.format === 'legacy' && o.sign.rekorVersion === 2 && o.sign.tlogUpload !== false) {
    ociFail('OPTIONS_INVALID', "format legacy carries a Rekor v1 entry (cosign's SET annotation): sign with rekorVersion 1, or use format bundle for Rekor v2");
  }
}

export async function signImage(o: SignImageOptions): Promise<SignedObject[]> {
  checkLegacyLog(o);
  const repo = typeof o.reference === 'string' ? parseReference(o.reference) : o.reference;
  const { manifest } = await resolveDigest(o.client, repo, o);
  const out: SignedObject[] = [];
  for (const t of targets(manifest, o.recursive === true)) {
    if (o.format === 'legacy') {
      const payload = simpleSigningPayload(repositoryName(repo), t.digest, o.annotations);
      const result = await sign(payload, o.sign);
      const signature = result.bundle.messageSignature?.signature ?? '';
      const layer: Descriptor = {
        mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
        size: payload.length,
        digest: `sha256:${(await import('node:crypto')).createHash('sha256').update(payload).digest('hex')}`,
        annotations: legacyAnnotations(result.bundle, { signature, certificate: result.certificate, chain: result.certificateChain }),
      };
      out.push({ digest: t.digest, format: 'legacy', location: await appendLegacy(o.client, repo, t.digest, 'sig', layer, payload, o), result });
    } else {
      // cosign v3 signs an in-toto statement about the digest with predicate type cosign/sign/v1.
      const result = await attest(statementFor(repo, t.digest, COSIGN_SIGN_PREDICATE, {}), o.sign);
      const pushed = await pushBundle(o.client, repo, t, result, COSIGN_SIGN_PREDICATE, o.now ?? new Date(), o);
      out.push({ digest: t.digest, format: 'bundle', location: pushed.digest, via: pushed.via, result });
    }
  }
  return out;
}

export async function attestImage(o: AttestImageOptions): Promise<SignedObject[]> {
  checkLegacyLog(o);
  const repo = typeof o.reference === 'string' ? parseReference(o.reference) : o.reference;
  const predicateType = resolvePredicateType(o.predicateType);
  const { manifest } = await resolveDigest(o.client, repo, o);
  const out: SignedObject[] = [];
  for (const t of targets(manifest, o.recursive === true)) {
    const statement = statementFor(repo, t.digest, predicateType, o.predicate);
    if (o.format === 'legacy') {
      // cosign's legacy attestations log an intoto 0.0.2 entry.
      const result = await attest(statement, { ...o.sign, tlogKind: 'intoto' });
      const envelope = Buffer.from(JSON.stringify(result.bundle.dsseEnvelope));
      const { createHash } = await import('node:crypto');
      const layer: Descriptor = {
        mediaType: DSSE_LAYER_MEDIA_TYPE,
        size: envelope.length,
        digest: `sha256:${createHash('sha256').update(envelope).digest('hex')}`,
        annotations: legacyAnnotations(result.bundle, { signature: '', certificate: result.certificate, chain: result.certificateChain, predicateType }),
      };
      out.push({ digest: t.digest, format: 'legacy', location: await appendLegacy(o.client, repo, t.digest, 'att', layer, envelope, o), result });
    } else {
      const result = await attest(statement, o.sign);
      const pushed = await pushBundle(o.client, repo, t, result, predicateType, o.now ?? new Date(), o);
      out.push({ digest: t.digest, format: 'bundle', location: pushed.digest, via: pushed.via, result });
    }
  }
  return out;
}
