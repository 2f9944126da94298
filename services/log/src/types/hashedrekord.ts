/**
 * hashedrekord 0.0.1 (Rekor v1): a signature over an artifact digest, verified here over the
 * digest (prehashed) with the proposed key or certificate [rekor: pkg/types/hashedrekord/v0.0.1].
 * Canonical body: data.hash + signature.content + publicKey.content = base64 of the re-encoded PEM.
 */
import { canonicalizeJcs } from '@cairn/shared';
import { LogError } from '../errors.ts';
import { requirePrehashed } from '../prehash.ts';
import { HASH_ALGORITHMS, b64, bad, hex, obj, only, str, verifierFromPemB64, verifierIndexKeys, type PreparedEntry } from './common.ts';

export function prepareHashedRekord001(specIn: unknown): PreparedEntry {
  const spec = obj(specIn, 'spec');
  only(spec, ['data', 'signature'], 'spec');
  const data = obj(spec.data, 'spec.data');
  only(data, ['hash'], 'spec.data');
  const hash = obj(data.hash, 'spec.data.hash');
  only(hash, ['algorithm', 'value'], 'spec.data.hash');
  const algName = str(hash.algorithm, 'spec.data.hash.algorithm');
  const alg = HASH_ALGORITHMS[algName];
  if (!alg) bad(`hash algorithm ${algName} is not one of sha256, sha384, sha512`);
  const value = str(hash.value, 'spec.data.hash.value');
  const digest = hex(value, 'spec.data.hash.value');
  if (digest.length !== alg.length) throw new LogError('INVALID_DIGEST', `a ${algName} digest has ${alg.length * 2} hex digits`);
  const sig = obj(spec.signature, 'spec.signature');
  only(sig, ['content', 'publicKey'], 'spec.signature');
  const signature = b64(sig.content, 'spec.signature.content');
  const pk = obj(sig.publicKey, 'spec.signature.publicKey');
  only(pk, ['content'], 'spec.signature.publicKey');
  const verifier = verifierFromPemB64(pk.content, 'spec.signature.publicKey.content');
  requirePrehashed(verifier.vk, alg.alg, digest, signature, () => new LogError('INVALID_SIGNATURE', 'the signature does not verify over the digest with the given key'));
  const body = {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: algName, value } },
      signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(verifier.canonicalPem).toString('base64') } },
    },
  };
  return {
    kind: 'hashedrekord',
    apiVersion: '0.0.1',
    body: Buffer.from(canonicalizeJcs(body)),
    indexKeys: [`hash:${algName}:${value.toLowerCase()}`, ...verifierIndexKeys(verifier)],
  };
}
