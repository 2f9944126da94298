/**
 * @cairn/admission: the Kubernetes admission webhook. Images of Pods and pod templates are
 * verified offline (the trusted root loaded at start, the registry the only peer) against
 * policy-controller ClusterImagePolicy and Kyverno ClusterPolicy verifyImages policies.
 */
export { AdmissionError, type AdmissionErrorCode } from './errors.ts';
export { extractImages, POD_SPEC_PATHS, MAX_CONTAINERS, MAX_DISTINCT_IMAGES, type ImageSite } from './images.ts';
export { loadPolicySet, parsePolicies, policyFiles, appliesTo, MAX_POLICY_FILE_BYTES, type AdmissionPolicy, type PolicySet, type Authority, type AuthorityGroup, type AttestationCheck, type Mode } from './policy.ts';
export { AdmissionEngine, parseReview, REVIEW_API_VERSION, type EngineOptions, type DecisionRecord, type ImageFailure, type NoMatch, type HttpAnswer } from './engine.ts';
export { startAdmissionServer, DEFAULT_MAX_BODY_BYTES, type AdmissionServer, type AdmissionServerOptions } from './server.ts';
export { createWebhookCerts, type CertsOptions, type CertsResult } from './certs.ts';
export { TtlLru } from './lru.ts';
