/**
 * in-toto Attestation Framework v1 Statements (in-toto/attestation spec/v1/statement.md,
 * reference intoto-oci-admission §3.2) and the predicate-type aliases cosign users know (§3.9):
 * the one table the signer, the verifier and the policy engines share.
 */

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
export function resolvePredicateType(t: string): { type: string } | { error: string } {
  const alias = Object.hasOwn(PREDICATE_TYPE_ALIASES, t) ? PREDICATE_TYPE_ALIASES[t] : undefined;
  if (alias !== undefined) return { type: alias };
  if (t.length === 0 || t.length > MAX_TYPE_URI_LENGTH) return { error: `the predicate type must be an alias or a URI of at most ${MAX_TYPE_URI_LENGTH} characters` };
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    return { error: `predicate type ${JSON.stringify(t.slice(0, 100))} is neither a known alias (${Object.keys(PREDICATE_TYPE_ALIASES).join(', ')}) nor a URI` };
  }
  if (!/^[a-z][a-z0-9+.-]*:$/.test(u.protocol)) return { error: 'the predicate type URI has no valid scheme' };
  return { type: t };
}
