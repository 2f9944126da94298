/**
 * Body of a prepare-pool worker: validates and canonicalizes proposed entries, including the
 * signature checks (prehashed ECDSA, certificates), off the main thread. Messages:
 *   -> [{id, api: 'v1' | 'v2', input}, ...]
 *   <- [{id, ok: true, kind, apiVersion, body, indexKeys} | {id, ok: false, code?, message, details?}, ...]
 */
import { parentPort } from 'node:worker_threads';
import { LogError } from './errors.ts';
import { prepareInline } from './prepare-pool.ts';
import { ownBytes } from './store/batch-writer.ts';

interface Request {
  id: number;
  api: 'v1' | 'v2';
  input: unknown;
}

function prepareOne(m: Request): Record<string, unknown> {
  try {
    const p = prepareInline(m.api, m.input);
    return { id: m.id, ok: true, kind: p.kind, apiVersion: p.apiVersion, body: ownBytes(p.body), indexKeys: p.indexKeys };
  } catch (e) {
    if (e instanceof LogError) return { id: m.id, ok: false, code: e.code, message: e.message, details: e.details };
    return { id: m.id, ok: false, message: e instanceof Error ? e.message : String(e) };
  }
}

// Requests come in batches (one message per event-loop turn of the main thread); so do answers.
parentPort!.on('message', (batch: Request[]) => {
  parentPort!.postMessage(batch.map(prepareOne));
});
parentPort!.postMessage({ ready: true });
