/** The human-readable report of one monitoring pass. */
import type { RunResult } from './monitor.ts';

const VERDICT: Record<RunResult['outcome'], string> = {
  ok: 'OK',
  'identity-alert': 'IDENTITY ALERT',
  'consistency-alarm': 'CONSISTENCY ALARM',
};

/** Lines shown per alert kind before the rest is summarised (the JSON output has all). */
const MAX_LISTED = 50;

export function formatReport(r: RunResult, exitCode: number): string {
  const lines: string[] = [];
  lines.push(`cairn monitor: ${r.log} (origin ${r.origin})`);
  const prev = r.previous ? `${r.previous.size}` : 'none';
  lines.push(`  checkpoint: ${prev} -> ${r.checkpoint.size} (root ${r.checkpoint.rootHash})${r.stale ? ' [stale copy of a verified checkpoint]' : ''}`);
  lines.push(`  entries checked: ${r.entriesChecked} in ${(r.elapsedMs / 1000).toFixed(2)} s (${Math.round(r.entriesPerSecond)} entries/s)`);
  const total = r.alerts.length + r.alertsDropped;
  lines.push(`  alerts: ${total}`);
  for (const a of r.alerts.slice(0, MAX_LISTED)) lines.push(`    [${a.class}] ${a.kind}: ${a.message}`);
  if (total > MAX_LISTED) lines.push(`    ... and ${total - MAX_LISTED} more (use --json or --alert-file for all)`);
  if (r.deliveryError !== undefined) lines.push(`  alert delivery FAILED: ${r.deliveryError}`);
  lines.push(`  state: ${r.stateAdvanced ? `advanced to ${r.checkpoint.size}` : 'unchanged'}`);
  if (r.cosigned) lines.push('  witness: checkpoint cosigned and posted to the log');
  if (r.witnessError !== undefined) lines.push(`  witness: FAILED: ${r.witnessError}`);
  lines.push(`RESULT: ${VERDICT[r.outcome]} (exit ${exitCode})`);
  return `${lines.join('\n')}\n`;
}
