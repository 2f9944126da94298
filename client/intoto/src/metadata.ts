/**
 * The two envelopes in-toto metadata travels in (ITE-5):
 * - classic "Metablock": `{signed, signatures: [{keyid, sig: hex}]}`, signatures over the OLPC
 *   canonical JSON of the signed model (securesystemslib encode_canonical);
 * - DSSE: `{payload: b64, payloadType: application/vnd.in-toto+json, signatures: [{keyid, sig: b64}]}`,
 *   signatures over PAE(payloadType, payload bytes) (DSSE protocol.md), payload never re-canonicalised.
 * A reader tells them apart by `signed` versus `payload`.
 */
import { writeFileSync } from 'node:fs';
import { canonicalizeOlpc, isRecord } from '@cairn/shared';
import { pae } from '@cairn/shared/dsse';
import { IoError, readCappedFile } from '@cairn/shared/io';
import { IntotoError, type IntotoErrorCode } from './errors.ts';
import { verifyBytes, type IntotoPublicKey, type IntotoSigningKey } from './keys.ts';
import { layoutToSignable, linkToSignable, parseLayout, parseLink, type Layout, type Link } from './models.ts';
import { pythonJsonDumps } from './python-json.ts';

export const INTOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** Layouts and links larger than this are refused before parsing. */
export const MAX_METADATA_BYTES = 64 * 1024 * 1024;
export const MAX_SIGNATURES = 64;

export interface Signature {
  keyid: string;
  sig: string;
}

export type EnvelopeKind = 'classic' | 'dsse';

export type Metadata =
  | { type: 'link'; kind: EnvelopeKind; link: Link; signatures: Signature[]; signedBytes: Buffer; payloadType?: string }
  | { type: 'layout'; kind: EnvelopeKind; layout: Layout; keys: Map<string, IntotoPublicKey>; signatures: Signature[]; signedBytes: Buffer; payloadType?: string };

/** DSSE v1 pre-authentication encoding (`@cairn/shared/dsse`). */
export { pae };

const B64_STD = /^[A-Za-z0-9+/]*={0,2}$/;
const B64_URL = /^[A-Za-z0-9_-]*={0,2}$/;

/** DSSE verifiers accept standard and URL-safe base64 (envelope.md). */
function decodeB64(s: string, what: string, code: IntotoErrorCode): Buffer {
  if (!(B64_STD.test(s) || B64_URL.test(s)) || s.replace(/=+$/, '').length % 4 === 1) throw new IntotoError(code, `${what} is not base64`);
  return Buffer.from(s, B64_STD.test(s) ? 'base64' : 'base64url');
}

export function readBoundedFile(path: string, limit: number, what: string): Buffer {
  try {
    return readCappedFile(path, limit, `${what} ${path}`);
  } catch (e) {
    if (e instanceof IoError) throw new IntotoError(e.code === 'FILE_TOO_LARGE' ? 'FILE_TOO_LARGE' : 'IO_ERROR', e.message, { cause: e });
    throw e;
  }
}

function parseSignatures(v: unknown, code: IntotoErrorCode, dsse: boolean): Signature[] {
  if (v === undefined && !dsse) return [];
  if (!Array.isArray(v) || v.length > MAX_SIGNATURES) throw new IntotoError(code, `signatures must be a list of at most ${MAX_SIGNATURES}`);
  return (v as unknown[]).map((s) => {
    if (!isRecord(s) || typeof s.sig !== 'string' || (s.keyid !== undefined && typeof s.keyid !== 'string')) {
      throw new IntotoError(code, 'each signature needs a string sig and keyid');
    }
    if (!dsse && typeof s.keyid !== 'string') throw new IntotoError(code, 'classic signatures need a keyid');
    return { keyid: (s.keyid) ?? '', sig: s.sig };
  });
}

/**
 * Parses in-toto metadata bytes (either envelope). `expect` narrows the type; a link where a
 * layout was expected is MALFORMED_LAYOUT and vice versa.
 */
export function parseMetadata(bytes: Uint8Array, expect?: 'link' | 'layout'): Metadata {
  const code: IntotoErrorCode = expect === 'layout' ? 'MALFORMED_LAYOUT' : 'MALFORMED_LINK';
  if (bytes.length > MAX_METADATA_BYTES) throw new IntotoError('FILE_TOO_LARGE', `metadata larger than ${MAX_METADATA_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new IntotoError(code, 'metadata is not valid JSON');
  }
  if (!isRecord(doc)) throw new IntotoError(code, 'metadata must be a JSON object');
  let kind: EnvelopeKind;
  let body: unknown;
  let payload: Buffer | undefined;
  let payloadType: string | undefined;
  if ('payload' in doc) {
    kind = 'dsse';
    if (typeof doc.payload !== 'string' || typeof doc.payloadType !== 'string') throw new IntotoError(code, 'DSSE envelope needs string payload and payloadType');
    // ITE-5: in-toto payloads are application/vnd.in-toto+json (or a +json predicate subtype).
    if (doc.payloadType !== INTOTO_PAYLOAD_TYPE) throw new IntotoError(code, `unexpected DSSE payloadType ${JSON.stringify(doc.payloadType)}`);
    payloadType = doc.payloadType;
    payload = decodeB64(doc.payload, 'DSSE payload', code);
    try {
      body = JSON.parse(payload.toString('utf8'));
    } catch {
      throw new IntotoError(code, 'DSSE payload is not JSON');
    }
  } else if ('signed' in doc) {
    kind = 'classic';
    body = doc.signed;
  } else {
    throw new IntotoError(code, 'metadata has neither signed (classic) nor payload (DSSE)');
  }
  const signatures = parseSignatures(doc.signatures, code, kind === 'dsse');
  const type = isRecord(body) ? body._type : undefined;
  if (expect !== undefined && type !== expect && !(expect === 'link' && type === 'layout')) {
    throw new IntotoError(code, `expected ${expect} metadata, found _type ${JSON.stringify(type)}`);
  }
  const canonical = (o: unknown): Buffer => {
    try {
      return Buffer.from(canonicalizeOlpc(o), 'utf8');
    } catch {
      throw new IntotoError(code, 'metadata cannot be canonicalised (floats or nesting too deep)');
    }
  };
  if (type === 'layout') {
    const { layout, keys } = parseLayout(body);
    const signedBytes = kind === 'dsse' ? pae(payloadType!, payload!) : canonical(layoutToSignable(layout));
    return { type: 'layout', kind, layout, keys, signatures, signedBytes, payloadType };
  }
  if (type === 'link') {
    const link = parseLink(body);
    const signedBytes = kind === 'dsse' ? pae(payloadType!, payload!) : canonical(linkToSignable(link));
    return { type: 'link', kind, link, signatures, signedBytes, payloadType };
  }
  throw new IntotoError(code, `unknown metadata _type ${JSON.stringify(type)}`);
}

export function loadMetadata(path: string, expect?: 'link' | 'layout'): Metadata {
  return parseMetadata(readBoundedFile(path, MAX_METADATA_BYTES, expect ?? 'metadata'), expect);
}

export type SignatureCheck = 'valid' | 'missing' | 'invalid';

/**
 * Metablock.verify_signature: the FIRST signature whose keyid is the key's is checked (classic).
 * For DSSE the keyid is only a hint (envelope.md): signatures carrying the key's keyid or none are
 * tried, any valid one counts.
 */
export function checkSignature(md: Metadata, key: IntotoPublicKey): SignatureCheck {
  if (md.kind === 'classic') {
    const s = md.signatures.find((x) => x.keyid === key.keyid);
    if (!s) return 'missing';
    if (!/^[0-9a-fA-F]*$/.test(s.sig) || s.sig.length % 2 !== 0) return 'invalid';
    return verifyBytes(key, md.signedBytes, Buffer.from(s.sig, 'hex')) ? 'valid' : 'invalid';
  }
  const candidates = md.signatures.filter((x) => x.keyid === key.keyid || x.keyid === '');
  if (candidates.length === 0) return 'missing';
  for (const s of candidates) {
    let sig: Buffer;
    try {
      sig = decodeB64(s.sig, 'signature', 'MALFORMED_LINK');
    } catch {
      continue;
    }
    if (verifyBytes(key, md.signedBytes, sig)) return 'valid';
  }
  return 'invalid';
}

export interface SignedFile {
  text: string;
  signature: Signature;
}

/** The bytes of the object as python-in-toto would sign it, from a validated model. */
export function signableOf(obj: Link | Layout): Record<string, unknown> {
  return obj._type === 'link' ? linkToSignable(obj) : layoutToSignable(obj);
}

/**
 * The DSSE payload for a link or layout: JSON with sorted keys, as in-toto 2.x writes it
 * (`json.dumps(signed, sort_keys=True)`). Not OLPC canonical JSON: that leaves newlines inside
 * PEM strings raw, which no JSON parser reading the payload would accept.
 */
export function dssePayloadOf(signable: Record<string, unknown>): Buffer {
  return Buffer.from(pythonJsonDumps(signable, { sortKeys: true }), 'utf8');
}

/**
 * Signs a link or layout. Classic: appends (or, with `replace`, sets) a hex signature next to
 * `signed`. DSSE: payload = canonical JSON of the model, base64 signature over PAE.
 */
export async function signMetadata(
  obj: Link | Layout,
  key: IntotoSigningKey,
  opts: { dsse?: boolean; existing?: Signature[] } = {},
): Promise<SignedFile> {
  const signable = signableOf(obj);
  if (opts.dsse) {
    const payload = dssePayloadOf(signable);
    const sig = await key.signer.sign(pae(INTOTO_PAYLOAD_TYPE, payload));
    const signature = { keyid: key.publicKey.keyid, sig: sig.toString('base64') };
    const env = { payload: payload.toString('base64'), payloadType: INTOTO_PAYLOAD_TYPE, signatures: [...(opts.existing ?? []), signature] };
    return { text: pythonJsonDumps(env, { indent: 1, sortKeys: true }), signature };
  }
  const sig = await key.signer.sign(Buffer.from(canonicalizeOlpc(signable), 'utf8'));
  const signature = { keyid: key.publicKey.keyid, sig: sig.toString('hex') };
  const others = (opts.existing ?? []).filter((s) => s.keyid !== key.publicKey.keyid);
  const doc = { signatures: [...others, signature], signed: signable };
  return { text: pythonJsonDumps(doc, { indent: 1, sortKeys: true }), signature };
}

/** Unsigned classic metadata (`in-toto-mock` style, or a layout before `cairn intoto sign`). */
export function unsignedMetadataText(obj: Link | Layout): string {
  return pythonJsonDumps({ signatures: [], signed: signableOf(obj) }, { indent: 1, sortKeys: true });
}

export function writeText(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new IntotoError('IO_ERROR', `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** `<step>.<first 8 hex of keyid>.link` (python-in-toto FILENAME_FORMAT, not the spec's 6 bytes). */
export function linkFileName(step: string, keyid: string): string {
  return `${step}.${keyid.slice(0, 8)}.link`;
}
