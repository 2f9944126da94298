import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ClientRegistry, hashSecret, parseClientsFile, parseSecretHash } from './clients.ts';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'NO_ERROR';
};

test('secret hashes: sha256 and scrypt verify the right secret only', () => {
  const sha = parseSecretHash(`sha256:${createHash('sha256').update('s3cret').digest('hex')}`);
  assert.equal(sha.matches('s3cret'), true);
  assert.equal(sha.matches('s3cret '), false);
  const scrypt = parseSecretHash(hashSecret('pa55', 10));
  assert.equal(scrypt.matches('pa55'), true);
  assert.equal(scrypt.matches('pa56'), false);
  for (const bad of ['md5:abc', 'sha256:xyz', 'sha256:' + 'a'.repeat(63), 'scrypt:30:8:1:AAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAA==', 'scrypt:10:8:1:AA==:AA==']) {
    assert.equal(code(() => parseSecretHash(bad)), 'INVALID_CLIENTS_FILE', bad);
  }
});

test('a clients file parses URI and email clients; the registry authenticates', () => {
  const clients = parseClientsFile(`
clients:
  - client_id: ci
    secret: one
    sub: https://ci.example.test/p/1
  - client_id: mail
    secret_hash: "${hashSecret('two', 10)}"
    email: m@example.test
    email_verified: true
    audiences: [sigstore]
`);
  assert.equal(clients.length, 2);
  assert.deepEqual(clients[0]!.identity, { sub: 'https://ci.example.test/p/1' });
  assert.deepEqual(clients[1]!.identity, { sub: 'm@example.test', email: 'm@example.test', emailVerified: true });
  const reg = new ClientRegistry(clients);
  assert.equal(reg.authenticate('ci', 'one')?.clientId, 'ci');
  assert.equal(reg.authenticate('ci', 'two'), undefined);
  assert.equal(reg.authenticate('mail', 'two')?.clientId, 'mail');
  assert.equal(reg.authenticate('nobody', 'one'), undefined);
  // A bare list works too (JSON).
  assert.equal(parseClientsFile('[{"client_id":"x","secret":"y","sub":"spiffe://td/w"}]').length, 1);
});

test('bad clients files are refused with INVALID_CLIENTS_FILE', () => {
  const bad = [
    'clients: nope',
    'other: []',
    'clients:\n  - client_id: a\n    sub: https://x.test/a',
    'clients:\n  - client_id: a\n    secret: s\n    secret_hash: sha256:00\n    sub: https://x.test/a',
    'clients:\n  - client_id: a\n    secret: s\n    sub: not-a-uri',
    'clients:\n  - client_id: a\n    secret: s\n    email: a@x.test',
    'clients:\n  - client_id: a\n    secret: s\n    email: nope\n    email_verified: true',
    'clients:\n  - client_id: a\n    secret: s',
    'clients:\n  - client_id: "a b"\n    secret: s\n    sub: https://x.test/a',
    'clients:\n  - client_id: a\n    secret: s\n    sub: https://x.test/a\n    colour: red',
    'clients:\n  - client_id: a\n    secret: s\n    sub: https://x.test/a\n  - client_id: a\n    secret: t\n    sub: https://x.test/b',
    'clients:\n  - client_id: a\n    secret: s\n    sub: https://x.test/a\n    audiences: []',
    '{{{',
  ];
  for (const text of bad) assert.equal(code(() => parseClientsFile(text)), 'INVALID_CLIENTS_FILE', text);
  assert.equal(code(() => parseClientsFile('x'.repeat(1024 * 1024 + 1))), 'INVALID_CLIENTS_FILE');
});
