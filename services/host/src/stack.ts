/**
 * Starts components on one HTTP(S) server: all six for `cairn up`, one for `cairn serve X`.
 * The server listens first so a port of 0 resolves before the services learn their base URL.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import {
  COMPONENTS,
  SharedError,
  baseUrlOf,
  checkSectionRead,
  createLogger,
  section,
  sectionBool,
  MetricsRegistry,
  systemClock,
  type CairnConfig,
  type Clock,
  type ComponentName,
  type Logger,
  type Peers,
  type Service,
  type ServiceFactory,
} from '@cairn/shared';
import { explorerRouter } from '@cairn/explorer/serve';
import { MAX_HEADER_BYTES, answerClientError, errorHandler, notFound, pathEncodingError, sendJson, serveLean, type LeanRoute } from '@cairn/shared/http';
import { rateLimit } from './rate-limit.ts';

const FACTORIES: Record<ComponentName, () => Promise<ServiceFactory>> = {
  oidc: async () => ((await import('@cairn/oidc')) as { createService: ServiceFactory }).createService,
  ct: async () => ((await import('@cairn/ct')) as { createService: ServiceFactory }).createService,
  log: async () => ((await import('@cairn/log')) as { createService: ServiceFactory }).createService,
  ca: async () => ((await import('@cairn/ca')) as { createService: ServiceFactory }).createService,
  tsa: async () => ((await import('@cairn/tsa')) as { createService: ServiceFactory }).createService,
  tuf: async () => ((await import('@cairn/tuf')) as { createService: ServiceFactory }).createService,
};

/** How long a shutdown waits for in-flight requests before cutting connections. */
const DRAIN_DEADLINE_MS = 10_000;

/** Start order: later components may use earlier ones in-process (the CA uses the CT log). */
const ORDER: readonly ComponentName[] = ['oidc', 'ct', 'log', 'ca', 'tsa', 'tuf'];

export interface Stack {
  url: string;
  server: Server;
  services: Service[];
  metrics: MetricsRegistry;
  logger: Logger;
  /** Stops accepting connections, lets in-flight requests finish, then closes every store. */
  close(): Promise<void>;
}

export interface StartOptions {
  components: readonly ComponentName[];
  clock?: Clock;
  logger?: Logger;
  /** Runs before each component is created, with the components created so far (bootstrap hooks). */
  beforeCreate?: (name: ComponentName, peers: Peers, baseUrl: string) => Promise<void>;
}

/** Config sections that are not components (read by the host or by commands). */
const OTHER_SECTIONS: readonly string[] = ['store', 'admission', 'ui', 'pkcs11'];

export async function startStack(config: CairnConfig, options: StartOptions): Promise<Stack> {
  for (const name of Object.keys(config.sections)) {
    if (!(COMPONENTS as readonly string[]).includes(name) && !OTHER_SECTIONS.includes(name)) {
      throw new SharedError('INVALID_CONFIG', `unknown config section ${name} (known: ${[...COMPONENTS, ...OTHER_SECTIONS].join(', ')})`);
    }
  }
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = new MetricsRegistry();
  const clock = options.clock ?? systemClock;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  const server =
    config.tlsCert !== undefined && config.tlsKey !== undefined
      ? createHttpsServer({ cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey), maxHeaderSize: MAX_HEADER_BYTES })
      : createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES });
  server.keepAliveTimeout = 65_000;
  // Requests the HTTP parser refuses (headers over the limit, not HTTP) get JSON answers too.
  server.on('clientError', answerClientError);
  // From the first moment the server listens every request is answered: until the components
  // exist, 503 STARTING with Retry-After (and /healthz 200, the process is alive). A client that
  // connects during start (a readiness loop, a restart under load) never waits on a silent socket.
  const handler: { serve?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (handler.serve) return handler.serve(req, res);
    answerStarting(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = baseUrlOf(config, port);

  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const services: Service[] = [];
  const peers: Peers = {};
  try {
    for (const name of ORDER) {
      if (!options.components.includes(name)) continue;
      await options.beforeCreate?.(name, peers, url);
      const factory = await FACTORIES[name]();
      const svc = await factory(
        { config, baseUrl: url, dataDir: join(config.dataDir, name), clock, logger: logger.child({ component: name }), metrics },
        peers,
      );
      services.push(svc);
      peers[name] = svc;
      checkSectionRead(config, name);
    }
  } catch (e) {
    for (const s of services.reverse()) await s.close();
    await new Promise<void>((r) => server.close(() => r()));
    throw e;
  }

  const requests = metrics.counter('cairn_http_requests_total', 'HTTP requests by route and status');
  const latency = metrics.histogram('cairn_http_request_duration_seconds', 'HTTP request latency by route');
  const record = (path: string, method: string, status: number, start: bigint): void => {
    const route = routeLabel(path);
    requests.inc({ route, method, status: String(status) });
    latency.observe(Number(process.hrtime.bigint() - start) / 1e9, { route });
  };
  const observe: RequestHandler = (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => record(req.path, req.method, res.statusCode, start));
    next();
  };
  app.use(observe);
  if (config.rateLimit > 0) app.use(rateLimit(config.rateLimit, clock));
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const checks = services.map((s) => ({ component: s.name, ...s.ready() }));
    const ok = checks.every((c) => c.ok);
    res.status(ok ? 200 : 503).json({ status: ok ? 'ready' : 'not ready', checks });
  });
  app.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4').send(metrics.render());
  });
  app.get('/api/cairn/v1/trust-info', (_req, res) => {
    res.json(services.flatMap((s) => s.trustInfo()));
  });
  for (const s of services) app.use(s.router);
  // The explorer goes with the log (cairn up, cairn serve log): its pages read this origin's log and TUF routes.
  if (options.components.includes('log')) {
    const ui = section(config, 'ui');
    if (sectionBool(ui, 'enabled', true)) app.use(explorerRouter());
    checkSectionRead(config, 'ui');
  }
  app.use(notFound);
  app.use(errorHandler(logger));
  // Hot write routes skip the Express stack (same answers; see LeanRoute). With a rate limit
  // configured every request goes through Express, where the limiter is.
  const lean = new Map<string, LeanRoute>();
  if (!(config.rateLimit > 0)) for (const s of services) for (const r of s.leanRoutes ?? []) lean.set(`${r.method} ${r.path}`, r);
  handler.serve = (req: IncomingMessage, res: ServerResponse): void => {
    // A path that does not percent-decode is refused here, once, for every component (Express
    // would fail decoding a route parameter, a component its own decoding).
    const badPath = pathEncodingError(req.url);
    if (badPath) {
      const start = process.hrtime.bigint();
      req.resume();
      res.on('finish', () => record('other', req.method ?? 'GET', res.statusCode, start));
      sendJson(res, badPath);
      return;
    }
    const route = lean.size > 0 ? lean.get(`${req.method} ${req.url}`) : undefined;
    if (route) {
      const start = process.hrtime.bigint();
      if (serveLean(route, req, res)) {
        res.on('finish', () => record(route.path, route.method, res.statusCode, start));
        return;
      }
    }
    void app(req, res);
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop accepting, then keep closing connections as they go idle (a keep-alive connection
      // whose request just finished would otherwise hold close() for keepAliveTimeout). After
      // DRAIN_DEADLINE_MS whatever is left is cut.
      await new Promise<void>((r) => {
        const started = Date.now();
        const sweep = setInterval(() => {
          if (Date.now() - started > DRAIN_DEADLINE_MS) server.closeAllConnections();
          else server.closeIdleConnections();
        }, 25);
        server.close(() => {
          clearInterval(sweep);
          r();
        });
        server.closeIdleConnections();
      });
      for (const s of [...services].reverse()) await s.close();
    })();
    return closing;
  };
  return { url, server, services, metrics, logger, close };
}

/** The answer to every request that arrives before the components exist. */
function answerStarting(req: IncomingMessage, res: ServerResponse): void {
  // The body (if any) is not read: drain it so the connection stays usable, and close after.
  req.resume();
  const path = (req.url ?? '').split('?')[0];
  const healthy = req.method === 'GET' && path === '/healthz';
  const body = JSON.stringify(healthy ? { status: 'ok' } : { code: 'STARTING', message: 'the server is starting; retry shortly' });
  res.writeHead(healthy ? 200 : 503, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(healthy ? {} : { 'retry-after': '1' }),
  });
  res.end(body);
}

/** Collapses IDs in paths so metrics labels stay bounded. */
function routeLabel(path: string): string {
  if (path.startsWith('/tile/')) return '/tile';
  if (path.startsWith('/tuf/')) return '/tuf';
  if (path.startsWith('/api/v1/log/entries/') && path !== '/api/v1/log/entries/retrieve') return '/api/v1/log/entries/:id';
  if (path.length > 64) return 'other';
  return path;
}
