/** Help text of the `cairn image` verify and registry flags (data only). */
export const REGISTRY_USAGE = `Registry:
  --allow-http-registry         plain http to a registry that is not on a loopback address
  --registry-ca-file F          PEM CA certificates for the registry's https (replaces the system store)
  --registry-username U         Basic/token credentials (with --registry-password-file); else
  --registry-password-file F    ~/.docker/config.json (auths, identitytoken) is used
  --registry-timeout SECONDS    deadline of each registry operation (default 30)`;

export const VERIFY_USAGE_COMMON = `Identity (one of each pair, or --key):
  --certificate-identity SAN            exact signer identity (repeat to accept several)
  --certificate-identity-regexp RE      identity as an RE2 expression (unanchored, as cosign)
  --certificate-oidc-issuer URL         exact OIDC issuer
  --certificate-oidc-issuer-regexp RE   issuer as an RE2 expression
  --key KEY.pem                         a public key of key-signed images (repeatable)
Trust (verification is offline): --trusted-root FILE | --tuf-cache DIR | --tuf-mirror URL
  (the cache 'cairn trust init' wrote; default $CAIRN_URL/tuf, else the mirror of the last 'cairn trust init')
Thresholds: --tlog-threshold N, --ctlog-threshold N, --timestamp-threshold N (defaults 1, 1, 1)
  --layout DIR                          verify an image saved by 'cairn image save' (no registry)
  --offline                             as cosign's: nothing but the registry is contacted (always
                                        so); with --layout fetch, sockets and DNS are refused
  --json                                print the result as JSON
${REGISTRY_USAGE}

Exit status: 0 verified, 1 not verified (each finding names a stable code), 2 usage error.`;
