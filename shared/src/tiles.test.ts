import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CompactRange, consistencyProof, inclusionProof, leafHash, rootAt, verifyConsistency, verifyInclusion, type NodeReader } from './merkle.ts';
import {
  TILE_WIDTH,
  TileError,
  TileNodeReader,
  checkHashTile,
  encodeEntryBundle,
  encodeTileIndex,
  entriesPath,
  entryBundlesFor,
  parseEntryBundle,
  parseTilePath,
  readTile,
  tilePath,
  tileWidthAt,
  tilesForConsistencyProof,
  tilesForInclusionProof,
  tilesForRoot,
  type TileCoord,
} from './tiles.ts';

const code = (c: string) => (e: unknown) => e instanceof TileError && e.code === c;

class MemoryNodes implements NodeReader {
  readonly nodes = new Map<string, Buffer>();
  readonly range = new CompactRange();
  append(h: Buffer): void {
    this.range.append(h, (l, i, hash) => this.nodes.set(`${l}/${i}`, hash));
  }
  node(level: number, index: number): Buffer {
    const h = this.nodes.get(`${level}/${index}`);
    if (h === undefined) throw new Error(`missing ${level}/${index}`);
    return h;
  }
}

function buildStore(n: number): MemoryNodes {
  const s = new MemoryNodes();
  for (let i = 0; i < n; i++) s.append(leafHash(Buffer.from(`entry ${i}`)));
  return s;
}

test('tile paths follow the tlog-tiles encoding', () => {
  assert.equal(encodeTileIndex(5), '005');
  assert.equal(encodeTileIndex(0), '000');
  assert.equal(encodeTileIndex(1000), 'x001/000');
  assert.equal(encodeTileIndex(1234067), 'x001/x234/067');
  assert.equal(tilePath(0, 1234067), 'tile/0/x001/x234/067');
  assert.equal(tilePath(1, 5, 17), 'tile/1/005.p/17');
  assert.equal(tilePath(2, 5, 256), 'tile/2/005');
  assert.equal(entriesPath(1234067, 3), 'tile/entries/x001/x234/067.p/3');
  assert.equal(entriesPath(7), 'tile/entries/007');
  assert.throws(() => tilePath(64, 0), code('INVALID_TILE_PATH'));
  assert.throws(() => tilePath(0, -1), code('INVALID_TILE_PATH'));
  assert.throws(() => tilePath(0, 1, 0), code('INVALID_TILE_PATH'));
  assert.throws(() => entriesPath(1, 257), code('INVALID_TILE_PATH'));
});

test('parseTilePath round-trips and rejects non-canonical or malformed paths', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 63 }), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: 256 }), (l, n, w) => {
      const p = tilePath(l, n, w);
      assert.deepEqual(parseTilePath(p), { kind: 'hashes', level: l, index: n, width: w });
      assert.deepEqual(parseTilePath(`/${entriesPath(n, w)}`), { kind: 'entries', index: n, width: w });
    }),
  );
  for (const bad of [
    '',
    'tile',
    'tile/0',
    'tile/0/5',
    'tile/0/0005',
    'tile/0/x000/005',
    'tile/0/x005',
    'tile/0/005/x001',
    'tile/00/005',
    'tile/64/005',
    'tile/-1/005',
    'tile/0/005.p/0',
    'tile/0/005.p/256',
    'tile/0/005.p/07',
    'tile/0/005.p',
    'tile/0/005.p/',
    'tile/0/005/',
    'tiles/0/005',
    'tile/entrie/005',
    'tile/0/x001/x002/x003/x004/x005/x006/x007/008',
    'tile/0/' + 'x001/'.repeat(40) + '000',
    'tile/0/abc',
    '//tile/0/005',
  ]) {
    assert.throws(() => parseTilePath(bad), code('INVALID_TILE_PATH'), bad);
  }
});

test('tile widths at a tree size', () => {
  assert.equal(tileWidthAt(0, 0, 0), 0);
  assert.equal(tileWidthAt(0, 0, 1), 1);
  assert.equal(tileWidthAt(0, 0, 256), 256);
  assert.equal(tileWidthAt(0, 1, 256), 0);
  assert.equal(tileWidthAt(0, 1, 300), 44);
  assert.equal(tileWidthAt(1, 0, 255), 0);
  assert.equal(tileWidthAt(1, 0, 256 * 3 + 5), 3);
  assert.equal(tileWidthAt(2, 0, 65536 * 2), 2);
});

/** Serves tiles built from a full node store, as a log would at `size`; records fetches. */
function tileServer(store: NodeReader, size: number): { source: (l: number, n: number) => Buffer | undefined; fetched: Set<string> } {
  const fetched = new Set<string>();
  return {
    fetched,
    source: (l, n) => {
      const w = tileWidthAt(l, n, size);
      if (w === 0) return undefined;
      fetched.add(`${l}/${n}`);
      return readTile({ level: l, index: n, width: w }, store);
    },
  };
}

test('TileNodeReader rebuilds roots and proofs from tiles only, fetching just the tiles named', () => {
  const store = buildStore(70_000);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 70_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, frac) => {
      const i = Math.floor(frac * n);
      const m = Math.max(1, Math.floor(frac * n));
      const server = tileServer(store, n);
      const reader = new TileNodeReader(server.source);
      const root = rootAt(n, reader);
      assert.deepEqual(root, rootAt(n, store));
      const proof = inclusionProof(i, n, reader);
      assert.deepEqual(proof, inclusionProof(i, n, store));
      assert.ok(verifyInclusion(store.node(0, i), i, n, proof, root));
      const cproof = consistencyProof(m, n, reader);
      assert.ok(verifyConsistency(m, n, cproof, rootAt(m, store), root));
      // The helpers name exactly the tiles used (a superset would waste fetches).
      const named = new Set<string>();
      for (const t of [...tilesForRoot(n), ...tilesForInclusionProof(i, n), ...tilesForConsistencyProof(m, n)]) {
        named.add(`${t.level}/${t.index}`);
        assert.equal(t.width, tileWidthAt(t.level, t.index, n));
      }
      assert.deepEqual([...server.fetched].sort(), [...named].sort());
      // Few tiles: at most 2 per tile level and proof kind.
      assert.ok(named.size <= 12, `${named.size} tiles`);
    }),
    { numRuns: 200 },
  );
});

test('TileNodeReader fails with MISSING_TILE when a tile is absent or too short', () => {
  const store = buildStore(600);
  const reader = new TileNodeReader(() => undefined);
  assert.throws(() => rootAt(600, reader), code('MISSING_TILE'));
  const short = new TileNodeReader((l, n) => (l === 0 && n === 2 ? readTile({ level: 0, index: 2, width: 10 }, store) : readTile({ level: l, index: n, width: tileWidthAt(l, n, 600) || 1 }, store)));
  assert.throws(() => rootAt(600, short), code('MISSING_TILE'));
});

test('checkHashTile enforces exact width', () => {
  assert.equal(checkHashTile(Buffer.alloc(64), 2).length, 64);
  assert.throws(() => checkHashTile(Buffer.alloc(65), 2), code('INVALID_TILE'));
  assert.throws(() => checkHashTile(Buffer.alloc(32 * 257), 257), code('INVALID_TILE'));
  assert.throws(() => checkHashTile(Buffer.alloc(0), 0), code('INVALID_TILE'));
});

test('entryBundlesFor names the bundles covering a leaf range', () => {
  const b = entryBundlesFor(250, 700, 700);
  assert.deepEqual(b, [
    { level: 0, index: 0, width: 256 },
    { level: 0, index: 1, width: 256 },
    { level: 0, index: 2, width: 188 },
  ] satisfies TileCoord[]);
  assert.deepEqual(entryBundlesFor(5, 5, 10), []);
});

test('entry bundles round-trip and reject malformed bytes', () => {
  const entries = [Buffer.from(''), Buffer.from('a'), Buffer.alloc(65535, 7), Buffer.from('{"x":1}')];
  const bundle = encodeEntryBundle(entries);
  assert.deepEqual(bundle.subarray(0, 5), Buffer.from([0, 0, 0, 1, 0x61]));
  assert.deepEqual(parseEntryBundle(bundle), entries);
  assert.deepEqual(parseEntryBundle(bundle, 4), entries);
  assert.throws(() => parseEntryBundle(bundle, 3), code('INVALID_ENTRY_BUNDLE'));
  assert.throws(() => parseEntryBundle(bundle.subarray(0, bundle.length - 1)), code('INVALID_ENTRY_BUNDLE'));
  assert.throws(() => parseEntryBundle(Buffer.from([0])), code('INVALID_ENTRY_BUNDLE'));
  assert.throws(() => encodeEntryBundle([Buffer.alloc(65536)]), code('INVALID_ENTRY_BUNDLE'));
  assert.throws(() => encodeEntryBundle(new Array<Buffer>(TILE_WIDTH + 1).fill(Buffer.alloc(1))), code('INVALID_ENTRY_BUNDLE'));
  const tooMany = Buffer.concat(new Array<Buffer>(TILE_WIDTH + 1).fill(Buffer.from([0, 0])));
  assert.throws(() => parseEntryBundle(tooMany), code('INVALID_ENTRY_BUNDLE'));
});
