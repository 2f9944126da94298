/**
 * The RFC 6962 certificate-transparency log for the CA's precertificates, on the shared log
 * engine of services/log.
 *
 * State in ctx.dataDir: `ct-key.pem` (P-256, 0600, created on first start), `ct.sqlite` (the
 * engine's leaves/tiles/tree heads plus this log's `ct_entries`), `roots/*.pem` (accepted roots).
 *
 * Config section `ct`: rootsFile (PEM bundle of extra accepted roots), batchMaxSize,
 * batchMaxDelayMs (the engine's batching bounds), maxPending (submissions waiting at once).
 *
 * Accepted roots: a chain must end at (or directly below) a self-signed CA certificate listed in
 * `<dataDir>/roots/*.pem` or `ct.rootsFile`. The in-process CA registers its root with
 * `peers.ct.addRoot(der)` before its first add-pre-chain; in a split deployment, copy the CA's
 * root PEM into `<data-dir>/ct/roots/` (picked up without a restart).
 *
 * Trust info: kind 'ctlog', baseUrl = the deployment base URL (the prefix in front of /ct/v1, as
 * RFC 6962 §4 clients use it), logId = SHA-256 of the CT key's DER SPKI = every SCT's log_id,
 * keyDetails PKIX_ECDSA_P256_SHA_256 (P-384 with a custom signer), validFrom = when this key was first used (persisted).
 *
 * Key in a PKCS#11 token: with a `pkcs11` section (--pkcs11-module) the CT key is the token's
 * `cairn-ct` (made by `cairn hsm init`) or the URI in `ct.pkcs11Key`; ct-key.pem is not used.
 */
import { openServiceKey, pkcs11Settings, type Pkcs11Signer } from '@cairn/shared/pkcs11';
import {
  SharedError,
  section,
  sectionNumber,
  sectionString,
  storeOf,
  toBase64,
  type ReadyStatus,
  type Service,
  type ServiceFactory,
  type TrustInfo,
} from '@cairn/shared';
import type { Router } from 'express';
import { DEFAULT_MAX_PENDING, EngineCtLog, type LocalCtLog } from './ct-log.ts';
import { ctRouter } from './routes.ts';

export { CtError, type CtErrorCode } from './errors.ts';
export { EngineCtLog, CT_MIGRATIONS, MAX_GET_ENTRIES, DEFAULT_MAX_PENDING, CT_KEY_DETAILS, type CtLog, type LocalCtLog, type SignedTreeHeadJson, type LeafEntryJson } from './ct-log.ts';
export { HttpCtLog, HttpCtError, sctFromJson, MAX_SCT_RESPONSE_BYTES, type HttpCtErrorCode, type HttpCtLogOptions } from './http-ct-log.ts';
export { sctToJson, type SctJson } from './routes.ts';
export { MAX_CHAIN_LENGTH, MAX_CERT_BYTES, MAX_SUBMISSION_BYTES } from './chain.ts';
export { RootStore, MAX_ROOTS, type AcceptedRoot } from './roots.ts';

/** What `createService` returns: a Service that is also the in-process CT log (`peers.ct`). */
export interface CtService extends Service, LocalCtLog {
  readonly name: 'ct';
}

class CtComponent implements CtService {
  readonly name = 'ct' as const;
  readonly router: Router;

  constructor(
    private readonly log: EngineCtLog,
    private readonly baseUrl: string,
    private readonly hsm?: Pkcs11Signer,
  ) {
    this.router = ctRouter(log);
  }

  get publicKey(): EngineCtLog['publicKey'] {
    return this.log.publicKey;
  }

  get logId(): Buffer {
    return this.log.logId;
  }

  addPreChain(chainDer: Buffer[]): ReturnType<EngineCtLog['addPreChain']> {
    return this.log.addPreChain(chainDer);
  }

  addChain(chainDer: Buffer[]): ReturnType<EngineCtLog['addChain']> {
    return this.log.addChain(chainDer);
  }

  addRoot(rootDer: Buffer): void {
    this.log.addRoot(rootDer);
  }

  ready(): ReadyStatus {
    if (!this.log.ready()) return { ok: false, reason: 'the CT log is closed' };
    return this.hsm?.health() ?? { ok: true };
  }

  trustInfo(): TrustInfo[] {
    return [
      {
        kind: 'ctlog',
        baseUrl: this.baseUrl,
        publicKey: toBase64(this.log.publicKey.spki),
        keyDetails: this.log.keyDetails,
        logId: toBase64(this.log.logId),
        validFrom: this.log.keyValidFrom.toISOString(),
      },
    ];
  }

  close(): Promise<void> {
    return this.log.close().finally(() => this.hsm?.close());
  }
}

export const createService: ServiceFactory = async (ctx) => {
  const s = section(ctx.config, 'ct');
  const batchMaxSize = sectionNumber(s, 'batchMaxSize', 64, 1, 65_536);
  const batchMaxDelayMs = sectionNumber(s, 'batchMaxDelayMs', 5, 0, 5_000);
  const rootsFile = sectionString(s, 'rootsFile');
  const maxPending = sectionNumber(s, 'maxPending', DEFAULT_MAX_PENDING, 1, 1_000_000);
  const store = storeOf(ctx.config);
  const p11 = pkcs11Settings(ctx.config);
  const keyUri = sectionString(s, 'pkcs11Key');
  if (!p11 && keyUri !== undefined) throw new SharedError('INVALID_CONFIG', 'ct.pkcs11Key needs a PKCS#11 module (--pkcs11-module)');
  const hsm = p11 ? openServiceKey(p11, 'ct', keyUri) : undefined;
  let log: EngineCtLog;
  try {
    log = await EngineCtLog.open({
      ...(hsm ? { signer: hsm } : {}),
      dataDir: ctx.dataDir,
      ...(store.url !== undefined ? { storeUrl: store.url, leaseMs: store.leaseMs } : {}),
      clock: ctx.clock,
      logger: ctx.logger,
      metrics: ctx.metrics,
      batchMaxSize,
      batchMaxDelayMs,
      maxPending,
      ...(rootsFile !== undefined ? { rootsFile } : {}),
    });
  } catch (e) {
    hsm?.close();
    throw e;
  }
  return new CtComponent(log, ctx.baseUrl, hsm);
};
