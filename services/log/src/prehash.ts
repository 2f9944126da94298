/**
 * Signature verification over a DIGEST (the artifact itself never reaches the log): what Rekor
 * does for hashedrekord (Go's ecdsa.VerifyASN1 / rsa.VerifyPKCS1v15 on the digest). The
 * arithmetic lives in @cairn/shared/prehash; this file adds the log's policy.
 *
 * The allow-list (Rekor's default algorithm registry): ECDSA P-256/SHA-256, P-384/SHA-384,
 * P-521/SHA-512, RSA PKCS#1 v1.5 2048/3072/4096 with SHA-256. Everything else is unsupported.
 */
import type { KeyObject } from 'node:crypto';
import type { HashAlgorithm } from '@cairn/shared';
import { CURVES, DIGEST_LENGTH, verifyEcdsaPrehashedBatch, verifyPrehashed as verifyDigest, type EcdsaCheck } from '@cairn/shared/prehash';
import { LogError } from './errors.ts';
import { VerifyingKey } from './key-material.ts';

const RSA_SIZES = new Set([2048, 3072, 4096]);

/** Throws UNSUPPORTED_KEY unless (key, hash) is on the allow-list. */
export function checkPrehashAlgorithm(key: KeyObject, hash: HashAlgorithm): void {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const c = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (!c) throw new LogError('UNSUPPORTED_KEY', 'unsupported elliptic curve');
    if (c.hash !== hash) throw new LogError('UNSUPPORTED_KEY', `an ECDSA ${c.name} key signs ${c.hash} digests, not ${hash}`);
    return;
  }
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (!RSA_SIZES.has(bits)) throw new LogError('UNSUPPORTED_KEY', `RSA keys must have 2048, 3072 or 4096 bits, not ${bits}`);
    if (hash !== 'sha256') throw new LogError('UNSUPPORTED_KEY', 'RSA keys sign sha256 digests');
    return;
  }
  throw new LogError('UNSUPPORTED_KEY', `key type ${type ?? 'unknown'} cannot verify a prehashed signature`);
}

/**
 * Verifies `signature` over `digest` (already hashed with `hash`). Never throws for a bad
 * signature; throws UNSUPPORTED_KEY for a key/hash pair outside the allow-list.
 */
export function verifyPrehashed(k: KeyObject | VerifyingKey, hash: HashAlgorithm, digest: Buffer, signature: Uint8Array): boolean {
  const check = ecdsaCheckOf(k, hash, digest, signature);
  if (check !== undefined) return check !== false && verifyEcdsaPrehashedBatch([check])[0]!;
  const key = k instanceof VerifyingKey ? k.key : k;
  checkPrehashAlgorithm(key, hash);
  return verifyDigest(key, hash, digest, signature) === true;
}

/**
 * The fast path's check for a key whose EC point was parsed (and checked to be on its curve)
 * from the SPKI: the check, false when the digest cannot be one of `hash`, undefined for other
 * keys (node:crypto then decides). UNSUPPORTED_KEY for a curve paired with another hash.
 */
function ecdsaCheckOf(k: KeyObject | VerifyingKey, hash: HashAlgorithm, digest: Buffer, signature: Uint8Array): EcdsaCheck | false | undefined {
  if (!(k instanceof VerifyingKey) || !k.ec) return undefined;
  const c = CURVES[k.ec.curve.name]!;
  if (c.hash !== hash) throw new LogError('UNSUPPORTED_KEY', `an ECDSA ${c.name} key signs ${c.hash} digests, not ${hash}`);
  if (digest.length !== DIGEST_LENGTH[hash]) return false;
  return { curve: c, qx: k.ec.x, qy: k.ec.y, digest, signature };
}

/** ECDSA checks collected while a batch of entries is prepared (see withDeferredEcdsa). */
let deferral: { checks: EcdsaCheck[]; owners: number[]; failures: (() => LogError)[]; current: number } | undefined;

/**
 * Throws `failure` unless `signature` verifies over `digest`. Inside withDeferredEcdsa, an ECDSA
 * check on a parsed point is recorded instead and decided with the rest of the batch; every
 * other check (and every policy error) happens at once, in order.
 */
export function requirePrehashed(k: KeyObject | VerifyingKey, hash: HashAlgorithm, digest: Buffer, signature: Uint8Array, failure: () => LogError): void {
  const check = deferral ? ecdsaCheckOf(k, hash, digest, signature) : undefined;
  if (deferral && check) {
    deferral.checks.push(check);
    deferral.owners.push(deferral.current);
    deferral.failures.push(failure);
    return;
  }
  if (check === false || !verifyPrehashed(k, hash, digest, signature)) throw failure();
}

/**
 * Runs `prepare` over `items` with their ECDSA-over-digest checks deferred, then decides all of
 * them at once (verifyEcdsaPrehashedBatch shares the modular inversions across the batch). An
 * item whose check fails gets the error its preparer named, as it would have inline.
 */
export function withDeferredEcdsa<T, R>(items: readonly T[], prepare: (item: T) => R): ({ ok: true; value: R } | { ok: false; error: unknown })[] {
  const d = { checks: [] as EcdsaCheck[], owners: [] as number[], failures: [] as (() => LogError)[], current: 0 };
  const out: ({ ok: true; value: R } | { ok: false; error: unknown })[] = [];
  deferral = d;
  try {
    for (let i = 0; i < items.length; i++) {
      d.current = i;
      try {
        out.push({ ok: true, value: prepare(items[i]!) });
      } catch (error) {
        out.push({ ok: false, error });
      }
    }
  } finally {
    deferral = undefined;
  }
  const verdicts = verifyEcdsaPrehashedBatch(d.checks);
  for (let k = 0; k < verdicts.length; k++) {
    const owner = d.owners[k]!;
    if (!verdicts[k] && out[owner]!.ok) out[owner] = { ok: false, error: d.failures[k]!() };
  }
  return out;
}
