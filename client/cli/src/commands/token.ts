import { join, resolve } from 'node:path';
import { systemClock } from '@cairn/shared';
import { mintDevToken } from '@cairn/oidc';
import { CliError, parseFlags, type Command } from '../command.ts';

export const command: Command = {
  summary: 'mint a development OIDC token from the built-in issuer',
  usage: `Usage: cairn token [--data-dir D] [--subject URI | --email E [--subject S]] [--audience A] [--ttl SECONDS]

Prints an ID token (JWT, ES256) of the built-in OIDC issuer, signed locally with the issuer key in
<data-dir>/oidc/. Works only when the issuer was last started in development mode (the default of
'cairn up'); otherwise it fails with DEV_MODE_OFF.

Without --subject or --email the token's sub is <issuer>/clients/cairn-dev. A --subject must be an
absolute URI and the token then carries no email claim (clients sign the email when one is
present). With --email the token carries email and email_verified: true (sub defaults to the email).

Options:
  --data-dir D      state directory of the stack (default .cairn)                   [CAIRN_DATA_DIR]
  --subject URI     the token sub
  --email E         a verified email identity
  --audience A      the aud claim (default sigstore)
  --ttl SECONDS     lifetime, 1-600 (default 600)`,
  async run(args, io) {
    const { values } = parseFlags(
      args,
      {
        'data-dir': { type: 'string' },
        subject: { type: 'string' },
        email: { type: 'string' },
        audience: { type: 'string' },
        ttl: { type: 'string' },
      },
      false,
    );
    const dataDir = resolve(io.cwd, values['data-dir'] ?? io.env.CAIRN_DATA_DIR ?? '.cairn');
    let ttlSeconds: number | undefined;
    if (values.ttl !== undefined) {
      ttlSeconds = Number(values.ttl);
      if (!/^\d+$/.test(values.ttl) || ttlSeconds < 1 || ttlSeconds > 600) throw new CliError('USAGE', '--ttl must be 1-600 seconds');
    }
    const token = await mintDevToken(
      join(dataDir, 'oidc'),
      { subject: values.subject, email: values.email, audience: values.audience, ttlSeconds },
      systemClock,
    );
    io.stdout(token + '\n');
    return 0;
  },
};
