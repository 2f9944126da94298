/**
 * `cairn serve admission`: the HTTPS webhook. TLS is required (the API server only calls
 * https). POST /validate and POST /mutate take an AdmissionReview v1 (application/json, at most
 * `maxBodyBytes`); GET /healthz, /readyz, /metrics. Bad input never reaches the engine: 413 for
 * a body over the limit (read and discarded up to a bound, then the connection closes), 415 for
 * another content type, 400 with a stable code for a body that is not an AdmissionReview v1.
 * Policies reload when their files change (checked every `reloadIntervalMs`): the new set is
 * swapped in whole, requests in flight finish with the set they started with, and a broken
 * edit keeps the previous set (logged, counted).
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { isCairnError, MetricsRegistry, type Logger } from '@cairn/shared';
import type { ImageSource } from '@cairn/oci/verify';
import type { TrustMaterial } from '@cairn/verify';
import { AdmissionEngine, type DecisionRecord, type NoMatch } from './engine.ts';
import { loadPolicySet, policyFiles, type PolicySet } from './policy.ts';

/** The API server's own request limit is 3 MiB per object; object + oldObject fit in 6 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024;
/** Bytes of an oversized body read (and dropped) before the connection is closed. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

export interface AdmissionServerOptions {
  tlsCert: Buffer | string;
  tlsKey: Buffer | string;
  port?: number;
  host?: string;
  policyPaths: string[];
  cwd?: string;
  trust: TrustMaterial;
  client: ImageSource;
  logger: Logger;
  maxBodyBytes?: number;
  cacheTtlMs?: number;
  cacheSize?: number;
  negativeTtlMs?: number;
  tagTtlMs?: number;
  timeoutMs?: number;
  noMatch?: NoMatch;
  namespaces?: string[];
  excludeNamespaces?: string[];
  /** 0: no reload. */
  reloadIntervalMs?: number;
}

export interface AdmissionServer {
  url: string;
  port: number;
  engine: AdmissionEngine;
  metrics: MetricsRegistry;
  policies(): PolicySet;
  /** Re-reads the policy files now; returns whether a new set was taken. */
  reload(): boolean;
  close(): Promise<void>;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function send(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > max;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      if (over) {
        chunks.length = 0;
        if (size > MAX_DISCARD_BYTES) req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(over ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => {
      if (over) resolve('too-large');
    });
  });
}

function fingerprint(files: string[]): string {
  return files
    .map((f) => {
      try {
        const s = statSync(f);
        return `${f}:${s.size}:${s.mtimeMs}`;
      } catch {
        return `${f}:missing`;
      }
    })
    .join('|');
}

export async function startAdmissionServer(o: AdmissionServerOptions): Promise<AdmissionServer> {
  const cwd = o.cwd ?? process.cwd();
  let set = loadPolicySet(o.policyPaths, o.trust, cwd);
  let seen = fingerprint(policyFiles(o.policyPaths, cwd));
  const metrics = new MetricsRegistry();
  const decisions = metrics.counter('cairn_admission_decisions_total', 'AdmissionReview decisions by endpoint and result');
  const latency = metrics.histogram('cairn_admission_decision_seconds', 'time to answer an AdmissionReview, by result', LATENCY_BUCKETS);
  const failuresByCode = metrics.counter('cairn_admission_image_failures_total', 'image policy failures by code and mode');
  const badRequests = metrics.counter('cairn_admission_bad_requests_total', 'requests refused before a decision, by code');
  const reloads = metrics.counter('cairn_admission_policy_reloads_total', 'policy reloads by outcome');
  const policyGauge = metrics.gauge('cairn_admission_policies', 'policies loaded');
  policyGauge.set(() => set.policies.length);
  const onDecision = (d: DecisionRecord): void => {
    decisions.inc({ endpoint: d.endpoint, result: d.result });
    for (const f of d.failures) failuresByCode.inc({ code: f.code, mode: f.mode });
    if (d.result === 'denied') o.logger.info('admission denied', { uid: d.uid, namespace: d.namespace, kind: d.kind, name: d.name, dryRun: d.dryRun, failures: d.failures });
  };
  const engine = new AdmissionEngine({
    policies: () => set,
    trust: o.trust,
    client: o.client,
    logger: o.logger,
    onDecision,
    ...(o.cacheTtlMs !== undefined ? { cacheTtlMs: o.cacheTtlMs } : {}),
    ...(o.cacheSize !== undefined ? { cacheSize: o.cacheSize } : {}),
    ...(o.negativeTtlMs !== undefined ? { negativeTtlMs: o.negativeTtlMs } : {}),
    ...(o.tagTtlMs !== undefined ? { tagTtlMs: o.tagTtlMs } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.noMatch !== undefined ? { noMatch: o.noMatch } : {}),
    ...(o.namespaces !== undefined ? { namespaces: o.namespaces } : {}),
    ...(o.excludeNamespaces !== undefined ? { excludeNamespaces: o.excludeNamespaces } : {}),
  });
  const cacheGauge = metrics.gauge('cairn_admission_cache_entries', 'verification results cached');
  cacheGauge.set(() => engine.cacheSize);
  const hits = metrics.gauge('cairn_admission_cache_hits', 'verification cache hits since start');
  hits.set(() => engine.stats.cacheHits);
  const misses = metrics.gauge('cairn_admission_cache_misses', 'verification cache misses since start');
  misses.set(() => engine.stats.cacheMisses);

  const reload = (): boolean => {
    let files: string[];
    try {
      files = policyFiles(o.policyPaths, cwd);
    } catch (e) {
      reloads.inc({ outcome: 'failed' });
      o.logger.error('policy reload failed; keeping the loaded policies', { error: e instanceof Error ? e.message : String(e) });
      return false;
    }
    const fp = fingerprint(files);
    if (fp === seen) return false;
    seen = fp;
    try {
      const next = loadPolicySet(o.policyPaths, o.trust, cwd);
      if (next.id === set.id) return false;
      set = next;
      reloads.inc({ outcome: 'loaded' });
      o.logger.info('policies reloaded', { policies: next.policies.map((p) => `${p.kind}/${p.name}`) });
      return true;
    } catch (e) {
      reloads.inc({ outcome: 'failed' });
      o.logger.error('policy reload failed; keeping the loaded policies', { code: isCairnError(e) ? e.code : 'INTERNAL', error: e instanceof Error ? e.message : String(e) });
      return false;
    }
  };

  const maxBody = o.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/healthz') return send(res, 200, { status: 'ok' });
      if (path === '/readyz') return send(res, 200, { status: 'ready', policies: set.policies.length, policySet: set.id.slice(0, 16) });
      if (path === '/metrics') return send(res, 200, metrics.render(), 'text/plain; version=0.0.4');
    }
    if (path !== '/validate' && path !== '/mutate') {
      badRequests.inc({ code: 'NOT_FOUND' });
      return send(res, 404, { code: 'NOT_FOUND', message: `no route ${req.method ?? ''} ${String(path).slice(0, 100)}` });
    }
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      badRequests.inc({ code: 'METHOD_NOT_ALLOWED' });
      return send(res, 405, { code: 'METHOD_NOT_ALLOWED', message: `${path} takes POST` });
    }
    const started = process.hrtime.bigint();
    const ct = String(req.headers['content-type'] ?? '');
    // The API server sends application/json; curl -d sends its form type by default (the body is read as JSON either way).
    if (ct !== '' && !/^application\/json\b/i.test(ct) && !/^application\/x-www-form-urlencoded\b/i.test(ct)) {
      req.resume();
      badRequests.inc({ code: 'UNSUPPORTED_MEDIA_TYPE' });
      return send(res, 415, { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'an AdmissionReview is sent as application/json' });
    }
    const body = await readBody(req, maxBody);
    if (body === 'too-large') {
      badRequests.inc({ code: 'BODY_TOO_LARGE' });
      res.setHeader('connection', 'close');
      return send(res, 413, { code: 'BODY_TOO_LARGE', message: `the AdmissionReview is larger than ${maxBody} bytes` });
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      badRequests.inc({ code: 'REVIEW_INVALID' });
      return send(res, 400, { code: 'REVIEW_INVALID', message: 'the body is not JSON' });
    }
    let result = 'error';
    try {
      const a = await engine.review(json, path === '/mutate' ? 'mutate' : 'validate');
      const r = (a.body as { response: { allowed: boolean } }).response;
      result = r.allowed ? 'allowed' : 'denied';
      send(res, a.status, a.body);
    } catch (e) {
      if (isCairnError(e) && (e.code === 'REVIEW_INVALID' || e.code === 'REVIEW_UNSUPPORTED')) {
        result = 'bad_request';
        badRequests.inc({ code: e.code });
        send(res, 400, { code: e.code, message: e.message });
      } else {
        o.logger.error('admission review failed', { error: e instanceof Error ? e.message : String(e) });
        send(res, 500, { code: 'INTERNAL', message: 'internal error' });
      }
    } finally {
      latency.observe(Number(process.hrtime.bigint() - started) / 1e9, { result });
    }
  };

  const server: Server = createServer({ cert: o.tlsCert, key: o.tlsKey, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      o.logger.error('admission request failed', { error: e instanceof Error ? e.message : String(e) });
      if (!res.headersSent) send(res, 500, { code: 'INTERNAL', message: 'internal error' });
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 8443, o.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host ?? '127.0.0.1';
  const timer = (o.reloadIntervalMs ?? 2000) > 0 ? setInterval(reload, o.reloadIntervalMs ?? 2000) : undefined;
  timer?.unref();
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    engine,
    metrics,
    policies: () => set,
    reload,
    close: () =>
      new Promise<void>((resolve) => {
        if (timer) clearInterval(timer);
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
