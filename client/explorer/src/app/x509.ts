/** Decodes an X.509 certificate for display: names, validity, SANs, and every extension by name. */
import { FULCIO_EXTENSIONS, OID } from '@cairn/shared/oids';
import { toHex } from './bytes.ts';
import { children, oid, readTlv, text, time, type Tlv } from './der.ts';

export interface Extension {
  oid: string;
  name: string;
  critical: boolean;
  value: string;
}

export interface Certificate {
  serial: string;
  issuer: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
  sans: { type: string; value: string }[];
  extensions: Extension[];
  spki: Uint8Array;
  signatureAlgorithm: string;
}

const ATTR: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.5': 'serialNumber',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

const OID_NAMES: Record<string, string> = Object.fromEntries<string>([
  ...Object.entries(OID).map(([name, o]): [string, string] => [o, name]),
  ...FULCIO_EXTENSIONS.flatMap((f) => {
    const out: [string, string][] = [];
    if ('raw' in f) out.push([`1.3.6.1.4.1.57264.1.${f.raw}`, `Fulcio ${f.key} (deprecated, raw)`]);
    if ('der' in f) out.push([`1.3.6.1.4.1.57264.1.${f.der}`, `Fulcio ${f.key}`]);
    return out;
  }),
]);

export const oidName = (o: string): string => OID_NAMES[o] ?? o;

function name(t: Tlv): string {
  return children(t.value)
    .flatMap((set) => children(set.value))
    .map((atv) => {
      const [type, value] = children(atv.value);
      if (!type || !value) return '';
      const o = oid(type.value);
      return `${ATTR[o] ?? o}=${text(value.value)}`;
    })
    .join(', ');
}

function sans(value: Uint8Array): { type: string; value: string }[] {
  const [seq] = children(value);
  if (!seq) return [];
  return children(seq.value).map((g) => {
    switch (g.tag) {
      case 0x81:
        return { type: 'email', value: text(g.value) };
      case 0x82:
        return { type: 'DNS', value: text(g.value) };
      case 0x86:
        return { type: 'URI', value: text(g.value) };
      case 0xa0: {
        const [typeId, inner] = children(g.value);
        const o = typeId ? oid(typeId.value) : '?';
        const v = inner ? children(inner.value)[0] : undefined;
        return { type: o === OID.fulcioUsername ? 'username' : `otherName ${o}`, value: v ? text(v.value) : '' };
      }
      default:
        return { type: `tag 0x${g.tag.toString(16)}`, value: toHex(g.value) };
    }
  });
}

const KEY_USAGE = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

function extensionValue(o: string, value: Uint8Array, sanList: { type: string; value: string }[]): string {
  try {
    if (o === OID.subjectAltName) return sanList.map((s) => `${s.type}: ${s.value}`).join('; ');
    if (o === OID.keyUsage) {
      const [bits] = children(value);
      if (!bits) return '';
      const b = bits.value;
      return KEY_USAGE.filter((_, i) => ((b[1 + (i >> 3)] ?? 0) >> (7 - (i & 7))) & 1).join(', ');
    }
    if (o === OID.extKeyUsage) {
      const [seq] = children(value);
      return seq ? children(seq.value).map((e) => oidName(oid(e.value))).join(', ') : '';
    }
    if (o === OID.basicConstraints) {
      const [seq] = children(value);
      const parts = seq ? children(seq.value) : [];
      const ca = parts[0]?.tag === 0x01 && parts[0].value[0] !== 0;
      return ca ? `CA${parts[1] ? `, pathLen ${parts[1].value[0] ?? 0}` : ''}` : 'not a CA';
    }
    if (o === OID.subjectKeyIdentifier) {
      const [k] = children(value);
      return k ? toHex(k.value) : '';
    }
    if (o === OID.authorityKeyIdentifier) {
      const [seq] = children(value);
      const k = seq ? children(seq.value).find((c) => c.tag === 0x80) : undefined;
      return k ? toHex(k.value) : '';
    }
    if (o === OID.sctList) return `${value.length} bytes of signed certificate timestamps`;
    if (o.startsWith('1.3.6.1.4.1.57264.1.')) {
      const n = Number(o.slice('1.3.6.1.4.1.57264.1.'.length));
      // 1.1-1.6 are the raw string; 1.8 and later a DER UTF8String.
      if (n <= 6) return text(value);
      const [s] = children(value);
      return s ? text(s.value) : '';
    }
  } catch {
    // shown as hex below
  }
  return toHex(value);
}

export function parseCertificate(der: Uint8Array): Certificate {
  const { tlv: cert } = readTlv(der);
  const [tbs, sigAlg] = children(cert.value);
  if (!tbs || !sigAlg) throw new Error('not a certificate');
  const fields = children(tbs.value);
  let i = fields[0]?.tag === 0xa0 ? 1 : 0;
  const serial = fields[i++]!;
  i++; // signature algorithm (inside tbs)
  const issuer = fields[i++]!;
  const validity = children(fields[i++]!.value);
  const subject = fields[i++]!;
  const spki = fields[i++]!;
  const extWrap = fields.slice(i).find((f) => f.tag === 0xa3);
  const extensions: Extension[] = [];
  let sanList: { type: string; value: string }[] = [];
  if (extWrap) {
    const [seq] = children(extWrap.value);
    for (const e of seq ? children(seq.value) : []) {
      const parts = children(e.value);
      const o = oid(parts[0]!.value);
      const critical = parts[1]?.tag === 0x01 && parts[1].value[0] !== 0;
      const value = parts[parts.length - 1]!.value;
      if (o === OID.subjectAltName) sanList = sans(value);
      extensions.push({ oid: o, name: oidName(o), critical, value: extensionValue(o, value, sanList) });
    }
  }
  return {
    serial: toHex(serial.value),
    issuer: name(issuer),
    subject: name(subject),
    notBefore: time(validity[0]!),
    notAfter: time(validity[1]!),
    sans: sanList,
    extensions,
    spki: spki.raw,
    signatureAlgorithm: oidName(oid(children(sigAlg.value)[0]!.value)),
  };
}
