/**
 * intoto 0.0.2 (Rekor v1; what @sigstore/cli attest writes). Quirks [rekor: pkg/types/intoto/v0.0.2]:
 * payload and sig are DOUBLE base64 (format: byte around the DSSE base64 strings); publicKey is
 * base64 of PEM; `hash` is the client's hash of its envelope, stored as sent; payloadHash is
 * recomputed. The payload is not part of the body; an in-toto statement up to MAX_ATTESTATION_BYTES
 * is kept beside the leaf as the entry's attestation (PreparedEntry.attestation), as Rekor does.
 */
import { canonicalizeJcs } from '@cairn/shared';
import { LogError } from '../errors.ts';
import { MAX_SIGNATURES, attestationOf, b64, bad, hex, obj, only, pae, sha256Hex, str, verifierFromPemB64, verifierIndexKeys, verifyMessage, type PreparedEntry } from './common.ts';
import { inTotoSubjectKeys } from './intoto-subjects.ts';

function sha256Field(v: unknown, what: string): { algorithm: 'sha256'; value: string } {
  const h = obj(v, what);
  only(h, ['algorithm', 'value'], what);
  if (h.algorithm !== 'sha256') bad(`${what}.algorithm must be sha256`);
  const value = str(h.value, `${what}.value`);
  if (hex(value, `${what}.value`).length !== 32) throw new LogError('INVALID_DIGEST', `${what}.value must be 64 hex digits`);
  return { algorithm: 'sha256', value };
}

export function prepareIntoto002(specIn: unknown): PreparedEntry {
  const spec = obj(specIn, 'spec');
  only(spec, ['content'], 'spec');
  const content = obj(spec.content, 'spec.content');
  only(content, ['envelope', 'hash', 'payloadHash'], 'spec.content');
  const env = obj(content.envelope, 'spec.content.envelope');
  only(env, ['payloadType', 'payload', 'signatures'], 'spec.content.envelope');
  const payloadType = str(env.payloadType, 'envelope.payloadType');
  const payload = b64(b64(env.payload, 'envelope.payload').toString('latin1'), 'envelope.payload (inner)');
  if (!Array.isArray(env.signatures) || env.signatures.length === 0) bad('envelope.signatures must be a non-empty array');
  if (env.signatures.length > MAX_SIGNATURES) bad(`at most ${MAX_SIGNATURES} signatures`);
  const message = pae(payloadType, payload);
  const indexKeys: string[] = [];
  const signatures = env.signatures.map((s: unknown, i) => {
    const so = obj(s, `envelope.signatures[${i}]`);
    only(so, ['sig', 'publicKey', 'keyid'], `envelope.signatures[${i}]`);
    if (so.keyid !== undefined && typeof so.keyid !== 'string') bad(`envelope.signatures[${i}].keyid must be a string`);
    const sigOuter = str(so.sig, `envelope.signatures[${i}].sig`);
    const sig = b64(b64(sigOuter, `envelope.signatures[${i}].sig`).toString('latin1'), `envelope.signatures[${i}].sig (inner)`);
    const pkB64 = str(so.publicKey, `envelope.signatures[${i}].publicKey`);
    const verifier = verifierFromPemB64(pkB64, `envelope.signatures[${i}].publicKey`);
    if (!verifyMessage(verifier.vk.key, message, sig)) throw new LogError('INVALID_SIGNATURE', `envelope signature ${i} does not verify`);
    indexKeys.push(...verifierIndexKeys(verifier));
    return { ...(so.keyid ? { keyid: so.keyid } : {}), publicKey: pkB64, sig: sigOuter };
  });
  const hash = sha256Field(content.hash, 'spec.content.hash');
  const payloadHash = sha256Hex(payload);
  if (content.payloadHash !== undefined && sha256Field(content.payloadHash, 'spec.content.payloadHash').value.toLowerCase() !== payloadHash) {
    throw new LogError('INVALID_DIGEST', 'spec.content.payloadHash does not match the payload');
  }
  const body = {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType, signatures },
        hash,
        payloadHash: { algorithm: 'sha256', value: payloadHash },
      },
    },
  };
  return {
    kind: 'intoto',
    apiVersion: '0.0.2',
    body: Buffer.from(canonicalizeJcs(body)),
    indexKeys: [`hash:sha256:${payloadHash}`, ...indexKeys, ...inTotoSubjectKeys(payloadType, payload)],
    ...attestationOf(payloadType, payload),
  };
}
