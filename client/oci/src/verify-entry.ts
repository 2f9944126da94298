/**
 * `@cairn/oci/verify`: the registry client, OCI layouts and image verification without the
 * signing code (`@cairn/sign`), for verifiers that should not load it (`cairn image verify`, an
 * admission server). `@cairn/oci` exports all of this too.
 */
export { OciError, type OciErrorCode } from './errors.ts';
export { parseReference, formatReference, repositoryName, digestTag, isLoopbackHost, type ImageReference } from './reference.ts';
export { RegistryClient, resolveDigest, DEFAULT_LIMITS, DEFAULT_TIMEOUT_MS, CONTENT_CACHE_BYTES, type RegistryClientOptions, type ImageSource, type Limits, type OperationOptions, type ReferrersResult } from './registry.ts';
export { dockerConfigCredentials, parseChallenge, type Credentials } from './auth.ts';
export { parseManifest, OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, MAX_MANIFEST_BYTES, MAX_DESCRIPTORS, type Descriptor, type Manifest } from './manifest.ts';
export { BUNDLE_ARTIFACT_TYPE, SIMPLE_SIGNING_MEDIA_TYPE, DSSE_LAYER_MEDIA_TYPE, COSIGN_SIGN_PREDICATE, ANNOTATION, MAX_SIGNATURE_LAYERS } from './cosign.ts';
export { type ImagePolicy, type IdentityRule } from './policy.ts';
export { verifyImage, MAX_FINDINGS, FETCH_CONCURRENCY, type VerifyImageOptions, type ImageVerification, type Finding, type Signer, type AttestationRequirement, type RequirementResult } from './verify-image.ts';
export { OciLayout, saveImage, loadImage, imageTree, type ImageTree } from './layout.ts';
