/**
 * Test PKI for the CT tests: a self-signed root, an intermediate, precertificates and final
 * certificates, all ECDSA P-256, built with the DER writer and signed with node:crypto.
 * (@peculiar/x509 needs a Reflect metadata polyfill that is not installed, so it is not used here;
 * byte-exactness is checked against sigstore-js's own DER encoder and a production vector instead.)
 */
import { createHash, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { bitString, bool, encodeTlv, explicit, integer, nullValue, octetString, oid, seq, set, utcTime, utf8String } from '@cairn/shared/der';

export const OID_POISON = '1.3.6.1.4.1.11129.2.4.3';
export const OID_SCT_LIST = '1.3.6.1.4.1.11129.2.4.2';
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export interface Ext {
  oid: string;
  critical?: boolean;
  /** DER content of extnValue. */
  value: Buffer;
}

export interface TestCa {
  name: Buffer;
  der: Buffer;
  key: KeyObject;
  spki: Buffer;
}

export function newKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}

export function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

export function name(cn: string, o = 'cairn.test'): Buffer {
  return seq(set(seq(oid('2.5.4.10'), utf8String(o))), set(seq(oid('2.5.4.3'), utf8String(cn))));
}

export function extension(e: Ext): Buffer {
  return seq(oid(e.oid), ...(e.critical ? [bool(true)] : []), octetString(e.value));
}

function keyId(spki: Buffer): Buffer {
  return createHash('sha1').update(spki).digest();
}

export interface TbsOptions {
  serial?: Buffer;
  issuer: Buffer;
  subject: Buffer;
  spki: Buffer;
  notBefore?: Date;
  notAfter?: Date;
  extensions: Ext[];
}

export function tbsCertificate(o: TbsOptions): Buffer {
  const notBefore = o.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const notAfter = o.notAfter ?? new Date(notBefore.getTime() + 3600_000);
  return seq(
    explicit(0, integer(2n)),
    integer(o.serial ?? Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    ECDSA_SHA256,
    o.issuer,
    seq(utcTime(notBefore), utcTime(notAfter)),
    o.subject,
    o.spki,
    ...(o.extensions.length ? [explicit(3, seq(...o.extensions.map(extension)))] : []),
  );
}

export function signTbs(tbs: Buffer, key: KeyObject): Buffer {
  return seq(tbs, ECDSA_SHA256, bitString(sign('sha256', tbs, key)));
}

function caExtensions(spki: Buffer, issuerSpki: Buffer, pathLen: number): Ext[] {
  return [
    { oid: '2.5.29.15', critical: true, value: bitString(Buffer.from([0x06]), 1) }, // keyCertSign | cRLSign
    { oid: '2.5.29.19', critical: true, value: seq(bool(true), integer(BigInt(pathLen))) },
    { oid: '2.5.29.14', value: octetString(keyId(spki)) },
    { oid: '2.5.29.35', value: seq(encodeTlv(0x80, keyId(issuerSpki))) },
  ];
}

export function makeRoot(cn = 'Cairn Test Root'): TestCa {
  const key = newKey();
  const spki = spkiOf(key);
  const n = name(cn);
  const der = signTbs(
    tbsCertificate({ issuer: n, subject: n, spki, notAfter: new Date(Date.now() + 365 * 86400_000), extensions: caExtensions(spki, spki, 1) }),
    key,
  );
  return { name: n, der, key, spki };
}

export function makeIntermediate(root: TestCa, cn = 'Cairn Test Intermediate'): TestCa {
  const key = newKey();
  const spki = spkiOf(key);
  const n = name(cn);
  const der = signTbs(
    tbsCertificate({ issuer: root.name, subject: n, spki, notAfter: new Date(Date.now() + 300 * 86400_000), extensions: caExtensions(spki, root.spki, 0) }),
    root.key,
  );
  return { name: n, der, key, spki };
}

export interface LeafOptions {
  /** Extensions in order (without the poison); defaults to a Fulcio-like set. */
  extensions?: Ext[];
  /** Insert the critical poison extension (NULL) at this position; undefined = no poison. */
  poisonAt?: number;
  serial?: Buffer;
  spki?: Buffer;
  notBefore?: Date;
  notAfter?: Date;
}

export const POISON_EXT: Ext = { oid: OID_POISON, critical: true, value: nullValue() };

export function leafExtensions(issuer: TestCa, spki: Buffer): Ext[] {
  return [
    { oid: '2.5.29.15', critical: true, value: bitString(Buffer.from([0x80]), 7) }, // digitalSignature
    { oid: '2.5.29.37', value: seq(oid('1.3.6.1.5.5.7.3.3')) },
    { oid: '2.5.29.14', value: octetString(keyId(spki)) },
    { oid: '2.5.29.35', value: seq(encodeTlv(0x80, keyId(issuer.spki))) },
    { oid: '2.5.29.17', critical: true, value: seq(encodeTlv(0x81, Buffer.from('dev@cairn.test'))) },
    { oid: '1.3.6.1.4.1.57264.1.8', value: utf8String('https://issuer.cairn.test') },
  ];
}

/** A leaf (or precertificate when `poisonAt` is set) signed by `issuer`; subject empty as Fulcio's. */
export function makeLeaf(issuer: TestCa, o: LeafOptions = {}): { der: Buffer; tbs: Buffer } {
  const spki = o.spki ?? spkiOf(newKey());
  const exts = [...(o.extensions ?? leafExtensions(issuer, spki))];
  if (o.poisonAt !== undefined) exts.splice(o.poisonAt, 0, POISON_EXT);
  const tbs = tbsCertificate({
    serial: o.serial,
    issuer: issuer.name,
    subject: seq(),
    spki,
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    extensions: exts,
  });
  return { der: signTbs(tbs, issuer.key), tbs };
}

/** A precert + root-of-trust chain ready for add-pre-chain: [precert, intermediate, root]. */
export function precertChain(): { root: TestCa; intermediate: TestCa; precert: Buffer; chain: Buffer[] } {
  const root = makeRoot();
  const intermediate = makeIntermediate(root);
  const precert = makeLeaf(intermediate, { poisonAt: 6 }).der;
  return { root, intermediate, precert, chain: [precert, intermediate.der, root.der] };
}

/**
 * A precertificate and a way to build its final certificate: same serial, validity, key and
 * extensions in the same order, poison removed, SCT list appended last (Fulcio's flow, §1.11).
 */
export function precertWithFinal(issuer: TestCa): { precert: Buffer; precertTbs: Buffer; finalWith(sctListExtnValue: Buffer): Buffer } {
  const spki = spkiOf(newKey());
  const serial = Buffer.concat([Buffer.from([0x01]), randomBytes(15)]);
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000);
  const notAfter = new Date(notBefore.getTime() + 600_000);
  const extensions = leafExtensions(issuer, spki);
  const pre = makeLeaf(issuer, { serial, spki, notBefore, notAfter, extensions, poisonAt: extensions.length });
  return {
    precert: pre.der,
    precertTbs: pre.tbs,
    finalWith: (sctList) => makeLeaf(issuer, { serial, spki, notBefore, notAfter, extensions: [...extensions, { oid: OID_SCT_LIST, value: sctList }] }).der,
  };
}
