/**
 * `cairn up`'s trust bootstrap: before the TUF component starts, the public material of the
 * components already running (CA chain, log and CT keys, OIDC issuer) goes through the
 * development ceremony, so the repository the TUF component serves always matches the stack.
 * First run: keys generated and the repository published; later runs: a new targets version only
 * when the trust material changed (a rotated key keeps verifying through its end date).
 */
import type { CairnConfig, Peers } from '@cairn/shared';
import { systemClock } from '@cairn/shared';
import { runDevelopmentCeremony, type DevCeremonyResult } from '@cairn/tuf/ceremony';

export interface BootstrapOptions {
  config: CairnConfig;
  peers: Peers;
  baseUrl: string;
  /** The tuf component's data directory (`<data-dir>/tuf`). */
  tufDir: string;
}

export async function bootstrapTrust(o: BootstrapOptions): Promise<DevCeremonyResult> {
  const infos = Object.values(o.peers).flatMap((s) => s?.trustInfo() ?? []);
  return runDevelopmentCeremony({ dir: o.tufDir, infos, clock: systemClock });
}
