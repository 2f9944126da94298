/**
 * Alerts and their delivery. An identity alert is an entry whose signer the policy does not
 * allow (or that cannot be read); a consistency alarm means the log's history changed (split
 * view, rewrite, rollback). Delivery: a webhook (POST JSON, in chunks) and/or a JSON-lines file.
 */
import { appendFileSync } from 'node:fs';
import { MonitorError } from './errors.ts';
import type { SignerIdentity } from './identity.ts';

export type AlertKind =
  | 'unexpected-signer'
  | 'unreadable-entry'
  | 'inconsistent-tree'
  | 'split-view'
  | 'entries-mismatch'
  | 'origin-changed';

export type AlertClass = 'identity' | 'consistency';

export interface TreeRef {
  size: number;
  rootHash: string;
}

export interface Alert {
  kind: AlertKind;
  class: AlertClass;
  log: string;
  message: string;
  /** ISO 8601 time the monitor saw it. */
  observedAt: string;
  index?: number;
  leafHash?: string;
  entryKind?: string;
  signer?: SignerIdentity;
  previous?: TreeRef;
  checkpoint?: TreeRef;
}

/** Alerts per webhook request. */
export const WEBHOOK_CHUNK = 500;
const WEBHOOK_TIMEOUT_MS = 15_000;

export interface AlertSinks {
  webhook?: string | undefined;
  alertFile?: string | undefined;
}

export async function deliverAlerts(alerts: readonly Alert[], sinks: AlertSinks): Promise<void> {
  if (alerts.length === 0) return;
  if (sinks.alertFile !== undefined) {
    try {
      appendFileSync(sinks.alertFile, alerts.map((a) => `${JSON.stringify(a)}\n`).join(''));
    } catch (e) {
      throw new MonitorError('ALERT_DELIVERY_FAILED', `cannot append to ${sinks.alertFile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  if (sinks.webhook !== undefined) {
    for (let i = 0; i < alerts.length; i += WEBHOOK_CHUNK) {
      const chunk = alerts.slice(i, i + WEBHOOK_CHUNK);
      let res: Response;
      try {
        res = await fetch(sinks.webhook, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ source: 'cairn-monitor', alerts: chunk }),
          signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
          redirect: 'error',
        });
      } catch (e) {
        throw new MonitorError('ALERT_DELIVERY_FAILED', `webhook failed: ${e instanceof Error ? e.message : String(e)}`);
      }
      await res.body?.cancel();
      if (res.status < 200 || res.status > 299) throw new MonitorError('ALERT_DELIVERY_FAILED', `webhook answered ${res.status}`);
    }
  }
}
