/**
 * The identity policy of image verification, as Kyverno and policy-controller write it: a list
 * of accepted identities (OIDC issuer and certificate subject, each exact or an RE2 regular
 * expression, matched in linear time by @cairn/shared/pattern (RE2), never a JavaScript RegExp built from policy
 * text) and/or public keys. A bundle verifies when one identity matches both its issuer and its
 * subject, or when it verifies with one of the keys.
 */
import type { KeyObject } from 'node:crypto';
import { compileRegExp } from '@cairn/shared/pattern';
import { ociFail } from './errors.ts';

export const MAX_IDENTITIES = 64;
export const MAX_PUBLIC_KEYS = 64;
export const MAX_PATTERN_LENGTH = 1024;

export interface IdentityRule {
  /** Exact OIDC issuer (certificate extension 1.3.6.1.4.1.57264.1.8, then 1.1). */
  issuer?: string;
  /** RE2 pattern for the issuer (unanchored, as cosign's --certificate-oidc-issuer-regexp). */
  issuerRegExp?: string;
  /** Exact certificate identity (URI or email SAN). */
  subject?: string;
  subjectRegExp?: string;
}

export interface ImagePolicy {
  identities?: IdentityRule[];
  /** PEM public keys (or KeyObjects) for key-signed images. */
  publicKeys?: (string | KeyObject)[];
  /** Defaults as sigstore-js: 1 transparency-log entry, 1 SCT (0 for keys), 1 trusted timestamp. */
  tlogThreshold?: number;
  ctlogThreshold?: number;
  timestampThreshold?: number;
}

export interface CompiledRule {
  issuer: (v: string) => boolean;
  subject: (v: string) => boolean;
}

function re2(pattern: string, what: string): (v: string) => boolean {
  if (pattern === '' || pattern.length > MAX_PATTERN_LENGTH) ociFail('POLICY_INVALID', `the ${what} pattern must be 1-${MAX_PATTERN_LENGTH} characters`);
  try {
    return compileRegExp(pattern, what);
  } catch (e) {
    return ociFail('POLICY_INVALID', `the ${what} pattern is not a valid RE2 expression`, e);
  }
}

function side(exact: string | undefined, pattern: string | undefined, what: string): (v: string) => boolean {
  if (exact !== undefined && pattern !== undefined) ociFail('POLICY_INVALID', `an identity gives either an exact ${what} or a ${what} pattern, not both`);
  if (exact !== undefined) {
    if (exact === '' || exact.length > MAX_PATTERN_LENGTH) ociFail('POLICY_INVALID', `the ${what} must be 1-${MAX_PATTERN_LENGTH} characters`);
    return (v) => v === exact;
  }
  if (pattern !== undefined) return re2(pattern, what);
  return ociFail('POLICY_INVALID', `an identity needs an issuer and a subject (exact or pattern); ${what} is missing`);
}

export function compileRules(p: ImagePolicy): CompiledRule[] {
  const ids = p.identities ?? [];
  if (!Array.isArray(ids) || ids.length > MAX_IDENTITIES) ociFail('POLICY_INVALID', `at most ${MAX_IDENTITIES} identities`);
  if ((p.publicKeys ?? []).length > MAX_PUBLIC_KEYS) ociFail('POLICY_INVALID', `at most ${MAX_PUBLIC_KEYS} public keys`);
  if (ids.length === 0 && (p.publicKeys ?? []).length === 0) ociFail('POLICY_INVALID', 'a policy needs at least one identity or public key');
  return ids.map((r) => ({ issuer: side(r.issuer, r.issuerRegExp, 'issuer'), subject: side(r.subject, r.subjectRegExp, 'subject') }));
}
