/**
 * `cairn tuf ...`: the offline TUF ceremony. None of these subcommands opens a network
 * connection; they read and write a repository directory (layout: services/tuf/src/repository/layout.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { generateKey, loadConfig, privateKeyToPem, systemClock, type KeyType } from '@cairn/shared';
import { writeSecretFile } from '@cairn/shared/key-files';
import { externalTufSigner, keyIdOf, tufKeyFor, type TufKeyJson, type TufSigner } from '@cairn/shared/tuf';
import { Pkcs11Signer, generatePkcs11Key, parsePkcs11Uri, readPin } from '@cairn/shared/pkcs11';
import {
  discardStaged,
  exportRepository,
  importRepository,
  initRepository,
  loadOnlineSigners,
  openTokenOnlineKeys,
  parseDuration,
  publishStaged,
  readKeyFile,
  readSigner,
  signStaged,
  stageRootRotation,
  stageTarget,
  stageTargetsResign,
  stagedStatus,
  MAX_ARCHIVE_BYTES,
  type Expiry,
} from '@cairn/tuf/ceremony';
import { CliError, parseFlags, type CliIO, type Command } from '../command.ts';

const KEY_TYPES: readonly KeyType[] = ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-3072', 'rsa-4096'];
const MAX_GENERATED_KEYS = 32;

function abs(io: CliIO, p: string): string {
  return isAbsolute(p) ? p : resolve(io.cwd, p);
}

function need(v: string | undefined, flag: string): string {
  if (v === undefined || v === '') throw new CliError('USAGE', `${flag} is required`);
  return v;
}

function int(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,3}$/.test(v)) throw new CliError('USAGE', `${flag} must be a small positive integer`);
  return Number(v);
}

function keyType(v: string | undefined): KeyType {
  const t = (v ?? 'ecdsa-p256') as KeyType;
  if (!KEY_TYPES.includes(t)) throw new CliError('USAGE', `--key-type must be one of ${KEY_TYPES.join(', ')}`);
  return t;
}

function passphrase(io: CliIO, envName: string | undefined): string | undefined {
  if (envName === undefined) return undefined;
  const v = io.env[envName];
  if (v === undefined) throw new CliError('USAGE', `environment variable ${envName} is not set`);
  return v;
}

/** Writes a private key (0600) and its public half beside it (`FILE.pub`). */
function writeKeyPair(path: string, key: KeyObject, pass?: string): void {
  writeSecretFile(path, privateKeyToPem(key, pass));
  writeFileSync(`${path}.pub`, createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(), { mode: 0o644 });
}

function onlineKey(io: CliIO, file: string | undefined, type: KeyType): { key: TufKeyJson; privateKey?: KeyObject } {
  if (file === undefined) {
    const privateKey = generateKey(type);
    return { key: tufKeyFor(privateKey), privateKey };
  }
  return readKeyFile(abs(io, file));
}

/** A key named by file (public or private PEM) or by key ID. */
function keyIdArg(io: CliIO, v: string): string {
  if (/^[0-9a-f]{64}$/.test(v) && !existsSync(abs(io, v))) return v;
  return keyIdOf(readKeyFile(abs(io, v)).key);
}

const EXPIRY_FLAGS = {
  'root-expires': { type: 'string' },
  'targets-expires': { type: 'string' },
  'snapshot-expires': { type: 'string' },
  'timestamp-expires': { type: 'string' },
} as const;

function init(args: string[], io: CliIO): number {
  const { values: v } = parseFlags(
    args,
    {
      dir: { type: 'string' },
      'root-key': { type: 'string', multiple: true },
      'targets-key': { type: 'string', multiple: true },
      'generate-keys': { type: 'string' },
      'keys-out': { type: 'string' },
      'key-type': { type: 'string' },
      'root-threshold': { type: 'string' },
      'targets-threshold': { type: 'string' },
      'snapshot-key': { type: 'string' },
      'timestamp-key': { type: 'string' },
      'passphrase-env': { type: 'string' },
      development: { type: 'boolean' },
      ...EXPIRY_FLAGS,
    },
    false,
  );
  const dir = abs(io, need(v.dir, '--dir'));
  const type = keyType(v['key-type']);
  const generate = int(v['generate-keys'], '--generate-keys');
  let rootKeys: TufKeyJson[] = (v['root-key'] ?? []).map((f) => readKeyFile(abs(io, f)).key);
  const generated: string[] = [];
  if (generate !== undefined) {
    if (rootKeys.length > 0) throw new CliError('USAGE', '--generate-keys and --root-key exclude each other');
    if (generate < 1 || generate > MAX_GENERATED_KEYS) throw new CliError('USAGE', `--generate-keys must be 1..${MAX_GENERATED_KEYS}`);
    const out = abs(io, need(v['keys-out'], '--keys-out'));
    const rel = relative(dir, out);
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
      throw new CliError('USAGE', '--keys-out must be outside the repository directory (offline keys never travel with it)');
    }
    const pass = passphrase(io, v['passphrase-env']);
    for (let i = 1; i <= generate; i++) {
      const p = join(out, `keyholder-${i}.pem`);
      if (existsSync(p)) throw new CliError('USAGE', `${p} exists; refusing to overwrite a key`);
    }
    for (let i = 1; i <= generate; i++) {
      const key = generateKey(type);
      const p = join(out, `keyholder-${i}.pem`);
      writeKeyPair(p, key, pass);
      generated.push(p);
      rootKeys.push(tufKeyFor(key));
    }
  }
  if (rootKeys.length === 0) throw new CliError('USAGE', 'give root keyholders with --root-key FILE (repeat) or --generate-keys N --keys-out DIR');
  const targetsKeys = v['targets-key'] ? v['targets-key'].map((f) => readKeyFile(abs(io, f)).key) : rootKeys;
  rootKeys = [...rootKeys];
  const rootThreshold = int(v['root-threshold'], '--root-threshold') ?? 1;
  const targetsThreshold = int(v['targets-threshold'], '--targets-threshold') ?? rootThreshold;
  const snapshot = onlineKey(io, v['snapshot-key'], type);
  const timestamp = onlineKey(io, v['timestamp-key'], type);
  const expiry: Partial<Expiry> = {};
  for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
    const d = v[`${role}-expires`];
    if (d !== undefined) expiry[role] = parseDuration(d);
  }
  const { root } = initRepository({
    dir,
    rootKeys,
    rootThreshold,
    targetsKeys,
    targetsThreshold,
    snapshotKey: snapshot.key,
    timestampKey: timestamp.key,
    expiry,
    clock: systemClock,
    development: v.development === true,
    onlinePrivateKeys: {
      ...(snapshot.privateKey ? { snapshot: snapshot.privateKey } : {}),
      ...(timestamp.privateKey ? { timestamp: timestamp.privateKey } : {}),
    },
  });
  for (const p of generated) io.stdout(`generated keyholder key ${p} (0600) and ${p}.pub\n`);
  io.stdout(
    `staged root v1 (root ${root.roles.root.threshold}-of-${root.roles.root.keyids.length}, targets ${root.roles.targets.threshold}-of-${root.roles.targets.keyids.length}) and empty targets v1 in ${dir}\n` +
      `next: cairn trust build --dir ${v.dir ?? ''} ...; each keyholder: cairn tuf sign --dir ... --key KEYFILE; then cairn tuf publish\n`,
  );
  return 0;
}

const PKCS11_FLAGS = {
  'pkcs11-module': { type: 'string' },
  'pin-file': { type: 'string' },
  'pin-env': { type: 'string' },
} as const;

function pkcs11Args(io: CliIO, v: { 'pkcs11-module'?: string; 'pin-file'?: string; 'pin-env'?: string }): { modulePath: string; pin: string } {
  const modulePath = abs(io, need(v['pkcs11-module'], '--pkcs11-module'));
  const pin = readPin({ ...(v['pin-file'] !== undefined ? { pinFile: abs(io, v['pin-file']) } : {}), ...(v['pin-env'] !== undefined ? { pinEnv: v['pin-env'] } : {}), env: io.env });
  return { modulePath, pin };
}

/** A keyholder key in a PKCS#11 token as a TUF signer (TUF signs ECDSA with SHA-256 on every curve). */
function pkcs11TufSigner(signer: Pkcs11Signer): TufSigner {
  return externalTufSigner(signer);
}

function keygen(args: string[], io: CliIO): number {
  const { values: v } = parseFlags(
    args,
    { out: { type: 'string' }, 'key-type': { type: 'string' }, 'passphrase-env': { type: 'string' }, pkcs11: { type: 'string' }, ...PKCS11_FLAGS },
    false,
  );
  const out = abs(io, need(v.out, '--out'));
  if (v.pkcs11 !== undefined) {
    // The private key is made in the token and never leaves it; only OUT.pub is written.
    if (v['passphrase-env'] !== undefined) throw new CliError('USAGE', '--passphrase-env does not apply to a key in a token (it has a PIN)');
    const type = keyType(v['key-type']);
    if (type !== 'ecdsa-p256' && type !== 'ecdsa-p384') throw new CliError('USAGE', 'keys in a token are ecdsa-p256 or ecdsa-p384');
    if (existsSync(`${out}.pub`)) throw new CliError('USAGE', `${out}.pub exists; refusing to overwrite it`);
    parsePkcs11Uri(v.pkcs11);
    const signer = generatePkcs11Key({ ...pkcs11Args(io, v), uri: v.pkcs11, type });
    const t = pkcs11TufSigner(signer);
    signer.close();
    writeFileSync(`${out}.pub`, signer.publicKey.toPem(), { mode: 0o644 });
    io.stdout(`${t.keyid}  ${v.pkcs11} (in the token, not extractable), public key ${out}.pub\n`);
    return 0;
  }
  if (existsSync(out)) throw new CliError('USAGE', `${out} exists; refusing to overwrite a key`);
  const key = generateKey(keyType(v['key-type']));
  writeKeyPair(out, key, passphrase(io, v['passphrase-env']));
  io.stdout(`${keyIdOf(tufKeyFor(key))}  ${out} (0600), public key ${out}.pub\n`);
  return 0;
}

async function sign(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseFlags(args, { dir: { type: 'string' }, key: { type: 'string' }, 'passphrase-env': { type: 'string' }, ...PKCS11_FLAGS }, false);
  const dir = abs(io, need(v.dir, '--dir'));
  const keyArg = need(v.key, '--key');
  let hsm: Pkcs11Signer | undefined;
  // The URI is checked first: one carrying a PIN is refused before any PIN is read.
  if (keyArg.startsWith('pkcs11:') && parsePkcs11Uri(keyArg)) hsm = Pkcs11Signer.open({ ...pkcs11Args(io, v), uri: keyArg, algorithm: 'ecdsa-p256-sha256' });
  const signer = hsm ? pkcs11TufSigner(hsm) : readSigner(abs(io, keyArg), passphrase(io, v['passphrase-env']));
  let roles;
  try {
    roles = await signStaged(dir, signer);
  } finally {
    hsm?.close();
  }
  io.stdout(`signed staged ${roles.join(' and ')} as key ${signer.keyid}\n`);
  return 0;
}

function status(args: string[], io: CliIO): number {
  const { values: v } = parseFlags(args, { dir: { type: 'string' }, json: { type: 'boolean' } }, false);
  const s = stagedStatus(abs(io, need(v.dir, '--dir')), systemClock);
  if (v.json === true) {
    io.stdout(JSON.stringify(s, null, 2) + '\n');
    return 0;
  }
  const p = s.published;
  io.stdout(`published: root v${p.root ?? '-'}, targets v${p.targets ?? '-'}, snapshot v${p.snapshot ?? '-'}${s.development ? '  (DEVELOPMENT repository)' : ''}\n`);
  for (const w of s.warnings) io.stdout(`WARNING: ${w}\n`);
  if (s.staged.length === 0) io.stdout('nothing staged\n');
  for (const r of s.staged) {
    io.stdout(`staged ${r.role} v${r.version} expires ${r.expires}${r.expired ? ' (EXPIRED)' : ''}: ${r.ready ? 'ready to publish' : 'NOT ready'}\n`);
    for (const t of r.thresholds) {
      io.stdout(`  ${t.by}: ${t.signedBy.length}/${t.threshold} ${t.met ? 'met' : 'not met'}\n`);
      for (const k of t.signedBy) io.stdout(`    signed   ${k}\n`);
      for (const k of t.missing) io.stdout(`    missing  ${k}\n`);
    }
  }
  return 0;
}

async function publish(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseFlags(args, { dir: { type: 'string' }, 'snapshot-key': { type: 'string' }, 'timestamp-key': { type: 'string' } }, false);
  const dir = abs(io, need(v.dir, '--dir'));
  // Without flags the keys come from REPO/online after publish has moved in any staged new ones.
  const explicit = v['snapshot-key'] !== undefined || v['timestamp-key'] !== undefined;
  const online = explicit
    ? loadOnlineSigners(dir, {
        ...(v['snapshot-key'] ? { snapshot: abs(io, v['snapshot-key']) } : {}),
        ...(v['timestamp-key'] ? { timestamp: abs(io, v['timestamp-key']) } : {}),
      })
    : undefined;
  const r = await publishStaged(dir, systemClock, online);
  const parts = [r.root !== undefined ? `root v${r.root}` : '', r.targets !== undefined ? `targets v${r.targets}` : ''].filter(Boolean);
  io.stdout(`published ${parts.join(' and ')} to ${join(dir, 'repository')}\n`);
  if (r.online) io.stdout(`signed snapshot v${r.online.snapshotVersion} and timestamp v${r.online.timestampVersion} with the online keys\n`);
  else io.stdout('no authorised online keys here: the tuf server signs snapshot and timestamp when it loads the repository\n');
  return 0;
}

function rootRotate(args: string[], io: CliIO): number {
  const { values: v } = parseFlags(
    args,
    {
      dir: { type: 'string' },
      'add-root-key': { type: 'string', multiple: true },
      'revoke-root-key': { type: 'string', multiple: true },
      'root-threshold': { type: 'string' },
      'add-targets-key': { type: 'string', multiple: true },
      'revoke-targets-key': { type: 'string', multiple: true },
      'targets-threshold': { type: 'string' },
      'snapshot-key': { type: 'string' },
      'timestamp-key': { type: 'string' },
      'rotate-online-keys': { type: 'boolean' },
      'key-type': { type: 'string' },
    },
    false,
  );
  const dir = abs(io, need(v.dir, '--dir'));
  const type = keyType(v['key-type']);
  const rotate = v['rotate-online-keys'] === true;
  const snap = v['snapshot-key'] !== undefined || rotate ? onlineKey(io, v['snapshot-key'], type) : undefined;
  const ts = v['timestamp-key'] !== undefined || rotate ? onlineKey(io, v['timestamp-key'], type) : undefined;
  const rootThreshold = int(v['root-threshold'], '--root-threshold');
  const targetsThreshold = int(v['targets-threshold'], '--targets-threshold');
  const next = stageRootRotation({
    dir,
    clock: systemClock,
    addRootKeys: (v['add-root-key'] ?? []).map((f) => readKeyFile(abs(io, f)).key),
    removeRootKeys: (v['revoke-root-key'] ?? []).map((k) => keyIdArg(io, k)),
    addTargetsKeys: (v['add-targets-key'] ?? []).map((f) => readKeyFile(abs(io, f)).key),
    removeTargetsKeys: (v['revoke-targets-key'] ?? []).map((k) => keyIdArg(io, k)),
    ...(rootThreshold !== undefined ? { rootThreshold } : {}),
    ...(targetsThreshold !== undefined ? { targetsThreshold } : {}),
    ...(snap ? { snapshotKey: snap.key } : {}),
    ...(ts ? { timestampKey: ts.key } : {}),
    onlinePrivateKeys: {
      ...(snap?.privateKey ? { snapshot: snap.privateKey } : {}),
      ...(ts?.privateKey ? { timestamp: ts.privateKey } : {}),
    },
  });
  io.stdout(
    `staged root v${next.version} (root ${next.roles.root.threshold}-of-${next.roles.root.keyids.length}, targets ${next.roles.targets.threshold}-of-${next.roles.targets.keyids.length}); ` +
      `it needs the root threshold of v${next.version - 1} and of v${next.version}: cairn tuf sign, then cairn tuf publish\n`,
  );
  return 0;
}

function addTarget(args: string[], io: CliIO): number {
  const { values: v } = parseFlags(args, { dir: { type: 'string' }, name: { type: 'string' }, file: { type: 'string' } }, false);
  const file = abs(io, need(v.file, '--file'));
  const name = v.name ?? file.split('/').pop()!;
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch {
    throw new CliError('IO_ERROR', `cannot read ${file}`);
  }
  const changed = stageTarget({ dir: abs(io, need(v.dir, '--dir')), name, content, clock: systemClock });
  io.stdout(changed ? `staged target ${name}\n` : `target ${name} is unchanged\n`);
  return 0;
}

function resignTargets(args: string[], io: CliIO): number {
  const { values: v } = parseFlags(args, { dir: { type: 'string' } }, false);
  const { targets: t, alreadyStaged } = stageTargetsResign(abs(io, need(v.dir, '--dir')), systemClock);
  io.stdout(
    alreadyStaged
      ? `targets v${t.version} is already staged: collect its signatures from the current targets keys (cairn tuf sign)\n`
      : `staged targets v${t.version} with unchanged targets for re-signing\n`,
  );
  return 0;
}

function discard(args: string[], io: CliIO): number {
  const { values: v } = parseFlags(args, { dir: { type: 'string' }, role: { type: 'string' } }, false);
  if (v.role !== undefined && v.role !== 'root' && v.role !== 'targets') throw new CliError('USAGE', '--role must be root or targets');
  const dropped = discardStaged(abs(io, need(v.dir, '--dir')), v.role);
  io.stdout(`discarded staged ${dropped.join(' and ')}; published metadata is unchanged\n`);
  return 0;
}

function exportCmd(args: string[], io: CliIO): number {
  const { values: v } = parseFlags(args, { dir: { type: 'string' }, out: { type: 'string' }, 'include-online-keys': { type: 'boolean' } }, false);
  const gz = exportRepository(abs(io, need(v.dir, '--dir')), { includeOnlineKeys: v['include-online-keys'] === true });
  const out = abs(io, need(v.out, '--out'));
  writeFileSync(out, gz, { mode: v['include-online-keys'] === true ? 0o600 : 0o644 });
  io.stdout(`wrote ${out} (${gz.byteLength} bytes)\n`);
  return 0;
}

async function importCmd(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseFlags(args, { in: { type: 'string' }, dir: { type: 'string' }, server: { type: 'boolean' }, ...PKCS11_FLAGS, 'pkcs11-token': { type: 'string' } }, false);
  if (v['pkcs11-module'] === undefined && (v['pkcs11-token'] !== undefined || v['pin-file'] !== undefined || v['pin-env'] !== undefined)) throw new CliError('USAGE', '--pkcs11-token, --pin-file and --pin-env go with --pkcs11-module');
  // The server's online keys in its PKCS#11 token (cairn hsm init) instead of online/*.pem.
  const token =
    v['pkcs11-module'] === undefined
      ? undefined
      : openTokenOnlineKeys(loadConfig({ flags: { 'pkcs11-module': abs(io, v['pkcs11-module']), ...(v['pkcs11-token'] !== undefined ? { 'pkcs11-token': v['pkcs11-token'] } : {}), ...(v['pin-file'] !== undefined ? { 'pin-file': abs(io, v['pin-file']) } : {}), ...(v['pin-env'] !== undefined ? { 'pin-env': v['pin-env'] } : {}) }, env: io.env }), io.env);
  const inPath = abs(io, need(v.in, '--in'));
  let gz: Buffer;
  try {
    gz = readFileSync(inPath);
  } catch {
    throw new CliError('IO_ERROR', `cannot read ${inPath}`);
  }
  if (gz.byteLength > MAX_ARCHIVE_BYTES) throw new CliError('USAGE', `${inPath} is larger than ${MAX_ARCHIVE_BYTES} bytes`);
  let r;
  try {
    r = await importRepository(gz, abs(io, need(v.dir, '--dir')), { server: v.server === true, ...(token ? { online: token.signers } : {}) });
  } finally {
    token?.close();
  }
  io.stdout(`imported ${r.written} file(s)${r.kept.length > 0 ? `; kept newer ${r.kept.join(', ')}` : ''}\n`);
  if (r.root !== undefined) io.stdout(`published here: root v${r.root}, targets v${r.targets ?? '-'}\n`);
  if (r.online && (r.online.resignedSnapshot || r.online.resignedTimestamp)) {
    io.stdout(`signed snapshot v${r.online.snapshotVersion} and timestamp v${r.online.timestampVersion} with the online keys\n`);
  }
  return 0;
}

const SUBCOMMANDS: Record<string, (args: string[], io: CliIO) => number | Promise<number>> = {
  init,
  keygen,
  'add-target': addTarget,
  sign,
  status,
  publish,
  'root-rotate': rootRotate,
  'resign-targets': resignTargets,
  discard,
  export: exportCmd,
  import: importCmd,
};

export const command: Command = {
  summary: 'TUF repository ceremony: init, sign, status, publish, root-rotate, export, import',
  subcommands: Object.keys(SUBCOMMANDS),
  usage: `Usage: cairn tuf <subcommand> [options]

The offline TUF ceremony. These commands never use the network: run them on air-gapped machines
and carry the repository with 'export'/'import'. REPO holds ceremony.json, staged/ (roles waiting
for signatures), online/ (online snapshot/timestamp keys, 0600) and repository/ (the published
layout 'cairn serve tuf' serves at /tuf/).

  init --dir REPO (--root-key FILE... | --generate-keys N --keys-out DIR) [options]
      Stage root v1 and an empty targets v1.
      --root-key FILE        a root keyholder's public (or private) PEM key; repeat per keyholder
      --generate-keys N      development/test ceremony: generate N keyholder keys into DIR
                             (keyholder-I.pem 0600 + .pub); DIR must be outside REPO
      --targets-key FILE     targets keyholders (repeat; default: the root keyholders)
      --root-threshold M     root signatures needed (default 1)
      --targets-threshold K  targets signatures needed (default: the root threshold)
      --snapshot-key FILE    online snapshot key (private PEM: kept in REPO/online; public PEM:
      --timestamp-key FILE   the server holds the private half); generated when omitted
      --key-type T           for generated keys: ecdsa-p256 (default), ecdsa-p384, ed25519, rsa-3072, rsa-4096
      --root-expires D --targets-expires D --snapshot-expires D --timestamp-expires D
                             validity periods (defaults 365d, 180d, 7d, 1d; units s m h d w)
      --passphrase-env VAR   encrypt generated keyholder keys with the passphrase in $VAR
      --development          mark the root as a development root (x-cairn-development)
  keygen --out FILE [--key-type T] [--passphrase-env VAR]
      Generate one keyholder key: FILE (0600) and FILE.pub; prints the TUF key ID.
  keygen --pkcs11 URI --pkcs11-module PATH (--pin-file F | --pin-env VAR) --out FILE [--key-type T]
      Generate the key in a PKCS#11 token (RFC 7512 URI naming token= and object=; ecdsa-p256 or
      ecdsa-p384; sensitive, not extractable); writes only FILE.pub.
  add-target --dir REPO --file F [--name NAME]
      Stage a target file (use 'cairn trust build --dir REPO' for the Sigstore trust targets).
  sign --dir REPO --key KEYFILE [--passphrase-env VAR]
  sign --dir REPO --key pkcs11:URI --pkcs11-module PATH (--pin-file F | --pin-env VAR)
      Add this keyholder's signature to every staged role the key is authorised for. The PIN of
      a token key comes from a file or an environment variable, never from a flag value.
  status --dir REPO [--json]
      Published versions, warnings for published root/targets close to expiry, and for each
      staged role who signed and whether each threshold (role keys of which root) is met.
  publish --dir REPO [--snapshot-key F --timestamp-key F]
      Refuse staged metadata below threshold (BELOW_THRESHOLD), expired (EXPIRED) or not newer
      (VERSION_NOT_INCREASING), and refuse when the online keys the root names are not here
      unless ceremony.json says the server holds them (ONLINE_KEY_MISSING: keyholders sign, the
      coordinator publishes); otherwise write the published layout and, with the online keys in
      REPO/online (or given), a fresh snapshot and timestamp.
  root-rotate --dir REPO [--add-root-key F]... [--revoke-root-key F|KEYID]... [--root-threshold M]
              [--add-targets-key F]... [--revoke-targets-key F|KEYID]... [--targets-threshold K]
              [--rotate-online-keys | --snapshot-key F --timestamp-key F]
      Stage root N+1; it needs the root thresholds of both N and N+1 ('sign' accepts either).
      After revoking targets keys, also run 'resign-targets' and collect the new targets signatures.
  resign-targets --dir REPO
      Stage the next targets version with unchanged content (after a targets key change, or to
      renew its expiry); a targets version already staged is kept for signing.
  discard --dir REPO [--role root|targets]
      Drop staged roles (both without --role), their staged target files or waiting online keys.
      Published metadata is not touched.
  export --dir REPO --out repo.tar.gz [--include-online-keys]
      Archive ceremony.json, staged/ and repository/ (online/ only with the flag).
  import --in repo.tar.gz --dir REPO [--server] [--pkcs11-module PATH [--pkcs11-token LABEL] (--pin-file F | --pin-env VAR)]
      Check the whole archive (no traversal, no links, size limits), then replace REPO's staged
      roles with the archive's (signatures over the same bytes are merged), add its published
      roots and targets (an older or forked archive is refused), and keep REPO's snapshot and
      timestamp when newer, re-signing them with the online keys here when root or targets changed.
      --server: REPO is the tuf server's data directory; refuse (ONLINE_KEY_MISSING, ...) unless
      the result verifies and its snapshot and timestamp are signed by the keys the root names.
      --pkcs11-module: sign them with the server's online keys in its token (cairn hsm init;
      PIN default from CAIRN_PKCS11_PIN) instead of REPO/online/*.pem.`,
  async run(args, io) {
    const [sub, ...rest] = args;
    const fn = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!fn) throw new CliError('USAGE', `cairn tuf needs a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')}`);
    return await fn(rest, io);
  },
};
