/**
 * C2SP signed notes and tlog checkpoints, checked in the browser the way `cairn verify` checks them
 * (client/verify/src/tlog.ts): a signature line under one of the log's names (from its trusted-root
 * baseUrl) with the key hint logId[0:4] that verifies with the log key, and an origin that is the
 * name (Rekor v2) or "<name> - <tree id>" (Rekor v1).
 */
import { equal, fromBase64, utf8 } from './bytes.ts';
import { verifySignature, type VerifyKey } from './webcrypto.ts';
import { logNames } from '@cairn/shared/log-names';

export interface NoteSignature {
  name: string;
  hint: Uint8Array;
  signature: Uint8Array;
}

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  text: string;
  signatures: NoteSignature[];
}

const MAX_NOTE_CHARS = 16_384;

export function parseCheckpoint(envelope: string): Checkpoint {
  if (envelope.length > MAX_NOTE_CHARS) throw new Error('the checkpoint is too long');
  const split = envelope.indexOf('\n\n');
  if (split < 0) throw new Error('the checkpoint has no signature block');
  const text = envelope.slice(0, split + 1);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new Error('the checkpoint needs origin, size and root hash lines');
  const [origin, sizeLine, rootLine] = lines as [string, string, string];
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeLine)) throw new Error('the checkpoint size is not a decimal number');
  const rootHash = fromBase64(rootLine);
  if (rootHash.length !== 32) throw new Error('the checkpoint root hash is not 32 bytes');
  const signatures: NoteSignature[] = [];
  for (const line of envelope.slice(split + 2).split('\n')) {
    if (line === '') continue;
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new Error('a signature line is not "— name signature"');
    const raw = fromBase64(m[2]!);
    if (raw.length < 5) throw new Error('a note signature is too short');
    signatures.push({ name: m[1]!, hint: raw.subarray(0, 4), signature: raw.subarray(4) });
  }
  return { origin, size: Number(sizeLine), rootHash, text, signatures };
}


export interface LogKey {
  baseUrl: string;
  logId: Uint8Array;
  key: VerifyKey;
}

/** The checkpoint with the log name that signed it, or an Error saying why it does not verify. */
export async function verifyCheckpoint(envelope: string, log: LogKey): Promise<{ checkpoint: Checkpoint; signer: string }> {
  const cp = parseCheckpoint(envelope);
  const hint = log.logId.subarray(0, 4);
  const data = utf8(cp.text);
  for (const name of logNames(log.baseUrl)) {
    for (const s of cp.signatures) {
      if (s.name !== name || !equal(s.hint, hint)) continue;
      // Rekor signs ECDSA checkpoints over SHA-256 whatever the curve.
      if (!(await verifySignature(log.key, data, s.signature, 'SHA-256'))) continue;
      const rest = cp.origin.startsWith(`${name} - `) ? cp.origin.slice(name.length + 3) : undefined;
      if (cp.origin !== name && !(rest !== undefined && /^[0-9]{1,20}$/.test(rest))) {
        throw new Error(`the checkpoint origin "${cp.origin.slice(0, 128)}" is not the log's name "${name}"`);
      }
      return { checkpoint: cp, signer: name };
    }
  }
  throw new Error(`the checkpoint carries no valid signature by the log ${log.baseUrl}`);
}
