/**
 * Client of the Rekor v1 REST API (reference §2): proposed entries exactly as sigstore-js builds
 * them (§2.2), strict parsing of `LogEntry` answers (§2.5), and their conversion into a bundle
 * `TransparencyLogEntry` the way `@sigstore/sign` `toTransparencyLogEntry` does it.
 */
import { canonicalizeJcs, fromBase64, isRecord, sha256Hex } from '@cairn/shared';
import type { DsseEnvelopeJson, TransparencyLogEntryJson } from './bundle.ts';
import { SignError } from './errors.ts';
import { httpRequest, jsonOf, type HttpOptions } from './http.ts';

export const MAX_LOG_RESPONSE_BYTES = 8 * 1024 * 1024;
/** Rekor's own limit on /api/v1/log/entries/retrieve and a sane bound on search answers. */
export const MAX_RETRIEVE_BATCH = 10;
export const MAX_SEARCH_RESULTS = 10_000;
/** A proof longer than this cannot belong to a tree of fewer than 2^64 leaves. */
export const MAX_PROOF_HASHES = 64;
export const MAX_CHECKPOINT_BYTES = 64 * 1024;

const HEX64 = /^[0-9a-f]{64}$/;
const ENTRY_ID = /^(?:[0-9a-f]{16})?[0-9a-f]{64}$/;

export interface InclusionProofV1 {
  logIndex: number;
  rootHash: string;
  treeSize: number;
  hashes: string[];
  checkpoint: string;
}

/** One Rekor v1 `LogEntry` (the value of the single map entry, plus its key). */
export interface LogEntry {
  /** The map key: an 80-hex entry ID or a 64-hex UUID. */
  uuid: string;
  /** base64 of the canonicalized body. */
  body: string;
  integratedTime: number;
  /** lowercase hex SHA-256 of the log key's DER SPKI. */
  logID: string;
  logIndex: number;
  verification?: { signedEntryTimestamp?: string; inclusionProof?: InclusionProofV1 };
}

export interface ProposedEntry {
  apiVersion: string;
  kind: string;
  spec: Record<string, unknown>;
}

/** hashedrekord 0.0.1: the signature is over the artifact's SHA-256 digest (Rekor verifies prehashed). */
export function hashedRekordEntry(digestHex: string, signature: Buffer, publicKeyOrCertPem: string): ProposedEntry {
  return {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digestHex } },
      signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(publicKeyOrCertPem, 'utf8').toString('base64') } },
    },
  };
}

/** dsse 0.0.1: the envelope travels as a JSON *string*; Rekor hashes exactly that string. */
export function dsseEntry(envelope: DsseEnvelopeJson, publicKeyOrCertPem: string): ProposedEntry {
  return {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: { proposedContent: { envelope: JSON.stringify(envelope), verifiers: [Buffer.from(publicKeyOrCertPem, 'utf8').toString('base64')] } },
  };
}

/**
 * intoto 0.0.2 with its quirks (§2.2): payload and sig double base64, the signature carries the
 * base64 PEM, and `hash` is SHA-256 of the JCS of the single-encoded envelope with the PEM text.
 */
export function intotoEntry(envelope: DsseEnvelopeJson, publicKeyOrCertPem: string): ProposedEntry {
  const first = envelope.signatures[0];
  if (first === undefined) throw new SignError('INPUT_INVALID', 'the DSSE envelope has no signature');
  const keyid = first.keyid ?? '';
  const b64Key = Buffer.from(publicKeyOrCertPem, 'utf8').toString('base64');
  const payloadBytes = fromBase64(envelope.payload, 'DSSE payload');
  const hashSig: Record<string, string> = { sig: first.sig, publicKey: publicKeyOrCertPem };
  const entrySig: Record<string, string> = { sig: Buffer.from(first.sig, 'utf8').toString('base64'), publicKey: b64Key };
  if (keyid !== '') {
    hashSig.keyid = keyid;
    entrySig.keyid = keyid;
  }
  const envelopeHash = sha256Hex(canonicalizeJcs({ payloadType: envelope.payloadType, payload: envelope.payload, signatures: [hashSig] }));
  return {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: { payloadType: envelope.payloadType, payload: Buffer.from(envelope.payload, 'utf8').toString('base64'), signatures: [entrySig] },
        hash: { algorithm: 'sha256', value: envelopeHash },
        payloadHash: { algorithm: 'sha256', value: sha256Hex(payloadBytes) },
      },
    },
  };
}

function bad(what: string): never {
  throw new SignError('TLOG_ERROR', `the log answered with a malformed entry: ${what}`);
}

function nonNegInt(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${what} is not a non-negative integer`);
  return v;
}

function b64(v: unknown, what: string): string {
  if (typeof v !== 'string') bad(`${what} is not a string`);
  try {
    fromBase64(v, what);
  } catch {
    bad(`${what} is not base64`);
  }
  return v;
}

function hex64(v: unknown, what: string): string {
  if (typeof v !== 'string' || !HEX64.test(v)) bad(`${what} is not 64 lowercase hex characters`);
  return v;
}

function parseInclusionProof(v: unknown): InclusionProofV1 {
  if (!isRecord(v)) bad('inclusionProof is not an object');
  const hashes = v.hashes;
  if (!Array.isArray(hashes) || hashes.length > MAX_PROOF_HASHES) bad('inclusionProof.hashes is not a bounded list');
  const checkpoint = v.checkpoint;
  if (typeof checkpoint !== 'string' || checkpoint.length === 0 || checkpoint.length > MAX_CHECKPOINT_BYTES) bad('inclusionProof.checkpoint is not a bounded string');
  const proof = {
    logIndex: nonNegInt(v.logIndex, 'inclusionProof.logIndex'),
    rootHash: hex64(v.rootHash, 'inclusionProof.rootHash'),
    treeSize: nonNegInt(v.treeSize, 'inclusionProof.treeSize'),
    hashes: hashes.map((h, i) => hex64(h, `inclusionProof.hashes[${i}]`)),
    checkpoint,
  };
  if (proof.logIndex >= proof.treeSize) bad('inclusionProof.logIndex is not inside treeSize');
  return proof;
}

/** Parses one `{ "<entryID>": LogEntry }` map (sigstore-js requires exactly one key). */
export function parseLogEntryMap(json: unknown): LogEntry {
  if (!isRecord(json)) bad('not a JSON object');
  const keys = Object.keys(json);
  if (keys.length !== 1) bad(`expected exactly one entry, got ${keys.length}`);
  const uuid = keys[0]!;
  if (!ENTRY_ID.test(uuid)) bad('the entry key is not a 64-hex UUID or 80-hex entry ID');
  return parseLogEntry(uuid, json[uuid]);
}

export function parseLogEntry(uuid: string, v: unknown): LogEntry {
  if (!isRecord(v)) bad('the entry is not an object');
  const entry: LogEntry = {
    uuid,
    body: b64(v.body, 'body'),
    integratedTime: nonNegInt(v.integratedTime, 'integratedTime'),
    logID: hex64(v.logID, 'logID'),
    logIndex: nonNegInt(v.logIndex, 'logIndex'),
  };
  if (v.verification !== undefined) {
    const ver = v.verification;
    if (!isRecord(ver)) bad('verification is not an object');
    entry.verification = {};
    if (ver.signedEntryTimestamp !== undefined) entry.verification.signedEntryTimestamp = b64(ver.signedEntryTimestamp, 'signedEntryTimestamp');
    if (ver.inclusionProof !== undefined) entry.verification.inclusionProof = parseInclusionProof(ver.inclusionProof);
  }
  return entry;
}

/** The decoded canonical body's kind and apiVersion (what `kindVersion` repeats in a bundle). */
export function bodyKindVersion(bodyB64: string): { kind: string; version: string } {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bodyB64, 'base64').toString('utf8')) as unknown;
  } catch {
    bad('body is not base64 of JSON');
  }
  if (!isRecord(body) || typeof body.kind !== 'string' || typeof body.apiVersion !== 'string') bad('body has no kind/apiVersion');
  return { kind: body.kind, version: body.apiVersion };
}

/**
 * Reference §2.5: logIndex/integratedTime as decimal strings, logId.keyId = bytes of the hex
 * logID, kindVersion from the body, hex proof hashes as bytes, checkpoint text as the envelope.
 */
export function toTransparencyLogEntry(e: LogEntry): TransparencyLogEntryJson {
  const out: TransparencyLogEntryJson = {
    logIndex: String(e.logIndex),
    logId: { keyId: Buffer.from(e.logID, 'hex').toString('base64') },
    kindVersion: bodyKindVersion(e.body),
    integratedTime: String(e.integratedTime),
    canonicalizedBody: e.body,
  };
  const set = e.verification?.signedEntryTimestamp;
  const proof = e.verification?.inclusionProof;
  // Rebuild in protobuf field order: ..., inclusionPromise, inclusionProof, canonicalizedBody.
  const { canonicalizedBody, ...head } = out;
  return {
    ...head,
    ...(set !== undefined ? { inclusionPromise: { signedEntryTimestamp: set } } : {}),
    ...(proof !== undefined
      ? {
          inclusionProof: {
            logIndex: String(proof.logIndex),
            rootHash: Buffer.from(proof.rootHash, 'hex').toString('base64'),
            treeSize: String(proof.treeSize),
            hashes: proof.hashes.map((h) => Buffer.from(h, 'hex').toString('base64')),
            checkpoint: { envelope: proof.checkpoint },
          },
        }
      : {}),
    canonicalizedBody,
  };
}

/** What the entry the log returns must record: our signature over our digest (or payload hash). */
export interface EntryExpectation {
  kind: 'hashedrekord' | 'dsse' | 'intoto';
  signature: Buffer;
  /** hashedrekord: the artifact SHA-256; dsse/intoto: SHA-256 of the DSSE payload. */
  digest: Buffer;
}

/**
 * The log answers with a canonical body; it must be an entry for what was submitted (the same
 * checks a verifier makes, reference §2.3), and its UUID must be that body's leaf hash (§2.4).
 * A log, or a 409 Location, pointing at some other entry is caught here, not by a verifier later.
 */
export function checkEntryMatches(e: LogEntry, x: EntryExpectation): void {
  const body = Buffer.from(e.body, 'base64');
  if (sha256Hex(Buffer.concat([Buffer.from([0]), body])) !== e.uuid.slice(-64)) throw new SignError('TLOG_ERROR', 'the log answered with an entry whose UUID is not the leaf hash of its body');
  let j: unknown;
  try {
    j = JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    bad('body is not JSON');
  }
  const get = (o: unknown, ...path: (string | number)[]): unknown =>
    path.reduce<unknown>((v, k) => (typeof k === 'number' ? (Array.isArray(v) ? (v as unknown[])[k] : undefined) : isRecord(v) ? v[k] : undefined), o);
  const sigB64 = x.signature.toString('base64');
  const hex = x.digest.toString('hex');
  let ok: boolean;
  if (x.kind === 'hashedrekord') {
    ok = get(j, 'kind') === 'hashedrekord' && get(j, 'spec', 'signature', 'content') === sigB64 && get(j, 'spec', 'data', 'hash', 'value') === hex;
  } else if (x.kind === 'dsse') {
    const sigs = get(j, 'spec', 'signatures');
    ok = get(j, 'kind') === 'dsse' && Array.isArray(sigs) && sigs.length === 1 && get(sigs, 0, 'signature') === sigB64 && get(j, 'spec', 'payloadHash', 'value') === hex;
  } else {
    const sig = get(j, 'spec', 'content', 'envelope', 'signatures', 0, 'sig');
    ok = get(j, 'kind') === 'intoto' && typeof sig === 'string' && Buffer.from(sig, 'base64').toString('utf8') === sigB64 && get(j, 'spec', 'content', 'payloadHash', 'value') === hex;
  }
  if (!ok) throw new SignError('TLOG_ERROR', `the log answered with a ${String(get(j, 'kind'))} entry that does not record this signature`);
}

export interface SearchQuery {
  /** `sha256:<hex>` */
  hash?: string;
  email?: string;
  /** A URI SAN (certificate identity). */
  subject?: string;
  operator?: 'and' | 'or';
}

export interface LogInfo {
  rootHash: string;
  treeSize: number;
  signedTreeHead: string;
  treeID: string;
}

export class RekorClient {
  readonly baseUrl: string;
  private readonly http: HttpOptions;

  constructor(baseUrl: string, http: HttpOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.http = { maxBytes: MAX_LOG_RESPONSE_BYTES, ...http };
  }

  /**
   * `POST /api/v1/log/entries`. On 409 (the same entry is already logged) the existing entry is
   * fetched from the `Location` header, like sigstore-js with `fetchOnConflict`.
   */
  async createEntry(entry: ProposedEntry): Promise<LogEntry> {
    const res = await httpRequest(
      {
        method: 'POST',
        url: `${this.baseUrl}/api/v1/log/entries`,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(entry),
        accept: [409],
      },
      'TLOG_ERROR',
      'the transparency log',
      this.http,
    );
    if (res.status === 409) {
      const location = res.headers.get('location') ?? '';
      const id = location.slice(location.lastIndexOf('/') + 1);
      if (!ENTRY_ID.test(id)) throw new SignError('TLOG_ERROR', 'the log reports a duplicate entry without a usable Location');
      return this.getEntry(id);
    }
    return parseLogEntryMap(jsonOf(res, 'TLOG_ERROR', 'the transparency log'));
  }

  async getEntry(uuid: string): Promise<LogEntry> {
    if (!ENTRY_ID.test(uuid)) throw new SignError('INPUT_INVALID', 'an entry UUID is 64 (or, with the tree ID, 80) lowercase hex characters');
    return this.getEntryAt(`${this.baseUrl}/api/v1/log/entries/${uuid}`);
  }

  async getEntryByIndex(index: number): Promise<LogEntry> {
    if (!Number.isSafeInteger(index) || index < 0) throw new SignError('INPUT_INVALID', 'a log index is a non-negative integer');
    return this.getEntryAt(`${this.baseUrl}/api/v1/log/entries?logIndex=${index}`);
  }

  private async getEntryAt(url: string): Promise<LogEntry> {
    const res = await httpRequest({ method: 'GET', url, headers: { Accept: 'application/json' }, accept: [404] }, 'TLOG_ERROR', 'the transparency log', this.http);
    if (res.status === 404) throw new SignError('ENTRY_NOT_FOUND', 'the log has no such entry');
    return parseLogEntryMap(jsonOf(res, 'TLOG_ERROR', 'the transparency log'));
  }

  /** `POST /api/v1/index/retrieve` (§2.7): UUIDs of matching entries. */
  async search(q: SearchQuery): Promise<string[]> {
    const res = await httpRequest(
      {
        method: 'POST',
        url: `${this.baseUrl}/api/v1/index/retrieve`,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(q),
      },
      'TLOG_ERROR',
      'the transparency log',
      this.http,
    );
    const json = jsonOf(res, 'TLOG_ERROR', 'the transparency log');
    if (!Array.isArray(json) || json.length > MAX_SEARCH_RESULTS || !json.every((u) => typeof u === 'string' && ENTRY_ID.test(u))) {
      bad('the search answer is not a bounded list of entry UUIDs');
    }
    return [...new Set(json as string[])];
  }

  /** `GET /api/v1/log/publicKey`: the PEM SPKI. */
  async publicKeyPem(): Promise<string> {
    const res = await httpRequest({ method: 'GET', url: `${this.baseUrl}/api/v1/log/publicKey` }, 'TLOG_ERROR', 'the transparency log', {
      ...this.http,
      maxBytes: 64 * 1024,
    });
    return res.body.toString('utf8');
  }

  /** `GET /api/v1/log/proof` (§2.7): RFC 6962 §2.1.2 consistency proof between two sizes. */
  async consistencyProof(firstSize: number, lastSize: number): Promise<{ rootHash: string; hashes: string[] }> {
    const res = await httpRequest(
      { method: 'GET', url: `${this.baseUrl}/api/v1/log/proof?firstSize=${firstSize}&lastSize=${lastSize}`, headers: { Accept: 'application/json' } },
      'TLOG_ERROR',
      'the transparency log',
      this.http,
    );
    const j = jsonOf(res, 'TLOG_ERROR', 'the transparency log');
    if (!isRecord(j) || !Array.isArray(j.hashes) || j.hashes.length > MAX_PROOF_HASHES * 2) bad('the consistency proof is not a bounded list');
    return { rootHash: hex64(j.rootHash, 'rootHash'), hashes: j.hashes.map((h, i) => hex64(h, `hashes[${i}]`)) };
  }

  async logInfo(): Promise<LogInfo> {
    const res = await httpRequest({ method: 'GET', url: `${this.baseUrl}/api/v1/log`, headers: { Accept: 'application/json' } }, 'TLOG_ERROR', 'the transparency log', this.http);
    const j = jsonOf(res, 'TLOG_ERROR', 'the transparency log');
    if (!isRecord(j)) bad('log info is not an object');
    if (typeof j.signedTreeHead !== 'string' || typeof j.treeID !== 'string') bad('log info lacks signedTreeHead/treeID');
    return { rootHash: hex64(j.rootHash, 'rootHash'), treeSize: nonNegInt(j.treeSize, 'treeSize'), signedTreeHead: j.signedTreeHead, treeID: j.treeID };
  }
}
