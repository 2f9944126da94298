/**
 * Turning CLI flags and environment (handed in by the command, never read from process.env
 * here) into signing options: service URLs, the identity token, a local signing key, and the
 * atomic write of a bundle.
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LocalSigner, privateKeyFromPem, type Signer } from '@cairn/shared';
import { IoError, readCappedFile, writeAtomic } from '@cairn/shared/io';
import { MAX_KEY_FILE_BYTES } from '@cairn/shared/limits';
import { loadCachedTrustedRoot } from '@cairn/trust';
import { SignError } from './errors.ts';
import { clientCredentialsToken, MAX_SECRET_BYTES, MAX_TOKEN_BYTES } from './oidc.ts';
import type { HttpOptions } from './http.ts';

export { MAX_KEY_FILE_BYTES };
export const MAX_PASSPHRASE_BYTES = 4 * 1024;
export const MAX_TRUSTED_ROOT_BYTES = 5 * 1024 * 1024;

type Env = Record<string, string | undefined>;

/** Reads a small file with a byte cap; `what` names it in errors. */
export function readSmallFile(path: string, max: number, what: string, cwd: string): Buffer {
  try {
    return readCappedFile(resolve(cwd, path), max, `${what} ${path}`);
  } catch (e) {
    if (e instanceof IoError && e.code === 'FILE_TOO_LARGE') throw new SignError('INPUT_INVALID', `${what} ${path} is larger than ${max} bytes`);
    throw new SignError('INPUT_INVALID', `cannot read ${what} ${path}`, { cause: e });
  }
}

/** A secret in a file: one trailing newline (what `echo` writes) is not part of it. */
function readSecret(path: string, max: number, what: string, cwd: string): string {
  return readSmallFile(path, max, what, cwd).toString('utf8').replace(/\r?\n$/, '');
}

export interface UrlFlags {
  url?: string;
  'fulcio-url'?: string;
  'rekor-url'?: string;
}

/** `--fulcio-url`/`--rekor-url` win over `--url`, which wins over CAIRN_URL (one deployment serves both). */
export function serviceUrls(f: UrlFlags, env: Env): { fulcioUrl?: string; rekorUrl?: string } {
  const base = f.url ?? (env.CAIRN_URL !== '' ? env.CAIRN_URL : undefined);
  const fulcioUrl = f['fulcio-url'] ?? base;
  const rekorUrl = f['rekor-url'] ?? base;
  return { ...(fulcioUrl !== undefined ? { fulcioUrl } : {}), ...(rekorUrl !== undefined ? { rekorUrl } : {}) };
}

export interface TokenFlags {
  'identity-token'?: string;
  'oidc-issuer'?: string;
  'oidc-client-id'?: string;
  'oidc-client-secret-file'?: string;
}

/**
 * The identity token, in order: `--identity-token`, the client-credentials grant of
 * `--oidc-issuer` (with `--oidc-client-id` and `--oidc-client-secret-file`), SIGSTORE_ID_TOKEN.
 */
export async function identityToken(f: TokenFlags, env: Env, cwd: string, http: HttpOptions = {}): Promise<string> {
  const grantFlags = [f['oidc-issuer'], f['oidc-client-id'], f['oidc-client-secret-file']];
  if (f['identity-token'] !== undefined) {
    if (grantFlags.some((v) => v !== undefined)) throw new SignError('INPUT_INVALID', 'give either --identity-token or the --oidc-* client-credentials flags, not both');
    if (f['identity-token'].length > MAX_TOKEN_BYTES) throw new SignError('TOKEN_INVALID', 'the identity token is too long');
    if (f['identity-token'] === '') throw new SignError('TOKEN_MISSING', '--identity-token is empty');
    return f['identity-token'];
  }
  if (grantFlags.some((v) => v !== undefined)) {
    const [issuer, clientId, secretFile] = grantFlags;
    if (issuer === undefined || clientId === undefined || secretFile === undefined) {
      throw new SignError('INPUT_INVALID', 'the client-credentials grant needs --oidc-issuer, --oidc-client-id and --oidc-client-secret-file');
    }
    const clientSecret = readSecret(secretFile, MAX_SECRET_BYTES, 'client secret file', cwd);
    return clientCredentialsToken({ issuer, clientId, clientSecret }, http);
  }
  const fromEnv = env.SIGSTORE_ID_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw new SignError('TOKEN_MISSING', 'no identity token: pass --identity-token, set SIGSTORE_ID_TOKEN, use --oidc-issuer with client credentials, or sign with --key');
}

/**
 * Loads a PKCS#8 (optionally encrypted) or SEC1/PKCS#1 PEM private key. The passphrase comes
 * from `--key-passphrase-file` or CAIRN_KEY_PASSPHRASE.
 */
export function loadSigningKey(path: string, passphraseFile: string | undefined, env: Env, cwd: string): Signer {
  const pem = readSmallFile(path, MAX_KEY_FILE_BYTES, 'key file', cwd).toString('utf8');
  if (!pem.includes('PRIVATE KEY-----')) throw new SignError('KEY_INVALID', `${path} holds no PEM private key`);
  const passphrase = passphraseFile !== undefined ? readSecret(passphraseFile, MAX_PASSPHRASE_BYTES, 'passphrase file', cwd) : env.CAIRN_KEY_PASSPHRASE;
  const encrypted = pem.includes('ENCRYPTED');
  if (encrypted && (passphrase === undefined || passphrase === '')) {
    throw new SignError('KEY_PASSPHRASE', `${path} is encrypted: give its passphrase with --key-passphrase-file or CAIRN_KEY_PASSPHRASE`);
  }
  let key;
  try {
    key = privateKeyFromPem(pem, encrypted ? passphrase : undefined);
  } catch (e) {
    if (encrypted) throw new SignError('KEY_PASSPHRASE', `cannot decrypt ${path}: wrong passphrase`, { cause: e });
    throw new SignError('KEY_INVALID', `${path} is not a readable PEM private key`, { cause: e });
  }
  let signer: LocalSigner;
  try {
    signer = new LocalSigner(key);
  } catch (e) {
    throw new SignError('KEY_UNSUPPORTED', `${path} holds a key type Cairn does not sign with`, { cause: e });
  }
  return signer;
}

/** Fails before any signing if the bundle could not be written (its directory is missing). */
export function checkWritable(path: string, cwd: string): void {
  const dir = dirname(resolve(cwd, path));
  let ok = false;
  try {
    ok = statSync(dir).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) throw new SignError('INPUT_INVALID', `cannot write ${path}: directory ${dir} does not exist`);
}

/** Writes next to the target, fsyncs and renames, so a failure never leaves a half-written bundle. */
export function writeFileAtomic(path: string, contents: string, cwd: string): string {
  const p = resolve(cwd, path);
  try {
    // The directory must exist: a typo in --bundle does not create folders.
    if (!statSync(dirname(p)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    writeAtomic(p, contents, 0o644);
  } catch (e) {
    throw new SignError('INPUT_INVALID', `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return p;
}

/** The trusted root from a file or from the TUF cache written by 'cairn trust init'. */
export function loadTrustedRootJson(v: { 'trusted-root'?: string; 'tuf-cache'?: string }, io: { cwd: string; env: Env }): unknown {
  if (v['trusted-root'] !== undefined && v['tuf-cache'] !== undefined) throw new SignError('INPUT_INVALID', 'give --trusted-root or --tuf-cache, not both');
  if (v['tuf-cache'] !== undefined) {
    // A mirror URL names its default cache directory; anything else is a directory path.
    const where = /^https?:\/\//.test(v['tuf-cache']) ? v['tuf-cache'] : resolve(io.cwd, v['tuf-cache']);
    return loadCachedTrustedRoot(where, { env: io.env });
  }
  if (v['trusted-root'] === undefined) return undefined;
  const text = readSmallFile(v['trusted-root'], MAX_TRUSTED_ROOT_BYTES, 'trusted root', io.cwd).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SignError('INPUT_INVALID', `${v['trusted-root']} is not JSON`);
  }
}
