import { readFileSync } from 'node:fs';
import { LocalSigner, PublicKey, isCairnError, privateKeyFromPem, systemClock } from '@cairn/shared';
import { isValidKeyName } from '@cairn/shared/checkpoint';
import { CliError, parseFlags, type CliIO, type Command } from '../command.ts';
import { MonitorError } from '@cairn/monitor';
import { runOnce, type MonitorOptions, type Outcome, type RunResult, type WitnessConfig } from '@cairn/monitor';
import { loadPolicy } from '@cairn/monitor';
import { formatReport } from '@cairn/monitor';
import { HttpTlogReader } from '@cairn/monitor';

/** Exit codes (documented in the usage text). */
export const EXIT = { ok: 0, error: 1, identity: 2, consistency: 3, usage: 64 } as const;
const MAX_INTERVAL_S = 7 * 24 * 3600;

const USAGE = `Usage: cairn monitor --log URL --state FILE --policy POLICY [options]

Reads the log through the C2SP tlog-tiles API (URL/checkpoint, URL/tile/...) from the last
verified checkpoint (kept in --state) to the newest one. Verifies the checkpoint signature, the
consistency of the new tree with the verified one (proof computed from tiles) and that the new
entries hash to the signed root; then checks the signer of every new entry against the policy.
The state file advances only after those checks passed and the alerts were delivered.

Options:
  --log URL            base URL of the log's tiles API (required)
  --state FILE         state file: last verified checkpoint (created on the first run)
  --policy POLICY      policy file (YAML or JSON): allowed identities and keys, optionally the
                       log key and origin
  --log-key PEM        the log's public key (overrides log.publicKey in the policy)
  --origin ORIGIN      required checkpoint origin (overrides log.origin in the policy)
  --start-at-latest    first run only: trust the current checkpoint, check only later entries
  --json               print the result as JSON (one object per run) instead of text
  --webhook URL        POST alerts as JSON {source, alerts:[...]} to URL
  --alert-file FILE    append alerts to FILE, one JSON object per line
  --watch              keep running: one pass every --interval seconds
  --interval S         seconds between passes in --watch mode (default 60)
  --rounds N           in --watch mode, stop after N passes
  --witness-key KEY    Ed25519 private key (PEM; passphrase from CAIRN_WITNESS_KEY_PASSPHRASE):
                       cosign each verified checkpoint (C2SP tlog-cosignature) and POST it to
                       URL/api/cairn/v1/witness/cosignatures
  --witness-name NAME  the witness key name (required with --witness-key)
  --concurrency N      entry bundles fetched in parallel (default 8)
  --timeout S          per-request timeout in seconds (default 30)

Progress on long catch-ups (entries/s) goes to stderr.

Policy (YAML or JSON); a signer passes if it matches any identity or key:
  log: { origin: log.example.com, publicKey: "<PEM>" }     # optional
  identities:
    - issuer: https://token.actions.githubusercontent.com     # string = exact match
      subject: { glob: "https://github.com/acme/*" }          # or { regex: "..." } (anchored)
      extensions: { 1.3.6.1.4.1.57264.1.12: https://github.com/acme/app }
  keys: ["<PEM public key>", "sha256:<hex of the DER SubjectPublicKeyInfo>"]

Exit codes:
  0   no alert
  1   operational error (network, malformed response, bad state, witness failure, or identity
      alerts that could not be delivered: the state stays put so the next run finds them again)
  2   identity alert: an entry whose signer the policy does not allow (or that cannot be read)
  3   consistency alarm: split view, rewritten or forked history, entries not matching the root
  64  usage error
In --watch mode a consistency alarm stops the monitor at once (exit 3); otherwise it runs until
SIGINT/SIGTERM or --rounds and exits with the most severe code seen.
`;

function positiveInt(v: string | undefined, what: string, dflt: number, max: number): number {
  if (v === undefined) return dflt;
  if (!/^[1-9][0-9]*$/.test(v) || Number(v) > max) throw new CliError('USAGE', `${what} must be an integer 1..${max}`);
  return Number(v);
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError('IO_ERROR', `cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

function exitOf(outcome: Outcome): number {
  return outcome === 'consistency-alarm' ? EXIT.consistency : outcome === 'identity-alert' ? EXIT.identity : EXIT.ok;
}

function codeOf(r: RunResult): number {
  const c = exitOf(r.outcome);
  return c === EXIT.ok && r.witnessError !== undefined ? EXIT.error : c;
}

function severity(code: number): number {
  // consistency > identity > error > ok
  return code === EXIT.consistency ? 3 : code === EXIT.identity ? 2 : code === EXIT.error ? 1 : 0;
}

function parse(args: string[], io: CliIO): { options: MonitorOptions; json: boolean; watch: boolean; intervalS: number; rounds: number | undefined } {
  const { values, positionals } = parseFlags(args, {
    log: { type: 'string' },
    state: { type: 'string' },
    policy: { type: 'string' },
    'log-key': { type: 'string' },
    origin: { type: 'string' },
    'start-at-latest': { type: 'boolean' },
    json: { type: 'boolean' },
    webhook: { type: 'string' },
    'alert-file': { type: 'string' },
    watch: { type: 'boolean' },
    interval: { type: 'string' },
    rounds: { type: 'string' },
    'witness-key': { type: 'string' },
    'witness-name': { type: 'string' },
    concurrency: { type: 'string' },
    timeout: { type: 'string' },
  });
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${positionals[0]}`);
  if (values.log === undefined || values.state === undefined || values.policy === undefined) {
    throw new CliError('USAGE', '--log, --state and --policy are required');
  }
  if (values.webhook !== undefined && !/^https?:\/\//.test(values.webhook)) throw new CliError('USAGE', '--webhook must be an http(s) URL');
  if (!values.watch && (values.interval !== undefined || values.rounds !== undefined)) {
    throw new CliError('USAGE', '--interval and --rounds need --watch');
  }
  if ((values['witness-key'] === undefined) !== (values['witness-name'] === undefined)) {
    throw new CliError('USAGE', '--witness-key and --witness-name go together');
  }
  const intervalS = positiveInt(values.interval, '--interval', 60, MAX_INTERVAL_S);
  const rounds = values.rounds === undefined ? undefined : positiveInt(values.rounds, '--rounds', 1, 1_000_000);
  const concurrency = positiveInt(values.concurrency, '--concurrency', 8, 64);
  const timeoutS = positiveInt(values.timeout, '--timeout', 30, 3600);

  const policy = loadPolicy(values.policy);
  const keyPem = values['log-key'] !== undefined ? readText(values['log-key'], 'log key') : policy.logKeyPem;
  if (keyPem === undefined) throw new CliError('USAGE', 'the log key is needed: --log-key PEM or log.publicKey in the policy');
  let logKey: PublicKey;
  try {
    logKey = PublicKey.fromPem(keyPem);
  } catch (e) {
    throw new MonitorError('INVALID_LOG_KEY', 'the log key is not a supported PEM public key', { cause: e });
  }
  let witness: WitnessConfig | undefined;
  if (values['witness-key'] !== undefined && values['witness-name'] !== undefined) {
    if (!isValidKeyName(values['witness-name'])) throw new CliError('USAGE', '--witness-name must be non-empty without spaces or "+"');
    const signer = new LocalSigner(privateKeyFromPem(readText(values['witness-key'], 'witness key'), io.env.CAIRN_WITNESS_KEY_PASSPHRASE));
    if (signer.algorithm !== 'ed25519') throw new CliError('USAGE', '--witness-key must be an Ed25519 key (tlog-cosignature)');
    witness = { name: values['witness-name'], signer };
  }
  const options: MonitorOptions = {
    logUrl: values.log,
    reader: new HttpTlogReader(values.log, timeoutS * 1000),
    statePath: values.state,
    policy,
    logKey,
    origin: values.origin ?? policy.origin,
    clock: systemClock,
    sinks: { webhook: values.webhook, alertFile: values['alert-file'] },
    witness,
    startAtLatest: values['start-at-latest'] === true,
    concurrency,
    onProgress: (p) => io.stderr(`cairn monitor: ${p.done}/${p.total} entries checked (${Math.round(p.entriesPerSecond)} entries/s)\n`),
  };
  return { options, json: values.json === true, watch: values.watch === true, intervalS, rounds };
}

function sleep(ms: number, stop: { stopped: boolean; wake?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    stop.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
}

async function once(options: MonitorOptions, json: boolean, io: CliIO): Promise<number> {
  try {
    const r = await runOnce(options);
    const code = codeOf(r);
    io.stdout(json ? `${JSON.stringify({ ...r, exitCode: code })}\n` : formatReport(r, code));
    return code;
  } catch (e) {
    if (!isCairnError(e)) throw e;
    if (json) io.stdout(`${JSON.stringify({ outcome: 'error', log: options.logUrl, error: { code: e.code, message: e.message }, exitCode: EXIT.error })}\n`);
    io.stderr(`cairn monitor: error [${e.code}]: ${e.message}\n`);
    return EXIT.error;
  }
}

export const command: Command = {
  summary: 'watch the transparency log for split views and unexpected signers',
  usage: USAGE,
  async run(args, io) {
    let parsed;
    try {
      parsed = parse(args, io);
    } catch (e) {
      if (e instanceof CliError && e.code === 'USAGE') {
        io.stderr(`cairn monitor: ${e.message}\n\n${USAGE}`);
        return EXIT.usage;
      }
      throw e;
    }
    const { options, json, watch, intervalS, rounds } = parsed;
    if (!watch) return once(options, json, io);
    const stop: { stopped: boolean; wake?: () => void } = { stopped: false };
    const onSignal = (): void => {
      stop.stopped = true;
      stop.wake?.();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    let worst = EXIT.ok as number;
    try {
      for (let round = 1; !stop.stopped; round++) {
        const code = await once(options, json, io);
        if (severity(code) > severity(worst)) worst = code;
        if (code === EXIT.consistency) return code;
        if (rounds !== undefined && round >= rounds) break;
        await sleep(intervalS * 1000, stop);
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return worst;
  },
};
