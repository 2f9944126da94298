/**
 * RFC 6962 (Certificate Transparency v1) encodings: signed certificate timestamps, the SCT list
 * X.509 extension, the `digitally-signed` structs a CT log signs, MerkleTreeLeaf, and the
 * TBSCertificate surgery both sides need (strip the poison from a precertificate; strip the SCT
 * list from a final certificate). All parsers are strict: every length must consume exactly its
 * buffer, every size is bounded, and DER goes through the strict reader in `der.ts` so that a
 * re-encoded TBS is byte-identical to the one the CA signed (what sigstore-js rebuilds to verify).
 */
import { CairnError } from './errors.ts';
import { isCairnError } from './errors.ts';
import { sha256, type PublicKey, type SignatureAlgorithm, type Signer, LocalVerifier } from './crypto.ts';
import { assertDer, children, encodeTlv, expectTag, explicit, oidContent, oidToString, readOne, seq, TAG, type Tlv } from './der.ts';
import { OID } from './oids.ts';

export type SctErrorCode =
  | 'SCT_MALFORMED'
  | 'SCT_LIST_MALFORMED'
  | 'SCT_UNSUPPORTED_VERSION'
  | 'DIGITALLY_SIGNED_MALFORMED'
  | 'UNSUPPORTED_ALGORITHM'
  | 'CERT_MALFORMED'
  | 'EXTENSION_NOT_FOUND'
  | 'EXTENSION_DUPLICATE'
  | 'LEAF_MALFORMED'
  | 'FIELD_TOO_LARGE';

export class SctError extends CairnError<SctErrorCode> {
  constructor(code: SctErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { status: 400, ...options });
  }
}

/** RFC 6962 §3.3: the X.509v3 extension carrying a SignedCertificateTimestampList. */
export const OID_SCT_LIST = OID.sctList;
/** RFC 6962 §3.1: the critical poison extension that marks a precertificate. */
export const OID_CT_POISON = OID.ctPoison;
/** RFC 6962 §3.1: EKU of a Precertificate Signing Certificate. */
export const OID_CT_PRECERT_SIGNING = OID.ctPrecertSigning;

/** TLS uint16 bound of an SCT, its extensions and its signature (RFC 6962 §3.2). */
export const MAX_UINT16 = 0xffff;
/** TLS uint24 bound of a certificate or TBS inside CT structures (RFC 6962 §3.1, §3.2). */
export const MAX_UINT24 = 0xffffff;
/** A list with more SCTs than this is refused; real certificates carry 1-5. */
export const MAX_SCTS_IN_LIST = 64;
/** Extensions in one certificate we are willing to walk. */
export const MAX_EXTENSIONS = 256;

/** RFC 6962 §3.2 Version v1. */
export const SCT_VERSION_V1 = 0;
/** RFC 6962 §3.1 LogEntryType. */
export const ENTRY_TYPE_X509 = 0;
export const ENTRY_TYPE_PRECERT = 1;
/** RFC 6962 §3.2 / §3.5 SignatureType. */
const SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP = 0;
const SIGNATURE_TYPE_TREE_HASH = 1;
/** RFC 6962 §3.4 MerkleLeafType. */
const LEAF_TYPE_TIMESTAMPED_ENTRY = 0;

/** RFC 5246 §7.4.1.4.1 HashAlgorithm and SignatureAlgorithm code points (RFC 8422 adds ed25519). */
export const TLS_HASH = { sha256: 4, sha384: 5, sha512: 6, intrinsic: 8 } as const;
export const TLS_SIGNATURE = { rsa: 1, ecdsa: 3, ed25519: 7 } as const;

/**
 * A v1 SCT as a CT log returns it (RFC 6962 §3.2, §4.1). `signature` is the whole TLS
 * `digitally-signed` element: hash algorithm, signature algorithm, uint16 length, signature.
 */
export interface Sct {
  sctVersion: 0;
  /** SHA-256 of the log's DER SubjectPublicKeyInfo. */
  logId: Buffer;
  /** Milliseconds since the epoch. */
  timestamp: number;
  extensions: Buffer;
  signature: Buffer;
}

export interface DigitallySigned {
  hashAlgorithm: number;
  signatureAlgorithm: number;
  signature: Buffer;
}

// ---- TLS presentation-language helpers -------------------------------------------------

function u8(n: number): Buffer {
  return Buffer.from([n]);
}

function u16(n: number, what: string): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > MAX_UINT16) throw new SctError('FIELD_TOO_LARGE', `${what} does not fit a uint16 length`);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u24(n: number, what: string): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > MAX_UINT24) throw new SctError('FIELD_TOO_LARGE', `${what} does not fit a uint24 length`);
  return Buffer.from([(n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

function u64(n: number, what: string): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new SctError('FIELD_TOO_LARGE', `${what} must be a non-negative safe integer`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function bytes32(b: Uint8Array, what: string): Buffer {
  if (b.length !== 32) throw new SctError('FIELD_TOO_LARGE', `${what} must be 32 bytes`);
  return Buffer.from(b);
}

/** A bounds-checked cursor over TLS-encoded bytes; every read past the end throws `code`. */
class Reader {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly code: SctErrorCode,
    private readonly what: string,
  ) {}

  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new SctError(this.code, `${this.what} is truncated`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SctError(this.code, `${this.what} has a timestamp beyond 2^53`);
    return Number(v);
  }
  take(n: number): Buffer {
    this.need(n);
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return v;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new SctError(this.code, `${this.what} has ${this.buf.length - this.pos} trailing bytes`);
  }
}

// ---- digitally-signed ------------------------------------------------------------------

/** Encodes RFC 5246 §4.7 `digitally-signed` as RFC 6962 uses it: hash, sig, uint16 len, sig. */
export function digitallySigned(hashAlgorithm: number, signatureAlgorithm: number, signature: Uint8Array): Buffer {
  if (signature.length === 0) throw new SctError('DIGITALLY_SIGNED_MALFORMED', 'empty signature');
  return Buffer.concat([u8(hashAlgorithm), u8(signatureAlgorithm), u16(signature.length, 'signature'), signature]);
}

export function parseDigitallySigned(buf: Uint8Array): DigitallySigned {
  const r = new Reader(Buffer.from(buf), 'DIGITALLY_SIGNED_MALFORMED', 'digitally-signed element');
  const hashAlgorithm = r.u8();
  const signatureAlgorithm = r.u8();
  const len = r.u16();
  if (len === 0) throw new SctError('DIGITALLY_SIGNED_MALFORMED', 'empty signature');
  const signature = r.take(len);
  r.end();
  return { hashAlgorithm, signatureAlgorithm, signature };
}

/**
 * The TLS code points for the signature schemes a CT log may use. An allow-list: RFC 6962 §2.1.4
 * names ECDSA P-256 and RSA with SHA-256; P-384 is accepted for private deployments.
 */
export function tlsAlgorithmsOf(alg: SignatureAlgorithm): { hash: number; signature: number } {
  switch (alg) {
    case 'ecdsa-p256-sha256':
      return { hash: TLS_HASH.sha256, signature: TLS_SIGNATURE.ecdsa };
    case 'ecdsa-p384-sha384':
      return { hash: TLS_HASH.sha384, signature: TLS_SIGNATURE.ecdsa };
    case 'rsa-pkcs1-sha256':
      return { hash: TLS_HASH.sha256, signature: TLS_SIGNATURE.rsa };
    default:
      throw new SctError('UNSUPPORTED_ALGORITHM', `${alg} is not an RFC 6962 log signature scheme`);
  }
}

/** Signs `data` and wraps the result as a `digitally-signed` element. */
export async function signDigitallySigned(signer: Signer, data: Uint8Array): Promise<Buffer> {
  const { hash, signature } = tlsAlgorithmsOf(signer.algorithm);
  return digitallySigned(hash, signature, await signer.sign(data));
}

/**
 * Verifies a `digitally-signed` element over `data` with `key`. The element's algorithms must be
 * exactly those of the key (no downgrade by a forged hash byte). Malformed input is `false`.
 */
export function verifyDigitallySigned(key: PublicKey, data: Uint8Array, element: Uint8Array): boolean {
  let ds: DigitallySigned;
  let want: { hash: number; signature: number };
  try {
    ds = parseDigitallySigned(element);
    want = tlsAlgorithmsOf(key.algorithm);
  } catch (e) {
    if (isCairnError(e)) return false;
    throw e;
  }
  if (ds.hashAlgorithm !== want.hash || ds.signatureAlgorithm !== want.signature) return false;
  return new LocalVerifier(key).verify(data, ds.signature);
}

// ---- SCT ---------------------------------------------------------------------------------

/** RFC 6962 §3.2 SignedCertificateTimestamp serialisation (what goes in the SCT list). */
export function serializeSct(sct: Sct): Buffer {
  if (sct.sctVersion !== SCT_VERSION_V1) throw new SctError('SCT_UNSUPPORTED_VERSION', 'only v1 SCTs exist');
  parseDigitallySigned(sct.signature);
  return Buffer.concat([
    u8(sct.sctVersion),
    bytes32(sct.logId, 'log id'),
    u64(sct.timestamp, 'timestamp'),
    u16(sct.extensions.length, 'SCT extensions'),
    sct.extensions,
    sct.signature,
  ]);
}

/** Parses one serialized SCT; its lengths must consume exactly the buffer. */
export function parseSct(buf: Uint8Array): Sct {
  const b = Buffer.from(buf);
  const r = new Reader(b, 'SCT_MALFORMED', 'SCT');
  const version = r.u8();
  if (version !== SCT_VERSION_V1) throw new SctError('SCT_UNSUPPORTED_VERSION', `SCT version ${version} is not v1`);
  const logId = r.take(32);
  const timestamp = r.u64();
  const extensions = r.take(r.u16());
  const start = r.pos;
  r.u8();
  r.u8();
  const sigLen = r.u16();
  if (sigLen === 0) throw new SctError('SCT_MALFORMED', 'SCT has an empty signature');
  r.take(sigLen);
  r.end();
  return { sctVersion: SCT_VERSION_V1, logId, timestamp, extensions, signature: Buffer.from(b.subarray(start)) };
}

/**
 * The extnValue content of the SCT list extension (RFC 6962 §3.3): a DER OCTET STRING wrapping the
 * TLS `SignedCertificateTimestampList` (uint16 total length; per SCT a uint16 length + the SCT).
 */
export function encodeSctList(scts: readonly Sct[]): Buffer {
  if (scts.length === 0) throw new SctError('SCT_LIST_MALFORMED', 'an SCT list holds at least one SCT');
  if (scts.length > MAX_SCTS_IN_LIST) throw new SctError('FIELD_TOO_LARGE', `more than ${MAX_SCTS_IN_LIST} SCTs`);
  const items = scts.map((s) => {
    const ser = serializeSct(s);
    return Buffer.concat([u16(ser.length, 'SCT'), ser]);
  });
  const list = Buffer.concat(items);
  return encodeTlv(TAG.OCTET_STRING, Buffer.concat([u16(list.length, 'SCT list'), list]));
}

/** Parses the extnValue content of the SCT list extension (the inner DER OCTET STRING). */
export function parseSctList(extnValue: Uint8Array): Sct[] {
  let inner: Tlv;
  try {
    inner = readOne(Buffer.from(extnValue), TAG.OCTET_STRING);
  } catch (e) {
    throw new SctError('SCT_LIST_MALFORMED', 'SCT list extension is not a DER OCTET STRING', { cause: e });
  }
  const r = new Reader(inner.value, 'SCT_LIST_MALFORMED', 'SCT list');
  const total = r.u16();
  if (total !== inner.value.length - 2) throw new SctError('SCT_LIST_MALFORMED', 'SCT list length does not match its content');
  const out: Sct[] = [];
  while (r.pos < inner.value.length) {
    if (out.length >= MAX_SCTS_IN_LIST) throw new SctError('FIELD_TOO_LARGE', `more than ${MAX_SCTS_IN_LIST} SCTs`);
    const len = r.u16();
    if (len === 0) throw new SctError('SCT_LIST_MALFORMED', 'empty SerializedSCT');
    out.push(parseSct(r.take(len)));
  }
  if (out.length === 0) throw new SctError('SCT_LIST_MALFORMED', 'an SCT list holds at least one SCT');
  return out;
}

// ---- what the log signs ----------------------------------------------------------------

export interface PrecertEntryInput {
  timestamp: number;
  /** SHA-256 of the issuing CA's DER SubjectPublicKeyInfo. */
  issuerKeyHash: Uint8Array;
  /** DER TBSCertificate of the precertificate without the poison extension. */
  tbs: Uint8Array;
  extensions?: Uint8Array;
}

export interface X509EntryInput {
  timestamp: number;
  /** The DER certificate. */
  certificate: Uint8Array;
  extensions?: Uint8Array;
}

export type TimestampedEntry =
  | ({ entryType: 'precert' } & PrecertEntryInput)
  | ({ entryType: 'x509' } & X509EntryInput);

/** A TimestampedEntry as parsed back from a MerkleTreeLeaf: every field present, as Buffers. */
export type ParsedTimestampedEntry =
  | { entryType: 'precert'; timestamp: number; issuerKeyHash: Buffer; tbs: Buffer; extensions: Buffer }
  | { entryType: 'x509'; timestamp: number; certificate: Buffer; extensions: Buffer };

/** RFC 6962 §3.4 TimestampedEntry (also the tail of the §3.2 certificate_timestamp struct). */
function timestampedEntry(e: TimestampedEntry): Buffer {
  const ext = Buffer.from(e.extensions ?? Buffer.alloc(0));
  const signedEntry =
    e.entryType === 'precert'
      ? Buffer.concat([u16(ENTRY_TYPE_PRECERT, 'entry type'), bytes32(e.issuerKeyHash, 'issuer key hash'), u24(e.tbs.length, 'TBS'), e.tbs])
      : Buffer.concat([u16(ENTRY_TYPE_X509, 'entry type'), u24(e.certificate.length, 'certificate'), e.certificate]);
  return Buffer.concat([u64(e.timestamp, 'timestamp'), signedEntry, u16(ext.length, 'CT extensions'), ext]);
}

/**
 * RFC 6962 §3.2 `digitally-signed struct` for a precert_entry: version 0, signature_type 0,
 * timestamp u64, entry_type 1, issuer_key_hash[32], uint24 + TBS, uint16 + extensions.
 */
export function precertSignedData(input: PrecertEntryInput): Buffer {
  return Buffer.concat([u8(SCT_VERSION_V1), u8(SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP), timestampedEntry({ entryType: 'precert', ...input })]);
}

/** RFC 6962 §3.2 `digitally-signed struct` for an x509_entry (a final certificate). */
export function certificateSignedData(input: X509EntryInput): Buffer {
  return Buffer.concat([u8(SCT_VERSION_V1), u8(SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP), timestampedEntry({ entryType: 'x509', ...input })]);
}

/** RFC 6962 §3.4 MerkleTreeLeaf: version v1, leaf_type timestamped_entry, TimestampedEntry. */
export function encodeMerkleTreeLeaf(entry: TimestampedEntry): Buffer {
  return Buffer.concat([u8(SCT_VERSION_V1), u8(LEAF_TYPE_TIMESTAMPED_ENTRY), timestampedEntry(entry)]);
}

export function parseMerkleTreeLeaf(buf: Uint8Array): ParsedTimestampedEntry {
  const r = new Reader(Buffer.from(buf), 'LEAF_MALFORMED', 'MerkleTreeLeaf');
  if (r.u8() !== SCT_VERSION_V1) throw new SctError('LEAF_MALFORMED', 'MerkleTreeLeaf version is not v1');
  if (r.u8() !== LEAF_TYPE_TIMESTAMPED_ENTRY) throw new SctError('LEAF_MALFORMED', 'leaf type is not timestamped_entry');
  const timestamp = r.u64();
  const entryType = r.u16();
  let out: ParsedTimestampedEntry;
  if (entryType === ENTRY_TYPE_PRECERT) {
    const issuerKeyHash = r.take(32);
    const tbs = r.take(r.u24());
    out = { entryType: 'precert', timestamp, issuerKeyHash, tbs, extensions: Buffer.alloc(0) };
  } else if (entryType === ENTRY_TYPE_X509) {
    const certificate = r.take(r.u24());
    out = { entryType: 'x509', timestamp, certificate, extensions: Buffer.alloc(0) };
  } else {
    throw new SctError('LEAF_MALFORMED', `unknown entry type ${entryType}`);
  }
  out.extensions = r.take(r.u16());
  r.end();
  return out;
}

export interface TreeHead {
  timestamp: number;
  treeSize: number;
  /** 32-byte SHA-256 Merkle tree root. */
  rootHash: Uint8Array;
}

/** RFC 6962 §3.5 TreeHeadSignature: version 0, signature_type 1 (tree_hash), ts, size, root. */
export function treeHeadSignedData(head: TreeHead): Buffer {
  return Buffer.concat([
    u8(SCT_VERSION_V1),
    u8(SIGNATURE_TYPE_TREE_HASH),
    u64(head.timestamp, 'timestamp'),
    u64(head.treeSize, 'tree size'),
    bytes32(head.rootHash, 'root hash'),
  ]);
}

// ---- certificate surgery ---------------------------------------------------------------

export interface CertExtension {
  oid: string;
  critical: boolean;
  /** Content of extnValue (the DER the OCTET STRING wraps). */
  value: Buffer;
  raw: Buffer;
}

function certFail(message: string, cause?: unknown): never {
  throw new SctError('CERT_MALFORMED', message, cause === undefined ? {} : { cause });
}

/** Runs a DER-reading step and reports any DER failure as CERT_MALFORMED. */
function der<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SctError) throw e;
    if (isCairnError(e)) certFail(`${what}: ${e.message}`, e);
    throw e;
  }
}

interface TbsLayout {
  fields: Tlv[];
  /** Index of SubjectPublicKeyInfo in `fields`. */
  spkiIndex: number;
  /** Index of the [3] extensions wrapper in `fields`, or -1. */
  extensionsIndex: number;
}

/** RFC 5280 §4.1: TBSCertificate field positions; strict DER throughout. */
function tbsLayout(tbs: Buffer): TbsLayout {
  return der('TBSCertificate', () => {
    assertDer(tbs);
    const t = readOne(tbs, TAG.SEQUENCE);
    const fields = children(t, 16);
    const base = fields[0]?.tag === 0xa0 ? 1 : 0;
    // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    expectTag(fields[base], TAG.INTEGER, 'serialNumber');
    expectTag(fields[base + 1], TAG.SEQUENCE, 'signature');
    expectTag(fields[base + 2], TAG.SEQUENCE, 'issuer');
    expectTag(fields[base + 3], TAG.SEQUENCE, 'validity');
    expectTag(fields[base + 4], TAG.SEQUENCE, 'subject');
    expectTag(fields[base + 5], TAG.SEQUENCE, 'subjectPublicKeyInfo');
    let extensionsIndex = -1;
    for (let i = base + 6; i < fields.length; i++) {
      const tag = fields[i]!.tag;
      if (tag === 0xa3) {
        if (i !== fields.length - 1) certFail('extensions must be the last TBSCertificate field');
        extensionsIndex = i;
      } else if (tag !== 0x81 && tag !== 0xa1 && tag !== 0x82 && tag !== 0xa2) {
        certFail(`unexpected TBSCertificate field with tag 0x${tag.toString(16)}`);
      }
    }
    return { fields, spkiIndex: base + 5, extensionsIndex };
  });
}

function readExtensions(wrapper: Tlv): CertExtension[] {
  return der('extensions', () => {
    const list = readOne(wrapper.value, TAG.SEQUENCE);
    const items = children(list, MAX_EXTENSIONS);
    if (items.length === 0) certFail('empty extensions SEQUENCE');
    return items.map((item) => {
      const parts = children(expectTag(item, TAG.SEQUENCE, 'Extension'), 3);
      const id = expectTag(parts[0], TAG.OID, 'extnID');
      let critical = false;
      let valueTlv = parts[1];
      if (valueTlv?.tag === TAG.BOOLEAN) {
        // DER (X.690 §11.5): a DEFAULT FALSE component is absent, never encoded as FALSE.
        if (valueTlv.length !== 1 || valueTlv.value[0] !== 0xff) certFail('critical must be absent or TRUE (0xff)');
        critical = true;
        valueTlv = parts[2];
      } else if (parts.length > 2) {
        certFail('Extension has extra fields');
      }
      const value = expectTag(valueTlv, TAG.OCTET_STRING, 'extnValue');
      return { oid: oidToString(id.value), critical, value: Buffer.from(value.value), raw: Buffer.from(item.raw) };
    });
  });
}

function checkUnique(exts: readonly CertExtension[]): void {
  const seen = new Set<string>();
  for (const e of exts) {
    // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
    if (seen.has(e.oid)) throw new SctError('EXTENSION_DUPLICATE', `extension ${e.oid} appears more than once`);
    seen.add(e.oid);
  }
}

/** The three parts of a DER Certificate (RFC 5280 §4.1). */
export function splitCertificate(certDer: Uint8Array): { tbs: Buffer; signatureAlgorithm: Buffer; signature: Buffer } {
  return der('Certificate', () => {
    const cert = readOne(Buffer.from(certDer), TAG.SEQUENCE);
    const parts = children(cert, 4);
    if (parts.length !== 3) certFail('Certificate must have exactly three fields');
    const tbs = expectTag(parts[0], TAG.SEQUENCE, 'tbsCertificate');
    const alg = expectTag(parts[1], TAG.SEQUENCE, 'signatureAlgorithm');
    const sig = expectTag(parts[2], TAG.BIT_STRING, 'signatureValue');
    return { tbs: Buffer.from(tbs.raw), signatureAlgorithm: Buffer.from(alg.raw), signature: Buffer.from(sig.value) };
  });
}

/** The extensions of a TBSCertificate in order, each checked for shape; duplicates rejected. */
export function tbsExtensions(tbsDer: Uint8Array): CertExtension[] {
  const layout = tbsLayout(Buffer.from(tbsDer));
  if (layout.extensionsIndex < 0) return [];
  const exts = readExtensions(layout.fields[layout.extensionsIndex]!);
  checkUnique(exts);
  return exts;
}

/** The issuer and subject Names of a TBSCertificate, DER byte for byte. */
export function tbsNames(tbsDer: Uint8Array): { issuer: Buffer; subject: Buffer } {
  const layout = tbsLayout(Buffer.from(tbsDer));
  return { issuer: Buffer.from(layout.fields[layout.spkiIndex - 3]!.raw), subject: Buffer.from(layout.fields[layout.spkiIndex - 1]!.raw) };
}

/** The DER SubjectPublicKeyInfo of a TBSCertificate, byte for byte. */
export function tbsSubjectPublicKeyInfo(tbsDer: Uint8Array): Buffer {
  const layout = tbsLayout(Buffer.from(tbsDer));
  return Buffer.from(layout.fields[layout.spkiIndex]!.raw);
}

/** RFC 6962 §3.2 issuer_key_hash: SHA-256 over the issuing certificate's DER SPKI. */
export function issuerKeyHash(issuerCertDer: Uint8Array): Buffer {
  return sha256(tbsSubjectPublicKeyInfo(splitCertificate(issuerCertDer).tbs));
}

/**
 * Re-encodes a TBSCertificate without the extension `oid`, keeping every other byte and the order
 * of the remaining extensions (RFC 6962 §3.2: the precert TBS "without the poison extension"; a
 * verifier gets the same bytes by removing the SCT list from the final certificate). If no
 * extension is left, the [3] wrapper goes too (RFC 5280 §4.1: extensions SIZE (1..MAX)).
 */
export function removeExtensionFromTbs(tbsDer: Uint8Array, oid: string): Buffer {
  oidContent(oid); // validates the caller's OID
  const layout = tbsLayout(Buffer.from(tbsDer));
  if (layout.extensionsIndex < 0) throw new SctError('EXTENSION_NOT_FOUND', `TBSCertificate has no extensions, so no ${oid}`);
  const exts = readExtensions(layout.fields[layout.extensionsIndex]!);
  checkUnique(exts);
  const kept = exts.filter((e) => e.oid !== oid);
  if (kept.length === exts.length) throw new SctError('EXTENSION_NOT_FOUND', `TBSCertificate has no extension ${oid}`);
  const fields = layout.fields.slice(0, layout.extensionsIndex).map((f) => f.raw);
  if (kept.length > 0) fields.push(explicit(3, seq(...kept.map((e) => e.raw))));
  return seq(...fields);
}

// ---- verification helpers --------------------------------------------------------------

/**
 * Verifies the SCTs embedded in a final certificate against one CT log key, as RFC 6962 §5.2 and
 * sigstore-js do: strip the SCT list from the TBS, prepend SHA-256(issuer SPKI), check each SCT
 * whose log id is this key's. Returns how many SCTs from this log verified; throws SctError on
 * malformed input; returns 0 when the certificate embeds no SCT from this log.
 */
export function verifyEmbeddedScts(certDer: Uint8Array, issuerCertDer: Uint8Array, logKey: PublicKey): { verified: number; failed: number } {
  const { tbs } = splitCertificate(certDer);
  const ext = tbsExtensions(tbs).find((e) => e.oid === OID_SCT_LIST);
  if (!ext) return { verified: 0, failed: 0 };
  const scts = parseSctList(ext.value);
  const precertTbs = removeExtensionFromTbs(tbs, OID_SCT_LIST);
  const ikh = issuerKeyHash(issuerCertDer);
  let verified = 0;
  let failed = 0;
  for (const sct of scts) {
    if (!sct.logId.equals(logKey.keyId)) continue;
    const data = precertSignedData({ timestamp: sct.timestamp, issuerKeyHash: ikh, tbs: precertTbs, extensions: sct.extensions });
    if (verifyDigitallySigned(logKey, data, sct.signature)) verified++;
    else failed++;
  }
  return { verified, failed };
}
