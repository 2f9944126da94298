/**
 * `cairn hsm init|status`: the service keys (CA root and intermediate, log, CT, TSA root and
 * signing, TUF snapshot and timestamp) generated in a PKCS#11 token, non-extractable, with the
 * CA's and the TSA's certificates built around them in the data directory. `cairn up` and
 * `cairn serve X` then use them with --pkcs11-module (see @cairn/shared/pkcs11 pkcs11Settings).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { systemClock } from '@cairn/shared';
import {
  DEFAULT_PIN_ENV,
  DEFAULT_TOKEN_LABEL,
  Pkcs11Error,
  Pkcs11Signer,
  SERVICE_KEY_LABELS,
  destroyPkcs11Key,
  existingLabels,
  generatePkcs11Key,
  isExtractable,
  serviceKeyUri,
  type ServiceKeyRole,
} from '@cairn/shared/pkcs11';
import { externalTufSigner } from '@cairn/shared/tuf';
import { caFilesExist, initCa, ROOT_KEY_FILE as CA_ROOT_KEY_FILE } from '@cairn/ca';
import { initTsa, tsaFilesExist, ROOT_KEY_FILE as TSA_ROOT_KEY_FILE } from '@cairn/tsa';
import { CliError, parseFlags, type CliIO, type Command } from '../command.ts';
import { validityDays } from '../ceremony-flags.ts';
import { PKCS11_FLAGS, pkcs11FlagSettings } from '../pkcs11-flags.ts';

/** Where `hsm init` writes the public keys of the service keys that have no certificate. */
export const HSM_DIR = 'hsm';
const PUBLIC_FILES: Partial<Record<ServiceKeyRole, string>> = {
  log: 'log.pub',
  ct: 'ct.pub',
  tufSnapshot: 'tuf-snapshot.pub',
  tufTimestamp: 'tuf-timestamp.pub',
};
const ROLES = Object.keys(SERVICE_KEY_LABELS) as ServiceKeyRole[];

const TOKEN_FLAGS = { 'data-dir': { type: 'string' }, ...PKCS11_FLAGS } as const;
const settings = pkcs11FlagSettings;

async function init(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseFlags(
    args,
    { ...TOKEN_FLAGS, org: { type: 'string' }, cn: { type: 'string' }, 'root-days': { type: 'string' }, 'intermediate-days': { type: 'string' }, 'tsa-signing-days': { type: 'string' } },
    false,
  );
  const dataDir = resolve(io.cwd, v['data-dir'] ?? '.cairn');
  const rootDays = validityDays(v['root-days'], '--root-days');
  const interDays = validityDays(v['intermediate-days'], '--intermediate-days');
  const tsaDays = validityDays(v['tsa-signing-days'], '--tsa-signing-days');
  const p = settings(io, v);
  const caDir = join(dataDir, 'ca');
  const tsaDir = join(dataDir, 'tsa');
  const hsmDir = join(dataDir, HSM_DIR);
  // Everything is checked before the first key is made: a refusal changes nothing.
  if (caFilesExist(caDir) || existsSync(join(caDir, CA_ROOT_KEY_FILE))) throw new CliError('USAGE', `${caDir} already holds CA files; use a fresh data directory`);
  if (tsaFilesExist(tsaDir) || existsSync(join(tsaDir, TSA_ROOT_KEY_FILE))) throw new CliError('USAGE', `${tsaDir} already holds TSA files; use a fresh data directory`);
  for (const f of Object.values(PUBLIC_FILES)) if (existsSync(join(hsmDir, f))) throw new CliError('USAGE', `${join(hsmDir, f)} exists; use a fresh data directory`);
  const uris = Object.fromEntries(ROLES.map((r) => [r, serviceKeyUri(p, r)])) as Record<ServiceKeyRole, string>;
  const taken = existingLabels({ modulePath: p.modulePath, uri: uris.ca, pin: p.pin, labels: Object.values(SERVICE_KEY_LABELS) });
  if (taken.length > 0) {
    throw new Pkcs11Error('PKCS11_OBJECT_EXISTS', `token ${p.token} already holds ${taken.join(', ')}; refusing to make a second set (another token, or delete them with the token's own tools)`);
  }

  const made: Partial<Record<ServiceKeyRole, Pkcs11Signer>> = {};
  const written: string[] = [];
  try {
    for (const r of ROLES) made[r] = generatePkcs11Key({ modulePath: p.modulePath, uri: uris[r], pin: p.pin, type: 'ecdsa-p256' });
    const org = v.org ?? 'cairn';
    const cn = v.cn ?? 'cairn';
    const ca = await initCa(caDir, {
      organization: org,
      commonName: cn,
      ...(rootDays !== undefined ? { rootValidityDays: rootDays } : {}),
      ...(interDays !== undefined ? { intermediateValidityDays: interDays } : {}),
      clock: systemClock,
      keys: { root: made.caRoot!, intermediate: made.ca! },
    });
    written.push(...ca.files);
    const tsa = await initTsa(tsaDir, {
      organization: org,
      commonName: `${cn} timestamp authority`,
      ...(rootDays !== undefined ? { rootValidityDays: rootDays } : {}),
      ...(tsaDays !== undefined ? { signingValidityDays: tsaDays } : {}),
      clock: systemClock,
      keys: { root: made.tsaRoot!, signing: made.tsa! },
    });
    written.push(...tsa.files);
    mkdirSync(hsmDir, { recursive: true, mode: 0o700 });
    for (const [r, f] of Object.entries(PUBLIC_FILES) as [ServiceKeyRole, string][]) {
      writeFileSync(join(hsmDir, f), made[r]!.publicKey.toPem(), { mode: 0o644, flag: 'wx' });
      written.push(join(hsmDir, f));
    }
    for (const r of ROLES) if (isExtractable(made[r]!)) throw new CliError('IO_ERROR', `the token made ${uris[r]} extractable; refusing to use it`);
  } catch (e) {
    // Undo: no key in the token and no file without the rest of the set.
    for (const s of Object.values(made)) s.close();
    for (const r of ROLES) {
      if (made[r]) {
        try {
          destroyPkcs11Key({ modulePath: p.modulePath, uri: uris[r], pin: p.pin });
        } catch {
          // Reported by the original error; the token may be gone.
        }
      }
    }
    for (const f of written) rmSync(f, { force: true });
    throw e;
  }
  const lines = ROLES.map((r) => {
    const s = made[r]!;
    const extra = r === 'tufSnapshot' || r === 'tufTimestamp' ? `  TUF key ID ${externalTufSigner(s).keyid}` : '';
    return `  ${SERVICE_KEY_LABELS[r].padEnd(22)} ${uris[r]}${extra}`;
  });
  for (const s of Object.values(made)) s.close();
  io.stdout(
    `generated ${ROLES.length} ECDSA P-256 keys in token ${p.token} (sensitive, not extractable; no private key file written):\n${lines.join('\n')}\n` +
      `certificates: ${join(caDir, 'root.crt.pem')}, ${join(caDir, 'intermediate.crt.pem')}, ${join(tsaDir, 'root.crt.pem')}, ${join(tsaDir, 'signing.crt.pem')}\n` +
      `public keys: ${Object.values(PUBLIC_FILES).map((f) => join(hsmDir, f)).join(', ')}\n` +
      `next: cairn up --data-dir ${dataDir} --pkcs11-module ${p.modulePath}${p.token !== DEFAULT_TOKEN_LABEL ? ` --pkcs11-token ${p.token}` : ''} (PIN in $${DEFAULT_PIN_ENV} or --pin-file F)\n`,
  );
  return 0;
}

function status(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseFlags(args, { ...TOKEN_FLAGS, json: { type: 'boolean' } }, false);
  const p = settings(io, v);
  const rows = ROLES.map((r) => {
    const uri = serviceKeyUri(p, r);
    try {
      const s = Pkcs11Signer.open({ modulePath: p.modulePath, uri, pin: p.pin });
      const row = { label: SERVICE_KEY_LABELS[r], uri, present: true, extractable: isExtractable(s), keyId: s.publicKey.keyId.toString('hex') };
      s.close();
      return row;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'PKCS11_OBJECT_NOT_FOUND') throw e;
      return { label: SERVICE_KEY_LABELS[r], uri, present: false };
    }
  });
  if (v.json === true) io.stdout(JSON.stringify(rows, null, 2) + '\n');
  else {
    for (const r of rows) {
      io.stdout(`${r.label.padEnd(22)} ${r.present ? `present  ${'extractable' in r && r.extractable ? 'EXTRACTABLE' : 'not extractable'}  SHA-256(SPKI) ${'keyId' in r ? r.keyId : ''}` : 'missing'}\n`);
    }
  }
  return Promise.resolve(rows.every((r) => r.present && !('extractable' in r && r.extractable)) ? 0 : 1);
}

const SUBCOMMANDS: Record<string, (args: string[], io: CliIO) => Promise<number>> = { init, status };

export const command: Command = {
  summary: 'service keys in a PKCS#11 token (HSM): cairn hsm init | status',
  subcommands: Object.keys(SUBCOMMANDS),
  usage: `Usage: cairn hsm <subcommand> [options]

The online service keys in a PKCS#11 token (an HSM, a smart card, SoftHSM2). Every key is an
ECDSA P-256 pair generated in the token, CKA_SENSITIVE and not CKA_EXTRACTABLE: the private half
never exists outside it. Keys are found by label (object=) in the token:
  ${Object.values(SERVICE_KEY_LABELS).join(', ')}
The PIN comes from --pin-file F (first line) or the variable --pin-env names (default
${DEFAULT_PIN_ENV}); never from a flag value.

  init --data-dir D --pkcs11-module PATH [--pkcs11-token LABEL] [--pin-file F | --pin-env VAR]
       [--org O] [--cn CN] [--root-days N] [--intermediate-days N] [--tsa-signing-days N]
      Generate the eight keys in the token (default label ${DEFAULT_TOKEN_LABEL}) and build around them the CA's
      root and intermediate certificates (D/ca/root.crt.pem, intermediate.crt.pem) and the TSA's
      (D/tsa/root.crt.pem, signing.crt.pem); write the public keys of the log, CT and TUF online
      keys to D/${HSM_DIR}/ (use tuf-snapshot.pub and tuf-timestamp.pub as --snapshot-key and
      --timestamp-key of a production 'cairn tuf init'). Refuses when the token already holds one
      of the labels or D already holds CA or TSA files; a failure half-way removes what it made.
      Then: cairn up --data-dir D --pkcs11-module PATH (or cairn serve X with the same flags).
  status --pkcs11-module PATH [--pkcs11-token LABEL] [--pin-file F | --pin-env VAR] [--json]
      Whether each service key is in the token and not extractable (exit 1 when one is missing
      or extractable).

Rotations with these keys (the new key generated in the token, signed by the root there):
  cairn ca rotate-intermediate --dir D/ca --pkcs11-module PATH
  cairn tsa rotate-signing --dir D/tsa --pkcs11-module PATH
A token that goes away while serving makes its components not ready; they reconnect by
themselves once it is back (only to the same public keys).`,
  async run(args, io) {
    const [sub, ...rest] = args;
    const fn = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!fn) throw new CliError('USAGE', `cairn hsm needs a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')}`);
    return await fn(rest, io);
  },
};
