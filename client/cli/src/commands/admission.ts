/**
 * `cairn admission certs|check-policy` and `cairn serve admission` (through serve.ts): the
 * Kubernetes admission webhook of @cairn/admission. Settings come from flags, else the config
 * file's `admission` section (unknown keys refused), else defaults.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkSectionRead, createLogger, loadConfig, section, sectionValue } from '@cairn/shared';
import { createWebhookCerts, loadPolicySet, startAdmissionServer } from '@cairn/admission';
import { CliError, parseFlags, type CliIO, type Command } from '../command.ts';
import { REGISTRY_FLAGS, registryClient } from './image-common.ts';
import { loadTrust } from './verify.ts';

const TRUST_FLAGS = {
  'trusted-root': { type: 'string' },
  'tuf-cache': { type: 'string' },
  'tuf-mirror': { type: 'string' },
} as const;

const SERVE_FLAGS = {
  ...REGISTRY_FLAGS,
  ...TRUST_FLAGS,
  port: { type: 'string' },
  host: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  policy: { type: 'string', multiple: true },
  'cache-ttl': { type: 'string' },
  'cache-size': { type: 'string' },
  'negative-cache-ttl': { type: 'string' },
  'tag-cache-ttl': { type: 'string' },
  timeout: { type: 'string' },
  'no-match': { type: 'string' },
  namespace: { type: 'string', multiple: true },
  'exclude-namespace': { type: 'string', multiple: true },
  'reload-interval': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  set: { type: 'string', multiple: true },
} as const;


function secondsMs(v: unknown, what: string, min = 0, max = 86_400): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError('USAGE', `${what} is a number of seconds between ${min} and ${max}`);
  return Math.round(n * 1000);
}

function count(v: unknown, what: string, min: number, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError('USAGE', `${what} is an integer between ${min} and ${max}`);
  return n;
}

function strings(v: unknown, what: string): string[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v;
  throw new CliError('USAGE', `${what} is a list of strings`);
}

function readFile(path: string, what: string, cwd: string): Buffer {
  try {
    return readFileSync(resolve(cwd, path));
  } catch {
    throw new CliError('IO_ERROR', `cannot read ${what} ${path}`);
  }
}

export async function serveAdmission(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, SERVE_FLAGS);
  if (positionals.length > 0) throw new CliError('USAGE', `cairn serve admission takes no arguments (got ${positionals[0]})`);
  if (values['registry-username'] !== undefined || values['registry-password-file'] !== undefined) {
    throw new CliError('USAGE', 'the webhook reads registry credentials from ~/.docker/config.json (a mounted Secret), not from flags');
  }
  const config = loadConfig({ flags: { config: values.config, 'log-level': values['log-level'], set: values.set }, env: io.env });
  const s = section(config, 'admission');
  const flagOr = <T>(flag: T | undefined, key: string): unknown => (flag !== undefined ? (sectionValue(s, key), flag) : sectionValue(s, key));
  const policy = strings(flagOr(values.policy, 'policy'), '--policy') ?? [];
  if (policy.length === 0) throw new CliError('USAGE', 'cairn serve admission needs --policy FILE|DIR (or admission.policy in the config)');
  if (values['tls-cert'] === undefined || values['tls-key'] === undefined) throw new CliError('USAGE', 'TLS is required: --tls-cert F --tls-key F (cairn admission certs makes them)');
  const noMatch = flagOr(values['no-match'], 'noMatch') ?? 'warn';
  if (noMatch !== 'allow' && noMatch !== 'warn' && noMatch !== 'deny') throw new CliError('USAGE', '--no-match is allow, warn or deny');
  const port = count(values.port ?? '8443', '--port', 0, 65535)!;
  const trustFlags = {
    'trusted-root': flagOr(values['trusted-root'], 'trustedRoot') as string | undefined,
    'tuf-cache': flagOr(values['tuf-cache'], 'tufCache') as string | undefined,
    mirror: flagOr(values['tuf-mirror'], 'tufMirror') as string | undefined,
  };
  const excludes = strings(flagOr(values['exclude-namespace'], 'excludeNamespaces'), '--exclude-namespace') ?? ['kube-system'];
  const own = io.env.POD_NAMESPACE;
  const options = {
    timeoutMs: secondsMs(flagOr(values.timeout, 'timeout'), '--timeout', 0.1, 30),
    cacheTtlMs: secondsMs(flagOr(values['cache-ttl'], 'cacheTtl'), '--cache-ttl'),
    cacheSize: count(flagOr(values['cache-size'], 'cacheSize'), '--cache-size', 1, 1_000_000),
    negativeTtlMs: secondsMs(flagOr(values['negative-cache-ttl'], 'negativeCacheTtl'), '--negative-cache-ttl'),
    tagTtlMs: secondsMs(flagOr(values['tag-cache-ttl'], 'tagCacheTtl'), '--tag-cache-ttl'),
    reloadIntervalMs: secondsMs(flagOr(values['reload-interval'], 'reloadInterval'), '--reload-interval', 0, 3600) ?? 2000,
    maxBodyBytes: count(flagOr(values['max-body-bytes'], 'maxBodyBytes'), '--max-body-bytes', 1024, 64 * 1024 * 1024),
    namespaces: strings(flagOr(values.namespace, 'namespaces'), '--namespace'),
  };
  checkSectionRead(config, 'admission');
  const logger = createLogger({ level: config.logLevel });
  const trust = await loadTrust(trustFlags, io);
  const server = await startAdmissionServer({
    tlsCert: readFile(values['tls-cert'], 'TLS certificate', io.cwd),
    tlsKey: readFile(values['tls-key'], 'TLS key', io.cwd),
    port,
    host: values.host ?? '127.0.0.1',
    policyPaths: policy,
    cwd: io.cwd,
    trust,
    client: registryClient(values, io),
    logger,
    noMatch: noMatch,
    excludeNamespaces: own !== undefined && own !== '' && !excludes.includes(own) ? [...excludes, own] : excludes,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  });
  const names = server.policies().policies.map((p) => `${p.kind}/${p.name} (${p.mode})`);
  io.stdout(`cairn admission listening on ${server.url} with ${names.length} policies: ${names.join(', ')}\n`);
  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  logger.info('shutting down');
  await server.close();
  return 0;
}

async function certs(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { service: { type: 'string' }, namespace: { type: 'string' }, out: { type: 'string' }, host: { type: 'string', multiple: true }, days: { type: 'string' } });
  if (positionals.length > 0) throw new CliError('USAGE', 'cairn admission certs takes no arguments');
  if (values.service === undefined || values.namespace === undefined || values.out === undefined) throw new CliError('USAGE', 'cairn admission certs needs --service NAME --namespace NS --out DIR');
  const r = await createWebhookCerts({
    service: values.service,
    namespace: values.namespace,
    out: resolve(io.cwd, values.out),
    ...(values.host !== undefined ? { hosts: values.host } : {}),
    ...(values.days !== undefined ? { days: count(values.days, '--days', 1, 3650)! } : {}),
  });
  io.stderr(`Wrote ${r.files.ca}, ${r.files.cert}, ${r.files.key} (0600) and ${r.files.caBundle}; valid for ${r.dnsNames.join(', ')} until ${r.notAfter.toISOString()}\n`);
  io.stderr(`Put the caBundle into both webhook configurations (deploy/kubernetes/60-admission.yaml) and tls.crt/tls.key into the Secret cairn-admission-tls.\n`);
  io.stdout(`${r.caBundle}\n`);
  return 0;
}

async function checkPolicy(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...TRUST_FLAGS, json: { type: 'boolean' } });
  if (positionals.length === 0) throw new CliError('USAGE', 'cairn admission check-policy FILE|DIR ...');
  const anyTrust = values['trusted-root'] !== undefined || values['tuf-cache'] !== undefined || values['tuf-mirror'] !== undefined;
  // With trust material, Rekor/Fulcio URLs in the policies are checked against it too.
  const trust = anyTrust ? await loadTrust({ 'trusted-root': values['trusted-root'], 'tuf-cache': values['tuf-cache'], mirror: values['tuf-mirror'] }, io) : undefined;
  const set = loadPolicySet(positionals, trust, io.cwd);
  const summary = set.policies.map((p) => ({
    kind: p.kind,
    name: p.name,
    file: p.file,
    mode: p.mode,
    images: p.images,
    mutateDigest: p.mutateDigest,
    groups: p.groups.map((g) => ({
      what: g.what,
      count: g.count,
      authorities: g.authorities.map((a) => ({
        name: a.name,
        ...(a.static ? { static: a.static.action } : {}),
        identities: a.policy?.identities ?? [],
        keys: (a.policy?.publicKeys ?? []).length,
        signature: a.requireSignature,
        attestations: a.attestations.map((x) => ({ predicateType: x.predicateType, conditions: x.blocks.flatMap((b) => [...b.all.map((c) => c.source), ...(b.any.length > 0 ? [`any(${b.any.map((c) => c.source).join(' | ')})`] : [])]) })),
      })),
    })),
  }));
  if (values.json === true) io.stdout(JSON.stringify({ policySet: set.id, policies: summary }, null, 2) + '\n');
  else {
    const lines = [`OK: ${summary.length} policies from ${set.files.length} files${trust ? ' (URLs checked against the trusted root)' : ''}`];
    for (const p of summary) {
      lines.push(`  ${p.kind} ${p.name} [${p.mode}] images ${p.images.join(', ')}`);
      for (const g of p.groups) {
        lines.push(`    ${g.what}: ${g.count === 'all' ? 'all' : `${g.count} of ${g.authorities.length}`}`);
        for (const a of g.authorities) {
          const who = a.static ? `static ${a.static}` : [...a.identities.map((i) => `${i.issuer ?? `/${i.issuerRegExp}/`} ${i.subject ?? `/${i.subjectRegExp}/`}`), ...(a.keys > 0 ? [`${a.keys} key(s)`] : [])].join('; ');
          lines.push(`      ${a.name}: ${who}${a.signature ? ' signature' : ''}${a.attestations.map((x) => ` attestation ${x.predicateType}${x.conditions.length > 0 ? ` where ${x.conditions.join(', ')}` : ''}`).join('')}`);
        }
      }
    }
    io.stdout(lines.join('\n') + '\n');
  }
  return 0;
}

export const command: Command = {
  summary: 'Kubernetes admission webhook tools: certs, check-policy (the server is cairn serve admission)',
  usage: `Usage: cairn admission <certs|check-policy> [options]

  certs --service NAME --namespace NS --out DIR [--host H ...] [--days N]
      a CA and a serving certificate for NAME.NS.svc (plus --host names; default localhost,
      127.0.0.1): DIR/ca.crt, DIR/tls.crt, DIR/tls.key (0600), DIR/caBundle; prints the caBundle
  check-policy FILE|DIR ... [--trusted-root F | --tuf-cache D | --tuf-mirror URL] [--json]
      loads ClusterImagePolicy and Kyverno ClusterPolicy files as the server would; a construct
      Cairn does not implement is refused [POLICY_UNSUPPORTED] with the field named

The webhook server: cairn serve admission --help`,
  subcommands: ['certs', 'check-policy'],
  run(args, io) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'certs':
        return certs(rest, io);
      case 'check-policy':
        return checkPolicy(rest, io);
      default:
        throw new CliError('USAGE', `cairn admission: unknown subcommand ${sub ?? '(none)'}; one of certs, check-policy (the server: cairn serve admission)`);
    }
  },
};
