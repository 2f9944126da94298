import { systemClock } from '@cairn/shared';
import { initCa, rotateIntermediate } from '@cairn/ca';
import { CliError, parseFlags, type Command } from '../command.ts';
import { CEREMONY_FLAGS, ceremonyBasics, validityDays } from '../ceremony-flags.ts';
import { PKCS11_FLAGS, ROTATION_KEY_FLAG, pkcs11FlagSettings, tokenFlagsNeedModule } from '../pkcs11-flags.ts';
import { openTokenRotation } from '@cairn/shared/pkcs11';
import { join } from 'node:path';

export const command: Command = {
  summary: 'CA key ceremony: cairn ca init | rotate-intermediate',
  usage: `Usage: cairn ca init --dir D [--passphrase-file F] [--curve p384|p256] [--org O] [--cn CN]
                    [--root-days N] [--intermediate-days N]
       cairn ca rotate-intermediate --dir D [--passphrase-file F] [--intermediate-days N]
       cairn ca rotate-intermediate --dir D --pkcs11-module PATH [--pkcs11-token LABEL] [--pkcs11-key URI]
                    [--pin-file F | --pin-env VAR] [--intermediate-days N]

Creates the CA's key material in D: a self-signed root (CA:TRUE, keyCertSign|cRLSign) and an
intermediate (codeSigning EKU, pathlen 0) signed by it, as PKCS#8 private keys (mode 0600,
encrypted with AES-256-CBC when a passphrase is given) and PEM certificates:
  root-key.pem  root.crt.pem  intermediate-key.pem  intermediate.crt.pem
The CA service loads them from <data-dir>/ca (so use --dir <data-dir>/ca), with the passphrase
from CAIRN_CA_PASSPHRASE or ca.passphraseFile. Keep root-key.pem offline after the ceremony: the
service needs only the intermediate key. Refuses to overwrite existing CA files.

rotate-intermediate (on the offline machine holding root-key.pem): a new intermediate key and
certificate under the same root replace intermediate-key.pem and intermediate.crt.pem; the old
pair moves to D/retired/. Restart the CA with the new pair, then 'cairn trust build' keeps the
old chain in trusted_root.json with a validFor.end so the certificates it issued keep verifying.

rotate-intermediate --pkcs11-module (the root and the intermediate in a token, 'cairn hsm init';
D is <data-dir>/ca, which holds only the certificates): the new key is generated in the token
(sensitive, not extractable) and its certificate signed there by cairn-ca-root. Then the new key
takes the label cairn-ca-intermediate (or the label of --pkcs11-key, when ca.pkcs11Key names a key
of the operator's) and the old one <label>-retired-<key id>; the old certificate moves to D/retired/. Restart the CA ('cairn up --pkcs11-module PATH' merges the
old chain into trusted_root.json with a validFor.end). A failure half-way (a wrong PIN, a missing
root) changes nothing in the token or in D.

Options:
  --dir D                  where to write the files (required)
  --passphrase-file F      encrypt both private keys with the passphrase in F (first line)
  --curve p256|p384        key curve of root and intermediate (default p384, as Sigstore's public
                           CA; p256 signs far faster with OpenSSL); a rotation keeps the root's
  --pkcs11-module PATH     rotate-intermediate: the keys are in a token of this PKCS#11 module
  --pkcs11-token LABEL     the token's label (default cairn)
  --pkcs11-key URI         the intermediate's URI when ca.pkcs11Key names it (pkcs11:token=T;object=L,
                           by label in that token); the new key takes that label
  --pin-file F             the token's user PIN, first line of F (else --pin-env VAR names the
  --pin-env VAR            variable holding it, default CAIRN_PKCS11_PIN; never a flag value)
  --org O                  organization of both subjects (default cairn)
  --cn CN                  common name of the root; the intermediate gets "CN intermediate" (default cairn)
  --root-days N            root validity in days (default 3650)
  --intermediate-days N    intermediate validity in days (default min(root, 1825))`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { ...CEREMONY_FLAGS, ...PKCS11_FLAGS, ...ROTATION_KEY_FLAG, 'intermediate-days': { type: 'string' } });
    const sub = positionals[0];
    if (positionals.length !== 1 || (sub !== 'init' && sub !== 'rotate-intermediate')) throw new CliError('USAGE', 'cairn ca needs the subcommand init or rotate-intermediate');
    const { dir, curve, passphrase } = ceremonyBasics(values, io, `cairn ca ${sub}`, 'p384');
    if (sub === 'rotate-intermediate') {
      if (values.curve !== undefined || values.org !== undefined || values.cn !== undefined || values['root-days'] !== undefined) {
        throw new CliError('USAGE', 'rotate-intermediate keeps the root: --curve, --org, --cn and --root-days do not apply');
      }
      tokenFlagsNeedModule(values);
      const days = validityDays(values['intermediate-days'], '--intermediate-days');
      if (values['pkcs11-module'] !== undefined) {
        if (passphrase !== undefined) throw new CliError('USAGE', '--passphrase-file does not apply to keys in a token');
        const token = openTokenRotation(pkcs11FlagSettings(io, values), 'caRoot', 'ca', values['pkcs11-key']);
        try {
          const r = await rotateIntermediate(dir, { token, intermediateValidityDays: days, clock: systemClock });
          io.stdout(`new intermediate ${token.uri} (generated in the token, not extractable) and ${join(dir, 'intermediate.crt.pem')}; the previous ones:\n${r.retired.map((f) => `  ${f}`).join('\n')}\nrestart the CA with the same --pkcs11-module (cairn up merges the old chain into trusted_root.json)\n`);
        } finally {
          token.close();
        }
        return 0;
      }
      const r = await rotateIntermediate(dir, { passphrase, intermediateValidityDays: days, clock: systemClock });
      io.stdout(`new intermediate in ${dir}; the previous one moved to:\n${r.retired.map((f) => `  ${f}`).join('\n')}\nrestart the CA, then cairn trust build and the TUF ceremony\n`);
      return 0;
    }
    tokenFlagsNeedModule(values);
    if (values['pkcs11-module'] !== undefined) throw new CliError('USAGE', 'cairn ca init makes key files; for keys in a token use cairn hsm init');
    const result = await initCa(dir, {
      curve,
      passphrase,
      organization: values.org,
      commonName: values.cn,
      rootValidityDays: validityDays(values['root-days'], '--root-days'),
      intermediateValidityDays: validityDays(values['intermediate-days'], '--intermediate-days'),
      clock: systemClock,
    });
    io.stdout(`created CA in ${dir}${passphrase !== undefined ? ' (keys encrypted)' : ''}:\n${result.files.map((f) => `  ${f}`).join('\n')}\n`);
    return 0;
  },
};
