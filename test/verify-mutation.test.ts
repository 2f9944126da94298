/**
 * Robustness: any single-bit change to a signed or proven field of a valid bundle is rejected
 * with a VerifyError (a stable code), never accepted and never a crash. Fields: signature,
 * certificate, SET, canonicalized body, inclusion proof hashes and root, checkpoint text, DSSE
 * payload and signature.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseTrustedRoot, verify, VerifyError } from '@cairn/verify';
import { clone, loadCase } from './verify-fixtures.ts';

type Path = Array<string | number>;

function get(o: any, p: Path): any {
  return p.reduce((x, k) => x[k], o);
}

function set(o: any, p: Path, v: unknown): void {
  get(o, p.slice(0, -1))[p[p.length - 1]!] = v;
}

function fieldsOf(b: any): Array<{ path: Path; encoding: 'base64' | 'utf8' }> {
  const out: Array<{ path: Path; encoding: 'base64' | 'utf8' }> = [];
  const vm = ['verificationMaterial'];
  if (b.verificationMaterial.certificate) out.push({ path: [...vm, 'certificate', 'rawBytes'], encoding: 'base64' });
  if (b.verificationMaterial.x509CertificateChain) out.push({ path: [...vm, 'x509CertificateChain', 'certificates', 0, 'rawBytes'], encoding: 'base64' });
  b.verificationMaterial.tlogEntries.forEach((e: any, i: number) => {
    const te = [...vm, 'tlogEntries', i];
    out.push({ path: [...te, 'canonicalizedBody'], encoding: 'base64' });
    out.push({ path: [...te, 'logId', 'keyId'], encoding: 'base64' });
    if (e.inclusionPromise) out.push({ path: [...te, 'inclusionPromise', 'signedEntryTimestamp'], encoding: 'base64' });
    if (e.inclusionProof) {
      out.push({ path: [...te, 'inclusionProof', 'rootHash'], encoding: 'base64' });
      out.push({ path: [...te, 'inclusionProof', 'checkpoint', 'envelope'], encoding: 'utf8' });
      e.inclusionProof.hashes?.forEach((_: unknown, j: number) => out.push({ path: [...te, 'inclusionProof', 'hashes', j], encoding: 'base64' }));
    }
  });
  if (b.messageSignature) {
    out.push({ path: ['messageSignature', 'signature'], encoding: 'base64' });
    out.push({ path: ['messageSignature', 'messageDigest', 'digest'], encoding: 'base64' });
  }
  if (b.dsseEnvelope) {
    out.push({ path: ['dsseEnvelope', 'payload'], encoding: 'base64' });
    out.push({ path: ['dsseEnvelope', 'signatures', 0, 'sig'], encoding: 'base64' });
  }
  return out;
}

for (const name of ['happy-path-v0.1', 'happy-path-v0.3', 'happy-path-intoto-in-dsse-v3', 'rekor2-happy-path', 'managed-key-happy-path']) {
  test(`single-bit mutations of ${name} never verify`, () => {
    const c = loadCase(name);
    const trust = parseTrustedRoot(c.trust);
    const policy = c.keyPem ? { publicKey: c.keyPem } : { identity: c.identity, issuer: c.issuer };
    verify(c.bundle, c.artifact, policy, trust);
    const fields = fieldsOf(c.bundle);
    fc.assert(
      fc.property(fc.nat({ max: fields.length - 1 }), fc.nat(), fc.nat({ max: 7 }), (fi, pos, bit) => {
        const f = fields[fi]!;
        const b = clone(c.bundle);
        const bytes = Buffer.from(get(b, f.path) as string, f.encoding);
        const i = pos % bytes.length;
        bytes[i] = bytes[i]! ^ (1 << bit);
        set(b, f.path, bytes.toString(f.encoding));
        if (f.encoding === 'utf8' && (get(b, f.path) as string) === (get(c.bundle, f.path) as string)) return; // the flip made invalid UTF-8 that decodes the same
        assert.throws(
          () => verify(b, c.artifact, policy, trust),
          (e: unknown) => e instanceof VerifyError,
          `${f.path.join('.')} byte ${i} bit ${bit}`,
        );
      }),
      { numRuns: 400 },
    );
  });
}
