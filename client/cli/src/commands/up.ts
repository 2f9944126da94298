import { join, relative } from 'node:path';
import { COMPONENTS, loadConfig } from '@cairn/shared';
import { parseFlags, type Command } from '../command.ts';
import { startStack } from '@cairn/host';
import { bootstrapTrust, bootstrapTsa } from '@cairn/host';
import { runUntilSignal, SERVER_FLAGS, SERVER_FLAGS_HELP } from './serve.ts';

export const command: Command = {
  summary: 'run the whole stack on one port',
  usage: `Usage: cairn up [options]

Runs every component (OIDC issuer, CT log, transparency log, CA, timestamp authority, TUF
repository) in one process on one port. The first run bootstraps the data directory in a few
seconds: CA root and intermediate, log and CT keys, a DEVELOPMENT timestamp authority (or the one
'cairn tsa init --dir <data-dir>/tsa' made), the issuer's key and a development client, and a
TUF repository from a DEVELOPMENT ceremony (keys kept in <data-dir>/tuf/DEVELOPMENT-keys, not for production) with
trusted_root.json and signing_config published as targets. Later runs reuse the state and publish a
new targets version only when the trust material changed. SIGINT/SIGTERM drain in-flight requests
and close the stores.

Development mode (the OIDC issuer mints tokens for 'cairn token') is on by default; --no-dev turns it off.

Options:
${SERVER_FLAGS_HELP}
  --no-dev              do not start the OIDC issuer in development mode`,
  async run(args, io) {
    const { values } = parseFlags(args, { ...SERVER_FLAGS, 'no-dev': { type: 'boolean' } }, false);
    const { 'no-dev': noDev, ...flags } = values;
    const config = loadConfig({ flags, env: io.env, defaults: { dev: true }, overrides: noDev ? { dev: false } : {} });
    const stack = await startStack(config, {
      components: COMPONENTS,
      beforeCreate: async (name, peers, baseUrl) => {
        if (name === 'tsa') await bootstrapTsa(join(config.dataDir, 'tsa'), undefined, config.sections.pkcs11 !== undefined);
        if (name === 'tuf') await bootstrapTrust({ config, peers, baseUrl, tufDir: join(config.dataDir, 'tuf') });
      },
    });
    // performance.now() counts from process start, so this includes loading the code.
    const seconds = (performance.now() / 1000).toFixed(2);
    const rel = (p: string): string => {
      const r = relative(io.cwd, p);
      return r.startsWith('..') ? p : r;
    };
    const dataDir = rel(config.dataDir);
    const rootJson = rel(join(config.dataDir, 'tuf', 'repository', '1.root.json'));
    const u = stack.url;
    io.stdout(`Cairn is up at ${u} (started in ${seconds} s; state in ${dataDir})

  Fulcio URL, Rekor URL:  ${u}
  TSA (RFC 3161):         ${u}/api/v1/timestamp
  TUF mirror:             ${u}/tuf        initial root: ${rootJson}
  OIDC issuer:            ${u}/oidc${config.dev ? '   (development mode: cairn token works)' : ''}

Try it (another terminal, same folder):

  echo hello > artifact.txt
  npx cairn trust init --mirror ${u}/tuf --root ${rootJson}
  npx cairn sign artifact.txt --url ${u} --bundle artifact.sigstore.json \\
      --identity-token "$(npx cairn token --data-dir ${dataDir} --subject https://ci.example.internal/pipelines/42)"
  npx cairn verify artifact.txt --bundle artifact.sigstore.json --tuf-mirror ${u}/tuf \\
      --certificate-identity https://ci.example.internal/pipelines/42 --certificate-oidc-issuer ${u}/oidc

Press Ctrl-C to stop.
`);
    return runUntilSignal(stack);
  },
};
