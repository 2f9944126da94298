/**
 * Body of a prepare-pool worker: validates and canonicalizes proposed entries, including the
 * signature checks (prehashed ECDSA, certificates), off the main thread. Messages:
 *   -> [{id, api: 'v1' | 'v2', input}, ...]
 *   <- [{id, ok: true, kind, apiVersion, body, indexKeys, attestation?} | {id, ok: false, code?, message, details?}, ...]
 * Buffers arrive on the main thread as plain Uint8Arrays (structured clone): body and attestation
 * are posted as views of their own (ownBytes) and made Buffers again by prepare-pool.ts settle().
 */
import { parentPort } from 'node:worker_threads';
import { LogError } from './errors.ts';
import { prepareInline } from './prepare-pool.ts';
import { withDeferredEcdsa } from './prehash.ts';
import type { PreparedEntry } from './types/index.ts';
import { ownBytes } from './store/batch-writer.ts';

interface Request {
  id: number;
  api: 'v1' | 'v2';
  input: unknown;
}

function reply(id: number, r: { ok: true; value: PreparedEntry } | { ok: false; error: unknown }): Record<string, unknown> {
  if (r.ok) {
    const p = r.value;
    return {
      id,
      ok: true,
      kind: p.kind,
      apiVersion: p.apiVersion,
      body: ownBytes(p.body),
      indexKeys: p.indexKeys,
      ...(p.attestation !== undefined ? { attestation: ownBytes(p.attestation) } : {}),
    };
  }
  const e = r.error;
  if (e instanceof LogError) return { id, ok: false, code: e.code, message: e.message, details: e.details };
  return { id, ok: false, message: e instanceof Error ? e.message : String(e) };
}

// Requests come in batches (one message per event-loop turn of the main thread); so do answers.
// The ECDSA checks of a batch are decided together (shared modular inversions).
parentPort!.on('message', (batch: Request[]) => {
  const results = withDeferredEcdsa(batch, (m) => prepareInline(m.api, m.input));
  parentPort!.postMessage(batch.map((m, i) => reply(m.id, results[i]!)));
});
parentPort!.postMessage({ ready: true });
