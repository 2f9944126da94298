export { EntryParseError, parseEntry } from './entry.ts';
export { MonitorError } from './errors.ts';
export { type MonitorOptions, type Outcome, type RunResult, type WitnessConfig, runOnce } from './monitor.ts';
export { loadPolicy, parsePolicy } from './policy.ts';
export { formatReport } from './report.ts';
export { loadState } from './state.ts';
export { HttpTlogReader } from './tlog-client.ts';
