import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, parseFlags, type Command } from '../command.ts';

const USAGE = `Usage: cairn store migrate --from <sqlite data dir> --to postgres://…

Copies the transparency log (<dir>/log/log.db) and the CT log (<dir>/ct/ct.sqlite) of a stack's
data directory into PostgreSQL (schemas cairn_rekor and cairn_ct), with every tree head,
checkpoint signature, leaf, tile, duplicate index, search key and stored attestation: the tree,
the log IDs and every inclusion proof stay the same. Stop the stack first. The target must hold no log yet. The keys
and state.json stay in the data directory: start the replicas with that data directory (or a
copy of it) and --store <the same URL>.

Options:
  --from DIR   the data directory of the SQLite stack (what --data-dir was, default .cairn)
  --to URL     postgres://user@host:port/database`;

export const command: Command = {
  summary: 'move the logs from SQLite to PostgreSQL: cairn store migrate --from DIR --to URL',
  usage: USAGE,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { from: { type: 'string' }, to: { type: 'string' } });
    if (positionals[0] !== 'migrate' || positionals.length !== 1) throw new CliError('USAGE', 'cairn store needs a subcommand: migrate');
    if (values.from === undefined || values.to === undefined) throw new CliError('USAGE', 'cairn store migrate needs --from <data dir> and --to postgres://…');
    let url: URL;
    try {
      url = new URL(values.to);
    } catch {
      throw new CliError('USAGE', '--to must be a postgres:// URL');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new CliError('USAGE', '--to must be a postgres:// URL');
    const dir = resolve(io.cwd, values.from);
    const { migrateLogToPg, REKOR_MIGRATIONS, REKOR_TABLES } = await import('@cairn/log');
    const { CT_MIGRATIONS } = await import('@cairn/ct');
    const logs = [
      { name: 'transparency log', path: join(dir, 'log', 'log.db'), schema: 'cairn_rekor', extra: { namespace: 'rekor', migrations: REKOR_MIGRATIONS, tables: REKOR_TABLES } },
      { name: 'CT log', path: join(dir, 'ct', 'ct.sqlite'), schema: 'cairn_ct', extra: { namespace: 'ct', migrations: CT_MIGRATIONS, tables: ['ct_entries'] } },
    ].filter((l) => existsSync(l.path));
    if (logs.length === 0) throw new CliError('IO_ERROR', `no log found in ${dir} (expected log/log.db or ct/ct.sqlite)`);
    for (const l of logs) {
      const r = await migrateLogToPg({ sqlitePath: l.path, url: values.to, schema: l.schema, extra: l.extra });
      const rows = Object.entries(r.rows)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ');
      io.stdout(`${l.name}: copied to ${l.schema}, tree size ${r.size}, root verified (${rows})\n`);
    }
    return 0;
  },
};
