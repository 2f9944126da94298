/**
 * RFC 3161 verification on real Sigstore TSA tokens from the conformance corpus: the good token
 * verifies; any bit flipped in a signed part (TSTInfo, signed attributes, signature) is
 * TIMESTAMP_INVALID; a flip anywhere else either still verifies (unsigned, unused parts) or is
 * TIMESTAMP_INVALID (TIMESTAMP_UNTRUSTED when it hits the unsigned signer identifier), never
 * another error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { VerifyError } from './errors.ts';
import { parseTimestampResponse, verifyRfc3161Timestamp } from './timestamp.ts';
import { parseTrustedRoot } from './trusted-root.ts';
import { codeOf } from '../../../test/helpers/codes.ts';

const corpus = fileURLToPath(new URL('../../../test/vectors/conformance/bundle-verify/', import.meta.url));

function load(name: string): { token: Buffer; signature: Buffer; tsas: ReturnType<typeof parseTrustedRoot>['timestampAuthorities'] } {
  const b = JSON.parse(readFileSync(`${corpus}${name}/bundle.sigstore.json`, 'utf8'));
  const root = parseTrustedRoot(JSON.parse(readFileSync(`${corpus}${name}/trusted_root.json`, 'utf8')));
  return {
    token: Buffer.from(b.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp, 'base64'),
    signature: Buffer.from(b.messageSignature.signature, 'base64'),
    tsas: root.timestampAuthorities,
  };
}

const code = codeOf(VerifyError);

for (const name of ['rekor2-happy-path', 'rekor2-timestamp-with-embedded-cert']) {
  test(`${name}: the token verifies, and flips in its signed parts never do`, () => {
    const { token, signature, tsas } = load(name);
    const t = verifyRfc3161Timestamp(token, signature, tsas);
    assert.ok(t.getTime() > Date.parse('2025-01-01T00:00:00Z'));
    const parsed = parseTimestampResponse(token);
    const offsetOf = (part: Buffer): number => token.indexOf(part);
    const ranges = [
      { start: offsetOf(parsed.tstInfo), length: parsed.tstInfo.length },
      { start: offsetOf(parsed.signedAttrsDer.subarray(2)), length: parsed.signedAttrsDer.length - 2 },
      { start: offsetOf(parsed.signature), length: parsed.signature.length },
    ];
    for (const r of ranges) assert.ok(r.start > 0, 'every signed part is found inside the token');
    fc.assert(
      fc.property(fc.nat({ max: ranges.length - 1 }), fc.nat(), fc.nat({ max: 7 }), (ri, pos, bit) => {
        const r = ranges[ri]!;
        const bad = Buffer.from(token);
        bad[r.start + (pos % r.length)]! ^= 1 << bit;
        assert.equal(code(() => verifyRfc3161Timestamp(bad, signature, tsas)), 'TIMESTAMP_INVALID');
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.nat({ max: token.length - 1 }), fc.nat({ max: 7 }), (pos, bit) => {
        const bad = Buffer.from(token);
        bad[pos]! ^= 1 << bit;
        const c = code(() => verifyRfc3161Timestamp(bad, signature, tsas));
        assert.ok(c === undefined || c === 'TIMESTAMP_INVALID' || c === 'TIMESTAMP_UNTRUSTED', String(c));
      }),
      { numRuns: 300 },
    );
    // The timestamp is over this signature only.
    assert.equal(code(() => verifyRfc3161Timestamp(token, Buffer.from('other signature'), tsas)), 'TIMESTAMP_INVALID');
    assert.equal(code(() => verifyRfc3161Timestamp(token, signature, [])), 'TIMESTAMP_UNTRUSTED');
    assert.equal(code(() => verifyRfc3161Timestamp(Buffer.from('not DER'), signature, tsas)), 'TIMESTAMP_INVALID');
  });
}
