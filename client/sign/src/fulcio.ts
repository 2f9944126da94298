/**
 * Client of the Fulcio v2 REST API (`POST /api/v2/signingCert`, reference §1.2-1.4), sending
 * exactly what sigstore-js sends: the token in `credentials.oidcIdentityToken`, the PEM SPKI with
 * algorithm ECDSA, and the base64 proof of possession.
 */
import { X509Certificate } from 'node:crypto';
import { fromPemAll, isRecord, type PublicKey } from '@cairn/shared';
import { SignError } from './errors.ts';
import { httpRequest, jsonOf, type HttpOptions } from './http.ts';

/** A chain longer than this is not a Fulcio answer. */
export const MAX_CHAIN_CERTIFICATES = 10;
export const MAX_CA_RESPONSE_BYTES = 256 * 1024;

export interface SigningCertificate {
  /** DER of the leaf (what goes into `certificate.rawBytes`). */
  leaf: Buffer;
  /** DER of the rest of the chain as the CA returned it (intermediates, root). */
  chain: Buffer[];
  /** Whether the CA answered with `signedCertificateEmbeddedSct` (the leaf carries SCTs). */
  embeddedSct: boolean;
}

export interface CertificateRequest {
  token: string;
  publicKey: PublicKey;
  /** Signature over the challenge subject (§1.3) by the key being certified. */
  proofOfPossession: Buffer;
}

export class FulcioClient {
  readonly baseUrl: string;
  private readonly http: HttpOptions;

  constructor(baseUrl: string, http: HttpOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.http = http;
  }

  async createSigningCertificate(req: CertificateRequest): Promise<SigningCertificate> {
    const body = {
      credentials: { oidcIdentityToken: req.token },
      publicKeyRequest: {
        publicKey: { algorithm: 'ECDSA', content: req.publicKey.toPem() },
        proofOfPossession: req.proofOfPossession.toString('base64'),
      },
    };
    const res = await httpRequest(
      {
        method: 'POST',
        url: `${this.baseUrl}/api/v2/signingCert`,
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body),
      },
      'CA_ERROR',
      'the CA',
      { maxBytes: MAX_CA_RESPONSE_BYTES, ...this.http },
    );
    return parseSigningCertificate(jsonOf(res, 'CA_ERROR', 'the CA'), req.publicKey);
  }
}

/** Parses a `SigningCertificate` answer and checks the leaf certifies the key we sent. */
export function parseSigningCertificate(json: unknown, expectedKey: PublicKey): SigningCertificate {
  if (!isRecord(json)) throw new SignError('CA_ERROR', 'the CA answer is not a JSON object');
  const embedded = json.signedCertificateEmbeddedSct;
  const detached = json.signedCertificateDetachedSct;
  const holder = isRecord(embedded) ? embedded : isRecord(detached) ? detached : undefined;
  if (holder === undefined) throw new SignError('CA_ERROR', 'the CA answer has no signedCertificateEmbeddedSct or signedCertificateDetachedSct');
  const chain = holder.chain;
  const pems = isRecord(chain) ? chain.certificates : undefined;
  if (!Array.isArray(pems) || pems.length === 0 || pems.length > MAX_CHAIN_CERTIFICATES || !pems.every((p) => typeof p === 'string')) {
    throw new SignError('CA_ERROR', `the CA answer needs chain.certificates: 1 to ${MAX_CHAIN_CERTIFICATES} PEM strings`);
  }
  const ders: Buffer[] = [];
  for (const pem of pems) {
    let blocks;
    try {
      blocks = fromPemAll(pem, 'CA certificate');
    } catch (e) {
      throw new SignError('CA_ERROR', 'the CA answer holds a certificate that is not PEM', { cause: e });
    }
    if (blocks.length !== 1 || blocks[0]!.label !== 'CERTIFICATE') throw new SignError('CA_ERROR', 'each chain element must be one PEM CERTIFICATE');
    ders.push(blocks[0]!.der);
  }
  const leafDer = ders[0]!;
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(leafDer);
  } catch (e) {
    throw new SignError('CA_ERROR', 'the CA returned a leaf that is not an X.509 certificate', { cause: e });
  }
  const leafSpki = leaf.publicKey.export({ type: 'spki', format: 'der' });
  if (!leafSpki.equals(expectedKey.spki)) throw new SignError('CA_ERROR', 'the CA returned a certificate for a different public key');
  return { leaf: leafDer, chain: ders.slice(1), embeddedSct: holder === embedded };
}
