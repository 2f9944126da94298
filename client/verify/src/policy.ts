/**
 * Identity policy for certificate-based bundles: the SAN (URI, then email, then Fulcio otherName)
 * and the OIDC issuer (57264.1.8, then 1.1) must match exactly or by an operator-given pattern.
 * Patterns come from the operator (CLI flags / library callers), never from the bundle, and are
 * length-bounded.
 */
import { compileRegExp } from '@cairn/shared/pattern';
import { fail } from './errors.ts';
import type { Certificate } from './x509.ts';

export const MAX_POLICY_PATTERN = 1024;

export interface IdentityPolicy {
  /** Exact SAN. */
  identity?: string;
  /** RE2 regular expression matched against the SAN (unanchored, like cosign's regexp flags). */
  identityRegExp?: string;
  /** Exact OIDC issuer. */
  issuer?: string;
  issuerRegExp?: string;
  /** A caller-compiled matcher (e.g. RE2) instead of identity/identityRegExp. */
  identityMatcher?: (san: string) => boolean;
  issuerMatcher?: (issuer: string) => boolean;
}

export interface CompiledIdentityPolicy {
  identity: ((san: string) => boolean) | undefined;
  issuer: ((iss: string) => boolean) | undefined;
  describeIdentity: string;
  describeIssuer: string;
}

function compile(exact: string | undefined, pattern: string | undefined, what: string, matcher?: (v: string) => boolean): ((v: string) => boolean) | undefined {
  if (exact !== undefined && pattern !== undefined) fail('POLICY_INVALID', `give either an exact ${what} or a ${what} pattern, not both`);
  if (matcher !== undefined) {
    if (exact !== undefined || pattern !== undefined) fail('POLICY_INVALID', `give either a ${what} matcher or an exact ${what} or pattern, not both`);
    return matcher;
  }
  if (exact !== undefined) {
    if (exact === '' || exact.length > MAX_POLICY_PATTERN) fail('POLICY_INVALID', `the ${what} must be 1-${MAX_POLICY_PATTERN} characters`);
    return (v) => v === exact;
  }
  if (pattern !== undefined) {
    if (pattern === '' || pattern.length > MAX_POLICY_PATTERN) fail('POLICY_INVALID', `the ${what} pattern must be 1-${MAX_POLICY_PATTERN} characters`);
    // The operator's pattern, matched against an identity whoever got a certificate chose: RE2
    // (linear time, cosign's semantics), never a backtracking RegExp.
    try {
      return compileRegExp(pattern, what);
    } catch (e) {
      return fail('POLICY_INVALID', `the ${what} pattern is not a valid RE2 regular expression (no backreferences or lookaround)`, e);
    }
  }
  return undefined;
}

export function compileIdentityPolicy(p: IdentityPolicy): CompiledIdentityPolicy {
  return {
    identity: compile(p.identity, p.identityRegExp, 'certificate identity', p.identityMatcher),
    issuer: compile(p.issuer, p.issuerRegExp, 'certificate OIDC issuer', p.issuerMatcher),
    describeIdentity: p.identity ?? (p.identityRegExp !== undefined ? `/${p.identityRegExp}/` : p.identityMatcher ? 'policy' : 'any'),
    describeIssuer: p.issuer ?? (p.issuerRegExp !== undefined ? `/${p.issuerRegExp}/` : p.issuerMatcher ? 'policy' : 'any'),
  };
}

/** The identity a Fulcio certificate binds: URI SAN, else email, else the username otherName. */
export function certificateIdentity(cert: Certificate): string | undefined {
  const san = cert.subjectAltNames;
  return san.uris[0] ?? san.emails[0] ?? san.otherNames[0];
}

export function checkIdentity(cert: Certificate, policy: CompiledIdentityPolicy): { identity: string; issuer: string } {
  const identity = certificateIdentity(cert);
  const issuer = cert.fulcioIssuer;
  if (policy.identity) {
    if (identity === undefined) fail('IDENTITY_MISMATCH', 'the signing certificate carries no identity (SAN)');
    if (!policy.identity(identity)) {
      fail('IDENTITY_MISMATCH', `the certificate identity "${identity}" does not match the expected ${policy.describeIdentity}`);
    }
  }
  if (policy.issuer) {
    if (issuer === undefined) fail('ISSUER_MISMATCH', 'the signing certificate names no OIDC issuer (1.3.6.1.4.1.57264.1.8 / 1.1)');
    if (!policy.issuer(issuer)) fail('ISSUER_MISMATCH', `the certificate OIDC issuer "${issuer}" does not match the expected ${policy.describeIssuer}`);
  }
  return { identity: identity ?? '', issuer: issuer ?? '' };
}
