import { COMPONENTS, loadConfig, type ComponentName } from '@cairn/shared';
import { CliError, parseFlags, type Command } from '../command.ts';
import { startStack, type Stack } from '@cairn/host';
import { ADMISSION_SERVE_USAGE } from './admission-usage.ts';

export const SERVER_FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  'public-url': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  dev: { type: 'boolean' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'rate-limit': { type: 'string' },
  set: { type: 'string', multiple: true },
  store: { type: 'string' },
} as const;

export const SERVER_FLAGS_HELP = `  --port P              port to listen on (default 3000; 0 picks a free port)        [CAIRN_PORT]
  --host H              address to bind (default 127.0.0.1)                          [CAIRN_HOST]
  --data-dir D          state directory (default .cairn)                              [CAIRN_DATA_DIR]
  --public-url URL      URL clients use to reach this server (default http://H:P)     [CAIRN_PUBLIC_URL]
  --config FILE         YAML or JSON config file                                      [CAIRN_CONFIG]
  --log-level L         debug|info|warn|error|silent (default info)                   [CAIRN_LOG_LEVEL]
  --dev                 development mode: the OIDC issuer mints tokens for 'cairn token' [CAIRN_DEV]
  --tls-cert F --tls-key F   serve HTTPS                                              [CAIRN_TLS_CERT/KEY]
  --max-body-bytes N    request body limit (default 4194304)                          [CAIRN_MAX_BODY_BYTES]
  --rate-limit N        requests per second per client, 0 = off (default 0)           [CAIRN_RATE_LIMIT]
  --store URL           log and CT store: postgres://… (several replicas, one elected
                        sequencer); default: SQLite files in the data dir          [CAIRN_STORE]
  --set section.key=V   any component setting, e.g. --set log.batchMaxSize=512        [CAIRN_<SECTION>__<KEY>]`;

/** Waits for SIGINT/SIGTERM, then drains and closes the stack. */
export async function runUntilSignal(stack: Stack): Promise<number> {
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  stack.logger.info('shutting down');
  await stack.close();
  return 0;
}

export const command: Command = {
  summary: 'run one component alone',
  usage: `Usage: cairn serve ca|ct|log|tsa|tuf|oidc [options]
       cairn serve admission --tls-cert F --tls-key F --policy FILE|DIR [options]

Runs one component on its own port, for split deployments (docker-compose, Kubernetes).
State lives in <data-dir>/<component>/ and is created on first start (the TSA's keys come from
'cairn tsa init --dir <data-dir>/tsa' first, or from the folder tsa.keyDir names).

Options:
${SERVER_FLAGS_HELP}

The admission webhook (cairn serve admission --help for all its options):
${ADMISSION_SERVE_USAGE}`,
  subcommands: ['admission'],
  async run(args, io) {
    if (args[0] === 'admission') {
      const { serveAdmission } = await import('./admission.ts');
      return serveAdmission(args.slice(1), io);
    }
    const { values, positionals } = parseFlags(args, SERVER_FLAGS);
    const name = positionals[0];
    if (positionals.length !== 1 || !COMPONENTS.includes(name as ComponentName)) {
      throw new CliError('USAGE', `cairn serve needs one component: ${COMPONENTS.join('|')}|admission`);
    }
    const config = loadConfig({ flags: values, env: io.env });
    const stack = await startStack(config, { components: [name as ComponentName] });
    io.stdout(`cairn ${name} listening on ${stack.url}\n`);
    return runUntilSignal(stack);
  },
};
