/**
 * `cairn trust build|init|refresh|show`: turn a stack's public material into trusted_root.json and
 * signing_config.v0.2.json (staged as TUF targets), and keep the client-side TUF cache that
 * `cairn verify` reads offline.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseJson, systemClock, type TrustInfo } from '@cairn/shared';
import { readTarget, stageTarget } from '@cairn/tuf/ceremony';
import {
  SIGNING_CONFIG_TARGET,
  TRUSTED_ROOT_TARGET,
  TrustError,
  buildSigningConfig,
  buildTrustedRoot,
  defaultCacheDir,
  fetchCapped,
  initTrustCache,
  loadCachedTrustedRoot,
  mergeTrustedRoot,
  parseTrustInfos,
  readTrustedRootDocument,
  refreshTrustCache,
  type SigningConfigUrls,
} from '@cairn/trust';
import { CliError, parseFlags, type CliIO, type Command } from '../command.ts';

const MAX_TRUST_INFO_BYTES = 1024 * 1024;
const MAX_ROOT_FILE_BYTES = 512_000;
const FETCH_TIMEOUT_MS = 10_000;

function abs(io: CliIO, p: string): string {
  return isAbsolute(p) ? p : resolve(io.cwd, p);
}

function readFile(path: string, max: number): Buffer {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch {
    throw new CliError('IO_ERROR', `cannot read ${path}`);
  }
  if (b.byteLength > max) throw new CliError('USAGE', `${path} is larger than ${max} bytes`);
  return b;
}

/** `GET <url>/api/cairn/v1/trust-info`, read with a byte cap. */
async function fetchTrustInfo(base: string): Promise<TrustInfo[]> {
  const url = `${base.replace(/\/+$/, '')}/api/cairn/v1/trust-info`;
  const body = await fetchCapped(url, MAX_TRUST_INFO_BYTES, FETCH_TIMEOUT_MS);
  if (!body) throw new TrustError('FETCH_FAILED', `${url} answered 404`);
  return parseTrustInfos(parseJson(body.toString('utf8'), 'trust info'));
}

const pretty = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

async function build(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseFlags(
    args,
    {
      from: { type: 'string', multiple: true },
      'trust-info': { type: 'string', multiple: true },
      dir: { type: 'string' },
      out: { type: 'string' },
      'ca-url': { type: 'string', multiple: true },
      'oidc-url': { type: 'string', multiple: true },
      'rekor-url': { type: 'string', multiple: true },
      'tsa-url': { type: 'string', multiple: true },
    },
    false,
  );
  if (!v.from && !v['trust-info']) throw new CliError('USAGE', 'give --from URL (repeatable) or --trust-info FILE');
  if (v.dir === undefined && v.out === undefined) throw new CliError('USAGE', 'give --dir REPO (stage as targets) and/or --out DIR (write the files)');
  const infos: TrustInfo[] = [];
  for (const f of v['trust-info'] ?? []) infos.push(...parseTrustInfos(parseJson(readFile(abs(io, f), MAX_TRUST_INFO_BYTES).toString('utf8'), f)));
  for (const u of v.from ?? []) infos.push(...(await fetchTrustInfo(u)));
  const urls: SigningConfigUrls = {
    ...(v['ca-url'] ? { ca: v['ca-url'] } : {}),
    ...(v['oidc-url'] ? { oidc: v['oidc-url'] } : {}),
    ...(v['rekor-url'] ? { rekor: v['rekor-url'] } : {}),
    ...(v['tsa-url'] ? { tsa: v['tsa-url'] } : {}),
  };
  let trustedRoot = buildTrustedRoot(infos);
  const signingConfig = buildSigningConfig(infos, urls);
  const dir = v.dir === undefined ? undefined : abs(io, v.dir);
  if (dir) {
    // Keep retired service keys (with validFor.end) so bundles they signed keep verifying.
    const prev = readTarget(dir, TRUSTED_ROOT_TARGET);
    if (prev) trustedRoot = mergeTrustedRoot(readTrustedRootDocument(parseJson(prev.toString('utf8'), TRUSTED_ROOT_TARGET)), trustedRoot, systemClock.now());
  }
  const rootBytes = Buffer.from(pretty(trustedRoot));
  const configBytes = Buffer.from(pretty(signingConfig));
  if (v.out !== undefined) {
    const out = abs(io, v.out);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, TRUSTED_ROOT_TARGET), rootBytes);
    writeFileSync(join(out, SIGNING_CONFIG_TARGET), configBytes);
    io.stdout(`wrote ${join(out, TRUSTED_ROOT_TARGET)} and ${join(out, SIGNING_CONFIG_TARGET)}\n`);
  }
  if (dir) {
    const a = stageTarget({ dir, name: TRUSTED_ROOT_TARGET, content: rootBytes, clock: systemClock });
    const b = stageTarget({ dir, name: SIGNING_CONFIG_TARGET, content: configBytes, clock: systemClock });
    io.stdout(a || b ? `staged ${[a ? TRUSTED_ROOT_TARGET : '', b ? SIGNING_CONFIG_TARGET : ''].filter(Boolean).join(' and ')} in ${dir}\n` : 'trust material is unchanged; nothing staged\n');
  }
  io.stdout(`trusted root: ${trustedRoot.tlogs.length} tlog(s), ${trustedRoot.ctlogs.length} ctlog(s), ${trustedRoot.certificateAuthorities.length} CA(s), ${trustedRoot.timestampAuthorities.length} TSA(s)\n`);
  return 0;
}

function mirrorArg(v: string | undefined): string {
  if (v === undefined) throw new CliError('USAGE', '--mirror URL is required');
  try {
    const u = new URL(v);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new CliError('USAGE', '--mirror must be an http(s) URL');
  }
  return v.replace(/\/+$/, '');
}

async function init(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseFlags(args, { mirror: { type: 'string' }, root: { type: 'string' }, cache: { type: 'string' }, force: { type: 'boolean' } }, false);
  const mirror = mirrorArg(v.mirror);
  if (v.root === undefined) throw new CliError('USAGE', '--root root.json is required (the ceremony\'s published root)');
  const rootBytes = readFile(abs(io, v.root), MAX_ROOT_FILE_BYTES);
  const r = await initTrustCache({
    mirror,
    rootBytes,
    env: io.env,
    force: v.force === true,
    ...(v.cache !== undefined ? { cacheDir: abs(io, v.cache) } : {}),
  });
  io.stdout(
    `trust root cached in ${r.cacheDir}: TUF root v${r.rootVersion}, targets v${r.targetsVersion}; ` +
      `${r.trustedRoot.tlogs.length} tlog(s), ${r.trustedRoot.ctlogs.length} ctlog(s), ${r.trustedRoot.certificateAuthorities.length} CA(s), ${r.trustedRoot.timestampAuthorities.length} TSA(s)\n`,
  );
  return 0;
}

async function refresh(args: string[], io: CliIO): Promise<number> {
  const { values: v } = parseFlags(args, { mirror: { type: 'string' }, cache: { type: 'string' } }, false);
  const mirror = mirrorArg(v.mirror);
  const cacheDir = v.cache !== undefined ? abs(io, v.cache) : defaultCacheDir(mirror, io.env);
  const r = await refreshTrustCache({ mirror, cacheDir });
  io.stdout(`refreshed ${cacheDir}: TUF root v${r.rootVersion}, targets v${r.targetsVersion}\n`);
  return 0;
}

function show(args: string[], io: CliIO): number {
  const { values: v } = parseFlags(args, { mirror: { type: 'string' }, cache: { type: 'string' } }, false);
  if (v.cache === undefined && v.mirror === undefined) throw new CliError('USAGE', 'give --mirror URL or --cache DIR');
  const root = loadCachedTrustedRoot(v.cache !== undefined ? abs(io, v.cache) : mirrorArg(v.mirror), { env: io.env });
  io.stdout(pretty(root));
  return 0;
}

const SUBCOMMANDS: Record<string, (args: string[], io: CliIO) => number | Promise<number>> = { build, init, refresh, show };

export const command: Command = {
  summary: 'trust material: build trusted_root.json, init the client cache from a mirror',
  subcommands: Object.keys(SUBCOMMANDS),
  usage: `Usage: cairn trust <subcommand> [options]

  build (--from URL... | --trust-info FILE...) [--dir REPO] [--out DIR]
        [--ca-url U]... [--oidc-url U]... [--rekor-url U]... [--tsa-url U]...
      Build trusted_root.json (${'application/vnd.dev.sigstore.trustedroot+json;version=0.1'}) and
      signing_config.v0.2.json from the stack's public material: GET URL/api/cairn/v1/trust-info
      (one --from per split service is fine) or that JSON saved to FILE for air-gapped machines.
      --dir REPO stages both as TUF targets (a retired key stays with validFor.end); --out DIR
      writes the two files. Service URLs default to those in the trust info.
  init --mirror URL --root root.json [--cache DIR] [--force]
      Seed the client TUF cache with the ceremony's root.json, run the TUF update against the
      mirror (e.g. http://host:3000/tuf) and download trusted_root.json. The cache defaults to
      $CAIRN_TRUST_CACHE (or ~/.cairn/trust) + /<encoded mirror>; --force replaces an existing one.
      A cache in that default place also becomes the default trust source: 'cairn verify' and
      'cairn image verify' with no trust flags read it (as after 'cosign initialize').
  refresh --mirror URL [--cache DIR]
      Run the TUF update on an initialised cache (new roots, targets, trusted_root.json).
  show (--mirror URL | --cache DIR)
      Print the cached trusted_root.json after re-checking it offline.`,
  async run(args, io) {
    const [sub, ...rest] = args;
    const fn = sub === undefined ? undefined : SUBCOMMANDS[sub];
    if (!fn) throw new CliError('USAGE', `cairn trust needs a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')}`);
    return await fn(rest, io);
  },
};
