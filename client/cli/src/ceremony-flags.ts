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
