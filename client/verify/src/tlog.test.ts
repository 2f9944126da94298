import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseBundle } from './bundle/index.ts';
import { VerifyError } from './errors.ts';
import { checkBody, type EntryExpectations } from './tlog.ts';
import { Certificate } from './x509.ts';
import { codeOf } from '../../../test/helpers/codes.ts';

const corpus = fileURLToPath(new URL('../../../test/vectors/conformance/bundle-verify/', import.meta.url));

const code = codeOf(VerifyError);

test('intoto 0.0.2 body checks: signature, payload hash, payload type, key', () => {
  const b = parseBundle(JSON.parse(readFileSync(`${corpus}intoto-with-custom-trust-root/bundle.sigstore.json`, 'utf8')));
  assert.equal(b.content.type, 'dsseEnvelope');
  if (b.content.type !== 'dsseEnvelope' || b.verificationMaterial.content.type !== 'x509CertificateChain') return;
  const leaf = Certificate.fromDer(b.verificationMaterial.content.certificates[0]!);
  const entry = b.verificationMaterial.tlogEntries[0]!;
  const expect: EntryExpectations = {
    signature: b.content.signatures[0]!.sig,
    digest: undefined,
    payloadSha256: createHash('sha256').update(b.content.payload).digest(),
    payloadType: b.content.payloadType,
    certificate: leaf.der,
    spki: leaf.spki,
    isDsse: true,
  };
  checkBody(entry, expect);
  assert.equal(code(() => checkBody(entry, { ...expect, payloadType: 'application/other' })), 'TLOG_ENTRY_MISMATCH');
  assert.equal(code(() => checkBody(entry, { ...expect, payloadSha256: Buffer.alloc(32) })), 'TLOG_ENTRY_MISMATCH');
  assert.equal(code(() => checkBody(entry, { ...expect, signature: Buffer.from('x') })), 'TLOG_ENTRY_MISMATCH');
  assert.equal(code(() => checkBody(entry, { ...expect, certificate: Buffer.from('other') })), 'KEY_MISMATCH');
  assert.equal(code(() => checkBody(entry, { ...expect, isDsse: false })), 'TLOG_ENTRY_MISMATCH');
  assert.equal(code(() => checkBody({ ...entry, canonicalizedBody: Buffer.from('not json') }, expect)), 'TLOG_ENTRY_MISMATCH');
  assert.equal(code(() => checkBody({ ...entry, kind: 'rekord' }, expect)), 'TLOG_ENTRY_MISMATCH');
});
