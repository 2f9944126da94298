/**
 * in-toto Attestation Framework v1 Statements (in-toto/attestation spec/v1/statement.md,
 * reference intoto-oci-admission §3.2) and the predicate-type aliases cosign users know (§3.9).
 */
import { isRecord } from '@cairn/shared';
import {
  MAX_SUBJECTS,
  MAX_SUBJECT_NAME_LENGTH,
  MAX_TYPE_URI_LENGTH,
  PREDICATE_TYPE_ALIASES,
  SLSA_PROVENANCE_V1,
  STATEMENT_TYPE_V1,
  resolvePredicateType as resolveType,
} from '@cairn/shared/statement';
import { SignError } from './errors.ts';

export { STATEMENT_TYPE_V1, SLSA_PROVENANCE_V1, MAX_TYPE_URI_LENGTH, MAX_SUBJECT_NAME_LENGTH, MAX_SUBJECTS, PREDICATE_TYPE_ALIASES };

/** An alias or an absolute URI (the shared rule); anything else is INPUT_INVALID. */
export function resolvePredicateType(t: string): string {
  const r = resolveType(t);
  if ('error' in r) throw new SignError('INPUT_INVALID', r.error);
  return r.type;
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
