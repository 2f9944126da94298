/**
 * What the `cairn image` subcommands share: the registry flags and the registry client built from
 * them, small-file reads, and `oci://REF` in-toto artifacts (used by `cairn intoto`).
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseReference, RegistryClient, resolveDigest, type RegistryClientOptions } from '@cairn/oci/verify';
import { CliError, type CliIO } from '../command.ts';

export const MAX_PREDICATE_BYTES = 8 * 1024 * 1024;
export const MAX_KEY_FILE = 64 * 1024;

export const REGISTRY_FLAGS = {
  'allow-http-registry': { type: 'boolean' },
  'registry-ca-file': { type: 'string' },
  'registry-username': { type: 'string' },
  'registry-password-file': { type: 'string' },
  'registry-timeout': { type: 'string' },
} as const;

export function readSmall(path: string, max: number, what: string, cwd: string): string {
  const p = resolve(cwd, path);
  try {
    if (statSync(p).size > max) throw new CliError('IO_ERROR', `${what} ${path} is larger than ${max} bytes`);
    return readFileSync(p, 'utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('IO_ERROR', `cannot read ${what} ${path}`);
  }
}

export function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const s = Number(v);
  if (!Number.isFinite(s) || s <= 0 || s > 3600) throw new CliError('USAGE', `${flag} is a number of seconds between 0 and 3600`);
  return Math.round(s * 1000);
}

export function threshold(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,2}$/.test(v)) throw new CliError('USAGE', `${flag} takes a small non-negative integer`);
  return Number(v);
}

export type RegistryValues = { 'allow-http-registry'?: boolean; 'registry-ca-file'?: string; 'registry-username'?: string; 'registry-password-file'?: string; 'registry-timeout'?: string };

export function registryClient(v: RegistryValues, io: CliIO, host?: string): RegistryClient {
  const o: RegistryClientOptions = { env: io.env };
  if (v['allow-http-registry'] === true) o.allowHttp = true;
  if (v['registry-ca-file'] !== undefined) o.caFile = resolve(io.cwd, v['registry-ca-file']);
  const t = seconds(v['registry-timeout'], '--registry-timeout');
  if (t !== undefined) o.timeoutMs = t;
  if ((v['registry-username'] === undefined) !== (v['registry-password-file'] === undefined)) throw new CliError('USAGE', '--registry-username and --registry-password-file go together');
  if (v['registry-username'] !== undefined && host !== undefined) {
    const password = readSmall(v['registry-password-file']!, 64 * 1024, 'password file', io.cwd).replace(/\r?\n$/, '');
    o.credentials = { [host]: { username: v['registry-username'], password } };
  }
  return new RegistryClient(o);
}

/** The prefix that names a container image among in-toto artifacts (`oci://REGISTRY/REPO[:TAG|@DIGEST]`). */
export const IMAGE_ARTIFACT_PREFIX = 'oci://';

/**
 * in-toto artifacts for images: each `oci://REF` resolved once to its manifest digest, recorded
 * under its name as given with `{sha256: <hex>}` (the hash of the manifest bytes, as a file's
 * hash is of its bytes). A tag moved between two steps then fails the MATCH rule between them.
 */
export async function resolveImageArtifacts(names: string[], v: RegistryValues, io: CliIO): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const name of names) {
    const ref = parseReference(name.slice(IMAGE_ARTIFACT_PREFIX.length));
    const { digest } = await resolveDigest(registryClient(v, io, ref.registry), ref);
    out[name] = { sha256: digest.slice('sha256:'.length) };
  }
  return out;
}

export function oneRef(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new CliError('USAGE', `cairn image ${what} takes exactly one image reference`);
  return positionals[0]!;
}
