/**
 * Validation of submitted chains (RFC 6962 §4.1 add-chain, §4.2 add-pre-chain): strict DER,
 * the poison rule of §3.1, every link issued and signed by the next certificate, and an end at
 * one of the accepted roots. Pure checks: nothing here writes anything.
 */
import { X509Certificate, createHash, verify, type KeyObject } from 'node:crypto';
import { fromBase64, isRecord } from '@cairn/shared';
import { OID_CT_POISON, OID_CT_PRECERT_SIGNING, splitCertificate, tbsExtensions, tbsNames, type CertExtension } from '@cairn/shared/sct';
import { children, oidToString, readOne, TAG } from '@cairn/shared/der';
import { OID } from '@cairn/shared/oids';
import { CtError } from './errors.ts';
import type { AcceptedRoot, RootStore } from './roots.ts';

/** Certificates in one submitted chain (leaf, intermediates, root). */
export const MAX_CHAIN_LENGTH = 8;
/** Largest single DER certificate accepted. Fulcio leaves are ~2 KiB. */
export const MAX_CERT_BYTES = 32 * 1024;
/** Issuer certificates (and verified issuer links) kept parsed: the CA sends the same few every time. */
export const ISSUER_CACHE_SIZE = 128;
/** Request body limit of add-chain/add-pre-chain: the chain in base64 plus JSON overhead. */
export const MAX_SUBMISSION_BYTES = Math.ceil((MAX_CHAIN_LENGTH * MAX_CERT_BYTES * 4) / 3) + 4096;

const POISON_VALUE = Buffer.from([0x05, 0x00]);
const OID_EKU = OID.extKeyUsage;
const OID_KEY_USAGE = OID.keyUsage;

export type EntryKind = 'precert' | 'x509';

/**
 * A submitted certificate: checked as strict DER by our reader at once; node:crypto's
 * X509Certificate (an OpenSSL parse costing about as much as a signature check) only when needed.
 */
export class ParsedCert {
  private x509Cache: X509Certificate | undefined;
  private keyCache: KeyObject | undefined;
  private namesCache: { issuer: Buffer; subject: Buffer } | undefined;
  constructor(
    readonly der: Buffer,
    readonly tbs: Buffer,
    readonly extensions: CertExtension[],
    readonly signatureAlgorithm: Buffer,
    readonly signature: Buffer,
    private readonly position: number,
  ) {}

  /** OpenSSL's view of the certificate; INVALID_CERTIFICATE when OpenSSL refuses it. */
  get x509(): X509Certificate {
    if (!this.x509Cache) {
      try {
        this.x509Cache = new X509Certificate(this.der);
      } catch (e) {
        throw new CtError('INVALID_CERTIFICATE', `chain[${this.position}] is not a valid X.509 certificate`, { cause: e });
      }
    }
    return this.x509Cache;
  }

  /** Issuer and subject Names, DER (parsed once: issuers are cached and checked per request). */
  get names(): { issuer: Buffer; subject: Buffer } {
    this.namesCache ??= tbsNames(this.tbs);
    return this.namesCache;
  }

  get publicKey(): KeyObject {
    if (!this.keyCache) {
      const x509 = this.x509;
      try {
        this.keyCache = x509.publicKey;
      } catch (e) {
        throw new CtError('INVALID_CERTIFICATE', `chain[${this.position}] has a public key OpenSSL cannot use`, { cause: e });
      }
    }
    return this.keyCache;
  }
}

export interface ValidatedChain {
  kind: EntryKind;
  /** The submitted certificates, plus the accepted root appended when the chain ended below it. */
  certs: Buffer[];
  leaf: ParsedCert;
  /** The leaf's direct issuer (its SPKI hash is the precert issuer_key_hash). */
  issuer: Buffer;
}

/** The `{"chain": [base64 DER, ...]}` body of RFC 6962 §4.1/§4.2, decoded and size-checked. */
export function decodeChainRequest(body: unknown): Buffer[] {
  if (!isRecord(body)) throw new CtError('INVALID_JSON', 'request body must be a JSON object');
  const chain = body.chain;
  if (!Array.isArray(chain) || chain.length === 0) throw new CtError('INVALID_REQUEST', '`chain` must be a non-empty array of base64 certificates');
  if (chain.length > MAX_CHAIN_LENGTH) throw new CtError('CHAIN_TOO_LARGE', `a chain holds at most ${MAX_CHAIN_LENGTH} certificates`);
  return chain.map((item, i) => {
    if (typeof item !== 'string') throw new CtError('INVALID_REQUEST', `chain[${i}] is not a string`);
    if (item.length > Math.ceil((MAX_CERT_BYTES * 4) / 3) + 4) throw new CtError('CHAIN_TOO_LARGE', `chain[${i}] is larger than ${MAX_CERT_BYTES} bytes`);
    try {
      return fromBase64(item, `chain[${i}]`);
    } catch (e) {
      throw new CtError('INVALID_BASE64', `chain[${i}] is not valid base64`, { cause: e });
    }
  });
}

function parseCert(der: Buffer, i: number): ParsedCert {
  if (der.length > MAX_CERT_BYTES) throw new CtError('CHAIN_TOO_LARGE', `chain[${i}] is larger than ${MAX_CERT_BYTES} bytes`);
  try {
    const { tbs, signatureAlgorithm, signature } = splitCertificate(der);
    const extensions = tbsExtensions(tbs);
    return new ParsedCert(der, tbs, extensions, signatureAlgorithm, signature, i);
  } catch (e) {
    throw new CtError('INVALID_CERTIFICATE', `chain[${i}] is not a strict-DER X.509 certificate`, { cause: e });
  }
}

/** RFC 6962 §3.1: critical extension 1.3.6.1.4.1.11129.2.4.3 whose extnValue is ASN.1 NULL. */
function hasPoison(c: ParsedCert): boolean {
  const p = c.extensions.find((e) => e.oid === OID_CT_POISON);
  return p !== undefined && p.critical && p.value.equals(POISON_VALUE);
}

function isPrecertSigningCert(c: ParsedCert): boolean {
  const eku = c.extensions.find((e) => e.oid === OID_EKU);
  if (!eku) return false;
  try {
    return children(readOne(eku.value, TAG.SEQUENCE), 64).some((k) => k.tag === TAG.OID && oidToString(k.value) === OID_CT_PRECERT_SIGNING);
  } catch {
    return false;
  }
}

/** `child` names `parent` as issuer, `parent` is a CA, and `parent`'s key verifies `child`. */
async function linked(child: ParsedCert, parent: ParsedCert): Promise<boolean> {
  if (!parent.x509.ca) return false;
  const fast = await directlySigned(child, parent);
  if (fast !== undefined) return fast;
  return child.x509.checkIssued(parent.x509) && child.x509.verify(parent.publicKey);
}

/** Signature algorithms checked without OpenSSL's certificate parser (parameters must be absent/NULL as encoded here). */
const CERT_SIGNATURE_ALGORITHMS = new Map<string, string | null>([
  ['300a06082a8648ce3d040302', 'sha256'], // ecdsa-with-SHA256
  ['300a06082a8648ce3d040303', 'sha384'], // ecdsa-with-SHA384
  ['300a06082a8648ce3d040304', 'sha512'], // ecdsa-with-SHA512
  ['300d06092a864886f70d01010b0500', 'sha256'], // sha256WithRSAEncryption
  ['300d06092a864886f70d01010c0500', 'sha384'], // sha384WithRSAEncryption
  ['300d06092a864886f70d01010d0500', 'sha512'], // sha512WithRSAEncryption
  ['300506032b6570', null], // Ed25519
]);

/**
 * The common case without parsing the child with OpenSSL: its issuer Name equals the parent's
 * subject byte for byte and its signature algorithm is a plain one, so the check is one
 * signature verification over the TBS with the parent's (cached) key. Undefined when the case is
 * not that simple: the caller then asks OpenSSL (name matching rules, other algorithms).
 */
async function directlySigned(child: ParsedCert, parent: ParsedCert): Promise<boolean | undefined> {
  const hash = CERT_SIGNATURE_ALGORITHMS.get(child.signatureAlgorithm.toString('hex'));
  if (hash === undefined || child.signature.length === 0 || child.signature[0] !== 0) return undefined;
  if (!child.names.issuer.equals(parent.names.subject)) return undefined;
  // RFC 5280 §4.2.1.3: a key usage on the parent must allow certificate signing (keyCertSign, bit 5).
  const ku = parent.extensions.find((e) => e.oid === OID_KEY_USAGE);
  if (ku) {
    let bits: Buffer;
    try {
      bits = readOne(ku.value, TAG.BIT_STRING).value;
    } catch {
      return false;
    }
    if (bits.length < 2 || (bits[1]! & 0x04) === 0) return false;
  }
  const key = parent.publicKey;
  // On libuv's thread pool (callback form): the check does not occupy the event loop.
  return new Promise<boolean>((resolve) => {
    try {
      verify(hash, child.tbs, key, child.signature.subarray(1), (err, ok) => resolve(!err && ok));
    } catch {
      resolve(false);
    }
  });
}

/** A small insertion-ordered cache that forgets its oldest entry when full. */
class BoundedCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    return this.map.get(k);
  }
  set(k: string, v: V): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    this.map.set(k, v);
  }
}

const digestOf = (der: Buffer): string => createHash('sha256').update(der).digest('hex');

/**
 * Validates chains against the accepted roots. Issuer certificates and the links between them
 * repeat on every submission from a CA, so they are parsed and verified once and remembered
 * (keyed by the SHA-256 of their DER); the leaf and its link to its issuer are checked every time.
 */
export class ChainValidator {
  private readonly parsed = new BoundedCache<ParsedCert>(ISSUER_CACHE_SIZE);
  private readonly links = new BoundedCache<true>(ISSUER_CACHE_SIZE);

  constructor(private readonly roots: RootStore) {}

  private issuerCert(der: Buffer, i: number): { cert: ParsedCert; digest: string } {
    const digest = digestOf(der);
    let cert = this.parsed.get(digest);
    if (!cert) {
      cert = parseCert(der, i);
      this.parsed.set(digest, cert);
    }
    return { cert, digest };
  }

  async validate(ders: readonly Buffer[], kind: EntryKind): Promise<ValidatedChain> {
    const leaf = parseCert(ders[0]!, 0);
    const issuers = ders.slice(1).map((d, i) => this.issuerCert(d, i + 1));
    const certs = [leaf, ...issuers.map((x) => x.cert)];
    if (kind === 'precert') {
      if (!hasPoison(leaf)) throw new CtError('MISSING_POISON', 'the first certificate has no critical CT poison extension');
    } else if (leaf.extensions.some((e) => e.oid === OID_CT_POISON)) {
      throw new CtError('UNEXPECTED_POISON', 'add-chain takes final certificates; submit precertificates to add-pre-chain');
    }
    for (let i = 1; i < certs.length; i++) {
      if (certs[i]!.extensions.some((e) => e.oid === OID_CT_POISON)) throw new CtError('BROKEN_CHAIN', `chain[${i}] is a precertificate`);
    }
    if (kind === 'precert' && certs.length > 1 && isPrecertSigningCert(certs[1]!)) {
      // §3.1 lets a dedicated precert signer sit between the precert and the real CA; the TBS
      // would then need its issuer rewritten. Fulcio never does this, so neither do we.
      throw new CtError('UNSUPPORTED_PRECERT_SIGNER', 'Precertificate Signing Certificates are not supported');
    }
    for (let i = 0; i + 1 < certs.length; i++) {
      const key = i === 0 ? undefined : `${issuers[i - 1]!.digest}:${issuers[i]!.digest}`;
      if (key !== undefined && this.links.get(key)) continue;
      if (!(await linked(certs[i]!, certs[i + 1]!))) throw new CtError('BROKEN_CHAIN', `chain[${i}] is not issued and signed by chain[${i + 1}]`);
      if (key !== undefined) this.links.set(key, true);
    }

    const last = certs[certs.length - 1]!;
    const out = certs.map((c) => c.der);
    const roots = this.roots;
    let anchor: AcceptedRoot | undefined = roots.get(last.der);
    if (!anchor) {
      // The chain may stop below the root (RFC 6962 §4.1); the stored chain then ends with it.
      anchor = roots.issuerOf(last.x509);
      if (!anchor && roots.rescanIfStale()) anchor = roots.get(last.der) ?? roots.issuerOf(last.x509);
      if (!anchor) throw new CtError('UNKNOWN_ROOT', 'the chain does not end at an accepted root');
      if (!anchor.der.equals(last.der)) out.push(anchor.der);
    }
    if (certs.length === 1 && anchor.der.equals(leaf.der)) throw new CtError('BROKEN_CHAIN', 'a root alone is not a submission');
    return { kind, certs: out, leaf, issuer: out[1]! };
  }
}
