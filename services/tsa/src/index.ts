/**
 * The RFC 3161 timestamp authority (sigstore/timestamp-authority API). Rekor v2 entries carry no
 * integrated time, so a signed timestamp is what proves a short-lived certificate was valid when
 * the signature was made (sigstore-protocols §3.5, §8).
 *
 * Config section `tsa`:
 *   policyOid        TSA policy of every token (default 1.3.6.1.4.1.57264.2, Sigstore's); a
 *                    query asking for another reqPolicy is refused (unacceptedPolicy).
 *   accuracySeconds  accuracy stated in each token (default 1, 0 leaves it out, max 60).
 *   serialPrefix     0..2^32-1, put above the 64-bit serial counter: give each replica sharing
 *                    one signing key its own (default 0).
 *   passphraseFile   file holding the key passphrase (or env CAIRN_TSA_PASSPHRASE).
 *   keyDir           folder holding root.crt.pem, signing.crt.pem and signing-key.pem (default:
 *                    the component's data dir, <data-dir>/tsa). Lets a deployment mount the keys
 *                    read-only (a Secret) while serial.json stays in the writable data dir.
 *   pkcs11Key        with a `pkcs11` section (--pkcs11-module): the signing key's URI (default
 *                    pkcs11:token=<token>;object=cairn-tsa-signing, made by `cairn hsm init`).
 *
 * Keys come from `cairn tsa init --dir <data-dir>/tsa` (or, in development, `cairn up`).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { oidContent } from '@cairn/shared/der';
import { OID } from '@cairn/shared/oids';
import { keyPassphrase } from '@cairn/shared/key-files';
import { openServiceKey, pkcs11Settings } from '@cairn/shared/pkcs11';
import { section, sectionNumber, sectionString, type Service, type ServiceFactory } from '@cairn/shared';
import { TsaError } from './errors.ts';
import { loadTsa } from './tsa-keys.ts';
import { MAX_SERIAL_PREFIX, SerialCounter } from './serial.ts';
import { tsaRoutes } from './routes.ts';

export { TsaError, FAIL_INFO_BIT, type TsaErrorCode } from './errors.ts';
export { initTsa, loadTsa, rotateTsaSigning, RETIRED_DIR, tsaFilesExist, ROOT_CERT_FILE, ROOT_KEY_FILE, SIGNING_CERT_FILE, SIGNING_KEY_FILE, type TsaCurve, type TsaInitOptions, type TsaInitResult, type LoadedTsa, type RotateTsaSigningOptions, type RotateTsaSigningResult } from './tsa-keys.ts';
export { parseDerQuery, parseJsonQuery, MAX_QUERY_BYTES, MAX_NONCE_BYTES, type TimestampQuery } from './request.ts';
export { grantedResponse, rejectionResponse, failInfoBits, type TsaIdentity } from './token.ts';
export { SerialCounter, DEFAULT_SERIAL_BLOCK } from './serial.ts';
export { TIMESTAMP_QUERY_TYPE, TIMESTAMP_REPLY_TYPE, CERT_CHAIN_TYPE } from './routes.ts';

/** Sigstore's TSA policy OID (fulcio docs/oid-info.md: 1.3.6.1.4.1.57264.2). */
export const DEFAULT_POLICY_OID = OID.sigstoreTsaPolicy;
export const TIMESTAMP_PATH = '/api/v1/timestamp';

/** The only place the TSA reads the environment: the key passphrase. */
function passphrase(file: string | undefined): string | undefined {
  return keyPassphrase(file, process.env.CAIRN_TSA_PASSPHRASE, (m) => {
    throw new TsaError('INVALID_CONFIG', m);
  });
}

function subjectOf(x509Subject: string): { organization: string; commonName: string } {
  const get = (k: string): string => x509Subject.split('\n').find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
  return { organization: get('O'), commonName: get('CN') };
}

export const createService: ServiceFactory = (ctx) => {
  const cfg = section(ctx.config, 'tsa');
  mkdirSync(ctx.dataDir, { recursive: true, mode: 0o700 });
  const keyDir = sectionString(cfg, 'keyDir', ctx.dataDir);
  if (keyDir === '') throw new TsaError('INVALID_CONFIG', 'tsa.keyDir must name a folder');
  const p11 = pkcs11Settings(ctx.config);
  const keyUri = sectionString(cfg, 'pkcs11Key');
  if (!p11 && keyUri !== undefined) throw new TsaError('INVALID_CONFIG', 'tsa.pkcs11Key needs a PKCS#11 module (--pkcs11-module)');
  const pass = passphrase(sectionString(cfg, 'passphraseFile'));
  const hsm = p11 ? openServiceKey(p11, 'tsa', keyUri) : undefined;
  let tsa: ReturnType<typeof loadTsa>;
  try {
    tsa = loadTsa(keyDir, pass, hsm);
  } catch (e) {
    hsm?.close();
    throw e;
  }
  const policy = sectionString(cfg, 'policyOid', DEFAULT_POLICY_OID);
  try {
    if (!/^[0-2](?:\.\d{1,20}){1,40}$/.test(policy)) throw new Error('not dotted');
    oidContent(policy);
  } catch {
    throw new TsaError('INVALID_CONFIG', 'tsa.policyOid must be a dotted OID');
  }
  const accuracySeconds = sectionNumber(cfg, 'accuracySeconds', 1, 0, 60);
  if (!Number.isInteger(accuracySeconds)) throw new TsaError('INVALID_CONFIG', 'tsa.accuracySeconds must be a whole number of seconds');
  const serialPrefix = sectionNumber(cfg, 'serialPrefix', 0, 0, MAX_SERIAL_PREFIX);
  if (!Number.isInteger(serialPrefix)) throw new TsaError('INVALID_CONFIG', 'tsa.serialPrefix must be an integer');
  const serials = SerialCounter.open(join(ctx.dataDir, 'serial.json'), { prefix: serialPrefix });

  const { router, leanRoutes } = tsaRoutes({
    tsa,
    serials,
    policy,
    accuracySeconds,
    clock: ctx.clock,
    logger: ctx.logger,
    issued: ctx.metrics.counter('cairn_tsa_timestamps_issued_total', 'RFC 3161 timestamps issued'),
    rejected: ctx.metrics.counter('cairn_tsa_rejections_total', 'timestamp requests refused, by code'),
  });
  ctx.logger.info('timestamp authority ready', { policy, signer: tsa.leaf.subject.replace(/\n/g, ', ') });
  const validFrom = new Date(tsa.leaf.validFrom).toISOString();
  const validTo = new Date(tsa.leaf.validTo).toISOString();
  const svc: Service & { tsa: typeof tsa } = {
    name: 'tsa',
    router,
    leanRoutes,
    tsa,
    ready: () => hsm?.health() ?? { ok: true },
    trustInfo: () => [
      {
        kind: 'tsa',
        uri: `${ctx.baseUrl}${TIMESTAMP_PATH}`,
        subject: subjectOf(tsa.leaf.subject),
        certChain: tsa.chainDer.map((d) => d.toString('base64')),
        validFrom,
        validTo,
      },
    ],
    close: () => {
      hsm?.close();
      return Promise.resolve();
    },
  };
  return Promise.resolve(svc);
};
