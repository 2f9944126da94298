/** The signing client's file helpers are `@cairn/shared/io`'s capped read and atomic write, under its own codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { codeOf as codeOfClass } from '../../../test/helpers/codes.ts';
import { SignError } from './errors.ts';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSmallFile, writeFileAtomic } from './inputs.ts';

const codeOf = codeOfClass(SignError);


test('readSmallFile: within the cap it reads; over it, a directory or a missing file is INPUT_INVALID', () => {
  const d = mkdtempSync(join(tmpdir(), 'cairn-sign-files-'));
  writeFileSync(join(d, 'k.pem'), 'x'.repeat(100));
  assert.equal(readSmallFile('k.pem', 100, 'key file', d).length, 100);
  assert.equal(codeOf(() => readSmallFile('k.pem', 99, 'key file', d)), 'INPUT_INVALID');
  assert.equal(codeOf(() => readSmallFile('.', 1 << 20, 'key file', d)), 'INPUT_INVALID');
  assert.equal(codeOf(() => readSmallFile('missing.pem', 100, 'key file', d)), 'INPUT_INVALID');
});

test('writeFileAtomic: replaces the file whole and leaves no temporary; a missing directory is INPUT_INVALID and nothing is created', () => {
  const d = mkdtempSync(join(tmpdir(), 'cairn-sign-files-'));
  writeFileAtomic('b.json', 'old', d);
  const p = writeFileAtomic('b.json', 'new', d);
  assert.equal(readFileSync(p, 'utf8'), 'new');
  assert.deepEqual(readdirSync(d), ['b.json']);
  assert.equal(codeOf(() => writeFileAtomic('no/such/dir/b.json', 'x', d)), 'INPUT_INVALID');
  assert.equal(existsSync(join(d, 'no')), false);
});
