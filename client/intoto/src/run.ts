/**
 * Recording a step (python-in-toto runlib.py `in_toto_run`): materials are hashed, the command
 * runs, products are hashed, and the result is a link with byproducts {stdout, stderr,
 * return-value}. Like the reference, a command that fails still yields a link (its return value
 * is recorded, not judged); a command that cannot be started is an error and yields none.
 */
import { spawnSync } from 'node:child_process';
import { IntotoError } from './errors.ts';
import { recordArtifacts, type RecordOptions } from './artifacts.ts';
import type { Link } from './models.ts';

/** Captured output is bounded; a step printing more than this fails rather than exhausting memory. */
export const MAX_CAPTURED_OUTPUT = 16 * 1024 * 1024;
export const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60 * 1000;

export interface RunOptions extends RecordOptions {
  name: string;
  materials: readonly string[];
  products: readonly string[];
  /** argv; empty means "record only" (reference: --no-command). */
  command: readonly string[];
  /** Record stdout/stderr in the byproducts (reference: -s). */
  recordStreams?: boolean;
  /** Record {workdir} in the environment (reference: --record-environment). */
  recordEnvironment?: boolean;
  timeoutMs?: number;
  /** Where the command runs; default basePath or the process cwd. */
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Called with the command's output so a CLI can echo it (the reference tees it). */
  onOutput?: (stdout: string, stderr: string) => void;
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  returnValue: number;
}

export function executeCommand(argv: readonly string[], opts: { cwd: string; timeoutMs: number; env?: Record<string, string | undefined> }): CommandResult {
  const [file, ...args] = argv;
  if (file === undefined) throw new IntotoError('COMMAND_NOT_FOUND', 'empty command');
  const r = spawnSync(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    timeout: opts.timeoutMs,
    maxBuffer: MAX_CAPTURED_OUTPUT,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES') throw new IntotoError('COMMAND_NOT_FOUND', `cannot run '${file}': ${code}`);
    if (code === 'ETIMEDOUT') throw new IntotoError('COMMAND_TIMEOUT', `'${file}' did not finish within ${opts.timeoutMs} ms`);
    if (code === 'ENOBUFS') throw new IntotoError('COMMAND_TIMEOUT', `'${file}' printed more than ${MAX_CAPTURED_OUTPUT} bytes`);
    throw new IntotoError('COMMAND_NOT_FOUND', `cannot run '${file}': ${code ?? r.error.message}`);
  }
  // A signal ends the process without a status; python reports -signum as the return value.
  const returnValue = r.status ?? (r.signal ? -signalNumber(r.signal) : -1);
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', returnValue };
}

function signalNumber(sig: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return table[sig] ?? 1;
}

/** Runs a step and returns its (unsigned) link. */
export function runStep(opts: RunOptions): Link {
  const base = opts.basePath ?? process.cwd();
  const materials = recordArtifacts(opts.materials, opts);
  let byproducts: Record<string, unknown> = {};
  if (opts.command.length > 0) {
    const r = executeCommand(opts.command, { cwd: opts.cwd ?? base, timeoutMs: opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, env: opts.env });
    opts.onOutput?.(r.stdout, r.stderr);
    byproducts = {
      stdout: opts.recordStreams ? r.stdout : '',
      stderr: opts.recordStreams ? r.stderr : '',
      'return-value': r.returnValue,
    };
  }
  const products = recordArtifacts(opts.products, opts);
  const environment: Record<string, unknown> = opts.recordEnvironment ? { workdir: (opts.cwd ?? base).replace(/\\/g, '/') } : {};
  return { _type: 'link', name: opts.name, materials, products, byproducts, command: [...opts.command], environment };
}
