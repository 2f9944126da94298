/**
 * Fixtures for the monitor tests and benchmark: Fulcio-like certificates built with the DER
 * writer, Rekor entry bodies of every kind the monitor reads, and a small C2SP tlog-tiles server
 * over a tree built with the shared merkle code (CompactRange nodes), which can be forked to
 * simulate a log rewriting its history.
 */
import { createServer, type Server } from 'node:http';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { LocalSigner, canonicalizeJcs, toPem, type Signer } from '@cairn/shared';
import { formatCheckpoint, formatSignedNote, signNote } from '@cairn/shared/checkpoint';
import { bitString, encodeTlv, explicit, integer, octetString, oid, seq, set, utcTime, utf8String } from '@cairn/shared/der';
import { CompactRange, leafHash, type NodeReader } from '@cairn/shared/merkle';
import { TILE_WIDTH, encodeEntryBundle, parseTilePath, readTile, tileWidthAt } from '@cairn/shared/tiles';

export const OID_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
export const OID_SOURCE_REPO = '1.3.6.1.4.1.57264.1.12';
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export interface CertSpec {
  /** SAN: a URI when it contains ':' else an email. */
  subject: string;
  issuer?: string;
  /** Extra Fulcio extensions (DER UTF8String values). */
  extensions?: Record<string, string>;
}

function spkiOf(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

/** A self-signed ECDSA P-256 leaf with the given SAN and Fulcio extensions (DER). */
export function makeCert(spec: CertSpec, key: KeyObject = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey): Buffer {
  const name = seq(set(seq(oid('2.5.4.3'), utf8String('sigstore-intermediate'))));
  const san = spec.subject.includes('@') && !spec.subject.includes(':') ? encodeTlv(0x81, Buffer.from(spec.subject)) : encodeTlv(0x86, Buffer.from(spec.subject));
  const exts: Buffer[] = [seq(oid('2.5.29.17'), octetString(seq(san)))];
  if (spec.issuer !== undefined) exts.push(seq(oid(OID_ISSUER_V2), octetString(utf8String(spec.issuer))));
  for (const [o, v] of Object.entries(spec.extensions ?? {})) exts.push(seq(oid(o), octetString(utf8String(v))));
  const now = Date.now();
  const tbs = seq(
    explicit(0, integer(2n)),
    integer(randomBytes(16)),
    ECDSA_SHA256,
    name,
    seq(utcTime(new Date(now - 60_000)), utcTime(new Date(now + 600_000))),
    seq(),
    spkiOf(key),
    explicit(3, seq(...exts)),
  );
  const sig = sign('sha256', tbs, key);
  return seq(tbs, ECDSA_SHA256, bitString(sig));
}

export function keySpki(): Buffer {
  return spkiOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
}

const b64 = (b: Buffer): string => b.toString('base64');
const pemB64 = (label: string, der: Buffer): string => b64(Buffer.from(toPem(label, der)));

export type Verifier = { cert: Buffer } | { key: Buffer };

function v1Verifier(v: Verifier): string {
  return 'cert' in v ? pemB64('CERTIFICATE', v.cert) : pemB64('PUBLIC KEY', v.key);
}

/** Rekor v1 hashedrekord 0.0.1 canonical body. */
export function hashedrekordV1(v: Verifier, digest: Buffer = randomBytes(32)): Buffer {
  return Buffer.from(
    canonicalizeJcs({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
        signature: { content: b64(randomBytes(70)), publicKey: { content: v1Verifier(v) } },
      },
    }),
  );
}

/** Rekor v1 dsse 0.0.1 canonical body with one signature per verifier. */
export function dsseV1(verifiers: Verifier[]): Buffer {
  return Buffer.from(
    canonicalizeJcs({
      apiVersion: '0.0.1',
      kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: randomBytes(32).toString('hex') },
        payloadHash: { algorithm: 'sha256', value: randomBytes(32).toString('hex') },
        signatures: verifiers.map((v) => ({ signature: b64(randomBytes(70)), verifier: v1Verifier(v) })),
      },
    }),
  );
}

/** Rekor v1 intoto 0.0.2 canonical body. */
export function intotoV2(v: Verifier): Buffer {
  return Buffer.from(
    canonicalizeJcs({
      apiVersion: '0.0.2',
      kind: 'intoto',
      spec: {
        content: {
          envelope: {
            payloadType: 'application/vnd.in-toto+json',
            signatures: [{ publicKey: v1Verifier(v), sig: b64(Buffer.from(b64(randomBytes(70)))) }],
          },
          hash: { algorithm: 'sha256', value: randomBytes(32).toString('hex') },
          payloadHash: { algorithm: 'sha256', value: randomBytes(32).toString('hex') },
        },
      },
    }),
  );
}

/** Rekor v2 hashedrekord 0.0.2 canonical body (DER certificate or SPKI). */
export function hashedrekordV2(v: Verifier, digest: Buffer = randomBytes(32)): Buffer {
  const verifier = 'cert' in v ? { keyDetails: 'PKIX_ECDSA_P256_SHA_256', x509Certificate: { rawBytes: b64(v.cert) } } : { keyDetails: 'PKIX_ECDSA_P256_SHA_256', publicKey: { rawBytes: b64(v.key) } };
  return Buffer.from(
    canonicalizeJcs({
      apiVersion: '0.0.2',
      kind: 'hashedrekord',
      spec: { hashedRekordV002: { data: { algorithm: 'SHA2_256', digest: b64(digest) }, signature: { content: b64(randomBytes(70)), verifier } } },
    }),
  );
}

/** An append-only tree over entry bodies with the tlog-tiles view of it. */
export class FixtureLog implements NodeReader {
  readonly entries: Buffer[] = [];
  private readonly nodes = new Map<string, Buffer>();
  private range = new CompactRange();
  /** Size of the tree the served checkpoint commits to. */
  publishedSize = 0;
  checkpoint = '';

  constructor(
    readonly origin: string,
    readonly signer: Signer,
  ) {}

  static create(origin = 'log.cairn.test'): FixtureLog {
    return new FixtureLog(origin, new LocalSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey));
  }

  get size(): number {
    return this.range.size;
  }

  append(body: Buffer): number {
    this.entries.push(body);
    this.range.append(leafHash(body), (l, i, h) => this.nodes.set(`${l}/${i}`, h));
    return this.range.size - 1;
  }

  /** Appends the leaf hash only (bench fixtures that generate bodies on demand). */
  appendLeafHash(h: Buffer): void {
    this.range.append(h, (l, i, hh) => this.nodes.set(`${l}/${i}`, hh));
  }

  root(): Buffer {
    return this.range.root();
  }

  node(level: number, index: number): Buffer {
    const h = this.nodes.get(`${level}/${index}`);
    if (h === undefined) throw new Error(`no node ${level}/${index}`);
    return h;
  }

  /** Signs and serves a checkpoint for the current size. */
  async publish(): Promise<string> {
    const text = formatCheckpoint({ origin: this.origin, size: this.size, rootHash: this.root(), extensions: [] });
    const sig = await signNote(text, this.origin, this.signer);
    this.checkpoint = formatSignedNote({ text, signatures: [sig] });
    this.publishedSize = this.size;
    return this.checkpoint;
  }

  /** A log with the same key and origin and the first `keep` entries (a rewritten history). */
  fork(keep: number): FixtureLog {
    const f = new FixtureLog(this.origin, this.signer);
    for (const e of this.entries.slice(0, keep)) f.append(e);
    return f;
  }

  entryBody(index: number): Buffer {
    return this.entries[index]!;
  }
}

export interface TilesServer {
  url: string;
  /** Replace the log served (e.g. by a fork). */
  log: FixtureLog;
  /** Milliseconds to wait before answering each entry-bundle request. */
  bundleDelayMs: number;
  /** Serve these bytes instead of entry bundle N (a log lying about entries). */
  bundleOverride: Map<number, Buffer>;
  requests: string[];
  /** Serve partial tiles (`.p/W`)? A log may delete them once the full tile exists. */
  partials: boolean;
  /** Tree size the tiles are served for (default: the published checkpoint's). */
  tileSize: number | undefined;
  close(): Promise<void>;
}

/** Serves `/checkpoint`, `/tile/<L>/<N>[.p/<W>]` and `/tile/entries/<N>[.p/<W>]` over HTTP. */
export async function serveTiles(log: FixtureLog, entryBody?: (index: number) => Buffer): Promise<TilesServer> {
  const state: TilesServer = {
    url: '',
    log,
    bundleDelayMs: 0,
    bundleOverride: new Map(),
    requests: [],
    partials: true,
    tileSize: undefined,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    state.requests.push(path);
    const l = state.log;
    const send = (status: number, body: Buffer | string, type = 'application/octet-stream'): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method === 'POST') {
      send(404, 'no writes here', 'text/plain');
      return;
    }
    if (path === '/checkpoint') {
      send(200, l.checkpoint, 'text/plain; charset=utf-8');
      return;
    }
    let t;
    try {
      t = parseTilePath(path);
    } catch {
      send(404, 'not found', 'text/plain');
      return;
    }
    const available = tileWidthAt(t.kind === 'entries' ? 0 : t.level, t.index, state.tileSize ?? l.publishedSize);
    if (available < t.width || (!state.partials && t.width < TILE_WIDTH)) {
      send(404, 'no such tile', 'text/plain');
      return;
    }
    if (t.kind === 'hashes') {
      send(200, readTile({ level: t.level, index: t.index, width: t.width }, l));
      return;
    }
    const override = state.bundleOverride.get(t.index);
    const body =
      override ??
      encodeEntryBundle(Array.from({ length: t.width }, (_, i) => (entryBody ?? ((n: number) => l.entryBody(n)))(t.index * TILE_WIDTH + i)));
    if (state.bundleDelayMs > 0) setTimeout(() => send(200, body), state.bundleDelayMs);
    else send(200, body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
