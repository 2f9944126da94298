/**
 * The TUF client workflow (TUF spec §5) run in the browser against this server's /tuf/ mirror:
 * root v1 as the anchor (pinned in this browser on first use, so a later change is shown), each
 * newer root signed by the threshold of the old and of itself, then timestamp, snapshot and
 * targets with their signatures, versions, hashes and expiry, and trusted_root.json by its hash.
 */
import { equal, fromBase64, fromHex, fromUtf8, sha256, toHex, utf8 } from './bytes.ts';
import { getBytes } from './api.ts';
import { importSpki, verifySignature, type Hash, type VerifyKey } from './webcrypto.ts';

export interface RoleInfo {
  role: string;
  version: number;
  expires: string;
  threshold: number;
  keyids: string[];
  /** Key IDs whose signature verified. */
  signedBy: string[];
}

export interface TufState {
  roles: RoleInfo[];
  trustedRoot: unknown;
  /** Hex SHA-256 of the root v1 bytes (the anchor). */
  anchor: string;
  warnings: string[];
}

const MAX_ROOTS = 1024;
const MAX_METADATA = 1024 * 1024;

interface Signed {
  signed: Record<string, unknown>;
  signatures: { keyid: string; sig: string }[];
}

/** OLPC canonical JSON as securesystemslib writes it (what TUF signatures cover). */
export function canonicalJson(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error('canonical JSON has no floats');
    return String(v);
  }
  if (typeof v === 'string') return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${canonicalJson(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  throw new Error('not JSON');
}

function pemToDer(pem: string): Uint8Array {
  const m = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
  if (!m) throw new Error('not a PEM public key');
  return fromBase64(m[1]!);
}

const ED25519_SPKI_PREFIX = fromHex('302a300506032b6570032100');

async function tufKey(k: { keytype?: unknown; scheme?: unknown; keyval?: { public?: unknown } }): Promise<{ key: VerifyKey; hash: Hash } | undefined> {
  const pub = k.keyval?.public;
  if (typeof pub !== 'string') return undefined;
  try {
    if (k.scheme === 'ecdsa-sha2-nistp256') return { key: await importSpki(pemToDer(pub)), hash: 'SHA-256' };
    if (k.scheme === 'ecdsa-sha2-nistp384') return { key: await importSpki(pemToDer(pub), 'SHA-384'), hash: 'SHA-384' };
    if (k.scheme === 'ed25519') {
      const raw = /^[0-9a-f]{64}$/.test(pub) ? fromHex(pub) : undefined;
      if (!raw) return undefined;
      const spki = new Uint8Array(ED25519_SPKI_PREFIX.length + 32);
      spki.set(ED25519_SPKI_PREFIX);
      spki.set(raw, ED25519_SPKI_PREFIX.length);
      return { key: await importSpki(spki), hash: 'SHA-256' };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function parseSigned(bytes: Uint8Array, what: string): Signed {
  let v: unknown;
  try {
    v = JSON.parse(fromUtf8(bytes));
  } catch {
    throw new Error(`${what} is not JSON`);
  }
  const s = v as Signed;
  if (typeof s?.signed !== 'object' || s.signed === null || !Array.isArray(s.signatures)) throw new Error(`${what} is not TUF metadata`);
  return s;
}

/** Key IDs of `role` (in `root`) whose signatures over md.signed verify; throws below the threshold. */
async function checkSignatures(md: Signed, root: Record<string, unknown>, role: string, what: string): Promise<RoleInfo> {
  const roles = root.roles as Record<string, { keyids: string[]; threshold: number }>;
  const keys = root.keys as Record<string, { keytype?: unknown; scheme?: unknown; keyval?: { public?: unknown } }>;
  const r = roles?.[role];
  if (!r || !Array.isArray(r.keyids) || !Number.isInteger(r.threshold) || r.threshold < 1) throw new Error(`the root defines no ${role} role`);
  const data = utf8(canonicalJson(md.signed));
  const signedBy = new Set<string>();
  for (const s of md.signatures) {
    if (typeof s?.keyid !== 'string' || typeof s.sig !== 'string' || !r.keyids.includes(s.keyid) || signedBy.has(s.keyid)) continue;
    const k = keys?.[s.keyid] ? await tufKey(keys[s.keyid]!) : undefined;
    if (!k || !/^[0-9a-fA-F]+$/.test(s.sig)) continue;
    if (await verifySignature(k.key, data, fromHex(s.sig), k.hash)) signedBy.add(s.keyid);
  }
  if (signedBy.size < r.threshold) throw new Error(`${what}: ${signedBy.size} valid signature(s) of the ${role} role, threshold ${r.threshold}`);
  return {
    role,
    version: Number(md.signed.version),
    expires: String(md.signed.expires),
    threshold: r.threshold,
    keyids: r.keyids,
    signedBy: [...signedBy],
  };
}

/** How early an expiry is worth a warning: a fraction of each role's usual lifetime (1 d, 7 d, months, a year). */
const WARN_BEFORE_MS: Record<string, number> = { timestamp: 6 * 3_600_000, snapshot: 2 * 86_400_000, targets: 30 * 86_400_000, root: 30 * 86_400_000 };

function expiryWarnings(info: RoleInfo, now: number, warnings: string[]): void {
  const t = Date.parse(info.expires);
  const early = WARN_BEFORE_MS[info.role] ?? 86_400_000;
  if (!Number.isFinite(t)) warnings.push(`${info.role}: expiry "${info.expires}" is not a date`);
  else if (t <= now) warnings.push(`${info.role} v${info.version} EXPIRED at ${info.expires}`);
  else if (t - now < early) warnings.push(`${info.role} v${info.version} expires soon (${info.expires})`);
}

async function checkMeta(bytes: Uint8Array, meta: { version?: number; length?: number; hashes?: Record<string, string> } | undefined, what: string): Promise<void> {
  if (!meta) throw new Error(`${what} is not listed`);
  if (meta.length !== undefined && bytes.length !== meta.length) throw new Error(`${what}: length ${bytes.length}, listed ${meta.length}`);
  const h = meta.hashes?.sha256;
  if (h !== undefined && !equal(await sha256(bytes), fromHex(h))) throw new Error(`${what}: sha256 does not match the listing`);
}

export const PIN_KEY = 'cairn.tuf.root1.sha256';

export async function loadTuf(base = '/tuf/', now = Date.now()): Promise<TufState> {
  const warnings: string[] = [];
  const fetchMd = async (name: string): Promise<Uint8Array> => {
    const b = await getBytes(base + name, MAX_METADATA);
    if (!b) throw new Error(`the TUF mirror has no ${name}`);
    return b;
  };
  const first = await fetchMd('1.root.json');
  const anchor = toHex(await sha256(first));
  const pinned = globalThis.localStorage?.getItem(PIN_KEY);
  if (pinned && pinned !== anchor) throw new Error(`root v1 served now (sha256 ${anchor}) is not the one this browser pinned (${pinned})`);
  if (!pinned) {
    globalThis.localStorage?.setItem(PIN_KEY, anchor);
    warnings.push('root v1 was taken from this server on first use and is now pinned in this browser; compare its SHA-256 with the ceremony record');
  }
  let rootMd = parseSigned(first, '1.root.json');
  let rootInfo = await checkSignatures(rootMd, rootMd.signed, 'root', '1.root.json');
  if (rootInfo.version !== 1) throw new Error('1.root.json is not version 1');
  for (let v = 2; v < MAX_ROOTS; v++) {
    const b = await getBytes(`${base}${v}.root.json`, MAX_METADATA);
    if (!b) break;
    const next = parseSigned(b, `${v}.root.json`);
    await checkSignatures(next, rootMd.signed, 'root', `${v}.root.json (by root v${v - 1})`);
    const info = await checkSignatures(next, next.signed, 'root', `${v}.root.json (by itself)`);
    if (info.version !== v) throw new Error(`${v}.root.json says version ${info.version}`);
    rootMd = next;
    rootInfo = info;
  }
  const root = rootMd.signed;
  const ts = parseSigned(await fetchMd('timestamp.json'), 'timestamp.json');
  const tsInfo = await checkSignatures(ts, root, 'timestamp', 'timestamp.json');
  const snapMeta = (ts.signed.meta as Record<string, { version: number; length?: number; hashes?: Record<string, string> }>)?.['snapshot.json'];
  if (!snapMeta) throw new Error('timestamp.json lists no snapshot');
  const consistent = root.consistent_snapshot === true;
  const snapBytes = await fetchMd(consistent ? `${snapMeta.version}.snapshot.json` : 'snapshot.json');
  await checkMeta(snapBytes, snapMeta, 'snapshot.json');
  const snap = parseSigned(snapBytes, 'snapshot.json');
  const snapInfo = await checkSignatures(snap, root, 'snapshot', 'snapshot.json');
  if (snapInfo.version !== snapMeta.version) throw new Error(`snapshot v${snapInfo.version}, timestamp names v${snapMeta.version}`);
  const targetsMeta = (snap.signed.meta as Record<string, { version: number; length?: number; hashes?: Record<string, string> }>)?.['targets.json'];
  if (!targetsMeta) throw new Error('snapshot.json lists no targets');
  const targetsBytes = await fetchMd(consistent ? `${targetsMeta.version}.targets.json` : 'targets.json');
  await checkMeta(targetsBytes, targetsMeta, 'targets.json');
  const targets = parseSigned(targetsBytes, 'targets.json');
  const targetsInfo = await checkSignatures(targets, root, 'targets', 'targets.json');
  if (targetsInfo.version !== targetsMeta.version) throw new Error(`targets v${targetsInfo.version}, snapshot names v${targetsMeta.version}`);
  for (const i of [rootInfo, tsInfo, snapInfo, targetsInfo]) expiryWarnings(i, now, warnings);
  const trMeta = (targets.signed.targets as Record<string, { length: number; hashes: Record<string, string> }>)?.['trusted_root.json'];
  if (!trMeta?.hashes?.sha256) throw new Error('targets.json lists no trusted_root.json');
  const trBytes = await fetchMd(consistent ? `targets/${trMeta.hashes.sha256}.trusted_root.json` : 'targets/trusted_root.json');
  await checkMeta(trBytes, trMeta, 'trusted_root.json');
  let trustedRoot: unknown;
  try {
    trustedRoot = JSON.parse(fromUtf8(trBytes));
  } catch {
    throw new Error('trusted_root.json is not JSON');
  }
  return { roles: [rootInfo, tsInfo, snapInfo, targetsInfo], trustedRoot, anchor, warnings };
}
