/**
 * Certificate path validation (RFC 5280 §6, reduced to what Sigstore needs, following
 * @sigstore/verify key/certificate.js): leaf -> issuer(s) from one trusted-root CA chain -> its
 * self-signed anchor; every signature checked, every non-leaf a CA (basicConstraints + keyCertSign),
 * pathLenConstraint honoured, every certificate and the CA's validFor covering every signing time.
 */
import { fail, type VerifyErrorCode } from './errors.ts';
import { within, type CertificateAuthority } from './trusted-root.ts';
import { OID, type Certificate } from './x509.ts';

/** A signature check between two long-lived trust-root certificates is sound to remember. */
const verifiedLinks = new WeakMap<Certificate, WeakSet<Certificate>>();

function issuedByCached(child: Certificate, parent: Certificate, cache: boolean): boolean {
  if (cache && verifiedLinks.get(child)?.has(parent)) return true;
  const ok = child.issuedBy(parent);
  if (ok && cache) {
    let s = verifiedLinks.get(child);
    if (!s) verifiedLinks.set(child, (s = new WeakSet()));
    s.add(parent);
  }
  return ok;
}

function keyIdsCompatible(child: Certificate, parent: Certificate): boolean {
  const aki = child.authorityKeyId;
  const ski = parent.subjectKeyId;
  return !aki || !ski || aki.equals(ski);
}

/** Builds leaf -> ... -> anchor inside one CA's chain, or returns undefined. */
function buildPath(leaf: Certificate, ca: CertificateAuthority): Certificate[] | undefined {
  const chain = ca.certChain;
  const anchor = chain[chain.length - 1]!;
  const path = [leaf];
  let current = leaf;
  for (let depth = 0; depth <= chain.length; depth++) {
    if (current === anchor) return issuedByCached(anchor, anchor, true) ? path : undefined;
    const isLeaf = current === leaf;
    const parent = chain.find((c) => c !== current && c.subject.equals(current.issuer) && keyIdsCompatible(current, c) && issuedByCached(current, c, !isLeaf));
    if (!parent) return undefined;
    path.push(parent);
    current = parent;
  }
  return undefined;
}

/**
 * Critical extensions this verifier processes (RFC 5280 §4.2: a certificate with an unrecognised
 * critical extension must be rejected, as Go's x509 used by cosign does). Name constraints are not
 * processed, so a critical one is refused rather than ignored.
 */
const UNDERSTOOD_CRITICAL = new Set<string>([OID.basicConstraints, OID.keyUsage, OID.extKeyUsage, OID.subjectAltName]);

function unknownCritical(c: Certificate): string | undefined {
  return c.extensions.find((e) => e.critical && !UNDERSTOOD_CRITICAL.has(e.oid))?.oid;
}

/** Checks CA flags and path lengths of a built path (leaf first). Returns an error or undefined. */
function checkConstraints(path: Certificate[]): string | undefined {
  for (let i = 0; i < path.length; i++) {
    const crit = unknownCritical(path[i]!);
    if (crit !== undefined) return `certificate ${i} of the path has an unsupported critical extension ${crit}`;
  }
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (!c.isCA) return `certificate ${i} of the path is not a CA (basicConstraints cA and keyCertSign required)`;
    const { pathLen } = c.basicConstraints;
    // RFC 5280 §4.2.1.9: pathLen counts the non-self-issued intermediates below this CA.
    const below = path.slice(1, i).filter((x) => !x.isSelfIssued).length;
    if (pathLen !== undefined && below > pathLen) return `certificate ${i} of the path allows ${pathLen} intermediates below it, found ${below}`;
  }
  return undefined;
}

function checkTimes(path: Certificate[], validFor: CertificateAuthority['validFor'], times: readonly Date[], what: string): string | undefined {
  for (const t of times) {
    if (!within(validFor, t)) return `signing time ${t.toISOString()} is outside the trusted root's validity window of the ${what}`;
    for (let i = 0; i < path.length; i++) {
      const c = path[i]!;
      if (!c.validAt(t)) {
        return `${i === 0 ? 'the signing certificate' : `certificate ${i} of the path`} was not valid at ${t.toISOString()} (valid ${c.notBefore.toISOString()} to ${c.notAfter.toISOString()})`;
      }
    }
  }
  return undefined;
}

/**
 * Finds a trusted CA that issued `leaf` and validates the path at every time in `times`.
 * Returns the path leaf first, anchor last.
 */
export function verifyCertificatePath(leaf: Certificate, cas: readonly CertificateAuthority[], times: readonly Date[]): Certificate[] {
  let best: { code: VerifyErrorCode; message: string } | undefined;
  // The signing certificate is an end entity for code signing (Fulcio profile; sigstore-go
  // requires the codeSigning EKU): not a CA, and if it restricts its key purposes, codeSigning.
  if (leaf.basicConstraints.ca) fail('CERT_CHAIN_INVALID', 'the signing certificate is a CA certificate');
  const eku = leaf.extKeyUsage;
  if (eku && !eku.includes(OID.codeSigning)) fail('CERT_CHAIN_INVALID', 'the signing certificate is not for code signing (extended key usage)');
  for (const ca of cas) {
    const path = buildPath(leaf, ca);
    if (!path) continue;
    const constraint = checkConstraints(path);
    if (constraint) {
      best ??= { code: 'CERT_CHAIN_INVALID', message: constraint };
      continue;
    }
    const timeProblem = checkTimes(path, ca.validFor, times, 'certificate authority');
    if (timeProblem) {
      best = { code: 'CERT_EXPIRED_AT_SIGNING', message: timeProblem };
      continue;
    }
    return path;
  }
  if (best) fail(best.code, best.message);
  return fail('UNTRUSTED_CA', 'the signing certificate does not chain to any certificate authority in the trusted root');
}

/**
 * Validates a timestamp authority chain given in full by the trusted root ([leaf, ..., root]),
 * each link signed by the next, the last self-signed, all valid at `time`.
 */
export function verifyAuthorityChain(authority: CertificateAuthority, time: Date): string | undefined {
  const chain = authority.certChain;
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    const parent = chain[i + 1] ?? c;
    if (!issuedByCached(c, parent, true)) return `certificate ${i} of the authority chain is not signed by the next`;
  }
  const constraint = checkConstraints(chain);
  if (constraint) return constraint;
  return checkTimes(chain, authority.validFor, [time], 'timestamp authority');
}
