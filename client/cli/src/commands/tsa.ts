import { systemClock } from '@cairn/shared';
import { initTsa, rotateTsaSigning } from '@cairn/tsa';
import { CliError, parseFlags, type Command } from '../command.ts';
import { join, resolve } from 'node:path';
import { openTokenRotation } from '@cairn/shared/pkcs11';
import { PKCS11_FLAGS, ROTATION_KEY_FLAG, pkcs11FlagSettings, tokenFlagsNeedModule } from '../pkcs11-flags.ts';
import { CEREMONY_FLAGS, ceremonyBasics, passphraseFlag, validityDays } from '../ceremony-flags.ts';

export const command: Command = {
  summary: 'timestamp authority key ceremony: cairn tsa init | rotate-signing',
  usage: `Usage: cairn tsa init --dir D [--passphrase-file F] [--curve p256|p384] [--org O] [--cn CN]
                     [--root-days N] [--signing-days N]
       cairn tsa rotate-signing --dir D [--passphrase-file F] [--signing-days N]
       cairn tsa rotate-signing --dir D --pkcs11-module PATH [--pkcs11-token LABEL] [--pkcs11-key URI]
                    [--pin-file F | --pin-env VAR] [--signing-days N]

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

rotate-signing (on the offline machine holding root-key.pem): a new signing key and certificate
under the same root, with the retiring one's subject; the old pair moves to D/retired/. Copy the
new signing-key.pem and signing.crt.pem to the server and restart it. trusted_root.json keeps the
old certificate with a validFor.end (cairn up's development ceremony and 'cairn trust build'
merge it), so timestamps it made keep verifying.

rotate-signing --pkcs11-module (the TSA root and signing key in a token, 'cairn hsm init'; D is
<data-dir>/tsa, which holds only the certificates): the new key is generated in the token
(sensitive, not extractable) and its certificate signed there by cairn-tsa-root. Then the new key
takes the label cairn-tsa-signing (or the label of --pkcs11-key, when tsa.pkcs11Key names a key of
the operator's) and the old one <label>-retired-<key id>; the old certificate moves to D/retired/. Restart the TSA with the same --pkcs11-module. A failure
half-way changes nothing in the token or in D.

Options:
  --dir D                where to write the files (required)
  --passphrase-file F    encrypt both private keys with the passphrase in F (first line)
  --pkcs11-module PATH   rotate-signing: the keys are in a token of this PKCS#11 module
  --pkcs11-token LABEL   the token's label (default cairn)
  --pkcs11-key URI       the signing key's URI when tsa.pkcs11Key names it (pkcs11:token=T;object=L,
                         by label in that token); the new key takes that label
  --pin-file F           the token's user PIN, first line of F (else --pin-env VAR names the
  --pin-env VAR          variable holding it, default CAIRN_PKCS11_PIN; never a flag value)
  --curve p256|p384      key curve (default p256: one timestamp is one ECDSA signature, and
                         OpenSSL signs P-384 far slower)
  --org O                organization of both subjects (default cairn)
  --cn CN                common name of the signing certificate; the root gets "CN root"
                         (default "cairn timestamp authority")
  --root-days N          root validity in days (default 3650)
  --signing-days N       signing certificate validity in days (default min(root, 1825)); timestamps
                         verify only for times inside it`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { ...CEREMONY_FLAGS, ...PKCS11_FLAGS, ...ROTATION_KEY_FLAG, 'signing-days': { type: 'string' } });
    const sub = positionals[0];
    if (positionals.length !== 1 || (sub !== 'init' && sub !== 'rotate-signing')) throw new CliError('USAGE', 'cairn tsa needs the subcommand init or rotate-signing');
    if (sub === 'rotate-signing') {
      if (values.curve !== undefined || values.org !== undefined || values.cn !== undefined || values['root-days'] !== undefined) {
        throw new CliError('USAGE', 'rotate-signing keeps the root: --curve, --org, --cn and --root-days do not apply');
      }
      if (values.dir === undefined) throw new CliError('USAGE', 'cairn tsa rotate-signing needs --dir D');
      const dir = resolve(io.cwd, values.dir);
      tokenFlagsNeedModule(values);
      const days = validityDays(values['signing-days'], '--signing-days');
      if (values['pkcs11-module'] !== undefined) {
        if (values['passphrase-file'] !== undefined) throw new CliError('USAGE', '--passphrase-file does not apply to keys in a token');
        const token = openTokenRotation(pkcs11FlagSettings(io, values), 'tsaRoot', 'tsa', values['pkcs11-key']);
        try {
          const r = await rotateTsaSigning(dir, { token, signingValidityDays: days, clock: systemClock });
          io.stdout(`new TSA signing key ${token.uri} (generated in the token, not extractable) and ${join(dir, 'signing.crt.pem')}; the previous ones:\n${r.retired.map((f) => `  ${f}`).join('\n')}\nrestart the TSA with the same --pkcs11-module\n`);
        } finally {
          token.close();
        }
        return 0;
      }
      const r = await rotateTsaSigning(dir, { passphrase: passphraseFlag(values['passphrase-file'], io), signingValidityDays: days, clock: systemClock });
      io.stdout(`new TSA signing key and certificate in ${dir}; the previous ones are in:\n${r.retired.map((f) => `  ${f}`).join('\n')}\n`);
      return 0;
    }
    tokenFlagsNeedModule(values);
    if (values['pkcs11-module'] !== undefined) throw new CliError('USAGE', 'cairn tsa init makes key files; for keys in a token use cairn hsm init');
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
