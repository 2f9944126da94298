import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { CliError, parseFlags, type Command } from '../command.ts';

/** Streams a file through SHA-256 (bounded memory for any size). */
export async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (e) {
    throw new CliError('IO_ERROR', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return h.digest('hex');
}

export const command: Command = {
  summary: 'print the sha256 digest of a file',
  usage: `Usage: cairn digest FILE...

Prints "sha256:<hex>  FILE" for each file (the format 'cairn check --expect' takes).`,
  async run(args, io) {
    const { positionals } = parseFlags(args, {});
    if (positionals.length === 0) throw new CliError('USAGE', 'cairn digest needs at least one FILE');
    for (const f of positionals) io.stdout(`sha256:${await fileDigest(f)}  ${f}\n`);
    return 0;
  },
};
