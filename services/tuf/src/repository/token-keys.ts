/**
 * The online TUF keys (snapshot, timestamp) in a PKCS#11 token: with a `pkcs11` section
 * (--pkcs11-module) the tuf server signs with the token's `cairn-tuf-snapshot` and
 * `cairn-tuf-timestamp` (made by `cairn hsm init`), or the URIs in `tuf.pkcs11SnapshotKey` and
 * `tuf.pkcs11TimestampKey`, instead of the PEM files in online/. The root must name these keys:
 * the development ceremony of `cairn up` does; a production root lists their public keys
 * (`cairn hsm init` writes them as tuf-snapshot.pub and tuf-timestamp.pub).
 */
import { section, sectionString, SharedError, type CairnConfig } from '@cairn/shared';
import { openServiceKey, pkcs11Settings, type Pkcs11Signer } from '@cairn/shared/pkcs11';
import { externalTufSigner } from '@cairn/shared/tuf';
import type { OnlineSigners } from './published.ts';

export interface TokenOnlineKeys {
  signers: Required<OnlineSigners>;
  /** The token sessions behind them, for health (not ready when the token is gone) and close. */
  keys: Pkcs11Signer[];
  health(): { ok: boolean; reason?: string; code?: string };
  close(): void;
}

/** Opens the online keys in the token, or undefined when no PKCS#11 module is configured. */
export function openTokenOnlineKeys(config: CairnConfig, env: Record<string, string | undefined> = process.env): TokenOnlineKeys | undefined {
  const s = section(config, 'tuf');
  const snapshotUri = sectionString(s, 'pkcs11SnapshotKey');
  const timestampUri = sectionString(s, 'pkcs11TimestampKey');
  const p11 = pkcs11Settings(config, env);
  if (!p11) {
    if (snapshotUri !== undefined || timestampUri !== undefined) throw new SharedError('INVALID_CONFIG', 'tuf.pkcs11SnapshotKey and tuf.pkcs11TimestampKey need a PKCS#11 module (--pkcs11-module)');
    return undefined;
  }
  const keys: Pkcs11Signer[] = [];
  try {
    keys.push(openServiceKey(p11, 'tufSnapshot', snapshotUri));
    keys.push(openServiceKey(p11, 'tufTimestamp', timestampUri));
    const signers = { snapshot: externalTufSigner(keys[0]!), timestamp: externalTufSigner(keys[1]!) };
    return {
      signers,
      keys,
      health() {
        for (const k of keys) {
          const h = k.health();
          if (!h.ok) return h;
        }
        return { ok: true };
      },
      close() {
        for (const k of keys) k.close();
      },
    };
  } catch (e) {
    for (const k of keys) k.close();
    throw e;
  }
}
