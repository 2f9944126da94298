/**
 * Embedded SCT verification (RFC 6962 §3.2/§5.2, sigstore-protocols §1.12): strip the SCT list
 * from the leaf TBS, sign-data = precert entry over SHA-256(issuer SPKI); every embedded SCT must
 * verify against a trusted-root CT log valid at its timestamp (an unverifiable SCT fails the whole
 * verification, as in @sigstore/verify key/sct.js); distinct verified logs are counted.
 */
import { PublicKey, sha256 } from '@cairn/shared';
import { OID_SCT_LIST, parseDigitallySigned, parseSctList, precertSignedData, removeExtensionFromTbs, tlsAlgorithmsOf, TLS_HASH } from '@cairn/shared/sct';
import { fail } from './errors.ts';
import { verifySignature } from './memo.ts';
import { within, type TransparencyLogAuthority } from './trusted-root.ts';
import type { Certificate } from './x509.ts';

const keyCache = new WeakMap<TransparencyLogAuthority, PublicKey>();

function publicKeyOf(log: TransparencyLogAuthority): PublicKey {
  let k = keyCache.get(log);
  if (!k) keyCache.set(log, (k = new PublicKey(log.publicKey)));
  return k;
}

/** Returns the number of distinct CT logs whose SCT verified. */
export function verifyEmbeddedScts(leaf: Certificate, issuer: Certificate, ctlogs: readonly TransparencyLogAuthority[]): number {
  const ext = leaf.extension(OID_SCT_LIST);
  if (!ext) return 0;
  let scts;
  let tbs: Buffer;
  try {
    scts = parseSctList(ext.value);
    tbs = removeExtensionFromTbs(leaf.tbs, OID_SCT_LIST);
  } catch (e) {
    return fail('SCT_INVALID', `the embedded SCT list is malformed: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const issuerKeyHash = sha256(issuer.spki);
  const seen = new Set<string>();
  for (const sct of scts) {
    const id = sct.logId.toString('hex');
    if (seen.has(id)) fail('SCT_INVALID', `two embedded SCTs come from the same CT log ${id}`);
    seen.add(id);
    const t = new Date(sct.timestamp);
    const candidates = ctlogs.filter((l) => l.logId.equals(sct.logId) && within(l.validFor, t));
    if (candidates.length === 0) fail('SCT_INVALID', `an embedded SCT comes from CT log ${id}, which the trusted root does not list for ${t.toISOString()}`);
    const data = precertSignedData({ timestamp: sct.timestamp, issuerKeyHash, tbs, extensions: sct.extensions });
    if (!candidates.some((l) => verifySct(l, data, sct.signature))) {
      fail('SCT_INVALID', `the embedded SCT from CT log ${id} does not verify`);
    }
  }
  return seen.size;
}

const TLS_HASH_NAMES: Record<number, string> = { [TLS_HASH.sha256]: 'sha256', [TLS_HASH.sha384]: 'sha384', [TLS_HASH.sha512]: 'sha512' };

/**
 * RFC 6962 §3.2 digitally-signed: the element's algorithms must be exactly the log key's (no
 * downgrade through a forged hash byte), then the signature must verify.
 */
function verifySct(log: TransparencyLogAuthority, data: Buffer, element: Buffer): boolean {
  let ds;
  let want;
  try {
    ds = parseDigitallySigned(element);
    want = tlsAlgorithmsOf(publicKeyOf(log).algorithm);
  } catch {
    return false;
  }
  if (ds.hashAlgorithm !== want.hash || ds.signatureAlgorithm !== want.signature) return false;
  const hash = log.publicKey.asymmetricKeyType === 'ed25519' ? null : TLS_HASH_NAMES[ds.hashAlgorithm];
  if (hash === undefined) return false;
  return verifySignature(hash, data, log.publicKey, log.rawKey, ds.signature);
}
