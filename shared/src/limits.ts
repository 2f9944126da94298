/**
 * Size limits that more than one package enforces on the same input, in one place so the client
 * and the services never drift apart (a token the signer sends is one the CA accepts).
 */

/** An OIDC identity token (compact JWS): the signer refuses to send a longer one, the CA to read it. */
export const MAX_TOKEN_BYTES = 16 * 1024;

/** A PEM key file (signing key, in-toto functionary key): read with this cap. */
export const MAX_KEY_FILE_BYTES = 64 * 1024;

/** A Sigstore bundle read from a file or a registry blob. */
export const MAX_BUNDLE_BYTES = 16 * 1024 * 1024;
