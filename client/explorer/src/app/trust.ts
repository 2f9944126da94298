/** The trust root as this page uses it: from the TUF chain (tuf.ts), logs with their keys imported once. */
import { fromBase64, toHex } from './bytes.ts';
import { loadTuf, type TufState } from './tuf.ts';
import { hashOfKeyDetails, importSpki, type Hash } from './webcrypto.ts';
import type { LogKey } from './note.ts';

export interface Window {
  start?: string;
  end?: string;
}

export interface TrustedLog extends LogKey {
  kind: 'tlog' | 'ctlog';
  logIdHex: string;
  keyDetails: string;
  hash: Hash;
  validFor: Window;
}

export interface Authority {
  kind: 'ca' | 'tsa';
  subject: string;
  uri: string;
  chain: Uint8Array[];
  validFor: Window;
}

export interface Trust {
  tuf: TufState;
  tlogs: TrustedLog[];
  ctlogs: TrustedLog[];
  authorities: Authority[];
}

interface RawLog {
  baseUrl?: string;
  publicKey?: { rawBytes?: string; keyDetails?: string; validFor?: Window };
  logId?: { keyId?: string };
}
interface RawAuthority {
  subject?: { organization?: string; commonName?: string };
  uri?: string;
  certChain?: { certificates?: { rawBytes?: string }[] };
  validFor?: Window;
}

async function logs(list: unknown, kind: 'tlog' | 'ctlog'): Promise<TrustedLog[]> {
  const out: TrustedLog[] = [];
  for (const l of Array.isArray(list) ? (list as RawLog[]) : []) {
    if (!l.publicKey?.rawBytes || !l.logId?.keyId || typeof l.baseUrl !== 'string') continue;
    const hash = hashOfKeyDetails(l.publicKey.keyDetails);
    try {
      const logId = fromBase64(l.logId.keyId);
      out.push({
        kind,
        baseUrl: l.baseUrl,
        logId,
        logIdHex: toHex(logId),
        key: await importSpki(fromBase64(l.publicKey.rawBytes), hash),
        keyDetails: l.publicKey.keyDetails ?? '',
        hash,
        validFor: l.publicKey.validFor ?? {},
      });
    } catch {
      // a key WebCrypto cannot use is left out: entries of that log then show "log not trusted"
    }
  }
  return out;
}

function authorities(list: unknown, kind: 'ca' | 'tsa'): Authority[] {
  return (Array.isArray(list) ? (list as RawAuthority[]) : []).map((a) => ({
    kind,
    subject: [a.subject?.organization, a.subject?.commonName].filter(Boolean).join(' / '),
    uri: a.uri ?? '',
    chain: (a.certChain?.certificates ?? []).flatMap((c) => {
      try {
        return c.rawBytes ? [fromBase64(c.rawBytes)] : [];
      } catch {
        return [];
      }
    }),
    validFor: a.validFor ?? {},
  }));
}

let cached: Promise<Trust> | undefined;

/** Loaded once per page view (and again after reload()). */
export function trust(): Promise<Trust> {
  cached ??= (async () => {
    const tuf = await loadTuf();
    const tr = tuf.trustedRoot as { tlogs?: unknown; ctlogs?: unknown; certificateAuthorities?: unknown; timestampAuthorities?: unknown };
    return {
      tuf,
      tlogs: await logs(tr.tlogs, 'tlog'),
      ctlogs: await logs(tr.ctlogs, 'ctlog'),
      authorities: [...authorities(tr.certificateAuthorities, 'ca'), ...authorities(tr.timestampAuthorities, 'tsa')],
    };
  })();
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}

export function within(w: Window, t: Date): boolean {
  const s = w.start ? Date.parse(w.start) : -Infinity;
  const e = w.end ? Date.parse(w.end) : Infinity;
  return t.getTime() >= s && t.getTime() <= e;
}
