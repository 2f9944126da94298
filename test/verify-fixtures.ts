/**
 * Conformance corpus access for the verify tests: the public sigstore-conformance bundle-verify
 * cases in test/vectors/conformance (provenance in its README), and helpers to derive tampered
 * variants in code.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const CONFORMANCE = join(REPO, 'test', 'vectors', 'conformance');
export const CORPUS = join(CONFORMANCE, 'bundle-verify');
export const PRODUCTION_ROOT = join(CONFORMANCE, 'production_trusted_root.json');
export const DEFAULT_IDENTITY =
  'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main';
export const DEFAULT_ISSUER = 'https://token.actions.githubusercontent.com';

export interface Case {
  name: string;
  bundleText: string;
  bundle: any;
  artifact: Buffer;
  artifactPath: string;
  digest: string;
  trustText: string;
  trust: any;
  identity: string;
  issuer: string;
  keyPem: string | undefined;
}

export function loadCase(name: string): Case {
  const dir = join(CORPUS, name);
  const artifactPath = existsSync(join(dir, 'artifact')) ? join(dir, 'artifact') : join(CORPUS, 'a.txt');
  const artifact = readFileSync(artifactPath);
  const trustText = readFileSync(existsSync(join(dir, 'trusted_root.json')) ? join(dir, 'trusted_root.json') : PRODUCTION_ROOT, 'utf8');
  const bundleText = readFileSync(join(dir, 'bundle.sigstore.json'), 'utf8');
  const rd = (f: string, d: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').trim() : d);
  return {
    name,
    bundleText,
    bundle: JSON.parse(bundleText),
    artifact,
    artifactPath,
    digest: 'sha256:' + createHash('sha256').update(artifact).digest('hex'),
    trustText,
    trust: JSON.parse(trustText),
    identity: rd('identity', DEFAULT_IDENTITY),
    issuer: rd('issuer', DEFAULT_ISSUER),
    keyPem: existsSync(join(dir, 'key.pub')) ? readFileSync(join(dir, 'key.pub'), 'utf8') : undefined,
  };
}

/** The conformance cases expected to verify. */
export const HAPPY_CASES = [
  'happy-path-v0.1',
  'happy-path-v0.2',
  'happy-path-v0.3',
  'happy-path-v0.3-new-mediaType',
  'happy-path-intoto-in-dsse-v3',
  'intoto-with-custom-trust-root',
  'managed-key-happy-path',
  'managed-key-and-trusted-root',
  'rekor2-happy-path',
  'rekor2-checkpoint-cosigned',
  'rekor2-checkpoint-two-sigs-cosigned',
  'rekor2-dsse-happy-path',
  'rekor2-timestamp-with-embedded-cert',
  'rekor2-timestamp-without-embedded-cert',
] as const;

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** Flips one bit of a base64 field's decoded bytes at `index` (negative counts from the end). */
export function flipBase64(b64: string, index = -1): string {
  const b = Buffer.from(b64, 'base64');
  const i = index < 0 ? b.length + index : index;
  b[i] = b[i]! ^ 0x01;
  return b.toString('base64');
}
