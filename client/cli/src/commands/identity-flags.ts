/**
 * The identity and service flags of the signing commands (`cairn sign`, `attest`, `image sign`,
 * `image attest`) and their help text: data only, so that showing them loads nothing else.
 */
/** Flags shared by `cairn sign` and `cairn attest`. */
export const IDENTITY_FLAGS = {
  bundle: { type: 'string' },
  url: { type: 'string' },
  'fulcio-url': { type: 'string' },
  'rekor-url': { type: 'string' },
  'signing-config': { type: 'string' },
  'identity-token': { type: 'string' },
  'oidc-issuer': { type: 'string' },
  'oidc-client-id': { type: 'string' },
  'oidc-client-secret-file': { type: 'string' },
  key: { type: 'string' },
  'key-passphrase-file': { type: 'string' },
  'no-tlog-upload': { type: 'boolean' },
  timeout: { type: 'string' },
  'trusted-root': { type: 'string' },
  'tuf-cache': { type: 'string' },
  'rekor-version': { type: 'string' },
  'tsa-url': { type: 'string' },
  'no-tsa': { type: 'boolean' },
} as const;

export const IDENTITY_USAGE = `Identity (keyless, the default):
  --identity-token JWT         an OIDC ID token (else SIGSTORE_ID_TOKEN)
  --oidc-issuer URL            get a token with the client-credentials grant of this issuer
  --oidc-client-id ID          (discovery, then its token endpoint) using this client id
  --oidc-client-secret-file F  and the secret in this file
Key-based (the fallback when the CA is down):
  --key KEY.pem                sign with this private key (PKCS#8, encrypted PKCS#8, SEC1 or PKCS#1;
                               ECDSA P-256 or RSA 2048-4096); the bundle names it by publicKey.hint
  --key-passphrase-file F      passphrase of an encrypted key (else CAIRN_KEY_PASSPHRASE)
  --no-tlog-upload             do not log the entry (only with --key)
Services:
  --url BASE                   one Cairn deployment: CA and log (else CAIRN_URL)
  --fulcio-url URL             the CA (Fulcio v2 API), overrides --url
  --rekor-url URL              the transparency log (Rekor v1 API), overrides --url
  --signing-config F           take the CA, log and TSA from this signing_config v0.2 (current
                               entries, highest API version, newest start). Without it the signing
                               config in the trust cache is followed (--tuf-cache, else the cache
                               of <url>/tuf from 'cairn trust init'), if there is one: Rekor v2
                               plus the TSA when it lists both, Rekor v1 otherwise
  --rekor-version 1|2          write the log entry through Rekor v1 (entry with a SET) or v2
                               (hashedrekord 0.0.2; keyless needs a TSA); overrides the config
  --tsa-url URL                timestamp the signature with this RFC 3161 TSA (full endpoint URL,
                               e.g. BASE/api/v1/timestamp); the token goes into the bundle
  --no-tsa                     no RFC 3161 timestamp (then the config's v1 log is used)
  --timeout SECONDS            per-request timeout (default 15)
Checking the log's answer before the bundle is written (optional):
  --trusted-root F             verify the entry's SET, inclusion proof and checkpoint with the log
  --tuf-cache DIR|URL          key from this trusted_root.json, or from the 'cairn trust init' cache`;
