/**
 * `cairn` entry point: a registry of subcommands, each a module under ./commands exporting
 * `command: Command`. Modules load lazily so `cairn verify` never loads server code.
 */
import { isCairnError } from '@cairn/shared/errors';
import { CliError, processIO, subcommandUsage, type CliIO, type Command } from './command.ts';

type CommandModule = { command?: Command };

interface Entry {
  summary: string;
  /**
   * A static import of the command's module, loaded only when it runs: the bundler splits each
   * into its own chunk, so `cairn verify` never loads server code. One table: name, help line, module.
   */
  load: () => Promise<CommandModule>;
}

const COMMANDS: Record<string, Entry> = {
  up: { summary: 'run the whole stack (CA, CT log, transparency log, TSA, TUF, OIDC) on one port', load: () => import('./commands/up.ts') },
  serve: { summary: 'run one component alone: cairn serve ca|ct|log|tsa|tuf|oidc|admission', load: () => import('./commands/serve.ts') },
  token: { summary: 'mint a development OIDC token from the built-in issuer', load: () => import('./commands/token.ts') },
  ca: { summary: 'CA key ceremony: cairn ca init', load: () => import('./commands/ca.ts') },
  tsa: { summary: 'timestamp authority key ceremony: cairn tsa init | rotate-signing', load: () => import('./commands/tsa.ts') },
  hsm: { summary: 'service keys in a PKCS#11 token (HSM): cairn hsm init | status', load: () => import('./commands/hsm.ts') },
  tuf: { summary: 'TUF repository ceremony: init, sign, status, publish, export, import', load: () => import('./commands/tuf.ts') },
  trust: { summary: 'trust material: build trusted_root.json, init the client cache from a mirror', load: () => import('./commands/trust.ts') },
  sign: { summary: 'sign a file (keyless or with a key) and write a Sigstore bundle', load: () => import('./commands/sign.ts') },
  attest: { summary: 'sign an in-toto statement about a file in a DSSE bundle', load: () => import('./commands/attest.ts') },
  provenance: { summary: 'write an SLSA v1 provenance predicate from flags and CI variables', load: () => import('./commands/provenance.ts') },
  verify: { summary: 'verify a bundle for a file or digest, fully offline', load: () => import('./commands/verify.ts') },
  'verify-attestation': { summary: 'verify an attestation bundle and conditions on its predicate', load: () => import('./commands/verify-attestation.ts') },
  digest: { summary: 'print the sha256 digest of a file', load: () => import('./commands/digest.ts') },
  check: { summary: 'checksum gate: fail with INTEGRITY FAILURE if a file does not match', load: () => import('./commands/check.ts') },
  log: { summary: 'query the transparency log: cairn log search|get, proofs verified', load: () => import('./commands/log.ts') },
  intoto: { summary: 'in-toto: run, layout, sign, verify', load: () => import('./commands/intoto.ts') },
  image: { summary: 'sign, attest, verify, save and load container images in a registry (cosign formats)', load: () => import('./commands/image.ts') },
  monitor: { summary: 'watch the transparency log for split views and unexpected signers', load: () => import('./commands/monitor.ts') },
  admission: { summary: 'Kubernetes admission webhook: certs, check-policy (the server: cairn serve admission)', load: () => import('./commands/admission.ts') },
  store: { summary: 'move the logs from SQLite to PostgreSQL: cairn store migrate --from DIR --to URL', load: () => import('./commands/store.ts') },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`);
  return `Usage: cairn <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'cairn <command> --help' for the options of a command.\n`;
}

async function load(name: string, entry: Entry): Promise<Command> {
  const mod = await entry.load();
  if (!mod.command) throw new CliError('UNKNOWN_COMMAND', `command module ${name} exports no command`);
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
    const command = await load(name, entry);
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
