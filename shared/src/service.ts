/**
 * The contract every component (ca, ct, log, tsa, tuf, oidc) implements, so `cairn up` can mount
 * them all on one port and `cairn serve X` can run one alone with the same code.
 */
import type { Router } from 'express';
import type { CairnConfig } from './config.ts';
import type { Clock } from './clock.ts';
import type { Logger } from './logger.ts';
import type { MetricsRegistry } from './metrics.ts';

export type ComponentName = 'ca' | 'ct' | 'log' | 'tsa' | 'tuf' | 'oidc';
export const COMPONENTS: readonly ComponentName[] = ['oidc', 'ct', 'log', 'ca', 'tsa', 'tuf'];

export interface ServiceContext {
  config: CairnConfig;
  /** Public base URL of the deployment, no trailing slash (`http://127.0.0.1:3000`). */
  baseUrl: string;
  /** This component's own state directory: `<dataDir>/<component>`. */
  dataDir: string;
  clock: Clock;
  logger: Logger;
  metrics: MetricsRegistry;
}

export interface ReadyStatus {
  ok: boolean;
  reason?: string;
  /** A stable code for why the component is not ready (or what it warns about). */
  code?: string;
}

/**
 * Public material a component contributes to `trusted_root.json`. Served by every component at
 * `GET /api/cairn/v1/trust-info` so `cairn trust build` works against split deployments too.
 * Binary values are standard base64; times are RFC 3339.
 */
export type TrustInfo =
  | {
      kind: 'tlog' | 'ctlog';
      baseUrl: string;
      /** DER SubjectPublicKeyInfo. */
      publicKey: string;
      /** protobuf-specs PublicKeyDetails name, e.g. PKIX_ECDSA_P256_SHA_256. */
      keyDetails: string;
      /** base64 of the 32-byte log ID (SHA-256 of the DER SPKI for v1 and CT logs). */
      logId: string;
      validFrom: string;
      validTo?: string;
      /** tlog only: the Rekor API major versions served at baseUrl (default [1]). */
      majorApiVersions?: number[];
    }
  | {
      kind: 'ca';
      uri: string;
      subject: { organization: string; commonName: string };
      /** DER certificates, issuing CA first, self-signed root last. */
      certChain: string[];
      validFrom: string;
      validTo?: string;
    }
  | {
      kind: 'tsa';
      /** The full RFC 3161 endpoint URL (signing configs list TSAs by endpoint, not base URL). */
      uri: string;
      subject: { organization: string; commonName: string };
      /** DER certificates, signing certificate first, self-signed root last. */
      certChain: string[];
      validFrom: string;
      validTo?: string;
    }
  | { kind: 'oidc'; issuer: string };

/** What a lean route answers: a status, extra headers and a JSON value. */
export interface LeanAnswer {
  status: number;
  headers?: Record<string, string>;
  json: unknown;
  /** A binary body sent instead of `json` (its content-type in `headers`), e.g. an RFC 3161 reply. */
  raw?: Buffer;
}

/**
 * A hot POST route answered without the Express stack (router walk, body-parser, res.json): the
 * raw body in, a JSON answer out. Same behaviour as its Express twin: a body over the limit is
 * 413 BODY_TOO_LARGE before it is read further, errors come from `refuse`.
 */
export interface LeanRoute {
  method: 'POST';
  /** Exact request path (a query string sends the request down the Express stack instead). */
  path: string;
  maxBodyBytes: number;
  /** `contentType`: the request's Content-Type header, for routes that take more than one form. */
  handle(body: Buffer, contentType?: string): Promise<LeanAnswer>;
  /** The answer for an error, including body-reading errors (shaped as body-parser's). */
  refuse(err: unknown): LeanAnswer;
}

export interface Service {
  readonly name: ComponentName;
  /** Mounted at the root path; routes carry their own prefixes (/api/v1/..., /ct/v1/..., /tuf/...). */
  readonly router: Router;
  /** Hot POST routes also served without the Express stack (the router keeps their twins). */
  readonly leanRoutes?: readonly LeanRoute[];
  ready(): ReadyStatus;
  trustInfo(): TrustInfo[];
  /** Stops background work and closes stores. Idempotent. */
  close(): Promise<void>;
}

/** Components already created in this process, offered to later ones (the CA finds the CT log here). */
export type Peers = Partial<Record<ComponentName, Service>>;

/** What each service package exports as `createService`. */
export type ServiceFactory = (ctx: ServiceContext, peers: Peers) => Promise<Service>;
