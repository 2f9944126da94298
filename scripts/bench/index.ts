/**
 * `npm run bench [-- NAME...]`: runs the named benchmarks (default: all) in this process order,
 * prints their figures, and when every benchmark ran, rewrites the README section between
 * `<!-- bench:start -->` and `<!-- bench:end -->` with the results and the machine they ran on.
 * Each benchmark is a module `scripts/bench/<name>.ts` exporting `run(): Promise<string>`.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

const ALL = ['log', 'log-pg', 'ca', 'ct', 'tuf', 'tsa', 'verify', 'intoto', 'monitor', 'flow', 'startup', 'hsm', 'image', 'admission', 'ui'];

async function main(): Promise<number> {
  const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const selected = names.length > 0 ? names : ALL;
  const results: { name: string; text: string }[] = [];
  let failed = 0;
  for (const name of selected) {
    if (!ALL.includes(name)) {
      console.error(`unknown benchmark ${name}; known: ${ALL.join(', ')}`);
      return 2;
    }
    const file = new URL(`./${name}.ts`, import.meta.url);
    if (!existsSync(file)) {
      console.error(`benchmark ${name}: ${file.pathname} is missing`);
      failed++;
      continue;
    }
    console.log(`\n=== bench ${name}`);
    try {
      const mod = (await import(file.href)) as { run: () => Promise<string> };
      const text = await mod.run();
      console.log(text);
      results.push({ name, text });
    } catch (e) {
      console.error(`benchmark ${name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      failed++;
    }
  }
  if (names.length === 0 && failed === 0) writeReadme(results);
  return failed === 0 ? 0 : 1;
}

function writeReadme(results: { name: string; text: string }[]): void {
  const readme = new URL('../../README.md', import.meta.url);
  const text = readFileSync(readme, 'utf8');
  const start = '<!-- bench:start -->';
  const end = '<!-- bench:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) {
    console.error('README has no bench markers; not updated');
    return;
  }
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const body = [
    '',
    `Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, ${machine}.`,
    '',
    ...results.map((r) => `#### ${r.name}\n\n${r.text.trim()}\n`),
  ].join('\n');
  writeFileSync(readme, text.slice(0, a + start.length) + '\n' + body + '\n' + text.slice(b));
  console.log('\nREADME benchmark section updated');
}

process.exitCode = await main();
