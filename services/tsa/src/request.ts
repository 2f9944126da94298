/**
 * Timestamp queries in the two forms sigstore/timestamp-authority accepts: a DER TimeStampReq
 * (RFC 3161 §2.4.1, `application/timestamp-query`) and its JSON request (`application/json`,
 * timestamp-authority pkg/api/timestamp.go `JSONRequest`). Both become one `TimestampQuery`;
 * every check that refuses a query happens here, before anything is signed or counted.
 */
import { children, nullValue, octetString, oid, oidContent, oidToString, readOne, readUnsignedInteger, seq, TAG, integer, type Tlv } from '@cairn/shared/der';
import { isRecord, type HashAlgorithm } from '@cairn/shared';
import { TsaError } from './errors.ts';

/** Largest query body read (a real one is under 200 bytes; timestamp-authority caps JSON at 1 KiB... 4 KiB covers both forms). */
export const MAX_QUERY_BYTES = 4096;
/** A nonce is a large random integer (RFC 3161 §2.4.1); 32 bytes is well above what clients send (8). */
export const MAX_NONCE_BYTES = 32;
const MAX_POLICY_OID_CHARS = 128;

/** The allow-list: SHA-256/384/512 only (no SHA-1, as timestamp-authority). */
export const HASH_OIDS: Readonly<Record<string, HashAlgorithm>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
export const HASH_LENGTHS: Readonly<Record<HashAlgorithm, number>> = { sha256: 32, sha384: 48, sha512: 64 };
const OID_OF: Readonly<Record<HashAlgorithm, string>> = {
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};

/** The JSON form's AlgorithmIdentifiers, encoded once. */
const JSON_ALG_IDS: Readonly<Record<HashAlgorithm, Buffer>> = {
  sha256: seq(oid(OID_OF.sha256), nullValue()),
  sha384: seq(oid(OID_OF.sha384), nullValue()),
  sha512: seq(oid(OID_OF.sha512), nullValue()),
};

export function hashOid(h: HashAlgorithm): string {
  return OID_OF[h];
}

export interface TimestampQuery {
  hashAlgorithm: HashAlgorithm;
  hashedMessage: Buffer;
  /** The DER MessageImprint, copied into TSTInfo unchanged (RFC 3161 §2.4.2: same as the request). */
  messageImprint: Buffer;
  /** reqPolicy, dotted. */
  policy?: string;
  /** The nonce INTEGER (TLV), echoed unchanged. */
  nonce?: Buffer;
  certReq: boolean;
}

function reject(code: 'BAD_ALG' | 'BAD_REQUEST' | 'BAD_DATA_FORMAT' | 'UNACCEPTED_EXTENSION', message: string): never {
  throw new TsaError(code, message);
}

function imprintLength(alg: HashAlgorithm, hashed: Buffer): void {
  if (hashed.length !== HASH_LENGTHS[alg]) reject('BAD_DATA_FORMAT', `a ${alg} message imprint is ${HASH_LENGTHS[alg]} bytes, not ${hashed.length}`);
}

function nonceOf(t: Tlv): Buffer {
  if (t.value.length > MAX_NONCE_BYTES) reject('BAD_DATA_FORMAT', `the nonce is longer than ${MAX_NONCE_BYTES} bytes`);
  // Non-minimal or negative INTEGERs are not DER; a nonce is a positive number.
  readUnsignedInteger(t);
  return Buffer.from(t.raw);
}

/** RFC 3161 §2.4.1 TimeStampReq, strict DER. */
export function parseDerQuery(body: Buffer): TimestampQuery {
  let fields: Tlv[];
  try {
    fields = children(readOne(body, TAG.SEQUENCE), 6);
  } catch (e) {
    return reject('BAD_DATA_FORMAT', `not a DER TimeStampReq: ${(e as Error).message}`);
  }
  try {
    return fromFields(fields);
  } catch (e) {
    if (e instanceof TsaError) throw e;
    return reject('BAD_DATA_FORMAT', `malformed TimeStampReq: ${(e as Error).message}`);
  }
}

function fromFields(f: Tlv[]): TimestampQuery {
  const [version, mi, ...rest] = f;
  if (version?.tag !== TAG.INTEGER || mi?.tag !== TAG.SEQUENCE) reject('BAD_DATA_FORMAT', 'a TimeStampReq starts with version and messageImprint');
  if (readUnsignedInteger(version) !== 1n) reject('BAD_REQUEST', 'only TimeStampReq version 1 is served');
  const [algId, hashed] = children(mi, 2);
  if (algId?.tag !== TAG.SEQUENCE || hashed?.tag !== TAG.OCTET_STRING) reject('BAD_DATA_FORMAT', 'messageImprint is { AlgorithmIdentifier, OCTET STRING }');
  const alg = children(algId, 2);
  if (alg[0]?.tag !== TAG.OID) reject('BAD_DATA_FORMAT', 'the hash AlgorithmIdentifier has no OID');
  const hashAlgorithm = HASH_OIDS[oidToString(alg[0].value)];
  if (hashAlgorithm === undefined) reject('BAD_ALG', `hash algorithm ${oidToString(alg[0].value)} is not served (SHA-256/384/512 only)`);
  // RFC 5754 §2: SHA-2 parameters are absent or NULL; nothing else.
  if (alg[1] !== undefined && !(alg[1].tag === TAG.NULL && alg[1].length === 0)) reject('BAD_ALG', 'the hash algorithm parameters must be absent or NULL');
  imprintLength(hashAlgorithm, hashed.value);
  const q: TimestampQuery = { hashAlgorithm, hashedMessage: Buffer.from(hashed.value), messageImprint: Buffer.from(mi.raw), certReq: false };
  // The optional fields, in their order: reqPolicy, nonce, certReq, [0] extensions.
  let step = 0;
  for (const t of rest) {
    if (t.tag === TAG.OID && step < 1) {
      q.policy = oidToString(t.value);
      step = 1;
    } else if (t.tag === TAG.INTEGER && step < 2) {
      q.nonce = nonceOf(t);
      step = 2;
    } else if (t.tag === TAG.BOOLEAN && step < 3) {
      if (t.length !== 1 || (t.value[0] !== 0 && t.value[0] !== 0xff)) reject('BAD_DATA_FORMAT', 'certReq is not a DER BOOLEAN');
      q.certReq = t.value[0] === 0xff;
      step = 3;
    } else if (t.tag === 0xa0 && step < 4) {
      extensions(t);
      step = 4;
    } else {
      reject('BAD_DATA_FORMAT', `unexpected field with tag 0x${t.tag.toString(16)} in TimeStampReq`);
    }
  }
  return q;
}

/**
 * RFC 3161 §2.4.1: "If an extension, whether it is marked critical or not critical, is used by a
 * requester but is not recognized by a time-stamping server, the server SHALL NOT issue a token
 * and SHALL return a failure (unacceptedExtension)." This server recognizes none.
 */
function extensions(t: Tlv): void {
  for (const ext of children(t, 64)) {
    const parts = children(ext, 3);
    if (ext.tag !== TAG.SEQUENCE || parts[0]?.tag !== TAG.OID) reject('BAD_DATA_FORMAT', 'malformed request extension');
    const critical = parts[1]?.tag === TAG.BOOLEAN && parts[1].value[0] === 0xff;
    reject('UNACCEPTED_EXTENSION', `request extension ${oidToString(parts[0].value)}${critical ? ' (critical)' : ''} is not recognized`);
  }
}

const JSON_HASHES: Readonly<Record<string, HashAlgorithm>> = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };
const JSON_FIELDS = new Set(['artifactHash', 'hashAlgorithm', 'certificates', 'nonce', 'tsaPolicyOID']);
const B64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const DOTTED_RE = /^[0-2](?:\.(?:0|[1-9]\d{0,19})){1,40}$/;

/** timestamp-authority's JSON request: {artifactHash (base64), hashAlgorithm, certificates, nonce, tsaPolicyOID}. */
export function parseJsonQuery(body: Buffer): TimestampQuery {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw new TsaError('INVALID_JSON', 'the request body is not JSON');
  }
  if (!isRecord(doc)) reject('BAD_REQUEST', 'the JSON request must be an object');
  for (const k of Object.keys(doc)) if (!JSON_FIELDS.has(k)) reject('BAD_REQUEST', `unknown field ${k}`);
  const { artifactHash, hashAlgorithm, certificates, nonce, tsaPolicyOID } = doc;
  if (typeof artifactHash !== 'string' || artifactHash.length === 0 || artifactHash.length > 128 || !B64_RE.test(artifactHash)) {
    reject('BAD_DATA_FORMAT', 'artifactHash must be the base64 digest');
  }
  const alg = typeof hashAlgorithm === 'string' ? JSON_HASHES[hashAlgorithm.toLowerCase()] : undefined;
  if (hashAlgorithm === undefined || alg === undefined) reject('BAD_ALG', 'hashAlgorithm must be sha256, sha384 or sha512');
  const hashed = Buffer.from(artifactHash, 'base64');
  imprintLength(alg, hashed);
  if (certificates !== undefined && typeof certificates !== 'boolean') reject('BAD_REQUEST', 'certificates must be a boolean');
  const q: TimestampQuery = {
    hashAlgorithm: alg,
    hashedMessage: hashed,
    messageImprint: seq(JSON_ALG_IDS[alg], octetString(hashed)),
    certReq: certificates === true,
  };
  if (nonce !== undefined && nonce !== null) {
    // A JSON number beyond 2^53 would already have lost digits in JSON.parse: refuse it, or
    // take it as a decimal string.
    let n: bigint;
    if (typeof nonce === 'number' && Number.isSafeInteger(nonce) && nonce >= 0) n = BigInt(nonce);
    else if (typeof nonce === 'string' && /^(?:0|[1-9]\d{0,76})$/.test(nonce)) n = BigInt(nonce);
    else return reject('BAD_REQUEST', 'nonce must be a non-negative integer (a decimal string above 2^53)');
    const t = integer(n);
    if (t.length - 2 > MAX_NONCE_BYTES) reject('BAD_DATA_FORMAT', `the nonce is longer than ${MAX_NONCE_BYTES} bytes`);
    q.nonce = t;
  }
  if (tsaPolicyOID !== undefined && tsaPolicyOID !== '') {
    if (typeof tsaPolicyOID !== 'string' || tsaPolicyOID.length > MAX_POLICY_OID_CHARS || !DOTTED_RE.test(tsaPolicyOID)) reject('BAD_REQUEST', 'tsaPolicyOID must be a dotted OID');
    oidContent(tsaPolicyOID);
    q.policy = tsaPolicyOID;
  }
  return q;
}
