/**
 * RFC 3161 timestamps as Sigstore bundles carry them (sigstore-protocols §8): a DER TimeStampResp
 * whose token is CMS SignedData (RFC 5652) over a TSTInfo. Checks, as @sigstore/verify
 * timestamp/tsa.js and timestamp-authority's verifier do: status granted; eContentType TSTInfo;
 * signed attributes present with messageDigest = Hash(TSTInfo) and contentType = TSTInfo; the
 * signature over the DER SET of signed attributes made by the trusted-root TSA leaf named by the
 * SignerInfo sid (IssuerAndSerialNumber); message imprint = Hash(signature bytes); the TSA chain
 * valid at genTime and genTime inside the authority's validFor.
 */
import { createHash } from 'node:crypto';
import { children, oidToString, readOne, readTime, readUnsignedInteger, TAG, type Tlv } from '@cairn/shared/der';
import { verifyAuthorityChain } from './chain.ts';
import { fail } from './errors.ts';
import { verifySignature } from './memo.ts';
import { within, type CertificateAuthority } from './trusted-root.ts';
import { algorithmOid, OID as X509_OID, signatureDigest } from './x509.ts';

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
} as const;

const DIGESTS: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export interface ParsedTimestamp {
  genTime: Date;
  imprintAlgorithm: string;
  imprint: Buffer;
  /** DER TSTInfo (the signed eContent). */
  tstInfo: Buffer;
  digestAlgorithm: string;
  signatureAlgorithm: string;
  signedAttrsDer: Buffer;
  messageDigest: Buffer;
  signature: Buffer;
  sidIssuer: Buffer;
  sidSerial: Buffer;
}

function bad(message: string): never {
  return fail('TIMESTAMP_INVALID', `RFC 3161 timestamp: ${message}`);
}

function tag(t: Tlv | undefined, expected: number, what: string): Tlv {
  if (!t) bad(`missing ${what}`);
  if (t.tag !== expected) bad(`${what} has tag 0x${t.tag.toString(16)}, expected 0x${expected.toString(16)}`);
  return t;
}

function digestName(oid: string): string {
  const d = DIGESTS[oid];
  if (!d) bad(`unsupported digest algorithm ${oid} (SHA-256/384/512 only)`);
  return d;
}

export function parseTimestampResponse(der: Buffer): ParsedTimestamp {
  try {
    return parse(der);
  } catch (e) {
    if (e instanceof Error && (e as { code?: string }).code === 'TIMESTAMP_INVALID') throw e;
    return bad(`malformed DER: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function parse(der: Buffer): ParsedTimestamp {
  // RFC 3161 §2.4.2 TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken OPTIONAL }
  const resp = children(readOne(der, TAG.SEQUENCE), 2);
  const statusInfo = children(tag(resp[0], TAG.SEQUENCE, 'PKIStatusInfo'), 3);
  const status = readUnsignedInteger(tag(statusInfo[0], TAG.INTEGER, 'status'));
  if (status !== 0n && status !== 1n) bad(`status ${status} is not granted`);
  // ContentInfo (RFC 5652 §3)
  const ci = children(tag(resp[1], TAG.SEQUENCE, 'timeStampToken'), 2);
  if (oidToString(tag(ci[0], TAG.OID, 'contentType').value) !== OID.signedData) bad('token is not CMS SignedData');
  const sdWrap = tag(ci[1], 0xa0, 'content');
  const sd = children(tag(children(sdWrap, 1)[0], TAG.SEQUENCE, 'SignedData'), 8);
  // SignedData: version, digestAlgorithms, encapContentInfo, [0] certificates, [1] crls, signerInfos
  const encap = children(tag(sd[2], TAG.SEQUENCE, 'encapContentInfo'), 2);
  if (oidToString(tag(encap[0], TAG.OID, 'eContentType').value) !== OID.tstInfo) bad('eContentType is not TSTInfo');
  const tstInfoDer = tag(children(tag(encap[1], 0xa0, 'eContent'), 1)[0], TAG.OCTET_STRING, 'eContent').value;
  const signerInfos = children(tag(sd[sd.length - 1], TAG.SET, 'signerInfos'), 16);
  // Only the first SignerInfo counts (as in @sigstore/core rfc3161).
  const si = children(tag(signerInfos[0], TAG.SEQUENCE, 'SignerInfo'), 7);
  if (si.length < 6) bad('SignerInfo lacks fields (signed attributes are required)');
  if (readUnsignedInteger(tag(si[0], TAG.INTEGER, 'SignerInfo.version')) !== 1n) bad('sid must be IssuerAndSerialNumber (SignerInfo version 1)');
  const sid = children(tag(si[1], TAG.SEQUENCE, 'IssuerAndSerialNumber'), 2);
  const sidIssuer = tag(sid[0], TAG.SEQUENCE, 'sid.issuer').raw;
  const sidSerial = tag(sid[1], TAG.INTEGER, 'sid.serialNumber').value;
  const digestAlgorithm = digestName(algorithmOid(tag(si[2], TAG.SEQUENCE, 'digestAlgorithm')));
  const attrs = tag(si[3], 0xa0, 'signedAttrs');
  const signatureAlgorithm = algorithmOid(tag(si[4], TAG.SEQUENCE, 'signatureAlgorithm'));
  const signature = tag(si[5], TAG.OCTET_STRING, 'signature').value;

  let messageDigest: Buffer | undefined;
  let contentTypeOk = false;
  for (const a of children(attrs, 64)) {
    const [typeTlv, values] = children(tag(a, TAG.SEQUENCE, 'Attribute'), 2);
    const type = oidToString(tag(typeTlv, TAG.OID, 'attrType').value);
    const vals = children(tag(values, TAG.SET, 'attrValues'), 8);
    if (type === OID.messageDigest) {
      if (messageDigest || vals.length !== 1) bad('messageDigest attribute must appear once with one value');
      messageDigest = tag(vals[0], TAG.OCTET_STRING, 'messageDigest').value;
    } else if (type === OID.contentType) {
      contentTypeOk = vals.length === 1 && oidToString(tag(vals[0], TAG.OID, 'contentType').value) === OID.tstInfo;
    }
  }
  if (!messageDigest) bad('signed attributes lack messageDigest');
  if (!contentTypeOk) bad('signed attributes lack contentType = TSTInfo (RFC 5652 §5.3)');
  // RFC 5652 §5.4: the signature covers the DER of signedAttrs with an explicit SET OF tag.
  const signedAttrsDer = Buffer.concat([Buffer.from([TAG.SET]), attrs.raw.subarray(1)]);

  // TSTInfo (RFC 3161 §2.4.2): version, policy, messageImprint, serialNumber, genTime, ...
  const tst = children(readOne(tstInfoDer, TAG.SEQUENCE), 10);
  if (readUnsignedInteger(tag(tst[0], TAG.INTEGER, 'TSTInfo.version')) !== 1n) bad('TSTInfo version must be 1');
  tag(tst[1], TAG.OID, 'policy');
  const mi = children(tag(tst[2], TAG.SEQUENCE, 'messageImprint'), 2);
  const imprintAlgorithm = digestName(algorithmOid(tag(mi[0], TAG.SEQUENCE, 'hashAlgorithm')));
  const imprint = tag(mi[1], TAG.OCTET_STRING, 'hashedMessage').value;
  tag(tst[3], TAG.INTEGER, 'serialNumber');
  const genTimeTlv = tag(tst[4], TAG.GENERALIZED_TIME, 'genTime');
  // sigstore-js accepts no fractional seconds or exactly three digits (§8.3).
  if (!/^\d{14}(?:\.\d{3})?Z$/.test(genTimeTlv.value.toString('ascii'))) bad('genTime must be YYYYMMDDHHMMSS[.fff]Z');
  const genTime = readTime(genTimeTlv);

  return {
    genTime,
    imprintAlgorithm,
    imprint,
    tstInfo: tstInfoDer,
    digestAlgorithm,
    signatureAlgorithm,
    signedAttrsDer,
    messageDigest,
    signature,
    sidIssuer,
    sidSerial,
  };
}

function cmsDigest(signatureAlgorithm: string, digestAlgorithm: string): string | null {
  if (signatureAlgorithm === OID.ecPublicKey || signatureAlgorithm === OID.rsaEncryption) return digestAlgorithm;
  const d = signatureDigest(signatureAlgorithm);
  if (d === undefined) bad(`unsupported signature algorithm ${signatureAlgorithm}`);
  return d;
}

/**
 * Verifies one timestamp over `signature` (the bundle's signature bytes) against the trusted
 * timestamp authorities; returns the vouched-for time.
 */
export function verifyRfc3161Timestamp(der: Buffer, signature: Buffer, authorities: readonly CertificateAuthority[]): Date {
  const ts = parseTimestampResponse(der);
  if (!createHash(ts.digestAlgorithm).update(ts.tstInfo).digest().equals(ts.messageDigest)) {
    bad('messageDigest does not match the TSTInfo');
  }
  if (!createHash(ts.imprintAlgorithm).update(signature).digest().equals(ts.imprint)) {
    bad('the message imprint is not the hash of the bundle signature');
  }
  const digest = cmsDigest(ts.signatureAlgorithm, ts.digestAlgorithm);
  // A token from a TSA the trusted root does not list is TIMESTAMP_UNTRUSTED; one made outside the
  // listed TSA's validFor or its certificates' validity is TIMESTAMP_OUTSIDE_VALIDITY.
  let code: 'TIMESTAMP_INVALID' | 'TIMESTAMP_UNTRUSTED' | 'TIMESTAMP_OUTSIDE_VALIDITY' = 'TIMESTAMP_UNTRUSTED';
  let problem = 'no timestamp authority in the trusted root issued it';
  for (const tsa of authorities) {
    const leaf = tsa.certChain[0]!;
    if (!leaf.serial.equals(ts.sidSerial) || !leaf.issuer.equals(ts.sidIssuer)) continue;
    if (!within(tsa.validFor, ts.genTime) || !tsa.certChain.every((c) => c.validAt(ts.genTime))) {
      code = 'TIMESTAMP_OUTSIDE_VALIDITY';
      problem = `genTime ${ts.genTime.toISOString()} is outside the validity of the timestamp authority (trusted root validFor or its certificates)`;
      continue;
    }
    code = 'TIMESTAMP_INVALID';
    const eku = leaf.extKeyUsage;
    if (eku && !eku.includes(X509_OID.timeStamping)) {
      problem = 'the timestamp authority certificate is not for timeStamping';
      continue;
    }
    const chainProblem = verifyAuthorityChain(tsa, ts.genTime);
    if (chainProblem) {
      problem = `timestamp authority chain: ${chainProblem}`;
      continue;
    }
    if (!verifySignature(digest, ts.signedAttrsDer, leaf.publicKey, leaf.spki, ts.signature)) {
      problem = 'the timestamp signature does not verify with the timestamp authority key';
      continue;
    }
    return ts.genTime;
  }
  return fail(code, `RFC 3161 timestamp: ${problem}`);
}
