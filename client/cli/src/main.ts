/**
 * `cairn` entry point: a registry of subcommands, each a module under ./commands exporting
 * `command: Command`. Modules load lazily so `cairn verify` never loads server code.
 */
import { isCairnError } from '@cairn/shared/errors';
import { CliError, processIO, subcommandUsage, type CliIO, type Command } from './command.ts';

interface Entry {
  summary: string;
  module: keyof typeof LOADERS;
}

type CommandModule = { command?: Command };

/**
 * One static import per command module, each loaded only when its command runs: the bundler
 * splits them into chunks, so `cairn verify` never loads server code.
 */
const LOADERS = {
  'up': (): Promise<CommandModule> => import('./commands/up.ts'),
  'serve': (): Promise<CommandModule> => import('./commands/serve.ts'),
  'token': (): Promise<CommandModule> => import('./commands/token.ts'),
  'ca': (): Promise<CommandModule> => import('./commands/ca.ts'),
  'tsa': (): Promise<CommandModule> => import('./commands/tsa.ts'),
  'tuf': (): Promise<CommandModule> => import('./commands/tuf.ts'),
  'trust': (): Promise<CommandModule> => import('./commands/trust.ts'),
  'sign': (): Promise<CommandModule> => import('./commands/sign.ts'),
  'attest': (): Promise<CommandModule> => import('./commands/attest.ts'),
  'provenance': (): Promise<CommandModule> => import('./commands/provenance.ts'),
  'verify': (): Promise<CommandModule> => import('./commands/verify.ts'),
  'verify-attestation': (): Promise<CommandModule> => import('./commands/verify-attestation.ts'),
  'digest': (): Promise<CommandModule> => import('./commands/digest.ts'),
  'check': (): Promise<CommandModule> => import('./commands/check.ts'),
  'log': (): Promise<CommandModule> => import('./commands/log.ts'),
  'intoto': (): Promise<CommandModule> => import('./commands/intoto.ts'),
  'image': (): Promise<CommandModule> => import('./commands/image.ts'),
  'monitor': (): Promise<CommandModule> => import('./commands/monitor.ts'),
  'store': (): Promise<CommandModule> => import('./commands/store.ts'),
  'hsm': (): Promise<CommandModule> => import('./commands/hsm.ts'),
  'admission': (): Promise<CommandModule> => import('./commands/admission.ts'),
} as const;

const COMMANDS: Record<string, Entry> = {
  up: { summary: 'run the whole stack (CA, CT log, transparency log, TSA, TUF, OIDC) on one port', module: 'up' },
  serve: { summary: 'run one component alone: cairn serve ca|ct|log|tsa|tuf|oidc|admission', module: 'serve' },
  token: { summary: 'mint a development OIDC token from the built-in issuer', module: 'token' },
  ca: { summary: 'CA key ceremony: cairn ca init', module: 'ca' },
  tsa: { summary: 'timestamp authority key ceremony: cairn tsa init | rotate-signing', module: 'tsa' },
  hsm: { summary: 'service keys in a PKCS#11 token (HSM): cairn hsm init | status', module: 'hsm' },
  tuf: { summary: 'TUF repository ceremony: init, sign, status, publish, export, import', module: 'tuf' },
  trust: { summary: 'trust material: build trusted_root.json, init the client cache from a mirror', module: 'trust' },
  sign: { summary: 'sign a file (keyless or with a key) and write a Sigstore bundle', module: 'sign' },
  attest: { summary: 'sign an in-toto statement about a file in a DSSE bundle', module: 'attest' },
  provenance: { summary: 'write an SLSA v1 provenance predicate from flags and CI variables', module: 'provenance' },
  verify: { summary: 'verify a bundle for a file or digest, fully offline', module: 'verify' },
  'verify-attestation': { summary: 'verify an attestation bundle and conditions on its predicate', module: 'verify-attestation' },
  digest: { summary: 'print the sha256 digest of a file', module: 'digest' },
  check: { summary: 'checksum gate: fail with INTEGRITY FAILURE if a file does not match', module: 'check' },
  log: { summary: 'query the transparency log: cairn log search|get, proofs verified', module: 'log' },
  intoto: { summary: 'in-toto: run, layout, sign, verify', module: 'intoto' },
  image: { summary: 'sign, attest, verify, save and load container images in a registry (cosign formats)', module: 'image' },
  monitor: { summary: 'watch the transparency log for split views and unexpected signers', module: 'monitor' },
  admission: { summary: 'Kubernetes admission webhook: certs, check-policy (the server: cairn serve admission)', module: 'admission' },
  store: { summary: 'move the logs from SQLite to PostgreSQL: cairn store migrate --from DIR --to URL', module: 'store' },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`);
  return `Usage: cairn <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'cairn <command> --help' for the options of a command.\n`;
}

async function load(entry: Entry): Promise<Command> {
  const mod = await LOADERS[entry.module]();
  if (!mod.command) throw new CliError('UNKNOWN_COMMAND', `command module ${entry.module} exports no command`);
  return mod.command;
}

/** The version printed by `cairn --version` (the root package's). */
export const VERSION = '0.1.0';

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    io.stdout(`cairn ${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.stderr(`cairn: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  try {
    const command = await load(entry);
    // Arguments after `--` belong to a wrapped command (cairn intoto run -- CMD -h), not to cairn.
    const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
    if (own.includes('--help') || own.includes('-h')) {
      const sub = own[0] !== undefined && command.subcommands?.includes(own[0]) ? subcommandUsage(name, command.usage, own[0]) : undefined;
      if (sub !== undefined) {
        io.stdout(sub);
        return 0;
      }
      io.stdout(command.usage.endsWith('\n') ? command.usage : command.usage + '\n');
      return 0;
    }
    return await command.run(rest, io);
  } catch (e) {
    if (isCairnError(e)) {
      io.stderr(`cairn ${name}: error [${e.code}]: ${e.message}\n`);
      return e.code === 'USAGE' ? 2 : 1;
    }
    io.stderr(`cairn ${name}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}
