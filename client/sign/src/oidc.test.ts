import { test } from 'node:test';
import assert from 'node:assert/strict';
import { challengeSubject, checkTokenFresh, decodeTokenClaims } from './oidc.ts';
import { resolvePredicateType, buildStatement, SLSA_PROVENANCE_V1 } from './statement.ts';

function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'JWT' })}.${part(claims)}.${Buffer.from('sig').toString('base64url')}`;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

test('PoP subject: a verified email is signed, not sub (reference §1.3)', () => {
  const claims = decodeTokenClaims(jwt({ sub: 'https://ci.example/p/1', email: 'alice@example.com', email_verified: true }));
  assert.equal(challengeSubject(claims), 'alice@example.com');
});

test('PoP subject: sub when there is no email claim', () => {
  assert.equal(challengeSubject(decodeTokenClaims(jwt({ sub: 'https://ci.example.internal/pipelines/42' }))), 'https://ci.example.internal/pipelines/42');
});

test('PoP subject: an email without email_verified true is refused', () => {
  assert.equal(code(() => challengeSubject({ sub: 's', email: 'a@b.c' })), 'TOKEN_INVALID');
  assert.equal(code(() => challengeSubject({ sub: 's', email: 'a@b.c', email_verified: false })), 'TOKEN_INVALID');
  // A string "true" is not the boolean the issuer must send.
  assert.equal(code(() => challengeSubject({ sub: 's', email: 'a@b.c', email_verified: 'true' })), 'TOKEN_INVALID');
  assert.equal(code(() => challengeSubject({ sub: 's', email: '', email_verified: true })), 'TOKEN_INVALID');
});

test('PoP subject: no email and no sub is refused', () => {
  assert.equal(code(() => challengeSubject({ iss: 'x' })), 'TOKEN_INVALID');
  assert.equal(code(() => challengeSubject({ sub: '' })), 'TOKEN_INVALID');
  assert.equal(code(() => challengeSubject({ sub: 42 })), 'TOKEN_INVALID');
});

test('malformed tokens are TOKEN_INVALID, an empty one TOKEN_MISSING', () => {
  assert.equal(code(() => decodeTokenClaims('')), 'TOKEN_MISSING');
  assert.equal(code(() => decodeTokenClaims('abc')), 'TOKEN_INVALID');
  assert.equal(code(() => decodeTokenClaims('a.b.c.d')), 'TOKEN_INVALID');
  assert.equal(code(() => decodeTokenClaims('a.!!.c')), 'TOKEN_INVALID');
  assert.equal(code(() => decodeTokenClaims(`a.${Buffer.from('not json').toString('base64url')}.c`)), 'TOKEN_INVALID');
  assert.equal(code(() => decodeTokenClaims(`a.${Buffer.from('[1]').toString('base64url')}.c`)), 'TOKEN_INVALID');
  assert.equal(code(() => decodeTokenClaims('a'.repeat(20_000))), 'TOKEN_INVALID');
});

test('an expired token is TOKEN_EXPIRED before any network call; leeway applies', () => {
  assert.equal(code(() => checkTokenFresh({ exp: 1000 }, 2000)), 'TOKEN_EXPIRED');
  assert.doesNotThrow(() => checkTokenFresh({ exp: 1990 }, 2000));
  assert.doesNotThrow(() => checkTokenFresh({}, 2000));
  assert.equal(code(() => checkTokenFresh({ exp: 'soon' }, 2000)), 'TOKEN_INVALID');
});

test('predicate types: aliases, URIs, and refusals', () => {
  assert.equal(resolvePredicateType('slsaprovenance'), SLSA_PROVENANCE_V1);
  assert.equal(resolvePredicateType('slsaprovenance02'), 'https://slsa.dev/provenance/v0.2');
  assert.equal(resolvePredicateType('https://example.com/p/v1'), 'https://example.com/p/v1');
  assert.equal(code(() => resolvePredicateType('not a uri')), 'INPUT_INVALID');
  assert.equal(code(() => resolvePredicateType('')), 'INPUT_INVALID');
  assert.equal(code(() => resolvePredicateType('toString')), 'INPUT_INVALID');
  assert.equal(code(() => resolvePredicateType(`https://x/${'a'.repeat(2000)}`)), 'INPUT_INVALID');
});

test('statements: shape of in-toto Statement v1 and refusals', () => {
  const d = 'a'.repeat(64);
  assert.deepEqual(buildStatement([{ name: 'a.txt', digest: { sha256: d } }], SLSA_PROVENANCE_V1, { x: 1 }), {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'a.txt', digest: { sha256: d } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: { x: 1 },
  });
  assert.equal(code(() => buildStatement([], SLSA_PROVENANCE_V1, {})), 'INPUT_INVALID');
  assert.equal(code(() => buildStatement([{ name: 'a', digest: { sha256: 'XYZ' } }], SLSA_PROVENANCE_V1, {})), 'INPUT_INVALID');
  assert.equal(code(() => buildStatement([{ name: 'a', digest: { sha256: d } }], SLSA_PROVENANCE_V1, [1])), 'INPUT_INVALID');
});
