/**
 * Rekor logs for checking log answers: from a trusted_root.json `tlogs` list, parsed by
 * `@cairn/verify`'s one strict trusted-root parser (chosen by log ID, with the entry's integrated
 * time inside `publicKey.validFor`, reference §6.1), or a key pinned from elsewhere (the log's own
 * /api/v1/log/publicKey, which proves less and is labelled so) with the URL the log was asked at.
 */
import type { PublicKey } from '@cairn/shared';
import { parseTrustedRoot, VerifyError, type KeyDetails, type TransparencyLogAuthority } from '@cairn/verify';
import { SignError } from './errors.ts';
import type { LogEntry } from './rekor.ts';

export interface LogKeySource {
  keyFor(entry: LogEntry): TransparencyLogAuthority;
  /** Said next to every verified entry: where the key came from. */
  note: string;
}

export function trustedRootLogKeys(json: unknown): LogKeySource {
  let logs: TransparencyLogAuthority[];
  try {
    logs = parseTrustedRoot(json).tlogs;
  } catch (e) {
    if (e instanceof VerifyError) throw new SignError('INPUT_INVALID', e.message, { cause: e });
    throw e;
  }
  return {
    note: 'log key from the trusted root',
    keyFor(entry) {
      const log = logs.find((l) => l.logId.toString('hex') === entry.logID);
      if (log === undefined) throw new SignError('LOG_UNTRUSTED', `log ${entry.logID} is not in the trusted root`);
      const t = entry.integratedTime * 1000;
      if ((log.validFor.start !== undefined && t < log.validFor.start.getTime()) || (log.validFor.end !== undefined && t > log.validFor.end.getTime())) {
        throw new SignError('LOG_UNTRUSTED', `the entry time lies outside the trusted root's validity window of log ${entry.logID}`);
      }
      return log;
    },
  };
}

const DETAILS: Partial<Record<string, KeyDetails>> = {
  'ecdsa-p256-sha256': 'PKIX_ECDSA_P256_SHA_256',
  'ecdsa-p384-sha384': 'PKIX_ECDSA_P384_SHA_384',
  'ecdsa-p521-sha512': 'PKIX_ECDSA_P521_SHA_512',
  ed25519: 'PKIX_ED25519',
};

/** A log known only by its key and the URL it answers at (its checkpoints are signed under that name). */
export function logAuthorityForKey(key: PublicKey, baseUrl: string): TransparencyLogAuthority {
  return {
    baseUrl,
    logId: key.keyId,
    keyDetails: DETAILS[key.algorithm] ?? 'PKIX_RSA_PKCS1V15_2048_SHA256',
    publicKey: key.keyObject,
    rawKey: key.spki,
    validFor: { start: undefined, end: undefined },
  };
}

export function pinnedLogKey(key: PublicKey, note: string, baseUrl: string): LogKeySource {
  const log = logAuthorityForKey(key, baseUrl);
  return { note, keyFor: () => log };
}
