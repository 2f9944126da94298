/** The token flags of `cairn hsm`, `cairn ca rotate-intermediate` and `cairn tsa rotate-signing`. */
import { resolve } from 'node:path';
import { DEFAULT_PIN_ENV, DEFAULT_TOKEN_LABEL, readPin, type Pkcs11Settings } from '@cairn/shared/pkcs11';
import { CliError, type CliIO } from './command.ts';

export const PKCS11_FLAGS = {
  'pkcs11-module': { type: 'string' },
  'pkcs11-token': { type: 'string' },
  'pin-file': { type: 'string' },
  'pin-env': { type: 'string' },
} as const;

/** `ca rotate-intermediate` / `tsa rotate-signing`: the service key's URI when it has a label of the operator's. */
export const ROTATION_KEY_FLAG = { 'pkcs11-key': { type: 'string' } } as const;

export interface Pkcs11FlagValues {
  'pkcs11-module'?: string;
  'pkcs11-key'?: string;
  'pkcs11-token'?: string;
  'pin-file'?: string;
  'pin-env'?: string;
}

/** Module, token label and PIN (from --pin-file F, the variable --pin-env names, or CAIRN_PKCS11_PIN). */
export function pkcs11FlagSettings(io: CliIO, v: Pkcs11FlagValues): Pkcs11Settings {
  const modulePath = v['pkcs11-module'];
  if (modulePath === undefined) throw new CliError('USAGE', '--pkcs11-module PATH is required');
  const token = v['pkcs11-token'] ?? DEFAULT_TOKEN_LABEL;
  if (token === '' || token.length > 32) throw new CliError('USAGE', '--pkcs11-token must be a token label of 1 to 32 characters');
  const pin = readPin({ ...(v['pin-file'] !== undefined ? { pinFile: resolve(io.cwd, v['pin-file']) } : { pinEnv: v['pin-env'] ?? DEFAULT_PIN_ENV }), env: io.env });
  return { modulePath: resolve(io.cwd, modulePath), token, pin };
}

/** Refuses token flags without --pkcs11-module (they would be ignored silently otherwise). */
export function tokenFlagsNeedModule(v: Pkcs11FlagValues): void {
  if (v['pkcs11-module'] === undefined && (v['pkcs11-token'] !== undefined || v['pkcs11-key'] !== undefined || v['pin-file'] !== undefined || v['pin-env'] !== undefined)) {
    throw new CliError('USAGE', '--pkcs11-token, --pkcs11-key, --pin-file and --pin-env go with --pkcs11-module');
  }
}
