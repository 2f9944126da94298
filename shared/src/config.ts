/**
 * The one config loader. Precedence, lowest first: built-in defaults, the config file (YAML or
 * JSON, `--config` or CAIRN_CONFIG), environment variables, command-line flags.
 *
 * Core settings are typed here. Each component owns a section (`log`, `ca`, `ct`, `tuf`, `oidc`,
 * ...) that it reads with the `section*` helpers, so adding a setting never touches this file.
 * Environment: CAIRN_PORT, CAIRN_HOST, CAIRN_DATA_DIR, CAIRN_PUBLIC_URL, CAIRN_LOG_LEVEL,
 * CAIRN_DEV, CAIRN_TLS_CERT, CAIRN_TLS_KEY, CAIRN_MAX_BODY_BYTES, CAIRN_RATE_LIMIT, and
 * CAIRN_<SECTION>__<KEY> for section keys (CAIRN_LOG__BATCH_MAX_SIZE=512 -> log.batchMaxSize).
 * Flags: --port --host --data-dir --public-url --log-level --dev --tls-cert --tls-key
 * --max-body-bytes --rate-limit --store and `--set section.key=value`.
 * Store: --store / CAIRN_STORE / `store.url` (postgres://…; unset: SQLite), store.leaseMs.
 * Service keys in a PKCS#11 token: --pkcs11-module --pkcs11-token --pin-file --pin-env, or the
 * `pkcs11` section (module, token, pinFile, pinEnv); read by pkcs11.ts `pkcs11Settings`.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import type { parse } from 'yaml';
import { SharedError } from './errors.ts';
import { isRecord } from './encoding.ts';
import type { LogLevel } from './logger.ts';

// The YAML parser is loaded when a config file is read, not at import: every command imports
// this module and most never read a file (yaml's ~40 CommonJS files cost ~50 ms of startup CPU).
const requireLazily = createRequire(import.meta.url);
/** YAML (or JSON) text to a value, loading the parser on first use: the one YAML entry point. */
export const parseYaml = (text: string): unknown => (requireLazily('yaml') as { parse: typeof parse }).parse(text);

export interface CoreConfig {
  host: string;
  port: number;
  dataDir: string;
  /** The URL clients use to reach this deployment; derived from host and port when unset. */
  publicUrl: string | undefined;
  logLevel: LogLevel;
  /** Development mode: the OIDC issuer mints tokens for its development client. */
  dev: boolean;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  maxBodyBytes: number;
  /** Requests per second per client address; 0 turns rate limiting off. */
  rateLimit: number;
}

export type Section = Record<string, unknown>;

export interface CairnConfig extends CoreConfig {
  sections: Record<string, Section>;
  /** Where the config file came from, if any. */
  file: string | undefined;
}

export const DEFAULT_CORE: CoreConfig = {
  host: '127.0.0.1',
  port: 3000,
  dataDir: '.cairn',
  publicUrl: undefined,
  logLevel: 'info',
  dev: false,
  tlsCert: undefined,
  tlsKey: undefined,
  maxBodyBytes: 4 * 1024 * 1024,
  rateLimit: 0,
};

const CORE_ENV: Record<string, keyof CoreConfig> = {
  CAIRN_HOST: 'host',
  CAIRN_PORT: 'port',
  CAIRN_DATA_DIR: 'dataDir',
  CAIRN_PUBLIC_URL: 'publicUrl',
  CAIRN_LOG_LEVEL: 'logLevel',
  CAIRN_DEV: 'dev',
  CAIRN_TLS_CERT: 'tlsCert',
  CAIRN_TLS_KEY: 'tlsKey',
  CAIRN_MAX_BODY_BYTES: 'maxBodyBytes',
  CAIRN_RATE_LIMIT: 'rateLimit',
};

const CORE_FLAGS: Record<string, keyof CoreConfig> = {
  host: 'host',
  port: 'port',
  'data-dir': 'dataDir',
  'public-url': 'publicUrl',
  'log-level': 'logLevel',
  dev: 'dev',
  'tls-cert': 'tlsCert',
  'tls-key': 'tlsKey',
  'max-body-bytes': 'maxBodyBytes',
  'rate-limit': 'rateLimit',
};

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const MAX_CONFIG_FILE = 1024 * 1024;

export interface LoadConfigOptions {
  flags?: Record<string, string | boolean | string[] | undefined>;
  env?: Record<string, string | undefined>;
  /** Overrides applied last (used by tests and by `cairn up` defaults such as dev mode). */
  overrides?: Partial<CoreConfig>;
  defaults?: Partial<CoreConfig>;
}

function camel(s: string): string {
  return s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function bad(message: string): never {
  throw new SharedError('INVALID_CONFIG', message);
}

function coerceCore(key: keyof CoreConfig, value: unknown, source: string): unknown {
  if (value === undefined) return undefined;
  switch (key) {
    case 'port': {
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isInteger(n) || n < 0 || n > 65535) bad(`${source}: port must be an integer 0-65535`);
      return n;
    }
    case 'maxBodyBytes':
    case 'rateLimit': {
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isInteger(n) || n < 0) bad(`${source}: ${key} must be a non-negative integer`);
      return n;
    }
    case 'dev':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === '1' || value === '') return true;
      if (value === 'false' || value === '0') return false;
      return bad(`${source}: dev must be true or false`);
    case 'logLevel':
      if (!LEVELS.includes(value as LogLevel)) bad(`${source}: log level must be one of ${LEVELS.join(', ')}`);
      return value;
    default:
      if (typeof value !== 'string') bad(`${source}: ${key} must be a string`);
      return value;
  }
}

export function loadConfig(options: LoadConfigOptions = {}): CairnConfig {
  const env = options.env ?? {};
  const flags = options.flags ?? {};
  const core: Record<string, unknown> = { ...DEFAULT_CORE, ...options.defaults };
  const sections: Record<string, Section> = {};

  const fileFlag = flags.config;
  const file = typeof fileFlag === 'string' ? fileFlag : env.CAIRN_CONFIG;
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return bad(`cannot read config file ${file}`);
    }
    if (text.length > MAX_CONFIG_FILE) bad(`config file ${file} is larger than ${MAX_CONFIG_FILE} bytes`);
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch {
      return bad(`config file ${file} is not valid YAML or JSON`);
    }
    if (doc !== null && doc !== undefined && !isRecord(doc)) bad(`config file ${file} must hold a mapping`);
    for (const [k, v] of Object.entries(doc ?? {})) {
      if (k in DEFAULT_CORE) core[k] = coerceCore(k as keyof CoreConfig, v, `config file key ${k}`);
      else if (isRecord(v)) sections[k] = { ...v };
      else bad(`config file key ${k} is neither a core setting nor a section mapping`);
    }
  }

  for (const [name, key] of Object.entries(CORE_ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') core[key] = coerceCore(key, v, name);
  }
  for (const [name, value] of Object.entries(env)) {
    const m = /^CAIRN_([A-Z0-9]+)__([A-Z0-9_]+)$/.exec(name);
    if (!m || value === undefined) continue;
    const sec = m[1]!.toLowerCase();
    (sections[sec] ??= {})[camel(m[2]!)] = value;
  }

  // The log store (`--store postgres://…`, CAIRN_STORE, `store.url`): see storeOf.
  if (env.CAIRN_STORE !== undefined && env.CAIRN_STORE !== '') (sections.store ??= {}).url = env.CAIRN_STORE;
  for (const [flag, key] of Object.entries(CORE_FLAGS)) {
    const v = flags[flag];
    if (v !== undefined) core[key] = coerceCore(key, v, `--${flag}`);
  }
  if (typeof flags.store === 'string') (sections.store ??= {}).url = flags.store;
  // Service keys in a PKCS#11 token (see pkcs11.ts pkcs11Settings). The PIN itself is never a flag.
  const P11_FLAGS: Record<string, string> = { 'pkcs11-module': 'module', 'pkcs11-token': 'token', 'pin-file': 'pinFile', 'pin-env': 'pinEnv' };
  for (const [flag, key] of Object.entries(P11_FLAGS)) {
    const v = flags[flag];
    if (typeof v === 'string') (sections.pkcs11 ??= {})[key] = flag === 'pin-env' || flag === 'pkcs11-token' ? v : resolve(v);
  }
  const sets = flags.set;
  for (const s of Array.isArray(sets) ? sets : typeof sets === 'string' ? [sets] : []) {
    const m = /^([a-z][a-zA-Z0-9]*)\.([a-zA-Z][a-zA-Z0-9]*)=(.*)$/s.exec(s);
    if (!m) bad(`--set expects section.key=value, got ${s}`);
    (sections[m[1]!] ??= {})[m[2]!] = m[3]!;
  }
  Object.assign(core, options.overrides);

  const cfg = core as unknown as CoreConfig;
  if ((cfg.tlsCert === undefined) !== (cfg.tlsKey === undefined)) bad('--tls-cert and --tls-key go together');
  if (cfg.publicUrl !== undefined) {
    try {
      new URL(cfg.publicUrl);
    } catch {
      bad(`public URL ${cfg.publicUrl} is not a URL`);
    }
  }
  return { ...cfg, dataDir: resolve(cfg.dataDir), sections, file };
}

/** The keys of each section that a component has read (sectionNumber, sectionString, ...). */
const READ_KEYS = new WeakMap<Section, Set<string>>();

function markRead(s: Section, key: string): void {
  let keys = READ_KEYS.get(s);
  if (!keys) READ_KEYS.set(s, (keys = new Set()));
  keys.add(key);
}

export function section(config: CairnConfig, name: string): Section {
  return (config.sections[name] ??= {});
}

/** A section value of any shape (lists, mappings), for settings the component parses itself. */
export function sectionValue(s: Section, key: string): unknown {
  markRead(s, key);
  return s[key];
}

/**
 * Refuses settings nobody reads: after a component has been created from its section, every key
 * there must have been read through the section helpers. A typo (`batchMaxSzie`) then stops the
 * start with the key named instead of being silently ignored.
 */
export function checkSectionRead(config: CairnConfig, name: string): void {
  const s = config.sections[name];
  if (!s) return;
  const read = READ_KEYS.get(s) ?? new Set<string>();
  const unknown = Object.keys(s).filter((k) => !read.has(k));
  if (unknown.length > 0) bad(`unknown setting ${unknown.map((k) => `${name}.${k}`).join(', ')} (see the README's component settings)`);
}

export function sectionNumber(s: Section, key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  markRead(s, key);
  const v = s[key];
  if (v === undefined || v === '') return fallback;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n < min || n > max) bad(`${key} must be a number between ${min} and ${max}`);
  return n;
}

export function sectionString(s: Section, key: string, fallback: string): string;
export function sectionString(s: Section, key: string, fallback?: string): string | undefined;
export function sectionString(s: Section, key: string, fallback?: string): string | undefined {
  markRead(s, key);
  const v = s[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'string') bad(`${key} must be a string`);
  return v;
}

export function sectionBool(s: Section, key: string, fallback: boolean): boolean {
  markRead(s, key);
  const v = s[key];
  if (v === undefined || v === '') return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return bad(`${key} must be true or false`);
}

/** Keys of the `store` section; any other key is refused. */
const STORE_KEYS = ['url', 'leaseMs'];

export interface StoreConfig {
  /** `postgres://…` or `postgresql://…`; undefined: the embedded SQLite files in the data dir. */
  url: string | undefined;
  /** Sequencer lease of the PostgreSQL store in ms (failover takes at most about one lease). */
  leaseMs: number;
}

export const DEFAULT_STORE_LEASE_MS = 3_000;

/** The log store section (transparency log and CT log), validated. */
export function storeOf(config: CairnConfig): StoreConfig {
  const s = section(config, 'store');
  for (const k of Object.keys(s)) if (!STORE_KEYS.includes(k)) bad(`store.${k} is not a store setting (known: ${STORE_KEYS.join(', ')})`);
  const url = sectionString(s, 'url');
  if (url !== undefined && url !== '') {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return bad('store.url is not a URL');
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') bad('store.url must be a postgres:// URL (or unset for SQLite)');
  }
  return { url: url === '' ? undefined : url, leaseMs: sectionNumber(s, 'leaseMs', DEFAULT_STORE_LEASE_MS, 300, 60_000) };
}

/** The base URL clients use: the configured public URL, else http(s)://host:port. */
export function baseUrlOf(config: CoreConfig, port: number = config.port): string {
  if (config.publicUrl !== undefined) return config.publicUrl.replace(/\/+$/, '');
  const scheme = config.tlsCert !== undefined ? 'https' : 'http';
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
