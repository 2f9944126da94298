import { systemClock } from '@cairn/shared';
import { initTsa } from '@cairn/tsa';
import { CliError, parseFlags, type Command } from '../command.ts';
import { CEREMONY_FLAGS, ceremonyBasics, validityDays } from '../ceremony-flags.ts';

export const command: Command = {
  summary: 'timestamp authority key ceremony: cairn tsa init',
  usage: `Usage: cairn tsa init --dir D [--passphrase-file F] [--curve p256|p384] [--org O] [--cn CN]
                     [--root-days N] [--signing-days N]

Creates the RFC 3161 timestamp authority's key material in D: a self-signed root (CA:TRUE,
keyCertSign|cRLSign) and a timestamp signing certificate issued by it (critical extended key
usage timeStamping and nothing else, digitalSignature, not a CA: RFC 3161 §2.3), as PKCS#8
private keys (mode 0600, encrypted with AES-256-CBC when a passphrase is given) and PEM
certificates:
  root-key.pem  root.crt.pem  signing-key.pem  signing.crt.pem
The TSA service loads them from <data-dir>/tsa (so use --dir <data-dir>/tsa), with the passphrase
from CAIRN_TSA_PASSPHRASE or tsa.passphraseFile. Keep root-key.pem offline after the ceremony: the
service needs only the signing key. Refuses to overwrite existing TSA files. 'cairn up' creates a
DEVELOPMENT TSA on first start when there is none.

Options:
  --dir D                where to write the files (required)
  --passphrase-file F    encrypt both private keys with the passphrase in F (first line)
  --curve p256|p384      key curve (default p256: one timestamp is one ECDSA signature, and
                         OpenSSL signs P-384 far slower)
  --org O                organization of both subjects (default cairn)
  --cn CN                common name of the signing certificate; the root gets "CN root"
                         (default "cairn timestamp authority")
  --root-days N          root validity in days (default 3650)
  --signing-days N       signing certificate validity in days (default min(root, 1825)); timestamps
                         verify only for times inside it`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { ...CEREMONY_FLAGS, 'signing-days': { type: 'string' } });
    if (positionals.length !== 1 || positionals[0] !== 'init') throw new CliError('USAGE', 'cairn tsa needs the subcommand init');
    const { dir, curve, passphrase } = ceremonyBasics(values, io, 'cairn tsa init', 'p256');
    const result = await initTsa(dir, {
      curve,
      passphrase,
      organization: values.org,
      commonName: values.cn,
      rootValidityDays: validityDays(values['root-days'], '--root-days'),
      signingValidityDays: validityDays(values['signing-days'], '--signing-days'),
      clock: systemClock,
    });
    io.stdout(`created TSA in ${dir}${passphrase !== undefined ? ' (keys encrypted)' : ''}:\n${result.files.map((f) => `  ${f}`).join('\n')}\n`);
    return 0;
  },
};
