/**
 * Rekor log keys for checking log answers: from a trusted_root.json `tlogs` list (chosen by log
 * ID, with the entry's integrated time inside `publicKey.validFor`, reference §6.1), or pinned
 * from elsewhere (the log's own /api/v1/log/publicKey, which proves less and is labelled so).
 */
import { fromBase64, isRecord, PublicKey } from '@cairn/shared';
import { SignError } from './errors.ts';
import type { LogEntry } from './rekor.ts';

export const MAX_TLOGS = 256;

export interface LogKeySource {
  keyFor(entry: LogEntry): PublicKey;
  /** Said next to every verified entry: where the key came from. */
  note: string;
}

function time(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new SignError('INPUT_INVALID', 'a trusted root tlog validFor time is not RFC 3339');
  return ms / 1000;
}

export function trustedRootLogKeys(json: unknown): LogKeySource {
  if (!isRecord(json) || !Array.isArray(json.tlogs) || json.tlogs.length > MAX_TLOGS) throw new SignError('INPUT_INVALID', 'the trusted root has no bounded tlogs list');
  const logs: { id: string; key: PublicKey; start?: number; end?: number }[] = [];
  for (const t of json.tlogs) {
    if (!isRecord(t) || !isRecord(t.logId) || !isRecord(t.publicKey) || typeof t.logId.keyId !== 'string' || typeof t.publicKey.rawBytes !== 'string') {
      throw new SignError('INPUT_INVALID', 'a trusted root tlog lacks logId.keyId or publicKey.rawBytes');
    }
    let key: PublicKey;
    try {
      key = PublicKey.fromSpki(fromBase64(t.publicKey.rawBytes, 'tlog public key'));
    } catch {
      // A key type node cannot load cannot have signed a v1 SET either: skip it.
      continue;
    }
    const vf = t.publicKey.validFor;
    logs.push({
      id: fromBase64(t.logId.keyId, 'tlog logId').toString('hex'),
      key,
      start: isRecord(vf) ? time(vf.start) : undefined,
      end: isRecord(vf) ? time(vf.end) : undefined,
    });
  }
  return {
    note: 'log key from the trusted root',
    keyFor(entry) {
      const log = logs.find((l) => l.id === entry.logID);
      if (log === undefined) throw new SignError('LOG_UNTRUSTED', `log ${entry.logID} is not in the trusted root`);
      if ((log.start !== undefined && entry.integratedTime < log.start) || (log.end !== undefined && entry.integratedTime > log.end)) {
        throw new SignError('LOG_UNTRUSTED', `the entry time lies outside the trusted root's validity window of log ${entry.logID}`);
      }
      return log.key;
    },
  };
}

export function pinnedLogKey(key: PublicKey, note: string): LogKeySource {
  return { note, keyFor: () => key };
}
