/**
 * Helpers for tests that drive commands as separate processes: the `cairn` bin, the real
 * `sigstore` CLI from @sigstore/cli, and a long-running `cairn up`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const CAIRN_BIN = join(ROOT, 'client/cli/bin/cairn.js');
export const SIGSTORE_BIN = join(ROOT, 'node_modules/.bin/sigstore');

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function tempDir(prefix = 'cairn-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function run(cmd: string, args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; input?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    cwd: options.cwd ?? ROOT,
    input: options.input,
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function cairn(args: string[], options: Parameters<typeof run>[2] = {}): RunResult {
  return run(process.execPath, [CAIRN_BIN, ...args], options);
}

export interface UpProcess {
  url: string;
  child: ChildProcess;
  output: () => string;
  stop(): Promise<number | null>;
}

/** Starts `cairn up` (or `cairn serve X`) as a child process and waits for its URL. */
export async function startCairn(args: string[], env: Record<string, string | undefined> = {}): Promise<UpProcess> {
  const child = spawn(process.execPath, [CAIRN_BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, CAIRN_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cairn did not start in time:\n${out}`)), 60_000);
    const check = (): void => {
      const m = /(?:Cairn is up at|listening on) (https?:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cairn exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    child,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}
