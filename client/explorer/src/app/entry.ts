/**
 * A log entry as the explorer shows it: its body decoded by kind (hashedrekord, dsse, intoto, in
 * their v1 and v2 versions), the signer's certificate or key, the stored in-toto statement, and
 * the checks behind the verified mark, each done here in the browser.
 */
import { equal, fromBase64, fromHex, fromUtf8, sha256, toHex, utf8 } from './bytes.ts';
import { leafHash, rootFromInclusionProof } from './merkle.ts';
import { verifyCheckpoint } from './note.ts';
import { within, type Trust } from './trust.ts';
import { verifySignature } from './webcrypto.ts';
import { parseCertificate, type Certificate } from './x509.ts';

export interface LogEntry {
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  attestation?: { data?: string };
  verification?: {
    inclusionProof?: { checkpoint: string; hashes: string[]; logIndex: number; rootHash: string; treeSize: number };
    signedEntryTimestamp?: string;
  };
}

export interface Signer {
  certificate?: Certificate;
  certificateDer?: Uint8Array;
  publicKeyPem?: string;
  signature: string;
}

export interface Decoded {
  kind: string;
  apiVersion: string;
  digest: string;
  signers: Signer[];
  statement?: { type: string; predicateType: string; subjects: { name: string; digest: string }[]; predicate: string };
  problems: string[];
}

export interface Check {
  what: string;
  ok: boolean;
  detail: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** A base64 PEM (Rekor v1's publicKey.content / verifier) or raw DER as a signer. */
function signerFromPemB64(b64: string, signature: string): Signer {
  const pem = fromUtf8(fromBase64(b64));
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem);
  if (m) {
    const der = fromBase64(m[1]!);
    return { certificate: parseCertificate(der), certificateDer: der, signature };
  }
  return { publicKeyPem: pem, signature };
}

function signerFromVerifier(v: Record<string, unknown>, signature: string): Signer {
  const cert = str(obj(v.x509Certificate).rawBytes);
  if (cert) {
    const der = fromBase64(cert);
    return { certificate: parseCertificate(der), certificateDer: der, signature };
  }
  const key = str(obj(v.publicKey).rawBytes);
  return { publicKeyPem: key ? `-----BEGIN PUBLIC KEY-----\n${key.replace(/(.{64})/g, '$1\n')}\n-----END PUBLIC KEY-----\n` : '(none)', signature };
}

const hashOf = (h: Record<string, unknown>): string => {
  const alg = str(h.algorithm);
  if (h.digest !== undefined) return `${alg === 'SHA2_384' ? 'sha384' : alg === 'SHA2_512' ? 'sha512' : 'sha256'}:${toHex(fromBase64(str(h.digest)))}`;
  return `${alg || 'sha256'}:${str(h.value)}`;
};

export function decodeEntry(e: LogEntry): Decoded {
  const problems: string[] = [];
  let body: Record<string, unknown> = {};
  try {
    body = obj(JSON.parse(fromUtf8(fromBase64(e.body))));
  } catch {
    problems.push('the entry body is not base64 JSON');
  }
  const kind = str(body.kind);
  const apiVersion = str(body.apiVersion);
  const spec = obj(body.spec);
  const d: Decoded = { kind, apiVersion, digest: '', signers: [], problems };
  try {
    if (kind === 'hashedrekord' && apiVersion === '0.0.1') {
      d.digest = hashOf(obj(obj(spec.data).hash));
      const sig = obj(spec.signature);
      d.signers.push(signerFromPemB64(str(obj(sig.publicKey).content), str(sig.content)));
    } else if (kind === 'hashedrekord' && apiVersion === '0.0.2') {
      const v = obj(spec.hashedRekordV002);
      d.digest = hashOf(obj(v.data));
      const sig = obj(v.signature);
      d.signers.push(signerFromVerifier(obj(sig.verifier), str(sig.content)));
    } else if (kind === 'dsse' && apiVersion === '0.0.1') {
      d.digest = hashOf(obj(spec.payloadHash));
      for (const s of Array.isArray(spec.signatures) ? spec.signatures : []) d.signers.push(signerFromPemB64(str(obj(s).verifier), str(obj(s).signature)));
    } else if (kind === 'dsse' && apiVersion === '0.0.2') {
      const v = obj(spec.dsseV002);
      d.digest = hashOf(obj(v.payloadHash));
      for (const s of Array.isArray(v.signatures) ? v.signatures : []) d.signers.push(signerFromVerifier(obj(obj(s).verifier), str(obj(s).content)));
    } else if (kind === 'intoto' && apiVersion === '0.0.2') {
      const c = obj(spec.content);
      d.digest = hashOf(obj(c.payloadHash));
      for (const s of Array.isArray(obj(c.envelope).signatures) ? (obj(c.envelope).signatures as unknown[]) : []) {
        d.signers.push(signerFromPemB64(str(obj(s).publicKey), fromUtf8(fromBase64(str(obj(s).sig)))));
      }
    } else if (kind) {
      problems.push(`kind ${kind} ${apiVersion} is shown as stored`);
    }
  } catch (err) {
    problems.push(`the ${kind || 'entry'} body could not be decoded: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (e.attestation?.data) {
    try {
      const st = obj(JSON.parse(fromUtf8(fromBase64(e.attestation.data))));
      d.statement = {
        type: str(st._type),
        predicateType: str(st.predicateType),
        subjects: (Array.isArray(st.subject) ? st.subject : []).map((s) => ({
          name: str(obj(s).name),
          digest: Object.entries(obj(obj(s).digest))
            .map(([k, v]) => `${k}:${str(v)}`)
            .join(', '),
        })),
        predicate: JSON.stringify(st.predicate ?? null, null, 2),
      };
    } catch {
      problems.push('the stored attestation is not a JSON statement');
    }
  }
  return d;
}

/** The signer's identity: the first SAN of the certificate (or "public key"). */
export function identityOf(d: Decoded): { identity: string; issuer: string } {
  const c = d.signers[0]?.certificate;
  if (!c) return { identity: d.signers[0]?.publicKeyPem ? 'public key' : '', issuer: '' };
  const issuer = c.extensions.find((x) => x.oid === '1.3.6.1.4.1.57264.1.8') ?? c.extensions.find((x) => x.oid === '1.3.6.1.4.1.57264.1.1');
  return { identity: c.sans[0]?.value ?? c.subject, issuer: issuer?.value ?? '' };
}

/** Every check behind "verified", done here: log trusted, leaf hash, inclusion proof, checkpoint signature, SET. */
export async function verifyEntry(entryId: string, e: LogEntry, t: Trust): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (what: string, ok: boolean, detail: string): void => void checks.push({ what, ok, detail });
  const log = t.tlogs.find((l) => l.logIdHex === e.logID.toLowerCase());
  if (!log) {
    add('log in the trust root', false, `log ${e.logID} is not in trusted_root.json`);
    return checks;
  }
  const when = new Date(e.integratedTime * 1000);
  add('log in the trust root', within(log.validFor, when), `${log.baseUrl} (${log.key.description}), valid ${log.validFor.start ?? '…'} to ${log.validFor.end ?? 'now'}`);
  let body: Uint8Array;
  try {
    body = fromBase64(e.body);
  } catch {
    add('entry body', false, 'not base64');
    return checks;
  }
  const leaf = await leafHash(body);
  const uuid = entryId.slice(-64).toLowerCase();
  add('entry UUID is the leaf hash', toHex(leaf) === uuid, `SHA-256(0x00 || body) = ${toHex(leaf)}`);
  const p = e.verification?.inclusionProof;
  if (!p) {
    add('inclusion proof', false, 'the entry carries no inclusion proof');
    return checks;
  }
  let root: Uint8Array | undefined;
  try {
    const hashes = p.hashes.map((h) => fromHex(h));
    if (hashes.some((h) => h.length !== 32)) throw new Error('a proof hash is not 32 bytes');
    root = await rootFromInclusionProof(p.logIndex, p.treeSize, leaf, hashes);
    const ok = equal(root, fromHex(p.rootHash)) && p.logIndex === e.logIndex;
    add('inclusion proof (RFC 6962)', ok, ok ? `${p.hashes.length} hashes lead from the leaf at ${p.logIndex} to root ${p.rootHash} of size ${p.treeSize}` : `the proof leads to ${toHex(root)}, not the stated root ${p.rootHash}`);
  } catch (err) {
    add('inclusion proof (RFC 6962)', false, err instanceof Error ? err.message : String(err));
  }
  try {
    const { checkpoint, signer } = await verifyCheckpoint(p.checkpoint, log);
    const match = root !== undefined && checkpoint.size === p.treeSize && equal(checkpoint.rootHash, root);
    add('checkpoint signed by the log', match, match ? `signed by ${signer}: size ${checkpoint.size}, root matches the proof` : `the signed checkpoint (size ${checkpoint.size}) does not commit to the proof's root`);
  } catch (err) {
    add('checkpoint signed by the log', false, err instanceof Error ? err.message : String(err));
  }
  if (e.attestation?.data) {
    // The stored statement is not under the SET: it must be the payload whose hash the body logs.
    let ok = false;
    let h = '';
    try {
      h = toHex(await sha256(fromBase64(e.attestation.data)));
      ok = decodeEntry(e).digest === `sha256:${h}`;
    } catch {
      ok = false;
    }
    add('stored statement is the logged payload', ok, ok ? `SHA-256 of the statement = the body's payload hash ${h}` : 'the statement the log returned does not hash to the payload hash in the body');
  }
  const set = e.verification?.signedEntryTimestamp;
  if (set) {
    // The SET: the log's signature over the JCS form of {body, integratedTime, logID, logIndex}.
    const payload = utf8(JSON.stringify({ body: e.body, integratedTime: e.integratedTime, logID: e.logID, logIndex: e.logIndex }));
    let ok = false;
    try {
      ok = await verifySignature(log.key, payload, fromBase64(set), log.hash);
    } catch {
      ok = false;
    }
    add('signed entry timestamp', ok, ok ? `the log promised inclusion at ${when.toISOString()}` : 'the SET does not verify with the log key');
  }
  return checks;
}
