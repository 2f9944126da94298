/**
 * Private keys on disk: written atomically with mode 0600, created on first use. Kept apart from
 * the crypto seam (crypto.ts) so that modules that only verify never load code that writes files.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { generateKey, privateKeyFromPem, privateKeyToPem, type KeyType } from './crypto.ts';
import { writeAtomic } from './io.ts';

/** Writes a secret file atomically with mode 0600 (created that way, never world-readable). */
export function writeSecretFile(path: string, contents: string | Uint8Array): void {
  writeAtomic(path, contents, 0o600);
}

/**
 * Loads the private key at `path`, creating it (mode 0600) on first use. Services call this on
 * start so a fresh data directory bootstraps itself.
 */
export function loadOrCreatePrivateKey(path: string, type: KeyType, passphrase?: string): { key: KeyObject; created: boolean } {
  if (existsSync(path)) return { key: privateKeyFromPem(readFileSync(path, 'utf8'), passphrase), created: false };
  const key = generateKey(type);
  writeSecretFile(path, privateKeyToPem(key, passphrase));
  return { key, created: true };
}

/** Largest key-passphrase file read. */
export const MAX_PASSPHRASE_FILE_BYTES = 4096;

/**
 * A service's key passphrase: the contents of `file` without one trailing newline when a file is
 * configured, else `envValue` (each service reads its own variable, in its one place that reads
 * the environment), else none. `fail` raises the service's own error for an unreadable or
 * oversized file.
 */
export function keyPassphrase(file: string | undefined, envValue: string | undefined, fail: (message: string) => never): string | undefined {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return fail(`cannot read passphrase file ${file}`);
    }
    if (text.length > MAX_PASSPHRASE_FILE_BYTES) fail('passphrase file is too large');
    return text.replace(/\r?\n$/, '');
  }
  return envValue === undefined || envValue === '' ? undefined : envValue;
}
