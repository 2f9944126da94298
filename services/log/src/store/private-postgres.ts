/**
 * Test support: a PostgreSQL server of the test's own (initdb in a temporary folder, trust
 * authentication, a free port on 127.0.0.1, its socket in the same folder), for the faults that
 * would disturb every other test on the shared server: restarting it, stopping it. Uses the
 * server binaries of the machine (/usr/lib/postgresql/<version>/bin, or CAIRN_TEST_PG_BINDIR).
 * The PostgreSQL binaries refuse to run as root: as root they run as the `postgres` account.
 */
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The folder with initdb and pg_ctl, or undefined. */
function binDir(): string | undefined {
  const env = process.env.CAIRN_TEST_PG_BINDIR;
  if (env) return existsSync(join(env, 'initdb')) ? env : undefined;
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'initdb')) && existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(base, versions[0], 'bin');
}

/** The account the server runs as when the tests run as root: uid and gid of `postgres` from /etc/passwd. */
function postgresAccount(): { uid: number; gid: number } | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === 'postgres' && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

function runAs(): { uid: number; gid: number } | undefined {
  return process.getuid?.() === 0 ? postgresAccount() : undefined;
}

/** Why a private server cannot be started here, or false. */
export function privatePostgresSkip(): string | false {
  if (!binDir()) return 'no PostgreSQL server binaries (initdb, pg_ctl under /usr/lib/postgresql/<version>/bin or CAIRN_TEST_PG_BINDIR): the private-server tests were skipped';
  if (process.getuid?.() === 0 && !postgresAccount()) return 'running as root without a postgres account (initdb refuses root): the private-server tests were skipped';
  return false;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function run(bin: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const account = runAs();
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(account ?? {}) });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('error', reject);
    p.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${bin} ${args.join(' ')} exited ${code}: ${out}`));
    });
  });
}

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** Stops the server (`pg_ctl stop -m <mode>`), keeps it down for `downMs`, starts it again. */
  restart(mode: 'smart' | 'fast' | 'immediate', downMs?: number): Promise<void>;
  /** Stops the server and removes its folder. */
  destroy(): Promise<void>;
}

/** initdb + pg_ctl start on a free port; the caller destroys it. */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  if (!bin) throw new Error('no PostgreSQL server binaries');
  const dir = mkdtempSync(join(tmpdir(), 'cairn-pg-'));
  const account = runAs();
  if (account) chownSync(dir, account.uid, account.gid);
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const pgCtl = join(bin, 'pg_ctl');
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`;
  const start = (): Promise<string> => run(pgCtl, ['-D', data, '-o', options, '-l', logFile, '-w', '-t', '60', 'start']);
  const stop = (mode: string): Promise<string> => run(pgCtl, ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
  try {
    await run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    await start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let running = true;
  return {
    url,
    restart: async (mode, downMs = 0) => {
      await stop(mode);
      running = false;
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
      running = true;
    },
    destroy: async () => {
      if (running) await stop('immediate').catch(() => undefined);
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates database `name` on the private server; returns its URL. */
export async function createDatabaseOn(server: PrivatePostgres, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: server.url, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  const u = new URL(server.url);
  u.pathname = `/${name}`;
  return u.toString();
}
