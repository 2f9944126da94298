/**
 * The TSA's ceremony and split deployment as an operator runs them: `cairn tsa init` (keys 0600,
 * encrypted with a passphrase file), then `cairn serve tsa` as its own process with the
 * passphrase from the config, answering an OpenSSL query that OpenSSL then verifies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
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
