/**
 * Helpers for the in-toto cross tests: `cairn` in-process (fast: no tsx start per call) with its
 * output captured, and the Debian reference tools as separate processes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { main } from '@cairn/cli';

export const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
export const PIPELINE_SCRIPT = `${ROOT}/test/interop/intoto-reference-pipeline.sh`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cairn ARGS` in-process with `cwd` as its working directory. */
export async function cairnIn(cwd: string, args: string[], env: Record<string, string | undefined> = process.env): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { cwd, env, stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

/** The stable error code `cairn intoto verify` printed (FAILED [CODE]). */
export function failureCode(r: CliResult): string | undefined {
  return /FAILED \[([A-Z_]+)\]/.exec(r.stderr)?.[1] ?? /error \[([A-Z_]+)\]/.exec(r.stderr)?.[1];
}

export function hasReference(): boolean {
  return spawnSync('sh', ['-c', 'command -v in-toto-verify && command -v in-toto-run && command -v openssl'], { encoding: 'utf8' }).status === 0;
}

export function sh(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Like sh, but asynchronous, so independent reference runs overlap. */
export function shAsync(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
