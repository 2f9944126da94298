/** A SoftHSM2 token in a temporary folder (SOFTHSM2_CONF), made with Debian's softhsm2-util. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsm {
  dir: string;
  tokenDir: string;
  conf: string;
  /** Creates an initialised token with this label and user PIN. */
  initToken(label: string, pin: string): void;
}

/**
 * Points this process (the module reads SOFTHSM2_CONF when it is initialised, once per process)
 * and softhsm2-util at a token folder under `dir`.
 */
export function softHsm(dir: string): SoftHsm {
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  process.env.SOFTHSM2_CONF = conf;
  return {
    dir,
    tokenDir,
    conf,
    initToken(label, pin) {
      execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', `so-${pin}`, '--pin', pin], {
        env: { ...process.env, SOFTHSM2_CONF: conf },
        stdio: 'pipe',
      });
    },
  };
}
