/**
 * Limits enforced on the same input by more than one package come from `@cairn/shared/limits`: a
 * token the signer is willing to send is one the CA is willing to read, and one byte more is
 * refused by both (each with its own stable code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FixedClock } from '@cairn/shared';
import { MAX_TOKEN_BYTES } from '@cairn/shared/limits';
import { decodeTokenClaims } from '@cairn/sign';
import { builtinIssuersConfig, TokenVerifier } from '@cairn/ca';

/** A syntactically valid compact JWS of exactly `size` characters. */
function tokenOfSize(size: number): string {
  const head = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'JWT' })).toString('base64url');
  const sig = Buffer.from('s'.repeat(64)).toString('base64url');
  const claims = (pad: string): string => Buffer.from(JSON.stringify({ sub: 'x', iss: 'http://127.0.0.1:9/oidc', pad })).toString('base64url');
  let pad = '';
  while (`${head}.${claims(pad)}.${sig}`.length < size) pad += 'a';
  let t = `${head}.${claims(pad)}.${sig}`;
  // base64 grows in steps of 4 characters: trim the signature part to land on the size exactly.
  if (t.length > size) t = t.slice(0, size);
  assert.equal(t.length, size);
  return t;
}

async function caCode(token: string): Promise<string | undefined> {
  const v = new TokenVerifier(builtinIssuersConfig('http://127.0.0.1:9/oidc'), { clock: new FixedClock(0), clockToleranceSeconds: 0, localJwks: new Map([['http://127.0.0.1:9/oidc', () => ({ keys: [] })]]) });
  try {
    await v.verify(token);
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('a token one byte over MAX_TOKEN_BYTES is refused by the signer and by the CA; one at the limit passes the size check of both', async () => {
  const over = tokenOfSize(MAX_TOKEN_BYTES + 1);
  assert.throws(() => decodeTokenClaims(over), (e: { code?: string; message?: string }) => e.code === 'TOKEN_INVALID' && /longer than 16384 bytes/.test(e.message ?? ''));
  assert.equal(await caCode(over), 'MALFORMED_TOKEN');
  const at = tokenOfSize(MAX_TOKEN_BYTES);
  assert.equal(decodeTokenClaims(at).sub, 'x');
  // At the limit the CA goes past the size check to the issuer and the signature (no key: refused later).
  assert.notEqual(await caCode(at), 'MALFORMED_TOKEN');
});
