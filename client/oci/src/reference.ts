/**
 * Image references as docker/distribution's reference grammar writes them:
 * `[registry[:port]/]path[:tag][@sha256:hex]`. The first component is a registry when it holds a
 * `.` or a `:` or is `localhost`; otherwise the registry is Docker Hub and a one-component path
 * gets `library/`. Only sha256 digests are accepted.
 */
import { ociFail } from './errors.ts';

export const MAX_REFERENCE_LENGTH = 512;
export const MAX_REPOSITORY_LENGTH = 255;
export const DOCKER_HUB = 'index.docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';

// Fixed patterns (never built from input); the separators and the alphanumerics are disjoint
// character sets, so matching is linear.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const ANY_DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;

export interface ImageReference {
  /** The registry host as written (with port), `index.docker.io` for Docker Hub. */
  registry: string;
  /** Repository path inside the registry (`library/alpine`, `app`). */
  repository: string;
  tag?: string;
  digest?: string;
}

/** Throws OciError('REFERENCE_INVALID' | 'DIGEST_UNSUPPORTED'). */
export function parseReference(text: string): ImageReference {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_REFERENCE_LENGTH) {
    ociFail('REFERENCE_INVALID', `an image reference is 1-${MAX_REFERENCE_LENGTH} characters`);
  }
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) {
      if (ANY_DIGEST.test(digest)) ociFail('DIGEST_UNSUPPORTED', `only sha256 digests are accepted, not ${digest.split(':')[0]}`);
      ociFail('REFERENCE_INVALID', `${text}: the digest is not sha256:<64 lowercase hex>`);
    }
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) ociFail('REFERENCE_INVALID', `${text}: the tag is not valid`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    if (!HOST.test(first)) ociFail('REFERENCE_INVALID', `${text}: the registry host is not valid`);
    registry = first;
    parts.shift();
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length === 0 || repository.length > MAX_REPOSITORY_LENGTH || !parts.every((p) => PATH_COMPONENT.test(p))) {
    ociFail('REFERENCE_INVALID', `${text}: the repository must be lowercase path components`);
  }
  return { registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** `registry/repository`, the repository without tag or digest (cosign's docker-reference). */
export function repositoryName(r: ImageReference): string {
  return `${r.registry}/${r.repository}`;
}

export function formatReference(r: ImageReference): string {
  return `${repositoryName(r)}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** The host to talk the API to (Docker Hub's API lives on another name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB || registry === 'docker.io' ? DOCKER_HUB_API : registry;
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** Checks a sha256 digest string; throws DIGEST_UNSUPPORTED / REFERENCE_INVALID. */
export function checkDigest(s: unknown, what = 'digest'): string {
  if (typeof s === 'string' && DIGEST.test(s)) return s;
  if (typeof s === 'string' && ANY_DIGEST.test(s) && !s.startsWith('sha256:')) ociFail('DIGEST_UNSUPPORTED', `${what} ${s.slice(0, 80)}: only sha256 is accepted`);
  return ociFail('MANIFEST_INVALID', `${what} is not sha256:<64 lowercase hex>`);
}

/** Loopback hosts, where plain http is allowed without asking (as cosign and @sigstore/oci do). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(h);
}

/** The tag of cosign's tag-based objects and of the referrers tag schema: `sha256-<hex>[.suffix]`. */
export function digestTag(digest: string, suffix?: 'sig' | 'att' | 'sbom'): string {
  return `${checkDigest(digest).replace(':', '-')}${suffix !== undefined ? `.${suffix}` : ''}`;
}
