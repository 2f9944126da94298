/**
 * `cairn check FILE --expect sha256:HEX`: the checksum gate. A mismatch prints INTEGRITY FAILURE
 * with both digests and exits 1, so a pipeline stops before using a tampered file.
 */
import { CliError, parseFlags, type Command } from '../command.ts';
import { fileDigest } from './digest.ts';

const EXPECT_RE = /^sha256:([0-9a-fA-F]{64})$/;

export const command: Command = {
  summary: 'checksum gate: fail with INTEGRITY FAILURE if a file does not match',
  usage: `Usage: cairn check FILE --expect sha256:HEX

Computes the sha256 digest of FILE and compares it with the expected one ('cairn digest' prints
it). On a match prints "OK sha256:<hex>  FILE" and exits 0; on a mismatch prints
"INTEGRITY FAILURE" with the expected and actual digests and exits 1. Usage errors exit 2.`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { expect: { type: 'string' } });
    if (positionals.length !== 1) throw new CliError('USAGE', 'cairn check takes exactly one FILE');
    const m = EXPECT_RE.exec(values.expect ?? '');
    if (!m) throw new CliError('USAGE', '--expect sha256:<64 hex> is required');
    const file = positionals[0]!;
    const expected = m[1]!.toLowerCase();
    const actual = await fileDigest(file);
    if (actual !== expected) {
      io.stderr(`INTEGRITY FAILURE: ${file}\n  expected: sha256:${expected}\n  actual:   sha256:${actual}\n`);
      return 1;
    }
    io.stdout(`OK sha256:${actual}  ${file}\n`);
    return 0;
  },
};
