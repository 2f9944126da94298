/**
 * The TUF ceremony with keyholder keys in PKCS#11 tokens (SoftHSM2): two of three keyholders keep
 * their key in a token (`cairn tuf keygen --pkcs11`, `cairn tuf sign --key pkcs11:...`), the third
 * a passphrase-protected file. A wrong PIN or a missing object is refused with a stable code and
 * the staged roles are left as they were; the PIN appears in no output.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyPublished } from '@cairn/tuf/ceremony';
import { cli, errorCode, makeTrustInfos, must } from './tuf-helpers.ts';
import { SOFTHSM_MODULE, softHsm } from './helpers/softhsm.ts';

let base: string;
const PINS = { alice: '246810', bob: '135791' };

before(() => {
  base = mkdtempSync(join(tmpdir(), 'cairn-ceremony-hsm-'));
  const h = softHsm(join(base, 'softhsm'));
  h.initToken('alice-token', PINS.alice);
  h.initToken('bob-token', PINS.bob);
});
after(() => rmSync(base, { recursive: true, force: true }));

test('two of three keyholders sign with keys in tokens; publish and verify', async () => {
  const coord = join(base, 'coordinator');
  mkdirSync(coord, { recursive: true });
  const pinFile = join(base, 'bob-pin.txt');
  writeFileSync(pinFile, `${PINS.bob}\n`, { mode: 0o600 });
  const hsm = ['--pkcs11-module', SOFTHSM_MODULE];
  const alice = await must(cli(['tuf', 'keygen', '--pkcs11', 'pkcs11:token=alice-token;object=tuf-root', ...hsm, '--pin-env', 'ALICE_PIN', '--out', join(coord, 'alice')], { ALICE_PIN: PINS.alice }));
  assert.match(alice.out, /in the token, not extractable/);
  assert.doesNotMatch(alice.out + alice.err, new RegExp(PINS.alice));
  await must(cli(['tuf', 'keygen', '--pkcs11', 'pkcs11:token=bob-token;object=tuf-root', ...hsm, '--pin-file', pinFile, '--out', join(coord, 'bob')]));
  await must(cli(['tuf', 'keygen', '--out', join(base, 'carol', 'key.pem'), '--passphrase-env', 'P'], { P: 'carol passphrase' }));
  const again = await cli(['tuf', 'keygen', '--pkcs11', 'pkcs11:token=alice-token;object=tuf-root', ...hsm, '--pin-env', 'ALICE_PIN', '--out', join(base, 'dup')], { ALICE_PIN: PINS.alice });
  assert.equal(errorCode(again), 'PKCS11_OBJECT_EXISTS', again.err + again.out);

  const repo = join(coord, 'repo');
  const keys = ['--root-key', join(coord, 'alice.pub'), '--root-key', join(coord, 'bob.pub'), '--root-key', join(base, 'carol', 'key.pem.pub')];
  await must(cli(['tuf', 'init', '--dir', repo, ...keys, '--root-threshold', '2', '--targets-threshold', '2']));
  const infoFile = join(coord, 'trust-info.json');
  writeFileSync(infoFile, JSON.stringify(await makeTrustInfos()));
  await must(cli(['trust', 'build', '--trust-info', infoFile, '--dir', repo]));

  const staged = readFileSync(join(repo, 'staged', 'root.json'));
  const wrongPin = await cli(['tuf', 'sign', '--dir', repo, '--key', 'pkcs11:token=alice-token;object=tuf-root', ...hsm, '--pin-env', 'ALICE_PIN'], { ALICE_PIN: '000000' });
  assert.equal(errorCode(wrongPin), 'PKCS11_PIN_INCORRECT');
  assert.doesNotMatch(wrongPin.err, /000000/, 'the PIN is never printed');
  const missing = await cli(['tuf', 'sign', '--dir', repo, '--key', 'pkcs11:token=alice-token;object=absent', ...hsm, '--pin-env', 'ALICE_PIN'], { ALICE_PIN: PINS.alice });
  assert.equal(errorCode(missing), 'PKCS11_OBJECT_NOT_FOUND');
  assert.equal(errorCode(await cli(['tuf', 'sign', '--dir', repo, '--key', 'pkcs11:token=alice-token;object=tuf-root', ...hsm])), 'PKCS11_PIN_MISSING');
  assert.equal(errorCode(await cli(['tuf', 'sign', '--dir', repo, '--key', 'pkcs11:token=alice-token;object=tuf-root?pin-value=246810', ...hsm])), 'PKCS11_URI_INVALID');
  assert.deepEqual(readFileSync(join(repo, 'staged', 'root.json')), staged, 'refused signatures change nothing');

  await must(cli(['tuf', 'sign', '--dir', repo, '--key', 'pkcs11:token=alice-token;object=tuf-root', ...hsm, '--pin-env', 'ALICE_PIN'], { ALICE_PIN: PINS.alice }));
  await must(cli(['tuf', 'sign', '--dir', repo, '--key', 'pkcs11:token=bob-token;object=tuf-root', ...hsm, '--pin-file', pinFile]));
  const status = JSON.parse((await must(cli(['tuf', 'status', '--dir', repo, '--json']))).out) as { staged: { ready: boolean }[] };
  assert.ok(status.staged.every((s) => s.ready));
  await must(cli(['tuf', 'publish', '--dir', repo]));
  const state = verifyPublished(join(repo, 'repository'));
  assert.equal(state.root.version, 1);
  assert.equal(state.roots[0]!.envelope.signatures.length, 2);
});
