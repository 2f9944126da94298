/**
 * Reads the signers out of a log entry: the canonicalized body stored as the Merkle leaf.
 *
 * Rekor v1 bodies (rekor pkg/types/*): hashedrekord 0.0.1 `spec.signature.publicKey.content`,
 * dsse 0.0.1 `spec.signatures[].verifier`, intoto 0.0.2 `spec.content.envelope.signatures[].publicKey`
 * — each the base64 of a PEM certificate or public key. Rekor v2 bodies (rekor-tiles
 * pkg/types): hashedrekord 0.0.2 `spec.hashedRekordV002.signature.verifier` and the deprecated
 * dsse 0.0.2 `spec.dsseV002.signatures[].verifier`, with `x509Certificate.rawBytes` (DER) or
 * `publicKey.rawBytes` (DER SPKI).
 */
import { fromPemAll, isRecord } from '@cairn/shared';
import { certificateIdentity, keyIdentity, type SignerIdentity } from './identity.ts';

/** An entry with more signatures than this is not believable; it is reported, not parsed. */
export const MAX_ENTRY_SIGNATURES = 16;

export interface ParsedEntry {
  kind: string;
  apiVersion: string;
  signers: SignerIdentity[];
}

/** Why an entry could not be read (reported as an alert: an unreadable signer is unvetted). */
export class EntryParseError extends Error {
  override readonly name = 'EntryParseError';
}

function fail(why: string): never {
  throw new EntryParseError(why);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (!isRecord(v)) fail(`${what} is not an object`);
  return v;
}

function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) fail(`${what} is not a non-empty string`);
  return v;
}

function list(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v) || v.length === 0) fail(`${what} is not a non-empty array`);
  if (v.length > MAX_ENTRY_SIGNATURES) fail(`${what} has too many signatures`);
  return v;
}

function b64(v: unknown, what: string): Buffer {
  const s = str(v, what);
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) fail(`${what} is not base64`);
  return Buffer.from(s, 'base64');
}

/** A v1 verifier: base64 of one PEM block, CERTIFICATE or PUBLIC KEY. */
function fromPemVerifier(v: unknown, what: string): SignerIdentity {
  const pem = b64(v, what).toString('utf8');
  let blocks;
  try {
    blocks = fromPemAll(pem, what);
  } catch {
    fail(`${what} is not PEM`);
  }
  const first = blocks[0]!;
  return identityOf(first.label, first.der, what);
}

function identityOf(label: string, der: Buffer, what: string): SignerIdentity {
  try {
    if (label === 'CERTIFICATE') return certificateIdentity(der);
    if (label === 'PUBLIC KEY') return keyIdentity(der);
  } catch (e) {
    fail(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
  fail(`${what} holds a ${label} block, not a certificate or public key`);
}

/** A v2 verifier: {x509Certificate: {rawBytes}} or {publicKey: {rawBytes}}. */
function fromV2Verifier(v: unknown, what: string): SignerIdentity {
  const verifier = obj(v, what);
  if (verifier.x509Certificate !== undefined) {
    return identityOf('CERTIFICATE', b64(obj(verifier.x509Certificate, `${what}.x509Certificate`).rawBytes, `${what}.x509Certificate.rawBytes`), what);
  }
  if (verifier.publicKey !== undefined) {
    return identityOf('PUBLIC KEY', b64(obj(verifier.publicKey, `${what}.publicKey`).rawBytes, `${what}.publicKey.rawBytes`), what);
  }
  fail(`${what} has neither x509Certificate nor publicKey`);
}

/** Parses an entry body; throws EntryParseError with the reason when it cannot be read. */
export function parseEntry(body: Uint8Array): ParsedEntry {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    fail('body is not JSON');
  }
  const root = obj(json, 'body');
  const kind = str(root.kind, 'kind');
  const apiVersion = str(root.apiVersion, 'apiVersion');
  const spec = obj(root.spec, 'spec');
  const signers: SignerIdentity[] = [];
  switch (`${kind}/${apiVersion}`) {
    case 'hashedrekord/0.0.1': {
      const sig = obj(spec.signature, 'spec.signature');
      signers.push(fromPemVerifier(obj(sig.publicKey, 'spec.signature.publicKey').content, 'spec.signature.publicKey.content'));
      break;
    }
    case 'dsse/0.0.1':
      for (const [i, s] of list(spec.signatures, 'spec.signatures').entries()) {
        signers.push(fromPemVerifier(obj(s, `spec.signatures[${i}]`).verifier, `spec.signatures[${i}].verifier`));
      }
      break;
    case 'intoto/0.0.2': {
      const envelope = obj(obj(spec.content, 'spec.content').envelope, 'spec.content.envelope');
      for (const [i, s] of list(envelope.signatures, 'envelope.signatures').entries()) {
        signers.push(fromPemVerifier(obj(s, `envelope.signatures[${i}]`).publicKey, `envelope.signatures[${i}].publicKey`));
      }
      break;
    }
    case 'hashedrekord/0.0.2': {
      const v2 = obj(spec.hashedRekordV002, 'spec.hashedRekordV002');
      signers.push(fromV2Verifier(obj(v2.signature, 'signature').verifier, 'signature.verifier'));
      break;
    }
    case 'dsse/0.0.2': {
      const v2 = obj(spec.dsseV002, 'spec.dsseV002');
      for (const [i, s] of list(v2.signatures, 'signatures').entries()) {
        signers.push(fromV2Verifier(obj(s, `signatures[${i}]`).verifier, `signatures[${i}].verifier`));
      }
      break;
    }
    default:
      fail(`unsupported entry type ${kind} ${apiVersion}`);
  }
  return { kind, apiVersion, signers };
}
