/**
 * @cairn/oci: a bounded OCI registry client and image signing/verification in cosign's formats.
 * Server-safe: nothing prints or exits; every network operation takes an AbortSignal and runs
 * under a deadline; errors are OciError with a closed union of codes. `@cairn/oci/verify` is the
 * same without signing (it does not load @cairn/sign).
 */
export * from './verify-entry.ts';
export { signImage, attestImage, type SignImageOptions, type AttestImageOptions, type SignedObject } from './sign-image.ts';
