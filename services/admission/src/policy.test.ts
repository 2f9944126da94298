import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { parseReference } from '@cairn/oci/verify';
import { parsePolicies } from './policy.ts';
import { AdmissionError } from './errors.ts';
import { extractImages } from './images.ts';
import { TtlLru } from './lru.ts';

const KEY = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
const indent = (t: string, n: number): string => t.trim().split('\n').map((l) => `${' '.repeat(n)}${l}`).join('\n');

const cip = (spec: string): string => `apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: p}\nspec:\n${indent(spec, 2)}\n`;
const KEYLESS = 'authorities:\n  - keyless:\n      identities: [{issuer: "https://idp", subject: "me"}]';
const kyverno = (vi: string, extra = ''): string =>
  `apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: k}\nspec:\n  validationFailureAction: Enforce\n${extra}  rules:\n    - name: r\n      verifyImages:\n${indent(vi, 8)}\n`;

function code(text: string): string {
  try {
    parsePolicies(text, 'p.yaml');
  } catch (e) {
    assert.ok(e instanceof AdmissionError, String(e));
    return e.code;
  }
  return 'LOADED';
}

test('policy-controller globs: * stops at /, ** crosses it, * alone means Docker Hub library images, a missing tag is latest', () => {
  const match = (glob: string, image: string): boolean => parsePolicies(cip(`images: [{glob: "${glob}"}]\n${KEYLESS}`), 'p.yaml')[0]!.matchesImage(parseReference(image));
  assert.equal(match('registry.internal/*', 'registry.internal/app:v1'), true);
  assert.equal(match('registry.internal/*', 'registry.internal/team/app:v1'), false);
  assert.equal(match('registry.internal/**', 'registry.internal/team/app:v1'), true);
  assert.equal(match('*', 'nginx'), true);
  assert.equal(match('*', 'ghcr.io/x/y'), false);
  assert.equal(match('index.docker.io/library/nginx:latest', 'nginx'), true);
  assert.equal(match('registry.internal/app@sha256:*', `registry.internal/app@sha256:${'a'.repeat(64)}`), true);
});

test('Kyverno globs: * also crosses /, docker.io normalisation, skipImageReferences', () => {
  const p = parsePolicies(kyverno(`- imageReferences: ["ghcr.io/org/*", "docker.io/nginx*"]\n  skipImageReferences: ["ghcr.io/org/skip*"]\n  attestors: [{entries: [{keyless: {issuer: "https://idp", subject: "me"}}]}]`), 'k.yaml')[0]!;
  assert.equal(p.matchesImage(parseReference('ghcr.io/org/team/app:v1')), true);
  assert.equal(p.matchesImage(parseReference('nginx:1.25')), true);
  assert.equal(p.matchesImage(parseReference('ghcr.io/org/skipped:v1')), false);
  assert.equal(p.matchesImage(parseReference('ghcr.io/other/app')), false);
  assert.equal(p.mode, 'enforce');
  // A Pod rule applies to the pod controllers too (Kyverno autogen): no match block = every kind.
  assert.deepEqual(p.resources.match, []);
});

test('constructs Cairn does not implement are refused with POLICY_UNSUPPORTED, malformed ones with POLICY_INVALID', () => {
  const att = (a: string): string => cip(`images: [{glob: "r.internal/**"}]\nauthorities:\n  - keyless:\n      identities: [{issuer: "https://idp", subject: "me"}]\n    attestations:\n${indent(a, 6)}`);
  const unsupported: [string, string][] = [
    ['CUE', att('- {name: a, predicateType: slsaprovenance, policy: {type: cue, data: "x"}}')],
    ['KMS key', cip(`images: [{glob: "r.internal/**"}]\nauthorities: [{key: {kms: "gcpkms://k"}}]`)],
    ['trustRootRef', cip(`images: [{glob: "r.internal/**"}]\nauthorities: [{keyless: {trustRootRef: mine, identities: [{issuer: a, subject: b}]}}]`)],
    ['source', cip(`images: [{glob: "r.internal/**"}]\nauthorities: [{keyless: {identities: [{issuer: a, subject: b}]}, source: [{oci: "r/sigs"}]}]`)],
    ['CIP policy', cip(`images: [{glob: "r.internal/**"}]\n${KEYLESS}\npolicy: {type: rego, data: "x"}`)],
    ['JMESPath function', kyverno(`- imageReferences: ["*"]\n  attestations:\n    - type: slsaprovenance\n      attestors: [{entries: [{keyless: {issuer: a, subject: b}}]}]\n      conditions: [{all: [{key: "{{ regex_match('x', builder.id) }}", operator: Equals, value: true}]}]`)],
    ['Duration', kyverno(`- imageReferences: ["*"]\n  attestations:\n    - type: slsaprovenance\n      attestors: [{entries: [{keyless: {issuer: a, subject: b}}]}]\n      conditions: [{all: [{key: "{{ a }}", operator: DurationLessThan, value: 1h}]}]`)],
    ['Notary', kyverno(`- imageReferences: ["*"]\n  type: Notary\n  attestors: [{entries: [{keyless: {issuer: a, subject: b}}]}]`)],
    ['k8s:// key', kyverno(`- imageReferences: ["*"]\n  attestors: [{entries: [{keys: {publicKeys: "k8s://ns/secret"}}]}]`)],
    ['certificates', kyverno(`- imageReferences: ["*"]\n  attestors: [{entries: [{certificates: {cert: x}}]}]`)],
    ['required false', kyverno(`- imageReferences: ["*"]\n  required: false\n  attestors: [{entries: [{keyless: {issuer: a, subject: b}}]}]`)],
    ['validate rule', `apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: k}\nspec:\n  rules:\n    - name: r\n      validate: {message: x}\n`],
    ['TrustRoot', 'apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: t}\nspec: {}\n'],
  ];
  for (const [what, text] of unsupported) assert.equal(code(text), 'POLICY_UNSUPPORTED', what);
  const invalid: [string, string][] = [
    ['unknown field', cip(`images: [{glob: "r.internal/**"}]\n${KEYLESS}\nimagez: []`)],
    ['backreference', cip(`images: [{glob: "r.internal/**"}]\nauthorities: [{keyless: {identities: [{issuer: a, subjectRegExp: "(a)\\\\1"}]}}]`)],
    ['bad glob chars', cip(`images: [{glob: "r.internal/[a]"}]\n${KEYLESS}`)],
    ['no authorities', cip('images: [{glob: "r.internal/**"}]\nauthorities: []')],
    ['not a key', cip(`images: [{glob: "r.internal/**"}]\nauthorities: [{key: {data: "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n"}}]`)],
    ['unknown operator', kyverno(`- imageReferences: ["*"]\n  attestations:\n    - type: slsaprovenance\n      attestors: [{entries: [{keyless: {issuer: a, subject: b}}]}]\n      conditions: [{all: [{key: "{{ a }}", operator: Matches, value: x}]}]`)],
    ['other kind', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n'],
    ['not YAML', 'a: [b'],
    ['mode', cip(`images: [{glob: "r.internal/**"}]\n${KEYLESS}\nmode: strict`)],
  ];
  for (const [what, text] of invalid) assert.equal(code(text), 'POLICY_INVALID', what);
  assert.equal(code(cip(`images: [{glob: "r.internal/**"}]\nauthorities:\n  - key:\n      data: |\n${indent(KEY, 8)}`)), 'LOADED');
});

test('a Rekor or Fulcio URL outside the trusted root is refused; one in it is accepted', () => {
  const trust = { mediaType: 'x', tlogs: [{ baseUrl: 'https://rekor.internal' }], ctlogs: [], certificateAuthorities: [{ uri: 'https://fulcio.internal' }], timestampAuthorities: [] } as never;
  const k = (url: string): string => kyverno(`- imageReferences: ["*"]\n  attestors: [{entries: [{keyless: {issuer: a, subject: b, rekor: {url: "${url}"}}}]}]`);
  assert.throws(() => parsePolicies(k('https://rekor.sigstore.dev'), 'k.yaml', trust), (e: unknown) => e instanceof AdmissionError && e.code === 'POLICY_UNSUPPORTED' && /rekor\.url/.test(e.message));
  assert.equal(parsePolicies(k('https://rekor.internal/'), 'k.yaml', trust).length, 1);
  const c = (url: string): string => cip(`images: [{glob: "r.internal/**"}]\nauthorities: [{keyless: {url: "${url}", identities: [{issuer: a, subject: b}]}}]`);
  assert.throws(() => parsePolicies(c('https://fulcio.sigstore.dev'), 'p.yaml', trust), (e: unknown) => e instanceof AdmissionError && e.code === 'POLICY_UNSUPPORTED');
  assert.equal(parsePolicies(c('https://fulcio.internal'), 'p.yaml', trust).length, 1);
});

test('images: every path of every kind, bounds', () => {
  const spec = { containers: [{ name: 'a', image: 'x' }], initContainers: [{ name: 'i', image: 'y' }], ephemeralContainers: [{ name: 'e', image: 'z' }] };
  assert.deepEqual(extractImages('Pod', { spec })!.map((s) => s.pointer), ['/spec/containers/0/image', '/spec/initContainers/0/image', '/spec/ephemeralContainers/0/image']);
  assert.equal(extractImages('CronJob', { spec: { jobTemplate: { spec: { template: { spec } } } } })![0]!.pointer, '/spec/jobTemplate/spec/template/spec/containers/0/image');
  assert.equal(extractImages('ConfigMap', {}), undefined);
  assert.throws(() => extractImages('Pod', { spec: { containers: Array.from({ length: 257 }, () => ({ image: 'x' })) } }), (e: unknown) => e instanceof AdmissionError && e.code === 'TOO_MANY_IMAGES');
  assert.throws(() => extractImages('Pod', { spec: { containers: Array.from({ length: 65 }, (_, i) => ({ image: `x${i}` })) } }), (e: unknown) => e instanceof AdmissionError && e.code === 'TOO_MANY_IMAGES');
  assert.throws(() => extractImages('Deployment', { spec: {} }), (e: unknown) => e instanceof AdmissionError && e.code === 'OBJECT_INVALID');
  assert.throws(() => extractImages('Pod', { spec: { containers: [{ name: 'a' }] } }), (e: unknown) => e instanceof AdmissionError && e.code === 'OBJECT_INVALID');
});

test('TtlLru: bounded, least recently used dropped, entries expire', () => {
  let now = 0;
  const c = new TtlLru<string, number>(2, 100, () => now);
  c.set('a', 1);
  c.set('b', 2);
  assert.equal(c.get('a'), 1);
  c.set('c', 3);
  assert.equal(c.get('b'), undefined, 'b was the least recently used');
  assert.equal(c.size, 2);
  now = 150;
  assert.equal(c.get('a'), undefined);
  c.set('d', 4, 10);
  now = 161;
  assert.equal(c.get('d'), undefined);
});
