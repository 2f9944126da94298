import { test } from 'node:test';
import assert from 'node:assert/strict';
import { urlsFromSigningConfig, SIGNING_CONFIG_V02_MEDIA_TYPE } from './signing-config.ts';

const now = new Date('2025-06-01T00:00:00Z');
const svc = (url: string, v: number, start: string, end?: string) => ({ url, majorApiVersion: v, validFor: { start, ...(end ? { end } : {}) }, operator: 'x' });

test('picks the newest current service of a supported API version', () => {
  const cfg = {
    mediaType: SIGNING_CONFIG_V02_MEDIA_TYPE,
    caUrls: [svc('https://ca-old', 1, '2024-01-01T00:00:00Z'), svc('https://ca-new', 1, '2025-01-01T00:00:00Z'), svc('https://ca-v2', 2, '2025-05-01T00:00:00Z')],
    rekorTlogUrls: [svc('https://rekor-v2', 2, '2025-05-01T00:00:00Z'), svc('https://rekor-expired', 1, '2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z'), svc('https://rekor', 1, '2024-01-01T00:00:00Z')],
  };
  assert.deepEqual(urlsFromSigningConfig(cfg, now), { fulcioUrl: 'https://ca-new', rekorUrl: 'https://rekor' });
});

test('refuses configs without a usable service or with the wrong media type', () => {
  const codeOf = (j: unknown) => {
    try {
      urlsFromSigningConfig(j, now);
    } catch (e) {
      return (e as { code: string }).code;
    }
    return undefined;
  };
  assert.equal(codeOf({ mediaType: 'x', caUrls: [], rekorTlogUrls: [] }), 'INPUT_INVALID');
  assert.equal(codeOf({ mediaType: SIGNING_CONFIG_V02_MEDIA_TYPE, caUrls: [svc('https://ca', 1, '2024-01-01T00:00:00Z')], rekorTlogUrls: [svc('https://r', 2, '2024-01-01T00:00:00Z')] }), 'URL_MISSING');
  assert.equal(codeOf({ mediaType: SIGNING_CONFIG_V02_MEDIA_TYPE, caUrls: [{ url: 'x' }], rekorTlogUrls: [] }), 'INPUT_INVALID');
  assert.equal(codeOf({ mediaType: SIGNING_CONFIG_V02_MEDIA_TYPE, caUrls: [svc('https://ca', 1, 'never')], rekorTlogUrls: [] }), 'INPUT_INVALID');
});
