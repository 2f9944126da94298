/**
 * dsse 0.0.1 (Rekor v1): the envelope arrives as a JSON *string*; every signature must verify
 * over PAE with one of the proposed verifiers; only hashes are in the body
 * [rekor: pkg/types/dsse/v0.0.1/entry.go]. Unlike Rekor (which keeps no dsse payload), an
 * in-toto statement up to MAX_ATTESTATION_BYTES is kept beside the leaf as the entry's
 * attestation, so reads can show it like an intoto entry's.
 */
import { canonicalizeJcs } from '@cairn/shared';
import { LogError } from '../errors.ts';
import {
  MAX_SIGNATURES,
  attestationOf,
  b64,
  bad,
  obj,
  only,
  pae,
  sha256Hex,
  str,
  verifierFromPemB64,
  verifierIndexKeys,
  verifyMessage,
  type ParsedVerifier,
  type PreparedEntry,
} from './common.ts';
import { inTotoSubjectKeys } from './intoto-subjects.ts';

export interface DsseEnvelope {
  payloadType: string;
  payload: Buffer;
  signatures: { sig: Buffer; sigB64: string; keyid?: string }[];
}

/** A DSSE envelope object {payload, payloadType, signatures[{sig, keyid?}]}, strictly. */
export function parseEnvelope(v: unknown, what: string): DsseEnvelope {
  const env = obj(v, what);
  only(env, ['payload', 'payloadType', 'signatures'], what);
  const payloadType = str(env.payloadType, `${what}.payloadType`);
  const payload = b64(env.payload, `${what}.payload`);
  if (!Array.isArray(env.signatures) || env.signatures.length === 0) bad(`${what}.signatures must be a non-empty array`);
  if (env.signatures.length > MAX_SIGNATURES) bad(`${what} has more than ${MAX_SIGNATURES} signatures`);
  const signatures = env.signatures.map((s: unknown, i) => {
    const so = obj(s, `${what}.signatures[${i}]`);
    only(so, ['sig', 'keyid'], `${what}.signatures[${i}]`);
    if (so.keyid !== undefined && typeof so.keyid !== 'string') bad(`${what}.signatures[${i}].keyid must be a string`);
    const sigB64 = str(so.sig, `${what}.signatures[${i}].sig`);
    return { sig: b64(sigB64, `${what}.signatures[${i}].sig`), sigB64, ...(so.keyid ? { keyid: so.keyid } : {}) };
  });
  return { payloadType, payload, signatures };
}

/** For each signature, the first verifier it verifies with; INVALID_SIGNATURE if one has none. */
export function matchSignatures<V extends Pick<ParsedVerifier, 'vk'>>(env: DsseEnvelope, verifiers: readonly V[]): V[] {
  const message = pae(env.payloadType, env.payload);
  return env.signatures.map((s, i) => {
    const v = verifiers.find((cand) => verifyMessage(cand.vk.key, message, s.sig));
    if (!v) throw new LogError('INVALID_SIGNATURE', `envelope signature ${i} does not verify with any verifier`);
    return v;
  });
}

export function prepareDsse001(specIn: unknown): PreparedEntry {
  const spec = obj(specIn, 'spec');
  only(spec, ['proposedContent'], 'spec');
  const pc = obj(spec.proposedContent, 'spec.proposedContent');
  only(pc, ['envelope', 'verifiers'], 'spec.proposedContent');
  const envelopeText = str(pc.envelope, 'spec.proposedContent.envelope');
  let envJson: unknown;
  try {
    envJson = JSON.parse(envelopeText) as unknown;
  } catch {
    bad('spec.proposedContent.envelope is not a JSON DSSE envelope');
  }
  const env = parseEnvelope(envJson, 'envelope');
  if (!Array.isArray(pc.verifiers) || pc.verifiers.length === 0) bad('spec.proposedContent.verifiers must be a non-empty array');
  if (pc.verifiers.length > MAX_SIGNATURES) bad(`at most ${MAX_SIGNATURES} verifiers`);
  const verifiers = pc.verifiers.map((v: unknown, i) => verifierFromPemB64(v, `spec.proposedContent.verifiers[${i}]`));
  const used = matchSignatures(env, verifiers);
  const signatures = env.signatures
    .map((s, i) => ({ signature: s.sigB64, verifier: Buffer.from(used[i]!.canonicalPem).toString('base64') }))
    .sort((a, b) => (a.signature < b.signature ? -1 : a.signature > b.signature ? 1 : 0));
  const payloadHash = sha256Hex(env.payload);
  const body = {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256Hex(envelopeText) },
      payloadHash: { algorithm: 'sha256', value: payloadHash },
      signatures,
    },
  };
  return {
    kind: 'dsse',
    apiVersion: '0.0.1',
    body: Buffer.from(canonicalizeJcs(body)),
    indexKeys: [`hash:sha256:${payloadHash}`, ...used.flatMap(verifierIndexKeys), ...inTotoSubjectKeys(env.payloadType, env.payload)],
    ...attestationOf(env.payloadType, env.payload),
  };
}
