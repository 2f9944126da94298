/**
 * Child process for ct-durability.test.ts: runs a CT log on `argv[2]`, submits precertificates
 * back to back and prints one JSON line per SCT it got, until the parent kills it with SIGKILL.
 */
import { loadConfig } from '@cairn/shared';
import type { CtService } from '@cairn/ct';
import { startStack } from '@cairn/host';
import { makeIntermediate, makeRoot, precertWithFinal } from './ct-fixtures.ts';

const dataDir = process.argv[2]!;
const stack = await startStack(loadConfig({ overrides: { port: 0, dataDir, logLevel: 'silent' } }), { components: ['ct'] });
const ct = stack.services.find((s) => s.name === 'ct') as CtService;
const root = makeRoot();
const intermediate = makeIntermediate(root);
ct.addRoot(root.der);
for (;;) {
  // Several in flight at once so the kill lands while batches are being written.
  const batch = Array.from({ length: 8 }, () => precertWithFinal(intermediate).precert);
  await Promise.all(
    batch.map(async (precert) => {
      const chain = [precert, intermediate.der, root.der];
      const sct = await ct.addPreChain(chain);
      process.stdout.write(
        JSON.stringify({ chain: chain.map((c) => c.toString('base64')), timestamp: sct.timestamp, signature: sct.signature.toString('base64') }) + '\n',
      );
    }),
  );
}
