/**
 * The TSA's ceremony and split deployment as an operator runs them: `cairn tsa init` (keys 0600,
 * encrypted with a passphrase file), then `cairn serve tsa` as its own process with the
 * passphrase from the config, answering an OpenSSL query that OpenSSL then verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cairn, startCairn, tempDir } from './helpers/cli.ts';

test('cairn tsa init (encrypted keys, 0600) then cairn serve tsa: an openssl query verifies; refusals name their code', async () => {
  const dataDir = tempDir('cairn-tsa-cli-');
  const dir = join(dataDir, 'tsa');
  const pass = join(dataDir, 'pass.txt');
  writeFileSync(pass, 'correct horse battery\n', { mode: 0o600 });
  const init = cairn(['tsa', 'init', '--dir', dir, '--passphrase-file', pass, '--cn', 'ACME TSA', '--signing-days', '30']);
  assert.equal(init.status, 0, init.stderr);
  assert.match(init.stdout, /keys encrypted/);
  for (const f of ['root-key.pem', 'signing-key.pem']) {
    assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    assert.match(readFileSync(join(dir, f), 'utf8'), /ENCRYPTED PRIVATE KEY/);
  }
  const again = cairn(['tsa', 'init', '--dir', dir]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /INVALID_TSA_KEYS/);
  const short = join(dataDir, 'short.txt');
  writeFileSync(short, 'short\n');
  assert.equal(cairn(['tsa', 'init', '--dir', join(dataDir, 'other'), '--passphrase-file', short]).status, 2);
  assert.equal(cairn(['tsa', 'init', '--dir', join(dataDir, 'other'), '--curve', 'p521']).status, 2);

  // Without the passphrase the service does not start.
  const noPass = cairn(['serve', 'tsa', '--port', '0', '--data-dir', dataDir]);
  assert.notEqual(noPass.status, 0);
  const up = await startCairn(['serve', 'tsa', '--port', '0', '--data-dir', dataDir, '--set', `tsa.passphraseFile=${pass}`]);
  try {
    const artifact = join(dataDir, 'a.txt');
    writeFileSync(artifact, 'hello\n');
    const tsq = join(dataDir, 'q.tsq');
    assert.equal(spawnSync('openssl', ['ts', '-query', '-data', artifact, '-sha512', '-cert', '-out', tsq]).status, 0);
    const r = await fetch(`${up.url}/api/v1/timestamp`, { method: 'POST', headers: { 'content-type': 'application/timestamp-query' }, body: readFileSync(tsq), signal: AbortSignal.timeout(20_000) });
    assert.equal(r.status, 200);
    const tsr = join(dataDir, 'r.tsr');
    writeFileSync(tsr, Buffer.from(await r.arrayBuffer()));
    const chain = join(dataDir, 'chain.pem');
    writeFileSync(chain, await (await fetch(`${up.url}/api/v1/timestamp/certchain`)).text());
    const v = spawnSync('openssl', ['ts', '-verify', '-in', tsr, '-queryfile', tsq, '-CAfile', chain], { encoding: 'utf8' });
    assert.match(v.stdout, /Verification: OK/, v.stderr);
    const text = spawnSync('openssl', ['ts', '-reply', '-in', tsr, '-text'], { encoding: 'utf8' }).stdout;
    assert.match(text, /Hash Algorithm: sha512/);
    // The other components are not in this process.
    assert.equal((await fetch(`${up.url}/api/v2/log/entries`, { method: 'POST', body: '{}' })).status, 404);
    const info = (await (await fetch(`${up.url}/api/cairn/v1/trust-info`)).json()) as { kind: string; uri: string }[];
    assert.deepEqual(info.map((i) => [i.kind, i.uri]), [['tsa', `${up.url}/api/v1/timestamp`]]);
  } finally {
    await up.stop();
  }
});

test('the deployment shape: keys read-only in their own folder (CAIRN_TSA__KEY_DIR, as docker-compose.yml and 25-tsa.yaml mount them), serial.json in the data dir; a keyDir without keys is NOT_INITIALIZED', async () => {
  const work = tempDir('cairn-tsa-keydir-');
  const keys = join(work, 'tsa-keys');
  const dataDir = join(work, 'data');
  const init = cairn(['tsa', 'init', '--dir', keys, '--cn', 'ACME TSA']);
  assert.equal(init.status, 0, init.stderr);
  // What a deployment mounts: the three files the server needs (the root key stays offline), read-only.
  rmSync(join(keys, 'root-key.pem'));
  for (const f of readdirSync(keys)) chmodSync(join(keys, f), 0o400);
  chmodSync(keys, 0o500);
  const missing = cairn(['serve', 'tsa', '--port', '0', '--data-dir', dataDir], { env: { CAIRN_TSA__KEY_DIR: join(work, 'nothing') } });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /NOT_INITIALIZED/);
  const up = await startCairn(['serve', 'tsa', '--port', '0', '--data-dir', dataDir], { CAIRN_TSA__KEY_DIR: keys });
  try {
    const chain = await (await fetch(`${up.url}/api/v1/timestamp/certchain`)).text();
    assert.ok(chain.endsWith(readFileSync(join(keys, 'root.crt.pem'), 'utf8')), 'the chain ends with the mounted root');
    const artifact = join(work, 'a.txt');
    writeFileSync(artifact, 'hello\n');
    const tsq = join(work, 'q.tsq');
    assert.equal(spawnSync('openssl', ['ts', '-query', '-data', artifact, '-sha256', '-cert', '-out', tsq]).status, 0);
    const r = await fetch(`${up.url}/api/v1/timestamp`, { method: 'POST', headers: { 'content-type': 'application/timestamp-query' }, body: readFileSync(tsq), signal: AbortSignal.timeout(20_000) });
    assert.equal(r.status, 200);
    const tsr = join(work, 'r.tsr');
    writeFileSync(tsr, Buffer.from(await r.arrayBuffer()));
    writeFileSync(join(work, 'chain.pem'), chain);
    const v = spawnSync('openssl', ['ts', '-verify', '-in', tsr, '-queryfile', tsq, '-CAfile', join(work, 'chain.pem')], { encoding: 'utf8' });
    assert.match(v.stdout, /Verification: OK/, v.stderr);
  } finally {
    await up.stop();
    chmodSync(keys, 0o700);
  }
  assert.ok(existsSync(join(dataDir, 'tsa', 'serial.json')), 'the serial counter lives in the writable data dir');
  assert.deepEqual(readdirSync(keys).sort(), ['root.crt.pem', 'signing-key.pem', 'signing.crt.pem'], 'nothing written next to the keys');
});
