/**
 * Per-client token buckets: `rate` requests per second with a burst of twice that. Answers 429
 * with `{code: 'RATE_LIMITED'}` and a Retry-After header. The table of clients is bounded: when
 * it is full, idle buckets are dropped first.
 */
import type { RequestHandler } from 'express';
import type { Clock } from '@cairn/shared';

const MAX_CLIENTS = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export function rateLimit(rate: number, clock: Clock): RequestHandler {
  const burst = Math.max(1, rate * 2);
  const buckets = new Map<string, Bucket>();
  return (req, res, next) => {
    const key = req.socket.remoteAddress ?? 'unknown';
    const now = clock.now().getTime();
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= MAX_CLIENTS) {
        for (const [k, v] of buckets) {
          if (now - v.at > 10_000 || buckets.size >= MAX_CLIENTS) buckets.delete(k);
          if (buckets.size < MAX_CLIENTS * 0.9) break;
        }
      }
      b = { tokens: burst, at: now };
      buckets.set(key, b);
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens < 1) {
      res.setHeader('Retry-After', String(Math.max(1, Math.ceil((1 - b.tokens) / rate))));
      res.status(429).json({ code: 'RATE_LIMITED', message: `more than ${rate} requests per second from this client` });
      return;
    }
    b.tokens -= 1;
    next();
  };
}
