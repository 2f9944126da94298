import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT, exportJWK } from 'jose';
import { FixedClock } from '@cairn/shared';
import { CaError } from '../errors.ts';
import { builtinIssuersConfig } from './config.ts';
import { TokenVerifier } from './verifier.ts';

const ISS = 'http://127.0.0.1:9/oidc';

async function setup() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...(await exportJWK(createPublicKey(privateKey))), kid: 'k1', alg: 'ES256' };
  const clock = new FixedClock(Date.UTC(2030, 0, 1));
  const verifier = new TokenVerifier(builtinIssuersConfig(ISS), { clock, clockToleranceSeconds: 10, localJwks: new Map([[ISS, () => ({ keys: [jwk] })]]) });
  const now = Math.floor(clock.now().getTime() / 1000);
  const token = await new SignJWT({ sub: 'https://x.test/a' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(ISS).setAudience('sigstore').setIssuedAt(now).setExpirationTime(now + 600).sign(privateKey);
  return { verifier, token, clock };
}

test('the verifier honours the injected clock for exp and nbf, with the configured tolerance', async () => {
  const { verifier, token, clock } = await setup();
  assert.equal((await verifier.verify(token)).claims.sub, 'https://x.test/a');
  clock.advance(605 * 1000); // 5 s past exp: inside the 10 s tolerance
  await verifier.verify(token);
  clock.advance(10 * 1000);
  await assert.rejects(verifier.verify(token), (e: any) => e.code === 'TOKEN_EXPIRED');
});

test('random strings and mutated tokens only ever fail with a CaError (fast-check)', async () => {
  const { verifier, token } = await setup();
  const codeOf = async (t: string): Promise<string> => {
    try {
      await verifier.verify(t);
      return 'OK';
    } catch (e) {
      assert.ok(e instanceof CaError, `not a CaError: ${String(e)}`);
      return e.code;
    }
  };
  await fc.assert(
    fc.asyncProperty(fc.string({ maxLength: 200 }), async (s) => (await codeOf(s)) !== 'OK'),
    { numRuns: 200 },
  );
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  await fc.assert(
    fc.asyncProperty(fc.nat(token.length - 1), fc.nat(63), async (i, c) => {
      if (token[i] === '.' || token[i] === alphabet[c]) return true;
      const mutated = token.slice(0, i) + alphabet[c] + token.slice(i + 1);
      const code = await codeOf(mutated);
      // Only a change in the signature's unused base64url tail bits (same decoded bytes) may pass.
      const same = mutated.split('.').every((seg, k) => seg === token.split('.')[k] || (k === 2 && Buffer.from(seg, 'base64url').equals(Buffer.from(token.split('.')[2]!, 'base64url'))));
      return code !== 'OK' || same;
    }),
    { numRuns: 200 },
  );
});

test('OIDC discovery is read with a byte cap and no redirect: an oversized streamed document or a redirect to another host is ISSUER_UNREACHABLE', async () => {
  const { createServer } = await import('node:http');
  const hits: string[] = [];
  const other = createServer((req, res) => {
    hits.push(`other${req.url}`);
    res.end('{}');
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  const otherUrl = `http://127.0.0.1:${(other.address() as { port: number }).port}`;
  let base = '';
  const issuer = createServer((req, res) => {
    hits.push(`issuer${req.url}`);
    if (req.url?.startsWith('/big/')) {
      // A valid document, but 300 KiB (150 K characters): the cap counts bytes, and holds while
      // streaming (no content-length). Were it read, the JWKS would be asked for next.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`{"issuer":"${base}/big","jwks_uri":"${base}/big/jwks","pad":"`);
      for (let i = 0; i < 150; i++) res.write('é'.repeat(1024));
      res.end('"}');
    } else res.writeHead(302, { location: `${otherUrl}/.well-known/openid-configuration` }).end();
  });
  await new Promise<void>((r) => issuer.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(issuer.address() as { port: number }).port}`;
  try {
    for (const iss of [`${base}/big`, `${base}/redirect`]) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const clock = new FixedClock(Date.now());
      const verifier = new TokenVerifier(builtinIssuersConfig(iss), { clock, clockToleranceSeconds: 10 });
      const now = Math.floor(clock.now().getTime() / 1000);
      const token = await new SignJWT({ sub: 'https://x.test/a' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(iss).setAudience('sigstore').setIssuedAt(now).setExpirationTime(now + 600).sign(privateKey);
      await assert.rejects(verifier.verify(token), (e: any) => e instanceof CaError && e.code === 'ISSUER_UNREACHABLE');
    }
    assert.deepEqual(hits, ['issuer/big/.well-known/openid-configuration', 'issuer/redirect/.well-known/openid-configuration'], 'the other host is never asked');
  } finally {
    issuer.closeAllConnections();
    issuer.close();
    other.close();
  }
});
