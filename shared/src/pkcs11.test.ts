import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalVerifier } from './crypto.ts';
import { Pkcs11Signer, generatePkcs11Key, isExtractable, parsePkcs11Uri, readPin, relabelPkcs11Key } from './pkcs11.ts';
import { SOFTHSM_MODULE, softHsm } from '../../test/helpers/softhsm.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-pkcs11-'));
  const h = softHsm(dir);
  h.initToken('unit', '1234');
  // SoftHSM reads its token list once, when the module is initialised.
  h.initToken('removable', '4321');
  h.initToken('health', '1111');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('RFC 7512 URIs: attributes, percent-encoding, refusals', () => {
  assert.deepEqual(parsePkcs11Uri('pkcs11:token=my%20token;object=k1;id=%01%02;type=private?module-name=softhsm2'), {
    token: 'my token',
    object: 'k1',
    id: Buffer.from([1, 2]),
    type: 'private',
  });
  for (const bad of ['pkcs11:token=t;object=k?pin-value=1234', 'file:x', 'pkcs11:object=k', 'pkcs11:token=t', 'pkcs11:token=t;object=k;frob=1', 'pkcs11:token=t;object=%zz', 'pkcs11:token=t;token=u;object=k', `pkcs11:token=${'a'.repeat(2000)};object=k`]) {
    assert.throws(() => parsePkcs11Uri(bad), { code: 'PKCS11_URI_INVALID' }, bad);
  }
});

test('PIN from a file or an environment variable only', () => {
  const f = join(dir, 'pin.txt');
  writeFileSync(f, '1234\n');
  assert.equal(readPin({ pinFile: f, env: {} }), '1234');
  assert.equal(readPin({ pinEnv: 'P', env: { P: '1234' } }), '1234');
  assert.throws(() => readPin({ env: {} }), { code: 'PKCS11_PIN_MISSING' });
  assert.throws(() => readPin({ pinEnv: 'P', env: {} }), { code: 'PKCS11_PIN_MISSING' });
  assert.throws(() => readPin({ pinFile: join(dir, 'nope'), env: {} }), { code: 'PKCS11_PIN_MISSING' });
});

test('a key generated in the token: non-extractable, signs DER ECDSA that node:crypto verifies', async () => {
  for (const [type, alg] of [['ecdsa-p256', 'sha256'], ['ecdsa-p384', 'sha384']] as const) {
    const uri = `pkcs11:token=unit;object=key-${type}`;
    const signer = generatePkcs11Key({ modulePath: SOFTHSM_MODULE, uri, pin: '1234', type });
    assert.equal(isExtractable(signer), false);
    const data = Buffer.from(`hello ${type}`);
    const sigs = await Promise.all([signer.sign(data), signer.sign(data), signer.sign(Buffer.from('other'))]);
    assert.ok(verify(alg, data, createPublicKey({ key: signer.publicKey.spki, format: 'der', type: 'spki' }), sigs[0]));
    assert.ok(new LocalVerifier(signer.publicKey).verify(data, sigs[1]), 'concurrent signatures on one session are serialised');
    assert.equal(new LocalVerifier(signer.publicKey).verify(data, sigs[2]), false);
    signer.close();
    assert.throws(() => generatePkcs11Key({ modulePath: SOFTHSM_MODULE, uri, pin: '1234', type }), { code: 'PKCS11_OBJECT_EXISTS' });
    const again = Pkcs11Signer.open({ modulePath: SOFTHSM_MODULE, uri, pin: '1234' });
    assert.deepEqual(again.publicKey.spki, signer.publicKey.spki);
    again.close();
  }
});

test('relabelling a key pair: both objects take the new label; a URI without a label or a bad label changes nothing', () => {
  const signer = generatePkcs11Key({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=unit;object=before-relabel', pin: '1234' });
  const spki = signer.publicKey.spki;
  signer.close();
  // (A wrong PIN is refused by the session open it shares with every token operation, see the next
  // test; not here, where another session of this process may still hold the token logged in and
  // PKCS#11 answers CKR_USER_ALREADY_LOGGED_IN without checking a PIN.)
  const relabel = (uri: string, label: string): number => relabelPkcs11Key({ modulePath: SOFTHSM_MODULE, uri, pin: '1234', label });
  assert.throws(() => relabel('pkcs11:token=unit;id=%01', 'x'), { code: 'PKCS11_URI_INVALID' });
  for (const bad of ['', 'x'.repeat(129)]) assert.throws(() => relabel('pkcs11:token=unit;object=before-relabel', bad), { code: 'PKCS11_URI_INVALID' });
  assert.equal(relabel('pkcs11:token=unit;object=no-such-key', 'x'), 0);
  assert.equal(relabel('pkcs11:token=unit;object=before-relabel', 'after-relabel'), 2);
  const moved = Pkcs11Signer.open({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=unit;object=after-relabel', pin: '1234' });
  assert.deepEqual(moved.publicKey.spki, spki);
  moved.close();
  assert.throws(() => Pkcs11Signer.open({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=unit;object=before-relabel', pin: '1234' }), { code: 'PKCS11_OBJECT_NOT_FOUND' });
});

test('wrong PIN, missing token, missing object, missing module: stable codes', () => {
  assert.throws(() => Pkcs11Signer.open({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=unit;object=key-ecdsa-p256', pin: '9999' }), { code: 'PKCS11_PIN_INCORRECT' });
  assert.throws(() => Pkcs11Signer.open({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=nope;object=k', pin: '1234' }), { code: 'PKCS11_TOKEN_NOT_FOUND' });
  assert.throws(() => Pkcs11Signer.open({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=unit;object=absent', pin: '1234' }), { code: 'PKCS11_OBJECT_NOT_FOUND' });
  assert.throws(() => Pkcs11Signer.open({ modulePath: join(dir, 'no-such.so'), uri: 'pkcs11:token=unit;object=k', pin: '1234' }), { code: 'PKCS11_MODULE_UNAVAILABLE' });
});

test('the token removed while a signer is open: PKCS11_DEVICE_ERROR, not a crash', async () => {
  const signer = generatePkcs11Key({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=removable;object=k', pin: '4321' });
  assert.ok((await signer.sign(Buffer.from('x'))).length > 0);
  // Reinitialising the slot wipes the token under the open session.
  const { execFileSync } = await import('node:child_process');
  execFileSync('softhsm2-util', ['--delete-token', '--token', 'removable'], { env: process.env, stdio: 'pipe' });
  await assert.rejects(signer.sign(Buffer.from('y')), { code: 'PKCS11_DEVICE_ERROR' });
  signer.close();
});

test('pkcs11 settings: module, token, PIN sources; unknown keys and a PIN-less setup refused', async () => {
  const { loadConfig } = await import('./config.ts');
  const { pkcs11Settings, serviceKeyUri } = await import('./pkcs11.ts');
  assert.equal(pkcs11Settings(loadConfig({})), undefined, 'no section: keys are files');
  const flags = { 'pkcs11-module': SOFTHSM_MODULE, 'pkcs11-token': 'my token' };
  const p = pkcs11Settings(loadConfig({ flags }), { CAIRN_PKCS11_PIN: '1234' })!;
  assert.deepEqual(p, { modulePath: SOFTHSM_MODULE, token: 'my token', pin: '1234' });
  assert.equal(serviceKeyUri(p, 'log'), 'pkcs11:token=my%20token;object=cairn-log');
  assert.equal(serviceKeyUri(p, 'log', 'pkcs11:token=t;object=other'), 'pkcs11:token=t;object=other');
  assert.throws(() => serviceKeyUri(p, 'log', 'pkcs11:token=t;object=k?pin-value=1'), { code: 'PKCS11_URI_INVALID' });
  assert.equal(pkcs11Settings(loadConfig({ flags: { ...flags, 'pin-env': 'MY_PIN' } }), { MY_PIN: '99' })!.pin, '99');
  const f = join(dir, 'settings-pin.txt');
  writeFileSync(f, '4321\n');
  assert.equal(pkcs11Settings(loadConfig({ flags: { ...flags, 'pin-file': f } }), {})!.pin, '4321');
  assert.throws(() => pkcs11Settings(loadConfig({ flags }), {}), { code: 'PKCS11_PIN_MISSING' });
  assert.throws(() => pkcs11Settings(loadConfig({ flags: { set: ['pkcs11.frob=1'], ...flags } }), { CAIRN_PKCS11_PIN: '1' }), { code: 'INVALID_CONFIG' });
  assert.throws(() => pkcs11Settings(loadConfig({ flags: { 'pkcs11-token': 'cairn' } }), { CAIRN_PKCS11_PIN: '1' }), { code: 'INVALID_CONFIG' }, 'settings without a module');
  assert.throws(() => pkcs11Settings(loadConfig({ flags: { ...flags, 'pkcs11-token': 'x'.repeat(33) } }), { CAIRN_PKCS11_PIN: '1' }), { code: 'INVALID_CONFIG' });
});

test('health(): ok while the token answers; the token deleted: not ready with PKCS11_DEVICE_ERROR, signing 503', async () => {
  const { execFileSync } = await import('node:child_process');
  const signer = generatePkcs11Key({ modulePath: SOFTHSM_MODULE, uri: 'pkcs11:token=health;object=k', pin: '1111' });
  assert.deepEqual(signer.health(0), { ok: true });
  await signer.settled();
  assert.deepEqual(signer.health(0), { ok: true }, 'the probe found the key');
  execFileSync('softhsm2-util', ['--delete-token', '--token', 'health'], { env: process.env, stdio: 'pipe' });
  signer.health(10_000);
  await signer.settled();
  const h = signer.health(10_001);
  assert.equal(h.ok, false);
  assert.equal(h.code, 'PKCS11_DEVICE_ERROR');
  await assert.rejects(signer.sign(Buffer.from('x')), (e: { code?: string; status?: number }) => e.code === 'PKCS11_DEVICE_ERROR' && e.status === 503);
  signer.close();
  assert.equal(signer.health().ok, false, 'a closed signer is not ready');
});
