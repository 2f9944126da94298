/**
 * The monitor's policy: which signers may appear in the log. A file in YAML (or JSON):
 *
 *   log:                         # optional
 *     origin: log.example.com    # the checkpoint origin the log must use
 *     publicKey: |               # the log's checkpoint key (PEM); --log-key overrides it
 *       -----BEGIN PUBLIC KEY-----...
 *   identities:                  # a certificate signer passes if it matches ANY rule
 *     - issuer: https://token.actions.githubusercontent.com         # a string is an exact match
 *       subject: { glob: "https://github.com/acme/*" }              # * any run, ? one character
 *       extensions:                                                 # Fulcio 57264.1.* values
 *         1.3.6.1.4.1.57264.1.12: https://github.com/acme/app
 *     - issuer: { regex: "https://oidc\\.example\\.com" }           # anchored: whole value
 *       subject: { regex: "[a-z]+@example\\.com" }
 *   keys:                        # a key-signed entry passes if its key is listed
 *     - "-----BEGIN PUBLIC KEY-----\n..."                           # PEM, or
 *     - sha256:<64 hex>                                             # the SHA-256 of the DER SPKI
 *
 * Regular expressions are written by the operator, never taken from log data; they are bounded
 * in length, compiled once by RE2 (@cairn/shared/pattern: linear time; backreferences and
 * lookaround are refused when the policy loads) and anchored (`^(?:...)$`), and are only run
 * against values of bounded length. Globs are matched by the shared linear glob.
 */
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { isRecord } from '@cairn/shared';
import { compileGlob, compileRegExp } from '@cairn/shared/pattern';
import { MonitorError } from './errors.ts';
import type { SignerIdentity } from './identity.ts';

export const MAX_POLICY_BYTES = 1024 * 1024;
export const MAX_POLICY_RULES = 1000;
export const MAX_POLICY_KEYS = 1000;
/** Longest exact value, glob or regular expression in a policy. */
export const MAX_PATTERN_LENGTH = 1024;
/** Values longer than this never match (bounds the work an operator regex can be made to do). */
export const MAX_MATCHED_VALUE_LENGTH = 4096;
const MAX_RULE_EXTENSIONS = 32;
const OID_RE = /^[0-2](\.(0|[1-9][0-9]{0,9})){1,30}$/;
const FINGERPRINT_RE = /^sha256:([0-9a-f]{64})$/;

export interface Matcher {
  readonly description: string;
  matches(value: string): boolean;
}

export interface IdentityRule {
  issuer: Matcher;
  subject: Matcher;
  extensions: { oid: string; matcher: Matcher }[];
}

export interface Policy {
  origin: string | undefined;
  logKeyPem: string | undefined;
  identities: IdentityRule[];
  /** Hex SHA-256 of the DER SPKI of every allowed key. */
  keys: Set<string>;
}

export interface Verdict {
  allowed: boolean;
  reason: string;
}

function invalid(why: string): never {
  throw new MonitorError('INVALID_POLICY', `policy: ${why}`);
}

function patternText(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) invalid(`${what} must be a non-empty string`);
  if (v.length > MAX_PATTERN_LENGTH) invalid(`${what} is longer than ${MAX_PATTERN_LENGTH} characters`);
  return v;
}

function bounded(f: (s: string) => boolean): (s: string) => boolean {
  return (s) => s.length <= MAX_MATCHED_VALUE_LENGTH && f(s);
}

export function parseMatcher(v: unknown, what: string): Matcher {
  if (typeof v === 'string') {
    const exact = patternText(v, what);
    return { description: JSON.stringify(exact), matches: bounded((s) => s === exact) };
  }
  if (!isRecord(v)) invalid(`${what} must be a string or {exact|glob|regex: string}`);
  const keys = Object.keys(v);
  if (keys.length !== 1) invalid(`${what} must have exactly one of exact, glob, regex`);
  const kind = keys[0]!;
  const text = patternText(v[kind], `${what}.${kind}`);
  switch (kind) {
    case 'exact':
      return { description: JSON.stringify(text), matches: bounded((s) => s === text) };
    case 'glob':
      return { description: `glob ${JSON.stringify(text)}`, matches: bounded(compileGlob(text, `${what}.glob`)) };
    case 'regex': {
      // Operator-written (the policy file), matched against identities whoever got a certificate
      // chose: RE2 (linear time), anchored on purpose.
      let re: (s: string) => boolean;
      try {
        re = compileRegExp(text, `${what}.regex`, { anchored: true });
      } catch (e) {
        invalid(`${what}.regex is not a valid RE2 expression (no backreferences or lookaround): ${e instanceof Error ? e.message : String(e)}`);
      }
      return { description: `regex /${text}/`, matches: bounded(re) };
    }
    default:
      invalid(`${what} has unknown matcher ${kind}`);
  }
}

function spkiFingerprint(pem: string, what: string): string {
  try {
    const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
    return createHash('sha256').update(der).digest('hex');
  } catch {
    invalid(`${what} is not a PEM public key`);
  }
}

export function parsePolicy(text: string): Policy {
  if (Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) invalid('file is too large');
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 0 });
  } catch (e) {
    invalid(`not YAML/JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isRecord(doc)) invalid('top level must be a mapping');
  for (const k of Object.keys(doc)) if (!['log', 'identities', 'keys'].includes(k)) invalid(`unknown field ${k}`);
  let origin: string | undefined;
  let logKeyPem: string | undefined;
  if (doc.log !== undefined) {
    if (!isRecord(doc.log)) invalid('log must be a mapping');
    for (const k of Object.keys(doc.log)) if (!['origin', 'publicKey'].includes(k)) invalid(`unknown field log.${k}`);
    if (doc.log.origin !== undefined) origin = patternText(doc.log.origin, 'log.origin');
    if (doc.log.publicKey !== undefined) {
      logKeyPem = patternText(doc.log.publicKey, 'log.publicKey');
      spkiFingerprint(logKeyPem, 'log.publicKey');
    }
  }
  const identities: IdentityRule[] = [];
  if (doc.identities !== undefined) {
    if (!Array.isArray(doc.identities)) invalid('identities must be a list');
    if (doc.identities.length > MAX_POLICY_RULES) invalid('too many identities');
    for (const [i, r] of doc.identities.entries()) {
      const what = `identities[${i}]`;
      if (!isRecord(r)) invalid(`${what} must be a mapping`);
      for (const k of Object.keys(r)) if (!['issuer', 'subject', 'extensions'].includes(k)) invalid(`unknown field ${what}.${k}`);
      if (r.issuer === undefined || r.subject === undefined) invalid(`${what} needs both issuer and subject`);
      const extensions: IdentityRule['extensions'] = [];
      if (r.extensions !== undefined) {
        if (!isRecord(r.extensions)) invalid(`${what}.extensions must be a mapping of OID to value`);
        const entries = Object.entries(r.extensions);
        if (entries.length > MAX_RULE_EXTENSIONS) invalid(`${what}.extensions has too many entries`);
        for (const [oid, m] of entries) {
          if (!OID_RE.test(oid)) invalid(`${what}.extensions key ${JSON.stringify(oid.slice(0, 64))} is not a dotted OID`);
          extensions.push({ oid, matcher: parseMatcher(m, `${what}.extensions.${oid}`) });
        }
      }
      identities.push({ issuer: parseMatcher(r.issuer, `${what}.issuer`), subject: parseMatcher(r.subject, `${what}.subject`), extensions });
    }
  }
  const keys = new Set<string>();
  if (doc.keys !== undefined) {
    if (!Array.isArray(doc.keys)) invalid('keys must be a list');
    if (doc.keys.length > MAX_POLICY_KEYS) invalid('too many keys');
    for (const [i, k] of doc.keys.entries()) {
      const text = typeof k === 'string' ? k.trim() : invalid(`keys[${i}] must be a string`);
      const fp = FINGERPRINT_RE.exec(text);
      keys.add(fp ? fp[1]! : spkiFingerprint(text, `keys[${i}]`));
    }
  }
  if (identities.length === 0 && keys.size === 0) invalid('allows no signer at all (no identities and no keys)');
  return { origin, logKeyPem, identities, keys };
}

export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new MonitorError('INVALID_POLICY', `cannot read policy ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parsePolicy(text);
}

/** Does the policy allow this signer? The reason names what was found when it does not. */
export function evaluate(policy: Policy, signer: SignerIdentity): Verdict {
  if (signer.kind === 'key') {
    return policy.keys.has(signer.fingerprint)
      ? { allowed: true, reason: 'allowed key' }
      : { allowed: false, reason: `public key sha256:${signer.fingerprint} is not in the policy` };
  }
  for (const rule of policy.identities) {
    if (signer.issuer === undefined || !rule.issuer.matches(signer.issuer)) continue;
    if (!signer.subjects.some((s) => rule.subject.matches(s))) continue;
    if (!rule.extensions.every(({ oid, matcher }) => signer.extensions[oid] !== undefined && matcher.matches(signer.extensions[oid]))) continue;
    return { allowed: true, reason: 'allowed identity' };
  }
  const who = `issuer ${JSON.stringify(signer.issuer ?? null)} subject ${JSON.stringify(signer.subjects.join(', '))}`;
  return { allowed: false, reason: `certificate identity (${who}) matches no policy identity` };
}
