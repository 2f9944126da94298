/**
 * Probes a server that is starting: opens connections in a loop from the moment a process is
 * spawned and records what each one got (refused while nothing listens, a status, or a hang).
 * Used by the start-window test and the restart soak.
 */
import { request } from 'node:http';
import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export type ProbeOutcome = { kind: 'status'; status: number; code?: string; retryAfter?: string; path: string; ms: number } | { kind: 'refused' } | { kind: 'hang'; path: string } | { kind: 'error'; path: string; message: string };

const PROBES: readonly { method: string; path: string; body?: string }[] = [
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/api/v1/log' },
  { method: 'POST', path: '/api/v1/log/entries', body: '{}' },
  { method: 'GET', path: '/tuf/timestamp.json' },
];

/** One request with a deadline: what came back within `timeoutMs`. */
export function probeOnce(port: number, i: number, timeoutMs = 1000): Promise<ProbeOutcome> {
  const p = PROBES[i % PROBES.length]!;
  const started = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: ProbeOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(o);
    };
    const req = request({ host: '127.0.0.1', port, method: p.method, path: p.path, agent: false, headers: p.body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { code?: string }).code;
        } catch {
          /* not JSON: code stays undefined */
        }
        const retryAfter = res.headers['retry-after'];
        finish({ kind: 'status', status: res.statusCode ?? 0, code, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined, path: p.path, ms: Date.now() - started });
      });
    });
    const timer = setTimeout(() => finish({ kind: 'hang', path: p.path }), timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => finish(e.code === 'ECONNREFUSED' ? { kind: 'refused' } : { kind: 'error', path: p.path, message: `${e.code ?? ''} ${e.message}` }));
    req.end(p.body);
  });
}

/**
 * Probes `port` with `parallel` loops until `stop()` resolves, then a last round. Returns every
 * outcome, in order.
 */
export async function probeUntil(port: number, stop: Promise<unknown>, parallel = 4): Promise<ProbeOutcome[]> {
  const outcomes: ProbeOutcome[] = [];
  let stopped = false;
  void stop.finally(() => (stopped = true));
  let n = 0;
  const loop = async (): Promise<void> => {
    while (!stopped) {
      const o = await probeOnce(port, n++);
      outcomes.push(o);
      if (o.kind === 'refused') await new Promise((r) => setTimeout(r, 5));
    }
  };
  await Promise.all(Array.from({ length: parallel }, loop));
  return outcomes;
}

/** Counts outcomes as `refused`, `hang`, `error`, `503 STARTING`, `200`, …. */
export function histogram(outcomes: readonly ProbeOutcome[]): Record<string, number> {
  const h: Record<string, number> = {};
  for (const o of outcomes) {
    const k = o.kind === 'status' ? `${o.status}${o.code ? ` ${o.code}` : ''}` : o.kind;
    h[k] = (h[k] ?? 0) + 1;
  }
  return h;
}
