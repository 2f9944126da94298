/**
 * In-toto keyless links go through `@cairn/sign`'s one keyless flow: a token the signing client
 * refuses is refused here with the same code, before the CA or the log is asked. The services are a
 * real HTTP server on 127.0.0.1 that counts the requests it receives.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CairnError } from '@cairn/shared';
import { codeOfAsync } from '../../../test/helpers/codes.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attest } from '@cairn/sign';
import { signLinkKeyless } from './keyless.ts';
import type { Link } from './models.ts';

const codeOf = codeOfAsync(CairnError);

let server: Server;
let url: string;
let requests = 0;

before(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'JWT' })}.${part(claims)}.${Buffer.from('sig').toString('base64url')}`;
}

const LINK: Link = { _type: 'link', name: 'build', materials: {}, products: {}, byproducts: {}, command: [], environment: {} } as unknown as Link;


async function bothPaths(token: string): Promise<{ intoto: string | undefined; sign: string | undefined }> {
  const before = requests;
  const intoto = await codeOf(signLinkKeyless(LINK, { identityToken: token, fulcioUrl: url, rekorUrl: url }));
  const sign = await codeOf(attest(Buffer.from('{}'), { identityToken: token, fulcioUrl: url, rekorUrl: url }));
  assert.equal(requests, before, 'a refused token never reaches the CA or the log');
  return { intoto, sign };
}

test('email_verified "true" (a string) is refused by the in-toto keyless path exactly as by @cairn/sign', async () => {
  const got = await bothPaths(jwt({ sub: 'https://ci.example/p/1', email: 'alice@example.com', email_verified: 'true', exp: Math.floor(Date.now() / 1000) + 600 }));
  assert.deepEqual(got, { intoto: 'TOKEN_INVALID', sign: 'TOKEN_INVALID' });
});

test('an expired token is refused by both paths before the CA is asked', async () => {
  const got = await bothPaths(jwt({ sub: 'https://ci.example/p/1', exp: Math.floor(Date.now() / 1000) - 3600 }));
  assert.deepEqual(got, { intoto: 'TOKEN_EXPIRED', sign: 'TOKEN_EXPIRED' });
});

test('a token that is not a JWT is refused by both paths', async () => {
  const got = await bothPaths('not-a-jwt');
  assert.deepEqual(got, { intoto: 'TOKEN_INVALID', sign: 'TOKEN_INVALID' });
});

test('a CA that answers 500 is CA_REQUEST_FAILED on the in-toto path (CA_ERROR in @cairn/sign), one request with retries 0', async () => {
  const before = requests;
  const token = jwt({ sub: 'https://ci.example/p/1', exp: Math.floor(Date.now() / 1000) + 600 });
  assert.equal(await codeOf(signLinkKeyless(LINK, { identityToken: token, fulcioUrl: url, rekorUrl: url, http: { retries: 0 } })), 'CA_REQUEST_FAILED');
  assert.equal(requests, before + 1);
});
