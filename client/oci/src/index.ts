/**
 * @cairn/oci: a bounded OCI registry client and image signing/verification in cosign's formats.
 * Server-safe: nothing prints or exits; every network operation takes an AbortSignal and runs
 * under a deadline; errors are OciError with a closed union of codes.
 */
export { OciError, type OciErrorCode } from './errors.ts';
export { parseReference, formatReference, repositoryName, digestTag, isLoopbackHost, type ImageReference } from './reference.ts';
export { RegistryClient, resolveDigest, DEFAULT_LIMITS, DEFAULT_TIMEOUT_MS, CONTENT_CACHE_BYTES, type RegistryClientOptions, type ImageSource, type Limits, type OperationOptions, type ReferrersResult } from './registry.ts';
export { dockerConfigCredentials, parseChallenge, type Credentials } from './auth.ts';
export { parseManifest, OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, MAX_MANIFEST_BYTES, MAX_DESCRIPTORS, type Descriptor, type Manifest } from './manifest.ts';
export { BUNDLE_ARTIFACT_TYPE, SIMPLE_SIGNING_MEDIA_TYPE, DSSE_LAYER_MEDIA_TYPE, COSIGN_SIGN_PREDICATE, ANNOTATION, MAX_SIGNATURE_LAYERS } from './cosign.ts';
export { type ImagePolicy, type IdentityRule } from './policy.ts';
export { verifyImage, MAX_FINDINGS, type VerifyImageOptions, type ImageVerification, type Finding, type Signer, type AttestationRequirement, type RequirementResult } from './verify-image.ts';
export { signImage, attestImage, type SignImageOptions, type AttestImageOptions, type SignedObject } from './sign-image.ts';
export { OciLayout, saveImage, loadImage, imageTree, type ImageTree } from './layout.ts';
