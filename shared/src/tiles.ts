/**
 * C2SP tlog-tiles: tile paths, which tiles a proof needs, a `NodeReader` over fetched tiles and
 * entry bundles.
 *
 * A level-L tile N holds the hashes of tree level 8L nodes N*256 .. N*256+W-1 (W = 256 for a
 * full tile, 1..255 for a partial one served as `.p/<W>`). Nodes at the seven tree levels between
 * two tile levels are not stored: they are hashed inside the tile (C2SP tlog-tiles "Merkle Tree").
 */
import { CairnError } from './errors.ts';
import {
  HASH_SIZE,
  consistencyProof,
  inclusionProof,
  nodeHash,
  rootAt,
  type NodeReader,
} from './merkle.ts';

export type TileErrorCode = 'INVALID_TILE_PATH' | 'INVALID_TILE' | 'MISSING_TILE' | 'INVALID_ENTRY_BUNDLE';

export class TileError extends CairnError<TileErrorCode> {
  constructor(code: TileErrorCode, message: string, status = 400) {
    super(code, message, { status });
  }
}

/** Hashes (or entries) per full tile. */
export const TILE_WIDTH = 256;
/** Tree levels covered by one tile level: 256 = 2^8. */
export const TILE_HEIGHT = 8;
/** tlog-tiles: L is 0..63. */
export const MAX_TILE_LEVEL = 63;
/** Bytes of a full hash tile. */
export const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
/** An entry in a bundle is prefixed by a uint16 length. */
export const MAX_BUNDLE_ENTRY_BYTES = 0xffff;
/** Upper bound of a full entry bundle: 256 entries of at most 64 KiB each. */
export const MAX_ENTRY_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_BUNDLE_ENTRY_BYTES);
/** Tile paths are short; anything longer is rejected before it is looked at. */
export const MAX_TILE_PATH_LENGTH = 128;

/** One tile: tile level, tile index and width (1..256; 256 means the full tile). */
export interface TileCoord {
  level: number;
  index: number;
  width: number;
}

export type ParsedTilePath =
  | { kind: 'hashes'; level: number; index: number; width: number }
  | { kind: 'entries'; index: number; width: number };

function checkIndex(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TileError('INVALID_TILE_PATH', 'tile index must be a non-negative safe integer');
}

function checkWidth(w: number | undefined): void {
  if (w === undefined) return;
  if (!Number.isInteger(w) || w < 1 || w > TILE_WIDTH) throw new TileError('INVALID_TILE_PATH', 'tile width must be 1..256');
}

/**
 * The `<N>` path element: decimal split into 3-digit zero-padded groups, all but the last
 * prefixed with `x` (tlog-tiles: 1234067 -> x001/x234/067, 5 -> 005).
 */
export function encodeTileIndex(n: number): string {
  checkIndex(n);
  const groups: string[] = [];
  let rest = n;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

function widthSuffix(w: number | undefined): string {
  checkWidth(w);
  return w === undefined || w === TILE_WIDTH ? '' : `.p/${w}`;
}

/** `tile/<L>/<N>[.p/<W>]`; a width of 256 (or none) names the full tile. */
export function tilePath(level: number, index: number, partialWidth?: number): string {
  if (!Number.isInteger(level) || level < 0 || level > MAX_TILE_LEVEL) throw new TileError('INVALID_TILE_PATH', 'tile level must be 0..63');
  return `tile/${level}/${encodeTileIndex(index)}${widthSuffix(partialWidth)}`;
}

/** `tile/entries/<N>[.p/<W>]`. */
export function entriesPath(index: number, partialWidth?: number): string {
  return `tile/entries/${encodeTileIndex(index)}${widthSuffix(partialWidth)}`;
}

export function pathOfTile(t: TileCoord): string {
  return tilePath(t.level, t.index, t.width);
}

const LEVEL_RE = /^(0|[1-9][0-9]?)$/;
const GROUP_RE = /^x?[0-9]{3}$/;
const WIDTH_RE = /^[1-9][0-9]{0,2}$/;

/**
 * Strict inverse of `tilePath`/`entriesPath` (an optional leading `/` is allowed). Only the
 * canonical spelling is accepted, so every tile has exactly one URL.
 */
export function parseTilePath(path: string): ParsedTilePath {
  const bad = (why: string): TileError => new TileError('INVALID_TILE_PATH', `invalid tile path: ${why}`);
  if (typeof path !== 'string' || path.length > MAX_TILE_PATH_LENGTH) throw bad('too long');
  const p = path.startsWith('/') ? path.slice(1) : path;
  const segs = p.split('/');
  if (segs.length < 3 || segs[0] !== 'tile') throw bad('not under tile/');
  const kindSeg = segs[1]!;
  let rest = segs.slice(2);
  let width: number | undefined;
  const penult = rest[rest.length - 2];
  if (penult !== undefined && penult.endsWith('.p')) {
    const w = rest[rest.length - 1]!;
    if (!WIDTH_RE.test(w)) throw bad('width');
    width = Number(w);
    if (width >= TILE_WIDTH) throw bad('width');
    rest = [...rest.slice(0, -2), penult.slice(0, -2)];
  }
  if (rest.length === 0 || rest.length > 7) throw bad('index');
  let index = 0;
  for (let i = 0; i < rest.length; i++) {
    const g = rest[i]!;
    const last = i === rest.length - 1;
    if (!GROUP_RE.test(g) || g.startsWith('x') === last) throw bad('index');
    index = index * 1000 + Number(last ? g : g.slice(1));
  }
  if (!Number.isSafeInteger(index)) throw bad('index');
  let parsed: ParsedTilePath;
  if (kindSeg === 'entries') {
    parsed = { kind: 'entries', index, width: width ?? TILE_WIDTH };
  } else {
    if (!LEVEL_RE.test(kindSeg) || Number(kindSeg) > MAX_TILE_LEVEL) throw bad('level');
    parsed = { kind: 'hashes', level: Number(kindSeg), index, width: width ?? TILE_WIDTH };
  }
  const canonical = parsed.kind === 'entries' ? entriesPath(parsed.index, width) : tilePath(parsed.level, parsed.index, width);
  if (canonical !== p) throw bad('not canonical');
  return parsed;
}

/** 256^level, the number of leaves under one hash of a level-`level` tile. */
function leavesPerHash(level: number): number {
  return TILE_WIDTH ** level;
}

/**
 * Width of tile (level, index) in a tree of `treeSize` leaves: 256 when full, 1..255 when
 * partial, 0 when the tile does not exist yet.
 */
export function tileWidthAt(level: number, index: number, treeSize: number): number {
  const complete = Math.floor(treeSize / leavesPerHash(level));
  const start = index * TILE_WIDTH;
  if (complete <= start) return 0;
  return Math.min(TILE_WIDTH, complete - start);
}

/** The tile that holds (or lets a reader hash) the complete tree node (level, index). */
export function tileForNode(level: number, index: number, treeSize: number): TileCoord {
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const first = index * 2 ** (level % TILE_HEIGHT);
  const tileIndex = Math.floor(first / TILE_WIDTH);
  const width = tileWidthAt(tileLevel, tileIndex, treeSize);
  if (width === 0) throw new TileError('MISSING_TILE', `node ${level}/${index} is not in a tree of size ${treeSize}`);
  return { level: tileLevel, index: tileIndex, width };
}

/** Records the nodes a proof builder asks for, answering with placeholder hashes. */
class RecordingReader implements NodeReader {
  readonly tiles = new Map<string, TileCoord>();
  private readonly placeholder = Buffer.alloc(HASH_SIZE);
  constructor(private readonly treeSize: number) {}
  node(level: number, index: number): Buffer {
    const t = tileForNode(level, index, this.treeSize);
    this.tiles.set(`${t.level}/${t.index}`, t);
    return this.placeholder;
  }
}

function tilesFor(treeSize: number, build: (r: NodeReader) => void): TileCoord[] {
  const r = new RecordingReader(treeSize);
  build(r);
  return [...r.tiles.values()];
}

/** Tiles (at `treeSize`) needed to compute the root of the tree. */
export function tilesForRoot(treeSize: number): TileCoord[] {
  return tilesFor(treeSize, (r) => rootAt(treeSize, r));
}

/** Tiles (at `treeSize`) needed for the inclusion proof of leaf `index`. */
export function tilesForInclusionProof(index: number, treeSize: number): TileCoord[] {
  return tilesFor(treeSize, (r) => inclusionProof(index, treeSize, r));
}

/** Tiles (at `second`) needed for the consistency proof from `first` to `second`. */
export function tilesForConsistencyProof(first: number, second: number): TileCoord[] {
  return tilesFor(second, (r) => consistencyProof(first, second, r));
}

/** Entry bundles (tile coordinates at level 0) covering leaves [start, end) of a tree of `treeSize`. */
export function entryBundlesFor(start: number, end: number, treeSize: number): TileCoord[] {
  const out: TileCoord[] = [];
  if (end <= start) return out;
  for (let n = Math.floor(start / TILE_WIDTH); n * TILE_WIDTH < end; n++) {
    out.push({ level: 0, index: n, width: tileWidthAt(0, n, treeSize) });
  }
  return out;
}

/** Checks a fetched hash tile has exactly `width` hashes. */
export function checkHashTile(bytes: Uint8Array, width: number): Buffer {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH || bytes.length !== width * HASH_SIZE) {
    throw new TileError('INVALID_TILE', `tile must be ${width} hashes of ${HASH_SIZE} bytes`);
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Builds the bytes of tile `t` from a node store (what a log serves). */
export function readTile(t: TileCoord, reader: NodeReader): Buffer {
  const out = Buffer.allocUnsafe(t.width * HASH_SIZE);
  for (let i = 0; i < t.width; i++) reader.node(t.level * TILE_HEIGHT, t.index * TILE_WIDTH + i).copy(out, i * HASH_SIZE);
  return out;
}

/** Something that hands out tile bytes (level-L tile N), or undefined when it has not got it. */
export type TileSource = (level: number, index: number) => Uint8Array | undefined;

/**
 * A `NodeReader` over fetched tiles. Node (l, i) lives in tile level floor(l/8); below the tile's
 * own level it is the hash of the 2^(l mod 8) tile hashes it covers. A full tile may stand in for
 * the partial one.
 */
export class TileNodeReader implements NodeReader {
  constructor(private readonly source: TileSource) {}

  node(level: number, index: number): Buffer {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const span = 2 ** (level % TILE_HEIGHT);
    const first = index * span;
    const tileIndex = Math.floor(first / TILE_WIDTH);
    const tile = this.source(tileLevel, tileIndex);
    const offset = first - tileIndex * TILE_WIDTH;
    if (tile === undefined || tile.length < (offset + span) * HASH_SIZE || tile.length % HASH_SIZE !== 0) {
      throw new TileError('MISSING_TILE', `tile ${tileLevel}/${tileIndex} does not hold node ${level}/${index}`);
    }
    const buf = Buffer.from(tile.buffer, tile.byteOffset, tile.length);
    let layer: Buffer[] = [];
    for (let i = 0; i < span; i++) layer.push(buf.subarray((offset + i) * HASH_SIZE, (offset + i + 1) * HASH_SIZE));
    while (layer.length > 1) {
      const next: Buffer[] = [];
      for (let i = 0; i < layer.length; i += 2) next.push(nodeHash(layer[i]!, layer[i + 1]!));
      layer = next;
    }
    return Buffer.from(layer[0]!);
  }
}

/** tlog-tiles entry bundle: each entry as uint16 big-endian length followed by its bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  if (entries.length > TILE_WIDTH) throw new TileError('INVALID_ENTRY_BUNDLE', 'a bundle holds at most 256 entries');
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.length > MAX_BUNDLE_ENTRY_BYTES) throw new TileError('INVALID_ENTRY_BUNDLE', 'entry is longer than 65535 bytes');
    const len = Buffer.allocUnsafe(2);
    len.writeUInt16BE(e.length, 0);
    parts.push(len, Buffer.from(e.buffer, e.byteOffset, e.length));
  }
  return Buffer.concat(parts);
}

/**
 * Splits an entry bundle. Strict: the bytes must be consumed exactly, and when `expected` is given
 * the bundle must hold exactly that many entries.
 */
export function parseEntryBundle(bytes: Uint8Array, expected?: number): Buffer[] {
  if (bytes.length > MAX_ENTRY_BUNDLE_BYTES) throw new TileError('INVALID_ENTRY_BUNDLE', 'entry bundle is too large');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < buf.length) {
    if (out.length === TILE_WIDTH) throw new TileError('INVALID_ENTRY_BUNDLE', 'more than 256 entries in a bundle');
    if (pos + 2 > buf.length) throw new TileError('INVALID_ENTRY_BUNDLE', 'truncated entry length');
    const len = buf.readUInt16BE(pos);
    pos += 2;
    if (pos + len > buf.length) throw new TileError('INVALID_ENTRY_BUNDLE', 'truncated entry');
    out.push(buf.subarray(pos, pos + len));
    pos += len;
  }
  if (expected !== undefined && out.length !== expected) {
    throw new TileError('INVALID_ENTRY_BUNDLE', `entry bundle holds ${out.length} entries, expected ${expected}`);
  }
  return out;
}
