/**
 * Fulcio's REST surface (fulcio.proto / fulcio_legacy.proto through grpc-gateway):
 * POST /api/v2/signingCert (200 JSON), POST /api/v1/signingCert (201 PEM chain),
 * GET /api/v1/rootCert, GET /api/v2/trustBundle, GET /api/v2/configuration.
 */
import { Router, type ErrorRequestHandler, type Request } from 'express';
import { isRecord, toPem, isCairnError, type Counter } from '@cairn/shared';
import { jsonBody } from '@cairn/shared/http';
import { CaError } from './errors.ts';
import { decodeBase64Field, parseCsr, parsePublicKeyContent, verifyProofOfPossession, MAX_CSR_BYTES, MAX_PROOF_BYTES, MAX_PUBLIC_KEY_BYTES, type SubjectKey } from './request.ts';
import { principalFor, challengeClaimOf } from './identity/principal.ts';
import type { TokenVerifier } from './identity/verifier.ts';
import type { IssuersConfig, IssuerConfig } from './identity/config.ts';
import type { CertificateAuthority } from './authority.ts';

/** Signing requests are a key, a proof and a token: a few KiB. */
export const MAX_SIGNING_REQUEST_BYTES = 64 * 1024;

export interface CaRouteOptions {
  ca: CertificateAuthority;
  verifier: TokenVerifier;
  issuers: IssuersConfig;
  issued: Counter;
  rejected: Counter;
}

function bearer(req: Request): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^Bearer ([A-Za-z0-9._~+/=-]{1,20000})$/.exec(h);
  if (!m) throw new CaError('MALFORMED_TOKEN', 'Authorization must be a Bearer token');
  return m[1];
}

function pemChain(ders: Buffer[]): string[] {
  return ders.map((d) => toPem('CERTIFICATE', d));
}

function issuerJson(cfg: IssuerConfig, wildcard: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = wildcard ? { wildcardIssuerUrl: cfg.issuerUrl } : { issuerUrl: cfg.issuerUrl };
  out.audience = cfg.clientId;
  out.challengeClaim = challengeClaimOf(cfg);
  if (cfg.spiffeTrustDomain !== undefined) out.spiffeTrustDomain = cfg.spiffeTrustDomain;
  out.issuerType = cfg.type;
  if (cfg.subjectDomain !== undefined) out.subjectDomain = cfg.subjectDomain;
  if (cfg.skipEmailVerification) out.skipEmailVerification = true;
  return out;
}

export function caRouter(o: CaRouteOptions): Router {
  const router = Router();
  const body = jsonBody(MAX_SIGNING_REQUEST_BYTES);
  // The CA part of every chain never changes: encode it once.
  const caPems = pemChain([o.ca.intermediateDer, o.ca.rootDer]);
  const chainPems = (issued: { leafDer: Buffer }): string[] => [toPem('CERTIFICATE', issued.leafDer), ...caPems];

  /** Token -> principal -> PoP -> certificate; nothing is logged or issued before all checks pass. */
  const issueFor = async (token: string | undefined, key: () => SubjectKey, proof: (() => Buffer) | undefined) => {
    // Cheap shape checks first, then the token, then the proof that needs the token's identity.
    const subject = key();
    const proofBytes = proof?.();
    if (token === undefined || token === '') throw new CaError('MISSING_TOKEN', 'no OIDC identity token (credentials.oidcIdentityToken or Authorization: Bearer)');
    const { claims, issuer } = await o.verifier.verify(token);
    const principal = principalFor(claims, issuer, o.issuers);
    if (proofBytes !== undefined) await verifyProofOfPossession(subject, principal.name, proofBytes);
    const issued = await o.ca.issue(principal, subject.spki);
    o.issued.inc({ issuer_type: issuer.type });
    return issued;
  };

  router.post('/api/v2/signingCert', body, async (req, res) => {
    const b: unknown = req.body;
    if (!isRecord(b)) throw new CaError('MALFORMED_REQUEST', 'the request must be a JSON object');
    let token: string | undefined;
    const cred = b.credentials;
    if (cred !== undefined) {
      if (!isRecord(cred) || (cred.oidcIdentityToken !== undefined && typeof cred.oidcIdentityToken !== 'string')) {
        throw new CaError('MALFORMED_REQUEST', 'credentials.oidcIdentityToken must be a string');
      }
      token = cred.oidcIdentityToken;
    }
    // Fulcio: the body token wins; the Bearer header is the fallback (what cosign v3 sends).
    const header = bearer(req);
    if (token === undefined || token === '') token = header;
    const pkr = b.publicKeyRequest;
    const csr = b.certificateSigningRequest;
    if ((pkr === undefined) === (csr === undefined)) throw new CaError('MALFORMED_REQUEST', 'give exactly one of publicKeyRequest and certificateSigningRequest');
    let issued;
    if (pkr !== undefined) {
      if (!isRecord(pkr) || !isRecord(pkr.publicKey) || typeof pkr.publicKey.content !== 'string') {
        throw new CaError('MALFORMED_REQUEST', 'publicKeyRequest.publicKey.content must be a string');
      }
      const content = pkr.publicKey.content;
      issued = await issueFor(
        token,
        () => parsePublicKeyContent(content),
        () => decodeBase64Field(pkr.proofOfPossession, 'proofOfPossession', MAX_PROOF_BYTES, 'INVALID_PROOF_OF_POSSESSION'),
      );
    } else {
      const bytes = decodeBase64Field(csr, 'certificateSigningRequest', MAX_CSR_BYTES, 'INVALID_CSR');
      issued = await issueFor(token, () => parseCsr(bytes), undefined);
    }
    // v2 answers 200 (sigstore-go treats anything else as an error).
    res.status(200).json({ signedCertificateEmbeddedSct: { chain: { certificates: chainPems(issued) } } });
  });

  router.post('/api/v1/signingCert', body, async (req, res) => {
    const b: unknown = req.body;
    if (!isRecord(b)) throw new CaError('MALFORMED_REQUEST', 'the request must be a JSON object');
    const token = bearer(req);
    let issued;
    if (b.certificateSigningRequest !== undefined) {
      if (b.publicKey !== undefined) throw new CaError('MALFORMED_REQUEST', 'give either publicKey or certificateSigningRequest');
      const bytes = decodeBase64Field(b.certificateSigningRequest, 'certificateSigningRequest', MAX_CSR_BYTES, 'INVALID_CSR');
      issued = await issueFor(token, () => parseCsr(bytes), undefined);
    } else {
      const pk = b.publicKey;
      if (!isRecord(pk)) throw new CaError('MALFORMED_REQUEST', 'publicKey is required');
      // v1: content is base64 of the PEM or DER key (bytes field).
      const keyBytes = decodeBase64Field(pk.content, 'publicKey.content', MAX_PUBLIC_KEY_BYTES, 'INVALID_PUBLIC_KEY');
      const text = keyBytes.toString('latin1');
      issued = await issueFor(
        token,
        () => parsePublicKeyContent(text.includes('-----BEGIN') ? text : keyBytes.toString('base64')),
        () => decodeBase64Field(b.signedEmailAddress, 'signedEmailAddress', MAX_PROOF_BYTES, 'INVALID_PROOF_OF_POSSESSION'),
      );
    }
    res.status(201).type('application/pem-certificate-chain').send(chainPems(issued).join('').trim());
  });

  router.get('/api/v1/rootCert', (_req, res) => {
    res.type('application/pem-certificate-chain').send(caPems.join('').trim());
  });

  router.get('/api/v2/trustBundle', (_req, res) => {
    res.json({ chains: [{ certificates: caPems }] });
  });

  const configuration = {
    issuers: [
      ...[...o.issuers.issuers.values()].map((c) => issuerJson(c, false)),
      ...o.issuers.meta.map((m) => issuerJson({ ...m.config, issuerUrl: m.pattern }, true)),
    ],
  };
  router.get('/api/v2/configuration', (_req, res) => {
    res.json(configuration);
  });

  /** Counts rejections by code, then lets the shared error handler answer. */
  const count: ErrorRequestHandler = (err: unknown, _req, _res, next) => {
    const code: string = isCairnError(err) ? err.code : (err as { type?: string } | null)?.type === 'entity.too.large' ? 'BODY_TOO_LARGE' : 'OTHER';
    o.rejected.inc({ code });
    next(err);
  };
  router.use(['/api/v1/signingCert', '/api/v2/signingCert'], count);
  return router;
}
