/**
 * The whole `cairn up` stack in this process on 127.0.0.1:0 (fresh data dir, development mode,
 * bootstrapped like `cairn up`), with the log lines it wrote and a snapshot of its state.
 */
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { COMPONENTS, createLogger, loadConfig } from '@cairn/shared';
import { bootstrapTrust, bootstrapTsa, startStack, type Stack } from '@cairn/host';
import { tempDir } from './cli.ts';

/** Every POST route of `cairn up`. */
export const POST_ROUTES = [
  '/api/v1/log/entries',
  '/api/v2/log/entries',
  '/api/v1/log/entries/retrieve',
  '/api/v1/index/retrieve',
  '/api/v1/timestamp',
  '/api/v1/signingCert',
  '/api/v2/signingCert',
  '/ct/v1/add-chain',
  '/ct/v1/add-pre-chain',
  '/oidc/token',
  '/api/cairn/v1/witness/cosignatures',
];

export interface FullStack {
  stack: Stack;
  url: string;
  dataDir: string;
  /** JSON log lines written so far (level warn and above). */
  logLines: string[];
  /** What a rejected request must not change. */
  state(): Promise<StackState>;
  stop(): Promise<void>;
}

export interface StackState {
  logSize: number;
  ctSize: number;
  tuf: Record<string, number>;
}

export async function startFullStack(overrides: Record<string, unknown> = {}): Promise<FullStack> {
  const dataDir = tempDir('cairn-full-');
  const logLines: string[] = [];
  const config = loadConfig({ overrides: { port: 0, dataDir, logLevel: 'warn', dev: true, ...overrides } });
  const logger = createLogger({ level: 'warn', write: (l) => logLines.push(l) });
  const stack = await startStack(config, {
    components: COMPONENTS,
    logger,
    beforeCreate: async (name, peers, baseUrl) => {
      if (name === 'tsa') await bootstrapTsa(join(dataDir, 'tsa'));
      if (name === 'tuf') await bootstrapTrust({ config, peers, baseUrl, tufDir: join(dataDir, 'tuf') });
    },
  });
  const url = stack.url;
  const state = async (): Promise<StackState> => {
    const log = (await (await fetch(`${url}/api/v1/log`)).json()) as { treeSize: number };
    const sth = (await (await fetch(`${url}/ct/v1/get-sth`)).json()) as { tree_size: number };
    const tuf: Record<string, number> = {};
    for (const role of ['root', 'timestamp']) {
      const r = await fetch(`${url}/tuf/${role}.json`);
      tuf[role] = r.status === 200 ? ((await r.json()) as { signed: { version: number } }).signed.version : -r.status;
    }
    return { logSize: log.treeSize, ctSize: sth.tree_size, tuf };
  };
  return {
    stack,
    url,
    dataDir,
    logLines,
    state,
    stop: async () => {
      await stack.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
