import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isSafeMemberPath, readArchive } from './archive.ts';
import { importRepository } from './import.ts';

/** A hand-made ustar member, so the tests can write what exportRepository never would. */
function member(name: string, data: Buffer, type = '0', sizeOverride?: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write((sizeOverride ?? data.byteLength).toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const pad = Buffer.alloc((512 - (data.byteLength % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}

function archive(...members: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...members, Buffer.alloc(1024)]));
}

const ceremony = member('ceremony.json', Buffer.from('{"format":1,"expiry":{"root":3600,"targets":3600,"snapshot":3600,"timestamp":3600}}'));

test('member paths: only plain relative paths under the repository layout', () => {
  for (const ok of ['ceremony.json', 'repository/1.root.json', 'repository/targets/ab.trusted_root.json', 'staged/targets.json', 'online/snapshot.pem']) {
    assert.equal(isSafeMemberPath(ok), true, ok);
  }
  for (const bad of ['../x', '/etc/passwd', 'repository/../../x', 'repository/./x', 'other/x', 'repository/.hidden', 'repository\\x', '', 'repository//x']) {
    assert.equal(isSafeMemberPath(bad), false, bad);
  }
});

test('a well-formed archive imports', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-tar-'));
  try {
    const r = await importRepository(archive(ceremony, member('staged/', Buffer.alloc(0), '5'), member('staged/targets/notes.txt', Buffer.from('{}'))), dir);
    assert.equal(r.written, 2);
    assert.equal(readFileSync(join(dir, 'staged', 'targets', 'notes.txt'), 'utf8'), '{}');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hostile archives are refused before anything is written', async () => {
  const cases: [string, Buffer, string][] = [
    ['path traversal', archive(ceremony, member('repository/../../evil', Buffer.from('x'))), 'UNSAFE_PATH'],
    ['absolute path', archive(ceremony, member('/tmp/evil', Buffer.from('x'))), 'UNSAFE_PATH'],
    ['symlink', archive(ceremony, member('repository/link', Buffer.alloc(0), '2')), 'UNSAFE_PATH'],
    ['hard link', archive(ceremony, member('repository/link', Buffer.alloc(0), '1')), 'UNSAFE_PATH'],
    ['oversize member', archive(ceremony, member('repository/big', Buffer.alloc(0), '0', 6_000_000)), 'ARCHIVE_TOO_LARGE'],
    ['truncated', gzipSync(Buffer.concat([ceremony, member('repository/x', Buffer.alloc(0), '0', 4096)])), 'INVALID_ARCHIVE'],
    ['duplicate member', archive(ceremony, ceremony), 'INVALID_ARCHIVE'],
    ['no ceremony.json', archive(member('repository/1.root.json', Buffer.from('{}'))), 'INVALID_ARCHIVE'],
    ['bad checksum', gzipSync(Buffer.concat([Buffer.from(ceremony).fill(7, 0, 10), Buffer.alloc(1024)])), 'INVALID_ARCHIVE'],
    ['not gzip', Buffer.from('plain text'), 'INVALID_ARCHIVE'],
    ['gzip bomb', gzipSync(Buffer.alloc(70 * 1024 * 1024)), 'ARCHIVE_TOO_LARGE'],
  ];
  const base = mkdtempSync(join(tmpdir(), 'cairn-tar-'));
  try {
    for (const [name, gz, code] of cases) {
      const dir = join(base, name.replace(/\W/g, '-'));
      await assert.rejects(importRepository(gz, dir), { code }, name);
      assert.equal(existsSync(dir), false, `${name}: nothing written`);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  assert.throws(() => readArchive(Buffer.alloc(65 * 1024 * 1024)), { code: 'ARCHIVE_TOO_LARGE' });
});
