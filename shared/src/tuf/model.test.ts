import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Metadata, MetadataKind } from '@tufjs/models';
import { canonicalizeOlpc, generateKey, type KeyType } from '../index.ts';
import {
  SPEC_VERSION,
  checkThreshold,
  keyIdOf,
  localTufSigner,
  parseMetadata,
  serializeEnvelope,
  signEnvelope,
  verifierFor,
  verifyRole,
  type Envelope,
  type RootSigned,
  type TufSigner,
} from './index.ts';

const require = createRequire(import.meta.url);
const canonicalJson = require('@tufjs/canonical-json') as { canonicalize: (v: unknown) => Buffer };

function rootFor(signers: TufSigner[], threshold = 1): RootSigned {
  const keys = Object.fromEntries(signers.map((s) => [s.keyid, s.key]));
  const ids = signers.map((s) => s.keyid);
  return {
    _type: 'root',
    spec_version: SPEC_VERSION,
    version: 1,
    expires: '2099-01-01T00:00:00Z',
    consistent_snapshot: true,
    keys,
    roles: {
      root: { keyids: ids, threshold },
      targets: { keyids: ids, threshold },
      snapshot: { keyids: ids, threshold: 1 },
      timestamp: { keyids: ids, threshold: 1 },
    },
    'x-cairn-development': true,
  };
}

for (const type of ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-2048'] as KeyType[]) {
  test(`${type}: Cairn signatures verify in @tufjs/models, and tampering fails in both`, async () => {
    const signer = localTufSigner(generateKey(type));
    const env = await signEnvelope({ signed: rootFor([signer]), signatures: [] }, signer);
    const json = JSON.parse(serializeEnvelope(env).toString('utf8'));
    const md = Metadata.fromJSON(MetadataKind.Root, json);
    md.verifyDelegate('root', md);
    verifyRole(env.signed, 'root', parseMetadata('root', JSON.stringify(json)));

    json.signed.version = 2;
    const bad = Metadata.fromJSON(MetadataKind.Root, json);
    assert.throws(() => md.verifyDelegate('root', bad));
    assert.throws(() => verifyRole(env.signed, 'root', parseMetadata('root', JSON.stringify(json))), { code: 'BELOW_THRESHOLD' });
  });
}

test('key IDs and signatures of Sigstore production root v14 (seeded in @sigstore/tuf)', () => {
  const seeds = JSON.parse(readFileSync(require.resolve('@sigstore/tuf/seeds.json'), 'utf8'));
  const bytes = Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev']['root.json'], 'base64');
  const root = parseMetadata('root', bytes);
  assert.equal(root.signed.version, 14);
  for (const [id, key] of Object.entries(root.signed.keys)) assert.equal(keyIdOf(key), id);
  const r = checkThreshold(root.signed, 'root', root);
  assert.ok(r.met && r.valid.length >= 3, `${r.valid.length} valid root signatures`);
});

test('a plain key dict gets securesystemslib\'s key ID (sha256 of canonical {keytype, scheme, keyval})', () => {
  const s = localTufSigner(generateKey('ed25519'));
  assert.deepEqual(Object.keys(s.key).sort(), ['keytype', 'keyval', 'scheme']);
  assert.match(s.key.keyval.public, /^[0-9a-f]{64}$/);
  assert.equal(s.keyid, keyIdOf({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: s.key.keyval.public } }));
});

test('OLPC canonical JSON matches @tufjs/canonical-json on random documents', () => {
  const leaf = fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null));
  const doc = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 })),
  })).v;
  fc.assert(
    fc.property(doc, (d) => {
      assert.equal(canonicalizeOlpc(d), canonicalJson.canonicalize(d).toString('utf8'));
    }),
    { numRuns: 300 },
  );
});

test('a key listed under two IDs counts once toward a threshold', async () => {
  const a = localTufSigner(generateKey('ecdsa-p256'));
  const root = rootFor([a], 2);
  const alias = 'f'.repeat(64);
  root.keys[alias] = { ...a.key };
  root.roles.root.keyids.push(alias);
  const env: Envelope<RootSigned> = await signEnvelope({ signed: root, signatures: [] }, a);
  env.signatures.push({ keyid: alias, sig: env.signatures[0]!.sig });
  const r = checkThreshold(root, 'root', env);
  assert.equal(r.valid.length, 1);
  assert.equal(r.met, false);
});

test('keys off the allow-list are refused', () => {
  assert.throws(() => verifierFor({ keytype: 'rsa', scheme: 'rsassa-pkcs1v15-sha256', keyval: { public: 'x' } }), { code: 'UNSUPPORTED_KEY' });
  assert.throws(() => verifierFor({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: 'zz' } }), { code: 'UNSUPPORTED_KEY' });
  const p384 = localTufSigner(generateKey('ecdsa-p384'));
  assert.throws(() => verifierFor({ ...p384.key, scheme: 'ecdsa-sha2-nistp256' }), { code: 'UNSUPPORTED_KEY' });
});

test('the parser refuses malformed metadata with stable codes', async () => {
  const s = localTufSigner(generateKey('ed25519'));
  const good = JSON.parse(serializeEnvelope(await signEnvelope({ signed: rootFor([s]), signatures: [] }, s)).toString('utf8'));
  const cases: [string, (j: any) => unknown, string][] = [
    ['float version', (j) => (j.signed.version = 1.5), 'INVALID_METADATA'],
    ['float in an unknown field', (j) => (j.signed.extra = 0.5), 'INVALID_METADATA'],
    ['wrong _type', (j) => (j.signed._type = 'targets'), 'INVALID_METADATA'],
    ['spec major 2', (j) => (j.signed.spec_version = '2.0.0'), 'INVALID_METADATA'],
    ['expires with fraction', (j) => (j.signed.expires = '2099-01-01T00:00:00.5Z'), 'INVALID_METADATA'],
    ['expires not a date', (j) => (j.signed.expires = '2099-02-31T00:00:00Z'), 'INVALID_METADATA'],
    ['role missing', (j) => delete j.signed.roles.timestamp, 'INVALID_METADATA'],
    ['unknown role', (j) => (j.signed.roles.mirror = { keyids: [], threshold: 1 }), 'INVALID_METADATA'],
    ['role names unknown key', (j) => j.signed.roles.root.keyids.push('abc'), 'INVALID_METADATA'],
    ['threshold 0', (j) => (j.signed.roles.root.threshold = 0), 'INVALID_METADATA'],
    ['two signatures by one key', (j) => j.signatures.push(j.signatures[0]), 'INVALID_METADATA'],
    ['extra top-level field', (j) => (j.extra = 1), 'INVALID_METADATA'],
    ['signatures not an array', (j) => (j.signatures = {}), 'INVALID_METADATA'],
    ['too large', (j) => (j.signed.pad = 'x'.repeat(600_000)), 'METADATA_TOO_LARGE'],
  ];
  for (const [name, mutate, code] of cases) {
    const j = structuredClone(good);
    mutate(j);
    assert.throws(() => parseMetadata('root', JSON.stringify(j)), { code }, name);
  }
  assert.throws(() => parseMetadata('root', '{not json'), { code: 'INVALID_METADATA' });
  assert.throws(() => parseMetadata('timestamp', JSON.stringify(good)), { code: 'INVALID_METADATA' });
  assert.doesNotThrow(() => parseMetadata('root', JSON.stringify(good)));
});
