import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { SigningConfig, TrustedRoot } from '@sigstore/protobuf-specs';
import { toTrustMaterial } from '@sigstore/verify';
import { bundleBuilderFromSigningConfig, MessageSignatureBundleBuilder } from '@sigstore/sign';
import { generateKey, sha256, type TrustInfo } from './index.ts';
import { buildSigningConfig, buildTrustedRoot, mergeTrustedRoot, parseTrustInfos, TRUSTED_ROOT_MEDIA_TYPE } from './trusted-root.ts';

function logInfo(kind: 'tlog' | 'ctlog', baseUrl: string): Extract<TrustInfo, { kind: 'tlog' | 'ctlog' }> {
  const spki = createPublicKey(generateKey('ecdsa-p256')).export({ type: 'spki', format: 'der' });
  return { kind, baseUrl, publicKey: spki.toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', logId: sha256(spki).toString('base64'), validFrom: '2026-01-01T00:00:00Z' };
}

const infos: TrustInfo[] = [
  logInfo('tlog', 'http://127.0.0.1:3000'),
  logInfo('ctlog', 'http://127.0.0.1:3000/ct'),
  { kind: 'oidc', issuer: 'http://127.0.0.1:3000/oidc' },
];

test('trusted_root.json: the strict shape, accepted by sigstore-js trust material', () => {
  const tr = buildTrustedRoot(infos);
  assert.equal(tr.mediaType, TRUSTED_ROOT_MEDIA_TYPE);
  for (const l of [...tr.tlogs, ...tr.ctlogs]) {
    assert.equal(l.hashAlgorithm, 'SHA2_256');
    assert.ok(l.publicKey.validFor.start);
    assert.equal(Buffer.from(l.logId.keyId, 'base64').length, 32);
  }
  const material = toTrustMaterial(TrustedRoot.fromJSON(tr));
  assert.equal(material.tlogs.length, 1);
  assert.equal(material.ctlogs.length, 1);
  // Deduplicated by log ID.
  assert.equal(buildTrustedRoot([...infos, ...infos]).tlogs.length, 1);
});

test('signing_config v0.2 is accepted by @sigstore/sign bundleBuilderFromSigningConfig', () => {
  const sc = buildSigningConfig(infos, { ca: ['http://127.0.0.1:3000'] });
  assert.equal(sc.mediaType, 'application/vnd.dev.sigstore.signingconfig.v0.2+json');
  assert.deepEqual(sc.rekorTlogUrls.map((u) => [u.url, u.majorApiVersion, u.operator]), [['http://127.0.0.1:3000', 1, '127.0.0.1']]);
  assert.equal(sc.tsaConfig, undefined, 'no TSA, no tsaConfig (its presence makes sigstore-js demand one)');
  const builder = bundleBuilderFromSigningConfig({
    signingConfig: SigningConfig.fromJSON(sc),
    identityProvider: { getToken: () => Promise.resolve('token') },
    bundleType: 'messageSignature',
  });
  assert.ok(builder instanceof MessageSignatureBundleBuilder);
  const withTsa = buildSigningConfig(infos, { tsa: ['http://127.0.0.1:3000/api/v1/timestamp'] });
  assert.deepEqual(withTsa.tsaConfig, { selector: 'ANY' });
});

test('retired keys stay with validFor.end; an existing end is kept', () => {
  const prev = buildTrustedRoot(infos);
  prev.ctlogs[0]!.publicKey.validFor.end = '2026-02-01T00:00:00Z';
  const next = buildTrustedRoot([logInfo('tlog', 'http://127.0.0.1:3000'), logInfo('ctlog', 'http://127.0.0.1:3000/ct')]);
  const merged = mergeTrustedRoot(prev, next, new Date('2026-03-01T12:00:00.123Z'));
  assert.equal(merged.tlogs.length, 2);
  assert.equal(merged.tlogs[0]!.publicKey.validFor.end, '2026-03-01T12:00:00Z');
  assert.equal(merged.tlogs[1]!.publicKey.validFor.end, undefined);
  assert.equal(merged.ctlogs[0]!.publicKey.validFor.end, '2026-02-01T00:00:00Z');
  assert.deepEqual(mergeTrustedRoot(next, next, new Date()), next, 'unchanged material merges to itself');
});

test('an existing end after the retirement is cut to the retirement (a CA window ending at notAfter)', () => {
  const prev = buildTrustedRoot(infos);
  prev.tlogs[0]!.publicKey.validFor.end = '2030-01-01T00:00:00Z';
  const next = buildTrustedRoot([logInfo('tlog', 'http://127.0.0.1:3000')]);
  const merged = mergeTrustedRoot(prev, next, new Date('2026-03-01T12:00:00Z'));
  assert.equal(merged.tlogs[0]!.publicKey.validFor.end, '2026-03-01T12:00:00Z');
});

test('malformed trust info is refused with INVALID_TRUST_INFO', () => {
  const t: Record<string, unknown> = { ...infos[0] };
  const bad: unknown[] = [
    {},
    [{ kind: 'tsa' }],
    [{ ...t, publicKey: 'not base64!' }],
    [{ ...t, logId: Buffer.alloc(20).toString('base64') }],
    [{ ...t, keyDetails: 'PKIX_RSA_PKCS1V15_2048_SHA256' }],
    [{ ...t, baseUrl: 'file:///etc' }],
    [{ ...t, validFrom: 'yesterday' }],
    [{ kind: 'ca', uri: 'http://x', subject: { organization: 'o', commonName: 'c' }, certChain: [], validFrom: '2026-01-01T00:00:00Z' }],
    Array.from({ length: 300 }, () => ({ kind: 'oidc', issuer: 'http://x' })),
  ];
  for (const b of bad) assert.throws(() => parseTrustInfos(b), { code: 'INVALID_TRUST_INFO' }, JSON.stringify(b).slice(0, 80));
  assert.throws(() => buildSigningConfig([{ kind: 'oidc', issuer: 'http://x' }]), { code: 'INVALID_TRUST_INFO' });
});

test('signing_config lists the CA from its trust info, with the intermediate end as validFor.end', () => {
  const start = '2026-01-01T00:00:00Z';
  const withCa: TrustInfo[] = [
    ...infos,
    { kind: 'ca', uri: 'http://127.0.0.1:3000', subject: { organization: 'o', commonName: 'c' }, certChain: [Buffer.from('30030201', 'hex').toString('base64')], validFrom: start, validTo: '2031-01-01T00:00:00Z' },
  ];
  const sc = buildSigningConfig(withCa);
  assert.deepEqual(sc.caUrls.map((c) => [c.url, c.validFor.end]), [['http://127.0.0.1:3000', '2031-01-01T00:00:00Z']]);
  // A rotated log at the same URL: the entry still valid (no end) wins over the retired one.
  const tlog = infos.find((i) => i.kind === 'tlog')!;
  const rotated = buildSigningConfig([...withCa, { ...tlog, validTo: '2026-06-01T00:00:00Z' } as TrustInfo]);
  const rekor = rotated.rekorTlogUrls.filter((r) => r.url === (tlog as { baseUrl: string }).baseUrl);
  assert.equal(rekor.length, 1);
  assert.equal(rekor[0]!.validFor.end, undefined);
});

test('a v2 log is advertised only together with a TSA: v2 first (start no earlier than the TSA), the v1 entry kept; the TSA in the trusted root', () => {
  const v12 = { ...logInfo('tlog', 'http://127.0.0.1:3000'), majorApiVersions: [1, 2] };
  const noTsa = buildSigningConfig([v12, { kind: 'oidc', issuer: 'http://127.0.0.1:3000/oidc' }], { ca: ['http://127.0.0.1:3000'] });
  assert.deepEqual(noTsa.rekorTlogUrls.map((u) => u.majorApiVersion), [1], 'no TSA: the v2 log is not advertised');
  assert.deepEqual(noTsa.tsaUrls, []);
  const tsaDer = Buffer.from('30030201', 'hex').toString('base64');
  const tsa: TrustInfo = { kind: 'tsa', uri: 'http://127.0.0.1:3000/api/v1/timestamp', subject: { organization: 'cairn', commonName: 'tsa' }, certChain: [tsaDer, Buffer.from('30030202', 'hex').toString('base64')], validFrom: '2026-02-01T00:00:00Z' };
  const sc = buildSigningConfig([v12, tsa, { kind: 'oidc', issuer: 'http://127.0.0.1:3000/oidc' }], { ca: ['http://127.0.0.1:3000'] });
  assert.deepEqual(sc.rekorTlogUrls.map((u) => [u.url, u.majorApiVersion, u.validFor.start]), [
    ['http://127.0.0.1:3000', 2, '2026-02-01T00:00:00Z'],
    ['http://127.0.0.1:3000', 1, '2026-01-01T00:00:00Z'],
  ]);
  assert.deepEqual(sc.tsaUrls.map((u) => u.url), ['http://127.0.0.1:3000/api/v1/timestamp']);
  assert.deepEqual(sc.tsaConfig, { selector: 'ANY' });
  const tr = buildTrustedRoot([v12, tsa]);
  assert.equal(tr.timestampAuthorities.length, 1);
  assert.equal(tr.timestampAuthorities[0]!.uri, 'http://127.0.0.1:3000/api/v1/timestamp');
  assert.deepEqual(tr.timestampAuthorities[0]!.validFor, { start: '2026-02-01T00:00:00Z' });
  // A retired TSA stays with an end date, so its tokens keep verifying.
  const merged = mergeTrustedRoot(tr, buildTrustedRoot([v12]), new Date('2026-06-01T00:00:00Z'));
  assert.deepEqual(merged.timestampAuthorities[0]!.validFor, { start: '2026-02-01T00:00:00Z', end: '2026-06-01T00:00:00Z' });
  // majorApiVersions is checked.
  assert.throws(() => parseTrustInfos([{ ...v12, majorApiVersions: [3] }]));
  assert.throws(() => parseTrustInfos([{ ...logInfo('ctlog', 'http://x'), majorApiVersions: [1] }]));
});
