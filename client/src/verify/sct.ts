/**
 * Embedded SCT verification (RFC 6962 §3.2/§5.2, sigstore-protocols §1.12): strip the SCT list
 * from the leaf TBS, sign-data = precert entry over SHA-256(issuer SPKI); every embedded SCT must
 * verify against a trusted-root CT log valid at its timestamp (an unverifiable SCT fails the whole
 * verification, as in @sigstore/verify key/sct.js); distinct verified logs are counted.
 */
import { PublicKey, sha256 } from '@cairn/shared';
import { OID_SCT_LIST, parseSctList, precertSignedData, removeExtensionFromTbs, verifyDigitallySigned } from '@cairn/shared/sct';
import { fail } from './errors.ts';
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
    if (!candidates.some((l) => verifyDigitallySigned(publicKeyOf(l), data, sct.signature))) {
      fail('SCT_INVALID', `the embedded SCT from CT log ${id} does not verify`);
    }
  }
  return seen.size;
}
