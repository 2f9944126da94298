/**
 * OCI image manifest / index (image-spec v1.1) and Docker schema 2 manifest / manifest list,
 * parsed strictly and bounded: known media types only, sha256 descriptors only, at most
 * MAX_DESCRIPTORS entries, a byte cap applied before parsing.
 */
import { createHash } from 'node:crypto';
import { isRecord } from '@cairn/shared';
import { OciError, ociFail } from './errors.ts';
import { checkDigest } from './reference.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** The 2-byte `{}` blob (image-spec "empty descriptor"). */
export const EMPTY_BLOB = Buffer.from('{}');
export const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export const MANIFEST_MEDIA_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST] as const;
export const ACCEPT_MANIFESTS = MANIFEST_MEDIA_TYPES.join(', ');

/** distribution's own manifest limit (4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Layers of a manifest, or manifests of an index. */
export const MAX_DESCRIPTORS = 1024;
export const MAX_ANNOTATIONS = 256;
export const MAX_ANNOTATION_BYTES = 1024 * 1024;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface Manifest {
  mediaType: string;
  /** sha256 of `bytes`: the manifest's identity. */
  digest: string;
  bytes: Buffer;
  kind: 'manifest' | 'index';
  config?: Descriptor;
  layers: Descriptor[];
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export function sha256Digest(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function annotations(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) ociFail('MANIFEST_INVALID', `${where}.annotations is not an object`);
  const entries = Object.entries(v);
  if (entries.length > MAX_ANNOTATIONS) ociFail('TOO_MANY_DESCRIPTORS', `${where} has more than ${MAX_ANNOTATIONS} annotations`);
  const out: Record<string, string> = {};
  for (const [k, val] of entries) {
    if (typeof val !== 'string') ociFail('MANIFEST_INVALID', `${where}.annotations["${k.slice(0, 64)}"] is not a string`);
    out[k] = val;
  }
  return out;
}

export function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isRecord(v)) ociFail('MANIFEST_INVALID', `${where} is not a descriptor`);
  if (typeof v.mediaType !== 'string' || v.mediaType.length > 256) ociFail('MANIFEST_INVALID', `${where}.mediaType is missing`);
  const digest = checkDigest(v.digest, `${where}.digest`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) ociFail('MANIFEST_INVALID', `${where}.size is not a non-negative integer`);
  const d: Descriptor = { mediaType: v.mediaType, digest, size: v.size };
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  const a = annotations(v.annotations, where);
  if (a) d.annotations = a;
  if (isRecord(v.platform) && typeof v.platform.architecture === 'string' && typeof v.platform.os === 'string') {
    d.platform = { architecture: v.platform.architecture, os: v.platform.os, ...(typeof v.platform.variant === 'string' ? { variant: v.platform.variant } : {}) };
  }
  return d;
}

function descriptorList(v: unknown, where: string): Descriptor[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) ociFail('MANIFEST_INVALID', `${where} is not a list`);
  if (v.length > MAX_DESCRIPTORS) ociFail('TOO_MANY_DESCRIPTORS', `${where} lists ${v.length} descriptors, more than ${MAX_DESCRIPTORS}`);
  return v.map((d, i) => parseDescriptor(d, `${where}[${i}]`));
}

/**
 * Parses manifest bytes. `expectedDigest` (when the manifest was asked for by digest, or named
 * by a descriptor) must equal the bytes' sha256; `contentType` is the registry's answer header.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, expectedDigest?: string): Manifest {
  if (bytes.length > MAX_MANIFEST_BYTES) ociFail('TOO_LARGE', `a manifest of ${bytes.length} bytes is over the ${MAX_MANIFEST_BYTES}-byte limit`);
  const digest = sha256Digest(bytes);
  if (expectedDigest !== undefined && digest !== expectedDigest) {
    ociFail('DIGEST_MISMATCH', `the manifest's bytes hash to ${digest}, not ${expectedDigest}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new OciError('MANIFEST_INVALID', 'the manifest is not JSON', { cause: e });
  }
  if (!isRecord(json)) ociFail('MANIFEST_INVALID', 'the manifest is not a JSON object');
  if (json.schemaVersion !== 2) ociFail('MEDIA_TYPE_UNSUPPORTED', 'only schemaVersion 2 manifests are supported');
  const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
  const header = contentType?.split(';')[0]?.trim();
  // image-spec: mediaType SHOULD be set; when it is not, the Content-Type or the shape decides.
  let mediaType = declared ?? (header && (MANIFEST_MEDIA_TYPES as readonly string[]).includes(header) ? header : undefined);
  mediaType ??= Array.isArray(json.manifests) ? OCI_INDEX : OCI_MANIFEST;
  if (!(MANIFEST_MEDIA_TYPES as readonly string[]).includes(mediaType)) ociFail('MEDIA_TYPE_UNSUPPORTED', `manifest media type ${mediaType.slice(0, 100)} is not supported`);
  const kind = mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST ? 'index' : 'manifest';
  const m: Manifest = {
    mediaType,
    digest,
    bytes,
    kind,
    layers: kind === 'manifest' ? descriptorList(json.layers, 'layers') : [],
    manifests: kind === 'index' ? descriptorList(json.manifests, 'manifests') : [],
  };
  if (kind === 'manifest') {
    if (json.config === undefined) ociFail('MANIFEST_INVALID', 'an image manifest needs a config descriptor');
    m.config = parseDescriptor(json.config, 'config');
  }
  if (json.subject !== undefined) m.subject = parseDescriptor(json.subject, 'subject');
  if (typeof json.artifactType === 'string') m.artifactType = json.artifactType;
  const a = annotations(json.annotations, 'manifest');
  if (a) m.annotations = a;
  return m;
}

/** A descriptor pointing at this manifest. */
export function describe(m: Manifest): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
}

/** Checks downloaded blob bytes against the descriptor that named them. */
export function checkBlob(bytes: Buffer, d: Pick<Descriptor, 'digest' | 'size'>): void {
  if (bytes.length !== d.size) ociFail('SIZE_MISMATCH', `blob ${d.digest} has ${bytes.length} bytes, its descriptor says ${d.size}`);
  const got = sha256Digest(bytes);
  if (got !== d.digest) ociFail('DIGEST_MISMATCH', `blob bytes hash to ${got}, not ${d.digest}`);
}
