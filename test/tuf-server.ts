/** The tuf component on a real loopback HTTP server over a data directory, for the ceremony tests. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { MetricsRegistry, createLogger, loadConfig, silentLogger, type Clock } from '@cairn/shared';
import { createTufService } from '@cairn/tuf';

type Refreshable = ReturnType<typeof createTufService> & { refresh(): Promise<void> };

export interface TufServer {
  /** The mirror URL (ends in /tuf). */
  url: string;
  svc: Refreshable;
  close(): Promise<void>;
}

/** Starts `cairn serve tuf`'s service on `dataDir` (REPO layout: repository/, online/). */
export async function startTufServer(dataDir: string, clock: Clock, log?: (line: string) => void): Promise<TufServer> {
  const ctx = {
    config: loadConfig({ overrides: { dataDir } }),
    baseUrl: 'http://127.0.0.1:0',
    dataDir,
    clock,
    logger: log ? createLogger({ level: 'info', write: log }) : silentLogger,
    metrics: new MetricsRegistry(),
  };
  const svc = createTufService(ctx) as Refreshable;
  await svc.refresh();
  const app = express();
  app.use(svc.router);
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/tuf`,
    svc,
    close: async () => {
      await svc.close();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}
