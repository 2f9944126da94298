import { X509Certificate } from 'node:crypto';
import { isRecord, PublicKey } from '@cairn/shared';
import { CliError, parseFlags, type CliIO, type Command } from '../command.ts';
import { SignError } from '@cairn/sign';
import { loadTrustedRootJson } from '@cairn/sign';
import { verifyConsistencyWithHead, verifyLogEntry, type EntryVerification, type HeadConsistency } from '@cairn/sign';
import { pinnedLogKey, trustedRootLogKeys, type LogKeySource } from '@cairn/sign';
import { RekorClient, type LogEntry, type SearchQuery } from '@cairn/sign';

export const DEFAULT_MAX_RESULTS = 50;
export const MAX_RESULTS = 1000;
const MAX_QUERY_LENGTH = 1024;

async function keySource(client: RekorClient, trustedRoot: unknown, _io: CliIO): Promise<LogKeySource> {
  if (trustedRoot !== undefined) return trustedRootLogKeys(trustedRoot);
  let key: PublicKey;
  try {
    key = PublicKey.fromPem(await client.publicKeyPem());
  } catch (e) {
    if (e instanceof SignError) throw e;
    throw new SignError('TLOG_ERROR', 'the log public key is not a PEM public key', { cause: e });
  }
  return pinnedLogKey(key, 'key fetched from the log, not from a trust root', client.baseUrl);
}

/** Best-effort description of a canonical body: kind, what was signed, and by whom. */
export function describeBody(bodyB64: string): { kind: string; subject?: string; signer?: string } {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bodyB64, 'base64').toString('utf8')) as unknown;
  } catch {
    return { kind: 'unknown' };
  }
  if (!isRecord(body) || !isRecord(body.spec)) return { kind: 'unknown' };
  const kind = `${String(body.kind)} ${String(body.apiVersion)}`;
  const spec = body.spec;
  const get = (o: unknown, ...path: (string | number)[]): unknown => path.reduce<unknown>((v, k) => (isRecord(v) ? v[k as string] : Array.isArray(v) ? (v as unknown[])[k as number] : undefined), o);
  let subject: string | undefined;
  let keyB64: unknown;
  if (body.kind === 'hashedrekord') {
    const v = get(spec, 'data', 'hash', 'value');
    if (typeof v === 'string') subject = `artifact sha256:${v}`;
    keyB64 = get(spec, 'signature', 'publicKey', 'content');
  } else if (body.kind === 'dsse') {
    const v = get(spec, 'payloadHash', 'value');
    if (typeof v === 'string') subject = `payload sha256:${v}`;
    keyB64 = get(spec, 'signatures', 0, 'verifier');
  } else if (body.kind === 'intoto') {
    const v = get(spec, 'content', 'payloadHash', 'value');
    if (typeof v === 'string') subject = `payload sha256:${v}`;
    keyB64 = get(spec, 'content', 'envelope', 'signatures', 0, 'publicKey');
  }
  let signer: string | undefined;
  if (typeof keyB64 === 'string') {
    const pem = Buffer.from(keyB64, 'base64').toString('utf8');
    try {
      if (pem.includes('CERTIFICATE')) {
        const c = new X509Certificate(pem);
        signer = `certificate for ${c.subjectAltName ?? '(no SAN)'}`;
      } else {
        signer = `public key sha256:${PublicKey.fromPem(pem).keyId.toString('hex')}`;
      }
    } catch {
      signer = undefined;
    }
  }
  return { kind, ...(subject !== undefined ? { subject } : {}), ...(signer !== undefined ? { signer } : {}) };
}

function printEntry(e: LogEntry, v: EntryVerification | SignError, note: string, io: CliIO): void {
  const d = describeBody(e.body);
  const lines = [
    `entry ${e.uuid}`,
    `  log index:       ${e.logIndex}`,
    `  integrated time: ${new Date(e.integratedTime * 1000).toISOString()} (${e.integratedTime})`,
    `  kind:            ${d.kind}`,
  ];
  if (d.subject !== undefined) lines.push(`  signed:          ${d.subject}`);
  if (d.signer !== undefined) lines.push(`  signer:          ${d.signer}`);
  if (v instanceof SignError) {
    lines.push(`  VERIFICATION FAILED [${v.code}]: ${v.message}`);
  } else {
    lines.push(
      `  verified:        signed entry timestamp (${note})`,
      `                   inclusion proof: leaf ${v.inclusion.logIndex} of tree size ${v.inclusion.treeSize}, root ${v.inclusion.rootHash}`,
      `                   checkpoint "${v.checkpoint.origin}" size ${v.checkpoint.size} signed by ${v.checkpoint.signer}`,
    );
  }
  io.stdout(lines.join('\n') + '\n');
}

function check(e: LogEntry, keys: LogKeySource): EntryVerification | SignError {
  try {
    return verifyLogEntry(e, keys.keyFor(e));
  } catch (err) {
    if (err instanceof SignError) return err;
    throw err;
  }
}

/** Prints every entry with its checks; exit 1 if any entry failed verification. */
/**
 * After the entries: their checkpoints must all be prefixes of the log's current signed tree
 * head (consistency proofs), so a log cannot show this client a fork. Entries of one log only.
 */
async function headCheck(client: RekorClient, keys: LogKeySource, verified: { e: LogEntry; v: EntryVerification }[]): Promise<HeadConsistency | SignError | undefined> {
  const first = verified[0];
  if (first === undefined) return undefined;
  if (verified.some((x) => x.e.logID !== first.e.logID)) return undefined;
  try {
    return await verifyConsistencyWithHead(client, keys.keyFor(first.e), verified.map((x) => ({ size: x.v.inclusion.treeSize, rootHash: x.v.inclusion.rootHash })));
  } catch (err) {
    if (err instanceof SignError) return err;
    throw err;
  }
}

/** Prints every entry with its checks; exit 1 if any entry or the head consistency failed. */
async function show(client: RekorClient, entries: (() => Promise<LogEntry>)[], trust: { 'trusted-root'?: string; 'tuf-cache'?: string }, json: boolean, io: CliIO): Promise<number> {
  const trustedRoot = loadTrustedRootJson(trust, io);
  const keys = await keySource(client, trustedRoot, io);
  if (!json && trustedRoot === undefined) io.stderr('warning: key fetched from the log, not from a trust root (pass --trusted-root to pin it)\n');
  const results: { e: LogEntry; v: EntryVerification | SignError }[] = [];
  for (const next of entries) {
    const e = await next();
    results.push({ e, v: check(e, keys) });
  }
  const verified = results.filter((r): r is { e: LogEntry; v: EntryVerification } => !(r.v instanceof SignError));
  const head = await headCheck(client, keys, verified);
  const failed = results.length - verified.length + (head instanceof SignError ? 1 : 0);
  if (json) {
    const out = results.map(({ e, v }) => {
      if (v instanceof SignError) return { entry: e, verification: { ok: false, code: v.code, message: v.message } };
      if (head instanceof SignError) return { entry: e, verification: { ok: false, code: head.code, message: head.message, ...v } };
      return { entry: e, verification: { ok: true, keySource: keys.note, ...v, ...(head !== undefined ? { consistentWithHead: head.head } : {}) } };
    });
    io.stdout(JSON.stringify(out, null, 2) + '\n');
  } else {
    for (const { e, v } of results) printEntry(e, v, keys.note, io);
    if (head instanceof SignError) io.stdout(`log head: CONSISTENCY FAILED [${head.code}]: ${head.message}\n`);
    else if (head !== undefined) {
      io.stdout(
        `log head: "${head.head.origin}" size ${head.head.size} root ${head.head.rootHash} (signature verified)\n` +
          `          checkpoints of size ${head.consistent.join(', ')} are consistent with it (consistency proofs verified)\n`,
      );
    }
  }
  if (failed > 0) io.stderr(`verification FAILED (${results.length - verified.length} of ${results.length} entries${head instanceof SignError ? ', log head consistency' : ''})\n`);
  return failed > 0 ? 1 : 0;
}

const COMMON = {
  url: { type: 'string' },
  'rekor-url': { type: 'string' },
  'trusted-root': { type: 'string' },
  'tuf-cache': { type: 'string' },
  json: { type: 'boolean' },
} as const;

function logUrl(v: { url?: string; 'rekor-url'?: string }, io: CliIO): string {
  const url = v['rekor-url'] ?? v.url ?? (io.env.CAIRN_URL !== '' ? io.env.CAIRN_URL : undefined);
  if (url === undefined) throw new SignError('URL_MISSING', 'no log URL: pass --url or set CAIRN_URL');
  return url;
}

const SHA_QUERY = /^sha256:[0-9a-f]{64}$/;

async function search(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...COMMON, sha: { type: 'string' }, email: { type: 'string' }, uri: { type: 'string' }, max: { type: 'string' } });
  if (positionals.length !== 0) throw new CliError('USAGE', 'cairn log search takes no positional arguments');
  const q: SearchQuery = {};
  if (values.sha !== undefined) {
    const sha = values.sha.toLowerCase();
    if (!SHA_QUERY.test(sha)) throw new CliError('USAGE', '--sha is sha256:<64 hex>');
    q.hash = sha;
  }
  if (values.email !== undefined) {
    if (values.email === '' || values.email.length > MAX_QUERY_LENGTH) throw new CliError('USAGE', '--email must be a non-empty address');
    q.email = values.email.toLowerCase();
  }
  if (values.uri !== undefined) {
    if (values.uri === '' || values.uri.length > MAX_QUERY_LENGTH) throw new CliError('USAGE', '--uri must be a non-empty URI');
    q.subject = values.uri;
  }
  const given = Object.keys(q).length;
  if (given === 0) throw new CliError('USAGE', 'cairn log search needs --sha, --email or --uri');
  if (given > 1) q.operator = 'and';
  const max = values.max === undefined ? DEFAULT_MAX_RESULTS : Number(values.max);
  if (!Number.isSafeInteger(max) || max < 1 || max > MAX_RESULTS) throw new CliError('USAGE', `--max is 1 to ${MAX_RESULTS}`);
  const client = new RekorClient(logUrl(values, io));
  const uuids = await client.search(q);
  if (uuids.length === 0) {
    io.stderr('no entries found\n');
    if (values.json === true) io.stdout('[]\n');
    return 0;
  }
  if (uuids.length > max) io.stderr(`${uuids.length} entries match; showing the first ${max} (--max)\n`);
  return show(client, uuids.slice(0, max).map((u) => () => client.getEntry(u)), values, values.json === true, io);
}

async function get(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...COMMON, index: { type: 'string' } });
  if (positionals.length > 1) throw new CliError('USAGE', 'cairn log get takes one UUID');
  if ((positionals.length === 1) === (values.index !== undefined)) throw new CliError('USAGE', 'cairn log get needs a UUID or --index N (one of them)');
  const client = new RekorClient(logUrl(values, io));
  let fetchOne: () => Promise<LogEntry>;
  if (values.index !== undefined) {
    if (!/^\d{1,16}$/.test(values.index)) throw new CliError('USAGE', '--index is a non-negative integer');
    const index = Number(values.index);
    fetchOne = () => client.getEntryByIndex(index);
  } else {
    const uuid = positionals[0]!.toLowerCase();
    if (!/^(?:[0-9a-f]{16})?[0-9a-f]{64}$/.test(uuid)) throw new CliError('USAGE', 'a UUID is 64 hex characters (80 with the tree ID)');
    fetchOne = () => client.getEntry(uuid);
  }
  return show(client, [fetchOne], values, values.json === true, io);
}

export const command: Command = {
  summary: 'query the transparency log: cairn log search|get, proofs verified',
  usage: `Usage: cairn log search (--sha sha256:HEX | --email E | --uri U) [--max N] [options]
       cairn log get (UUID | --index N) [options]

search asks the log's index (POST /api/v1/index/retrieve) for entries by artifact digest, signer
email or signer URI (several criteria: all must match), then fetches each entry. get fetches one
entry by UUID (64 hex, or 80 with the tree ID) or by log index.

Every entry printed is verified: its UUID is the leaf hash of its body, the signed entry
timestamp verifies with the log key, the inclusion proof leads to the checkpoint's root, and the
checkpoint signature verifies with the log key. Then the log's current signed tree head is
fetched and verified, and every checkpoint shown is proven a prefix of it (RFC 6962 consistency
proofs), so the log cannot show you a fork. The key comes from --trusted-root or --tuf-cache;
without them the key is fetched from the log itself, and the output says so.

Options:
  --url BASE            the deployment (else CAIRN_URL); --rekor-url URL overrides it
  --trusted-root F      trusted_root.json holding the log key (recommended)
  --tuf-cache DIR|URL   or the trusted root cached by 'cairn trust init' (its cache directory or
                        the mirror URL; re-checked offline)
  --max N               search: at most N entries (default ${DEFAULT_MAX_RESULTS}, at most ${MAX_RESULTS})
  --json                machine-readable output

Exit codes: 0 all entries and the head verified, 1 a verification or the query failed, 2 usage.`,
  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === 'search') return search(rest, io);
    if (sub === 'get') return get(rest, io);
    throw new CliError('USAGE', 'cairn log needs a subcommand: search or get');
  },
};
