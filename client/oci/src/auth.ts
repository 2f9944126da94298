/**
 * Registry authentication (distribution token spec; docker/cli config format): credentials from
 * `~/.docker/config.json` (`auths[host].auth` = base64 "user:password", or `username`/`password`,
 * or `identitytoken` for the OAuth2 refresh-token grant) or given directly; the
 * `WWW-Authenticate` challenge (Bearer realm/service/scope, or Basic) parsed without any
 * regular expression built from input.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ociFail } from './errors.ts';

export const MAX_DOCKER_CONFIG_BYTES = 1024 * 1024;
export const MAX_CHALLENGE_LENGTH = 4096;
export const MAX_CREDENTIAL_LENGTH = 64 * 1024;

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker config `identitytoken`). */
  identityToken?: string;
  /** A ready bearer token for the registry (sent as is). */
  registryToken?: string;
}

export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (RFC 7235 auth-param list). */
export function parseChallenge(value: string | undefined): Challenge | undefined {
  if (value === undefined || value.length > MAX_CHALLENGE_LENGTH) return undefined;
  const sp = value.indexOf(' ');
  const scheme = (sp < 0 ? value : value.slice(0, sp)).toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  let i = sp < 0 ? value.length : sp + 1;
  while (i < value.length) {
    while (i < value.length && (value[i] === ' ' || value[i] === ',')) i++;
    const eq = value.indexOf('=', i);
    if (eq < 0) break;
    const key = value.slice(i, eq).trim().toLowerCase();
    let v = '';
    i = eq + 1;
    if (value[i] === '"') {
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < value.length) i++;
        v += value[i];
        i++;
      }
      i++;
    } else {
      const end = value.indexOf(',', i);
      v = value.slice(i, end < 0 ? value.length : end).trim();
      i = end < 0 ? value.length : end;
    }
    if (key !== '') params[key] = v;
  }
  return { scheme, params };
}

function configKeyHost(key: string): string {
  let k = key.replace(/^https?:\/\//, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  return k;
}

/**
 * The credentials docker/podman would use for `registry`, from `$DOCKER_CONFIG/config.json` or
 * `~/.docker/config.json` (`configPath` overrides). Credential helpers (`credsStore`) are not run.
 */
export function dockerConfigCredentials(registry: string, o: { configPath?: string; env?: Record<string, string | undefined> } = {}): Credentials | undefined {
  const env = o.env ?? {};
  const path = o.configPath ?? join(env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), '.docker'), 'config.json');
  let text: string;
  try {
    if (statSync(path).size > MAX_DOCKER_CONFIG_BYTES) ociFail('CREDENTIALS_INVALID', `${path} is larger than ${MAX_DOCKER_CONFIG_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (e instanceof Error && 'code' in e && e.code === 'CREDENTIALS_INVALID') throw e;
    return ociFail('CREDENTIALS_INVALID', `cannot read ${path}`, e);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return ociFail('CREDENTIALS_INVALID', `${path} is not JSON`, e);
  }
  const auths = typeof json === 'object' && json !== null ? (json as { auths?: unknown }).auths : undefined;
  if (typeof auths !== 'object' || auths === null) return undefined;
  const hub = registry === 'index.docker.io' || registry === 'docker.io' || registry === 'registry-1.docker.io';
  for (const [key, value] of Object.entries(auths as Record<string, unknown>)) {
    const host = configKeyHost(key);
    if (host !== registry && !(hub && ['index.docker.io', 'docker.io', 'registry-1.docker.io'].includes(host))) continue;
    if (typeof value !== 'object' || value === null) continue;
    const v = value as Record<string, unknown>;
    const str = (k: string): string | undefined => (typeof v[k] === 'string' && v[k] !== '' && v[k].length <= MAX_CREDENTIAL_LENGTH ? v[k] : undefined);
    const creds: Credentials = {};
    const auth = str('auth');
    if (auth !== undefined) {
      const decoded = Buffer.from(auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) ociFail('CREDENTIALS_INVALID', `${path}: auths["${key}"].auth is not base64 of user:password`);
      creds.username = decoded.slice(0, colon);
      creds.password = decoded.slice(colon + 1);
    } else {
      const u = str('username');
      const p = str('password');
      if (u !== undefined) creds.username = u;
      if (p !== undefined) creds.password = p;
    }
    const it = str('identitytoken');
    if (it !== undefined) creds.identityToken = it;
    const rt = str('registrytoken');
    if (rt !== undefined) creds.registryToken = rt;
    return creds;
  }
  return undefined;
}

export function basicAuthorization(c: Credentials): string | undefined {
  if (c.username === undefined || c.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}
