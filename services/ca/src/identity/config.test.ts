import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTemplate, findIssuer, metaRegex, parseIssuersConfig } from './config.ts';
import { principalFor, renderTemplate } from './principal.ts';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'NO_ERROR';
};

test('meta issuer patterns: * is one [-_a-zA-Z0-9]+ label part, everything else literal, anchored', () => {
  const re = metaRegex('https://oidc.eks.*.amazonaws.com/id/*');
  assert.ok(re.test('https://oidc.eks.us-west-2.amazonaws.com/id/ABC_123'));
  assert.ok(!re.test('https://oidc.eks.us-west-2.amazonaws.com/id/ABC/extra'));
  assert.ok(!re.test('https://oidc.eksXus-west-2.amazonaws.com/id/A'), 'dots are literal');
  assert.ok(!re.test('https://oidc.eks.a.b.amazonaws.com/id/A'), '* does not match dots');
  assert.ok(!re.test('xhttps://oidc.eks.a.amazonaws.com/id/A'), 'anchored');
});

test('Fulcio config in both spellings; exact issuers win over meta issuers', () => {
  const cfg = parseIssuersConfig({
    OIDCIssuers: { 'https://accounts.example.com': { IssuerURL: 'https://accounts.example.com', ClientID: 'sigstore', Type: 'email' } },
    'meta-issuers': { 'https://*.example.com': { 'client-id': 'sigstore', type: 'kubernetes' } },
  });
  assert.equal(findIssuer(cfg, 'https://accounts.example.com')?.type, 'email');
  const m = findIssuer(cfg, 'https://cluster1.example.com');
  assert.equal(m?.type, 'kubernetes');
  assert.equal(m?.issuerUrl, 'https://cluster1.example.com');
  assert.equal(findIssuer(cfg, 'https://evil.com'), undefined);
});

test('config validation follows Fulcio validateConfig', () => {
  const one = (issuer: Record<string, unknown>, url = 'https://ci.example.com') => () => parseIssuersConfig({ 'oidc-issuers': { [url]: { 'issuer-url': url, 'client-id': 'sigstore', ...issuer } } });
  assert.equal(code(one({ type: 'uri', 'subject-domain': 'https://ci.example.com' })), 'NO_ERROR');
  assert.equal(code(one({ type: 'uri', 'subject-domain': 'https://other.org' })), 'INVALID_CONFIG');
  assert.equal(code(one({ type: 'uri' })), 'INVALID_CONFIG');
  assert.equal(code(one({ type: 'spiffe' })), 'INVALID_CONFIG');
  assert.equal(code(one({ type: 'username', 'subject-domain': 'example.com' })), 'NO_ERROR');
  assert.equal(code(one({ type: 'username', 'subject-domain': 'https://example.com' })), 'INVALID_CONFIG');
  assert.equal(code(one({ type: 'ci-provider', 'ci-provider': 'missing' })), 'INVALID_CONFIG');
  assert.equal(code(one({ type: 'nonsense' })), 'INVALID_CONFIG');
  assert.equal(code(one({ type: 'email' }, 'not a url')), 'INVALID_CONFIG');
  assert.equal(code(one({ type: 'email', colour: 'red' })), 'INVALID_CONFIG');
  assert.equal(code(() => parseIssuersConfig({ 'oidc-issuers': { 'https://a.test': { 'issuer-url': 'https://b.test', 'client-id': 'x', type: 'email' } } })), 'INVALID_CONFIG');
  assert.equal(code(() => parseIssuersConfig({ 'meta-issuers': { 'https://*.test': { 'client-id': 'x', type: 'spiffe', 'spiffe-trust-domain': 't' } } })), 'INVALID_CONFIG');
  assert.equal(code(() => parseIssuersConfig({})), 'INVALID_CONFIG');
  assert.equal(code(() => parseIssuersConfig({ extra: 1 })), 'INVALID_CONFIG');
});

test('templates: only literal text and {{ .claim }}; missing values are errors', () => {
  const t = compileTemplate('{{ .url }}/{{.repo}}/x', 't');
  assert.equal(renderTemplate(t, { url: 'https://g', repo: 'o/r' }, 't'), 'https://g/o/r/x');
  assert.equal(code(() => renderTemplate(t, { url: 'u' }, 't')), 'TOKEN_INVALID_CLAIMS');
  assert.deepEqual(compileTemplate('sha', 't'), [{ claim: 'sha' }]);
  for (const bad of ['{{ if .x }}y{{ end }}', '{{ .x', 'a }}', '{{ printf "%s" .x }}', 'two words']) assert.equal(code(() => compileTemplate(bad, 't')), 'INVALID_CONFIG', bad);
});

test('principals per type: SAN, signed name and extensions', () => {
  const cfg = parseIssuersConfig({
    'oidc-issuers': {
      'https://spiffe.example.com': { 'issuer-url': 'https://spiffe.example.com', 'client-id': 's', type: 'spiffe', 'spiffe-trust-domain': 'example.com' },
      'https://k8s.example.com': { 'issuer-url': 'https://k8s.example.com', 'client-id': 's', type: 'kubernetes' },
      'https://id.example.com': { 'issuer-url': 'https://id.example.com', 'client-id': 's', type: 'username', 'subject-domain': 'example.com' },
      'https://mail.example.com': { 'issuer-url': 'https://mail.example.com', 'client-id': 's', type: 'email', 'issuer-claim': '$.federated.connector' },
    },
  });
  const p = (iss: string, claims: Record<string, unknown>) => principalFor({ iss, ...claims }, findIssuer(cfg, iss)!, cfg);
  const sp = p('https://spiffe.example.com', { sub: 'spiffe://example.com/ns/w' });
  assert.deepEqual(sp.san, { kind: 'uri', value: 'spiffe://example.com/ns/w' });
  assert.equal(code(() => p('https://spiffe.example.com', { sub: 'spiffe://other.com/w' })), 'IDENTITY_REJECTED');
  const k = p('https://k8s.example.com', { sub: 'system:serviceaccount:ns:sa', 'kubernetes.io': { namespace: 'ns', serviceaccount: { name: 'sa' } } });
  assert.deepEqual(k.san, { kind: 'uri', value: 'https://kubernetes.io/namespaces/ns/serviceaccounts/sa' });
  assert.equal(k.name, 'system:serviceaccount:ns:sa');
  assert.equal(code(() => p('https://k8s.example.com', { sub: 'x' })), 'TOKEN_INVALID_CLAIMS');
  const u = p('https://id.example.com', { sub: 'alice' });
  assert.deepEqual(u.san, { kind: 'username', value: 'alice!example.com' });
  assert.equal(code(() => p('https://id.example.com', { sub: 'a!b' })), 'IDENTITY_REJECTED');
  const e = p('https://mail.example.com', { sub: '1', email: 'a@b.test', email_verified: true, federated: { connector: 'https://github.com/login/oauth' } });
  assert.equal(e.extensions.issuer, 'https://github.com/login/oauth');
  assert.equal(e.name, 'a@b.test');
  assert.equal(code(() => p('https://mail.example.com', { sub: '1', email: 'a@b.test', email_verified: 'true' })), 'EMAIL_NOT_VERIFIED');
});
