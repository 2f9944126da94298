/**
 * in-toto Attestation Framework v1 Statements (in-toto/attestation spec/v1/statement.md,
 * reference intoto-oci-admission §3.2) and the predicate-type aliases cosign users know (§3.9).
 */
import { isRecord } from '@cairn/shared';
import { SignError } from './errors.ts';

export const STATEMENT_TYPE_V1 = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
export const MAX_TYPE_URI_LENGTH = 1024;
export const MAX_SUBJECT_NAME_LENGTH = 4096;
export const MAX_SUBJECTS = 1024;

/**
 * cosign's `--type` aliases, except that `slsaprovenance` means SLSA v1 here (what `cairn
 * provenance` writes and what `cairn verify-attestation --type slsaprovenance` expects);
 * `slsaprovenance02` still names v0.2.
 */
export const PREDICATE_TYPE_ALIASES: Readonly<Record<string, string>> = {
  slsaprovenance: SLSA_PROVENANCE_V1,
  slsaprovenance1: SLSA_PROVENANCE_V1,
  slsaprovenance02: 'https://slsa.dev/provenance/v0.2',
  spdx: 'https://spdx.dev/Document',
  spdxjson: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  link: 'https://in-toto.io/Link/v1',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  custom: 'https://cosign.sigstore.dev/attestation/v1',
  openvex: 'https://openvex.dev/ns',
  vsa: 'https://slsa.dev/verification_summary/v1',
};

/** An alias, or an absolute URI used as is (TypeURI, in-toto spec/v1/field_types.md). */
export function resolvePredicateType(t: string): string {
  const alias = Object.hasOwn(PREDICATE_TYPE_ALIASES, t) ? PREDICATE_TYPE_ALIASES[t] : undefined;
  if (alias !== undefined) return alias;
  if (t.length === 0 || t.length > MAX_TYPE_URI_LENGTH) throw new SignError('INPUT_INVALID', 'the predicate type must be an alias or a URI of at most 1024 characters');
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    throw new SignError('INPUT_INVALID', `predicate type ${JSON.stringify(t.slice(0, 100))} is neither a known alias (${Object.keys(PREDICATE_TYPE_ALIASES).join(', ')}) nor a URI`);
  }
  if (!/^[a-z][a-z0-9+.-]*:$/.test(u.protocol)) throw new SignError('INPUT_INVALID', 'the predicate type URI has no valid scheme');
  return t;
}

export interface Subject {
  name: string;
  digest: { sha256: string };
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A Statement v1 with the given subjects; the predicate must be a JSON object. */
export function buildStatement(subjects: Subject[], predicateType: string, predicate: unknown): Record<string, unknown> {
  if (subjects.length === 0 || subjects.length > MAX_SUBJECTS) throw new SignError('INPUT_INVALID', `a statement needs 1 to ${MAX_SUBJECTS} subjects`);
  for (const s of subjects) {
    if (!SHA256_HEX.test(s.digest.sha256)) throw new SignError('INPUT_INVALID', 'subject digests are lowercase hex SHA-256');
    if (s.name.length > MAX_SUBJECT_NAME_LENGTH) throw new SignError('INPUT_INVALID', 'a subject name is too long');
  }
  if (!isRecord(predicate)) throw new SignError('INPUT_INVALID', 'the predicate must be a JSON object');
  return { _type: STATEMENT_TYPE_V1, subject: subjects.map((s) => ({ name: s.name, digest: { sha256: s.digest.sha256 } })), predicateType, predicate };
}
