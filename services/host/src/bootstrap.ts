/**
 * `cairn up`'s trust bootstrap: before the TUF component starts, the public material of the
 * components already running (CA chain, log and CT keys, OIDC issuer) goes through the
 * development ceremony, so the repository the TUF component serves always matches the stack.
 * First run: keys generated and the repository published; later runs: a new targets version only
 * when the trust material changed (a rotated key keeps verifying through its end date).
 */
import type { CairnConfig, Peers } from '@cairn/shared';
import { systemClock, type Logger } from '@cairn/shared';
import { initTsa, tsaFilesExist } from '@cairn/tsa';
import { openTokenOnlineKeys, runDevelopmentCeremony, type DevCeremonyResult } from '@cairn/tuf/ceremony';

export interface BootstrapOptions {
  config: CairnConfig;
  peers: Peers;
  baseUrl: string;
  /** The tuf component's data directory (`<data-dir>/tuf`). */
  tufDir: string;
}

export async function bootstrapTrust(o: BootstrapOptions): Promise<DevCeremonyResult> {
  const infos = Object.values(o.peers).flatMap((s) => s?.trustInfo() ?? []);
  // Online keys in a PKCS#11 token (--pkcs11-module): root v1 names them and no PEM is written.
  const token = openTokenOnlineKeys(o.config);
  try {
    return await runDevelopmentCeremony({ dir: o.tufDir, infos, clock: systemClock, ...(token ? { online: token.signers } : {}) });
  } finally {
    token?.close();
  }
}

/**
 * `cairn up`'s development TSA: a root and a timestamp signing certificate in `<data-dir>/tsa`
 * when there are none yet (production keys come from `cairn tsa init`). Runs before the tsa
 * component starts, so its trust info (and the TUF repository built after it) lists this TSA.
 */
export async function bootstrapTsa(tsaDir: string, logger?: Logger, keysInToken = false): Promise<boolean> {
  // With keys in a token the TSA's certificates come from `cairn hsm init`, never from here.
  if (keysInToken || tsaFilesExist(tsaDir)) return false;
  await initTsa(tsaDir, { organization: 'cairn', commonName: 'cairn development timestamp authority', clock: systemClock });
  logger?.warn('created DEVELOPMENT timestamp authority keys; run `cairn tsa init` for production keys', { dir: tsaDir });
  return true;
}
