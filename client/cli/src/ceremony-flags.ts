/** Flags the key-ceremony commands (`cairn ca init`, `cairn tsa init`) share. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError, type CliIO } from './command.ts';

const MAX_PASSPHRASE_FILE_BYTES = 4096;
const MIN_PASSPHRASE_LENGTH = 8;

/** `--root-days N` and friends: a positive whole number of days, or undefined when not given. */
export function validityDays(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,6}$/.test(v) || Number(v) < 1) throw new CliError('USAGE', `${flag} must be a positive number of days`);
  return Number(v);
}

/** `--passphrase-file F`: its first line, at least 8 characters; undefined when not given. */
export function passphraseFlag(file: string | undefined, io: CliIO): string | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(resolve(io.cwd, file), 'utf8');
  } catch {
    throw new CliError('IO_ERROR', `cannot read ${file}`);
  }
  if (text.length > MAX_PASSPHRASE_FILE_BYTES) throw new CliError('USAGE', 'the passphrase file is too large');
  const passphrase = text.split(/\r?\n/)[0] ?? '';
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) throw new CliError('USAGE', `the passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`);
  return passphrase;
}

/** The flags both ceremonies take; each adds its own validity flag (`--intermediate-days`, `--signing-days`). */
export const CEREMONY_FLAGS = {
  dir: { type: 'string' },
  'passphrase-file': { type: 'string' },
  curve: { type: 'string' },
  org: { type: 'string' },
  cn: { type: 'string' },
  'root-days': { type: 'string' },
} as const;

export type CeremonyCurve = 'p256' | 'p384';

/** `--dir` (required, resolved against the working directory), `--curve` and `--passphrase-file`. */
export function ceremonyBasics(
  values: { dir?: string; curve?: string; 'passphrase-file'?: string },
  io: CliIO,
  what: string,
  defaultCurve: CeremonyCurve,
): { dir: string; curve: CeremonyCurve; passphrase: string | undefined } {
  if (values.dir === undefined) throw new CliError('USAGE', `${what} needs --dir D`);
  const curve = values.curve ?? defaultCurve;
  if (curve !== 'p384' && curve !== 'p256') throw new CliError('USAGE', '--curve must be p256 or p384');
  const passphrase = passphraseFlag(values['passphrase-file'], io);
  return { dir: resolve(io.cwd, values.dir), curve, passphrase };
}
