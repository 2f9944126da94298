import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CairnError } from '@cairn/shared/errors';

/** What a command may touch of the outside world; tests pass their own. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  cwd: string;
}

export interface Command {
  /** One line for `cairn --help`. */
  summary: string;
  /** The full `--help` text. */
  usage: string;
  /** Returns the process exit code. */
  run(args: string[], io: CliIO): Promise<number>;
  /** Subcommand names; `cairn CMD SUB --help` then prints only SUB's entry of `usage`. */
  subcommands?: readonly string[];
}

/**
 * The entry for one subcommand in a usage text: its line (`  SUB ...`) and the indented lines
 * below it, up to the next entry. Undefined when the usage has no such entry.
 */
export function subcommandUsage(command: string, usage: string, sub: string): string | undefined {
  const lines = usage.split('\n');
  const start = lines.findIndex((l) => l === `  ${sub}` || l.startsWith(`  ${sub} `));
  if (start < 0) return undefined;
  let end = start + 1;
  while (end < lines.length && (lines[end]!.startsWith('    ') || lines[end]!.startsWith('   ') || lines[end] === '')) end++;
  const body = lines.slice(start, end).join('\n').trimEnd();
  return `Usage: cairn ${command} ${body.trimStart()}\n`;
}

export type CliErrorCode = 'USAGE' | 'UNKNOWN_COMMAND' | 'IO_ERROR';

export class CliError extends CairnError<CliErrorCode> {}

export const processIO: CliIO = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
};

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util parseArgs in strict mode, with usage errors as CliError('USAGE').
 * Returns flag values and positionals.
 */
export function parseFlags<O extends Options>(args: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (e) {
    throw new CliError('USAGE', e instanceof Error ? e.message : String(e));
  }
}

export function wantsHelp(args: string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}
