import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { systemClock } from '@cairn/shared';
import { initCa } from '@cairn/ca';
import { CliError, parseFlags, type Command } from '../command.ts';

const MAX_PASSPHRASE_FILE_BYTES = 4096;

export const command: Command = {
  summary: 'CA key ceremony: cairn ca init',
  usage: `Usage: cairn ca init --dir D [--passphrase-file F] [--curve p384|p256] [--org O] [--cn CN]
                    [--root-days N] [--intermediate-days N]

Creates the CA's key material in D: a self-signed root (CA:TRUE, keyCertSign|cRLSign) and an
intermediate (codeSigning EKU, pathlen 0) signed by it, as PKCS#8 private keys (mode 0600,
encrypted with AES-256-CBC when a passphrase is given) and PEM certificates:
  root-key.pem  root.crt.pem  intermediate-key.pem  intermediate.crt.pem
The CA service loads them from <data-dir>/ca (so use --dir <data-dir>/ca), with the passphrase
from CAIRN_CA_PASSPHRASE or ca.passphraseFile. Keep root-key.pem offline after the ceremony: the
service needs only the intermediate key. Refuses to overwrite existing CA files.

Options:
  --dir D                  where to write the files (required)
  --passphrase-file F      encrypt both private keys with the passphrase in F (first line)
  --curve p256|p384        key curve of root and intermediate (default p256; Sigstore's public CA
                           uses P-384, which OpenSSL signs about 40 times slower)
  --org O                  organization of both subjects (default cairn)
  --cn CN                  common name of the root; the intermediate gets "CN intermediate" (default cairn)
  --root-days N            root validity in days (default 3650)
  --intermediate-days N    intermediate validity in days (default min(root, 1825))`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      dir: { type: 'string' },
      'passphrase-file': { type: 'string' },
      curve: { type: 'string' },
      org: { type: 'string' },
      cn: { type: 'string' },
      'root-days': { type: 'string' },
      'intermediate-days': { type: 'string' },
    });
    if (positionals.length !== 1 || positionals[0] !== 'init') throw new CliError('USAGE', 'cairn ca needs the subcommand init');
    if (values.dir === undefined) throw new CliError('USAGE', 'cairn ca init needs --dir D');
    const curve = values.curve ?? 'p384';
    if (curve !== 'p384' && curve !== 'p256') throw new CliError('USAGE', '--curve must be p384 or p256');
    const days = (v: string | undefined, flag: string): number | undefined => {
      if (v === undefined) return undefined;
      if (!/^\d{1,6}$/.test(v) || Number(v) < 1) throw new CliError('USAGE', `${flag} must be a positive number of days`);
      return Number(v);
    };
    let passphrase: string | undefined;
    if (values['passphrase-file'] !== undefined) {
      let text: string;
      try {
        text = readFileSync(resolve(io.cwd, values['passphrase-file']), 'utf8');
      } catch {
        throw new CliError('IO_ERROR', `cannot read ${values['passphrase-file']}`);
      }
      if (text.length > MAX_PASSPHRASE_FILE_BYTES) throw new CliError('USAGE', 'the passphrase file is too large');
      passphrase = text.split(/\r?\n/)[0] ?? '';
      if (passphrase.length < 8) throw new CliError('USAGE', 'the passphrase must be at least 8 characters');
    }
    const dir = resolve(io.cwd, values.dir);
    const result = await initCa(dir, {
      curve,
      passphrase,
      organization: values.org,
      commonName: values.cn,
      rootValidityDays: days(values['root-days'], '--root-days'),
      intermediateValidityDays: days(values['intermediate-days'], '--intermediate-days'),
      clock: systemClock,
    });
    io.stdout(`created CA in ${dir}${passphrase !== undefined ? ' (keys encrypted)' : ''}:\n${result.files.map((f) => `  ${f}`).join('\n')}\n`);
    return 0;
  },
};
