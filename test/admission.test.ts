/**
 * cairn serve admission with real parts: Debian's docker-registry, images signed and attested by
 * `cairn image sign|attest` (keyless against the in-process stack, and --key) and by sigstore-js
 * (`@sigstore/cli attach`), AdmissionReview v1 requests shaped as the API server sends them,
 * posted over real HTTPS (the serving certificate from `cairn admission certs`), patches applied
 * by fast-json-patch. Both policy formats; every refusal asserts its code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { request, Agent } from 'node:https';
import { readFileSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import fjp from 'fast-json-patch';
import * as sigstore from 'sigstore';
import { RegistryClient, digestTag, parseReference } from '@cairn/oci';
import { parseTrustedRoot } from '@cairn/verify';
import { silentLogger } from '@cairn/shared';
import { startAdmissionServer, type AdmissionServer } from '@cairn/admission';
import { cli, runAsync, startSignStack, SUBJECT, tempDir, type SignStack } from './sign-fixtures.ts';
import { freePort, pushImage, startRegistry, type Registry } from './oci-fixtures.ts';

let s: SignStack;
let reg: Registry;
let client: RegistryClient;
let work: string;
let ca: Buffer;
let agent: Agent;
let cip: AdmissionServer;
let kyv: AdmissionServer;
const img: Record<string, { ref: string; digest: string }> = {};
const OTHER = 'https://ci.example.internal/pipelines/99';
const PROVENANCE = { buildDefinition: { buildType: 'https://example.com/build/v1', externalParameters: { repository: 'your-org/app' } }, runDetails: { builder: { id: 'https://ci.example.internal/builder' } } };

const env = (): Record<string, string> => ({ HOME: work });

async function sign(ref: string, extra: string[] = []): Promise<void> {
  const r = await cli(['image', 'sign', ref, '--url', s.url, ...(extra.includes('--key') ? [] : ['--identity-token', await s.token()]), ...extra], env());
  assert.equal(r.code, 0, r.stderr);
}

async function attest(ref: string, predicate: unknown): Promise<void> {
  const file = join(work, `pred-${randomUUID()}.json`);
  writeFileSync(file, JSON.stringify(predicate));
  const r = await cli(['image', 'attest', ref, '--predicate', file, '--type', 'slsaprovenance', '--url', s.url, '--identity-token', await s.token()], env());
  assert.equal(r.code, 0, r.stderr);
}

async function push(name: string, ref: string): Promise<void> {
  const p = await pushImage(client, ref, `${name}-${randomUUID()}`);
  img[name] = { ref, digest: p.digest };
}

function cipPolicy(host: string, keyPem: string, issuer: string): string {
  return `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: signed
spec:
  images:
    - glob: "${host}/s/**"
  authorities:
    - name: ci
      keyless:
        url: ${s.url}
        identities:
          - issuer: ${issuer}
            subject: ${SUBJECT}
      ctlog:
        url: ${s.url}
    - name: release-key
      key:
        data: |
${keyPem.trim().split('\n').map((l) => `          ${l}`).join('\n')}
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: provenance
spec:
  images:
    - glob: "${host}/att/**"
  authorities:
    - name: ci-provenance
      keyless:
        identities:
          - issuer: ${issuer}
            subjectRegExp: "^https://ci\\\\.example\\\\.internal/pipelines/42$"
      attestations:
        - name: slsa
          predicateType: slsaprovenance
          conditions:
            - key: "{{ buildDefinition.externalParameters.repository }}"
              operator: Equals
              value: your-org/app
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: warn-only
spec:
  mode: warn
  images:
    - glob: "${host}/warn/**"
  authorities:
    - keyless:
        identities:
          - issuer: ${issuer}
            subject: ${SUBJECT}
`;
}

function kyvernoPolicy(host: string, keyPem: string, issuer: string): string {
  return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: verify-image-signatures
spec:
  validationFailureAction: Enforce
  webhookTimeoutSeconds: 30
  rules:
    - name: verify-signature
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["${host}/s/*"]
          attestors:
            - count: 1
              entries:
                - keyless:
                    issuer: ${issuer}
                    subject: "https://ci.example.internal/pipelines/4*"
                    rekor:
                      url: ${s.url}
                - keys:
                    publicKeys: |
${keyPem.trim().split('\n').map((l) => `                      ${l}`).join('\n')}
        - imageReferences: ["${host}/att/*"]
          attestations:
            - type: https://slsa.dev/provenance/v1
              attestors:
                - entries:
                    - keyless:
                        issuer: ${issuer}
                        subject: ${SUBJECT}
              conditions:
                - all:
                    - key: "{{ buildDefinition.externalParameters.repository }}"
                      operator: Equals
                      value: your-org/*
    - name: audit-only
      match:
        any:
          - resources:
              kinds: [Pod]
      verifyImages:
        - imageReferences: ["${host}/warn/*"]
          failureAction: Audit
          attestors:
            - entries:
                - keyless:
                    issuer: ${issuer}
                    subject: ${SUBJECT}
`;
}

interface Answer {
  status: number;
  json: any;
}

function post(server: { url: string }, path: string, body: unknown, contentType = 'application/json'): Promise<Answer> {
  const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const u = new URL(path, server.url);
    const req = request(u, { method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

function get(server: { url: string }, path: string, method = 'GET'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server.url), { method, agent }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

const GVR: Record<string, { group: string; version: string; resource: string }> = {
  Pod: { group: '', version: 'v1', resource: 'pods' },
  Deployment: { group: 'apps', version: 'v1', resource: 'deployments' },
  ReplicaSet: { group: 'apps', version: 'v1', resource: 'replicasets' },
  StatefulSet: { group: 'apps', version: 'v1', resource: 'statefulsets' },
  DaemonSet: { group: 'apps', version: 'v1', resource: 'daemonsets' },
  Job: { group: 'batch', version: 'v1', resource: 'jobs' },
  CronJob: { group: 'batch', version: 'v1', resource: 'cronjobs' },
};

function podSpec(images: string[], init: string[] = [], ephemeral: string[] = []): Record<string, unknown> {
  return {
    containers: images.map((image, i) => ({ name: `c${i}`, image })),
    ...(init.length > 0 ? { initContainers: init.map((image, i) => ({ name: `init${i}`, image })) } : {}),
    ...(ephemeral.length > 0 ? { ephemeralContainers: ephemeral.map((image, i) => ({ name: `debug${i}`, image, targetContainerName: 'c0' })) } : {}),
  };
}

function objectOf(kind: string, spec: Record<string, unknown>, name = 'web'): Record<string, unknown> {
  const g = GVR[kind]!;
  const apiVersion = g.group === '' ? 'v1' : `${g.group}/${g.version}`;
  const template = { metadata: { labels: { app: name } }, spec };
  const body: Record<string, unknown> =
    kind === 'Pod'
      ? spec
      : kind === 'CronJob'
        ? { schedule: '*/5 * * * *', jobTemplate: { spec: { template } } }
        : kind === 'Job'
          ? { template }
          : { selector: { matchLabels: { app: name } }, template, ...(kind === 'StatefulSet' ? { serviceName: name } : {}) };
  return { apiVersion, kind, metadata: { name, namespace: 'prod', labels: { app: name } }, spec: body };
}

/** An AdmissionReview v1 request with the fields the API server fills in. */
function review(kind: string, object: unknown, o: { operation?: string; subResource?: string; dryRun?: boolean; oldObject?: unknown; namespace?: string } = {}): any {
  const g = GVR[kind] ?? { group: '', version: 'v1', resource: kind.toLowerCase() + 's' };
  const gvk = { group: g.group, version: g.version, kind };
  const gvr = { group: g.group, version: g.version, resource: g.resource };
  const operation = o.operation ?? 'CREATE';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: randomUUID(),
      kind: gvk,
      resource: gvr,
      subResource: o.subResource ?? '',
      requestKind: gvk,
      requestResource: gvr,
      requestSubResource: o.subResource ?? '',
      name: 'web',
      namespace: o.namespace ?? 'prod',
      operation,
      userInfo: { username: 'system:serviceaccount:ci:deployer', uid: randomUUID(), groups: ['system:serviceaccounts', 'system:authenticated'] },
      object,
      oldObject: o.oldObject ?? null,
      dryRun: o.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: operation === 'UPDATE' ? 'UpdateOptions' : 'CreateOptions' },
    },
  };
}

const pod = (images: string[], init: string[] = []): any => review('Pod', objectOf('Pod', podSpec(images, init)));

async function decide(server: AdmissionServer, rv: any, path = '/validate'): Promise<any> {
  const a = await post(server, path, rv);
  assert.equal(a.status, 200, JSON.stringify(a.json));
  assert.equal(a.json.apiVersion, 'admission.k8s.io/v1');
  assert.equal(a.json.kind, 'AdmissionReview');
  assert.equal(a.json.response.uid, rv.request.uid, 'the response echoes request.uid');
  return a.json.response;
}

let keyPem: string;
let policyDir: string;

before(async () => {
  s = await startSignStack();
  reg = await startRegistry();
  client = new RegistryClient({ dockerConfig: false });
  work = tempDir('cairn-admission-');
  const certs = await cli(['admission', 'certs', '--service', 'cairn-admission', '--namespace', 'cairn', '--out', join(work, 'certs')]);
  assert.equal(certs.code, 0, certs.stderr);
  ca = readFileSync(join(work, 'certs', 'ca.crt'));
  agent = new Agent({ ca, keepAlive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(work, 'release.key'), privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  keyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const h = reg.host;
  await push('signed', `${h}/s/app:v1`);
  await sign(img.signed!.ref);
  await push('legacy', `${h}/s/legacy:v1`);
  await sign(img.legacy!.ref, ['--format', 'legacy']);
  await push('keyed', `${h}/s/keyed:v1`);
  await sign(img.keyed!.ref, ['--key', join(work, 'release.key')]);
  await push('unsigned', `${h}/s/unsigned:v1`);
  await push('other', `${h}/s/other:v1`);
  const r = await cli(['image', 'sign', img.other!.ref, '--url', s.url, '--identity-token', await s.token({ subject: OTHER })], env());
  assert.equal(r.code, 0, r.stderr);
  // Signed for another digest: A's legacy signature object copied under B's tag.
  await push('swapA', `${h}/s/swap:a`);
  await push('swapB', `${h}/s/swap:b`);
  await sign(img.swapA!.ref, ['--format', 'legacy']);
  const repo = parseReference(`${h}/s/swap`);
  const sigA = await client.getManifest(repo, digestTag(img.swapA!.digest, 'sig'));
  await client.putManifest(repo, digestTag(img.swapB!.digest, 'sig'), sigA.bytes, sigA.mediaType);
  await push('attested', `${h}/att/app:v1`);
  await attest(img.attested!.ref, PROVENANCE);
  await push('attBad', `${h}/att/bad:v1`);
  await attest(img.attBad!.ref, { ...PROVENANCE, buildDefinition: { ...PROVENANCE.buildDefinition, externalParameters: { repository: 'other-org/app' } } });
  await push('attMissing', `${h}/att/missing:v1`);
  await sign(img.attMissing!.ref);
  await push('warnUnsigned', `${h}/warn/app:v1`);
  policyDir = join(work, 'policies');
  mkdirSync(policyDir);
  writeFileSync(join(policyDir, 'cip.yaml'), cipPolicy(h, keyPem, s.issuer));
  writeFileSync(join(work, 'kyverno.yaml'), kyvernoPolicy(h, keyPem, s.issuer));
  const trust = parseTrustedRoot(s.trustedRoot);
  const common = { tlsCert: readFileSync(join(work, 'certs', 'tls.crt')), tlsKey: readFileSync(join(work, 'certs', 'tls.key')), port: 0, trust, client, logger: silentLogger, reloadIntervalMs: 0, noMatch: 'deny' as const, excludeNamespaces: ['kube-system', 'cairn'] };
  cip = await startAdmissionServer({ ...common, policyPaths: [policyDir] });
  kyv = await startAdmissionServer({ ...common, policyPaths: [join(work, 'kyverno.yaml')] });
});

after(async () => {
  agent?.destroy();
  await cip?.close();
  await kyv?.close();
  await reg?.stop();
  await s?.stack.close();
});

test('certs: ca.crt, tls.crt, tls.key 0600 and the caBundle; the server presents a certificate for the service name', () => {
  assert.equal(statSync(join(work, 'certs', 'tls.key')).mode & 0o777, 0o600);
  const bundle = readFileSync(join(work, 'certs', 'caBundle'), 'utf8').trim();
  assert.equal(Buffer.from(bundle, 'base64').toString(), ca.toString());
  const text = spawnSync('openssl', ['x509', '-noout', '-ext', 'subjectAltName', '-in', join(work, 'certs', 'tls.crt')], { encoding: 'utf8' }).stdout;
  assert.match(text, /DNS:cairn-admission\.cairn\.svc\b/);
  assert.match(text, /IP Address:127\.0\.0\.1/);
  const v = spawnSync('openssl', ['verify', '-CAfile', join(work, 'certs', 'ca.crt'), join(work, 'certs', 'tls.crt')], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr + v.stdout);
});

test('allowed: keyless (bundle and legacy) and --key signatures; /mutate pins tags to name@sha256 (applied by fast-json-patch)', async () => {
  for (const name of ['signed', 'legacy', 'keyed'] as const) {
    const r = await decide(cip, pod([img[name]!.ref]));
    assert.equal(r.allowed, true, `${name}: ${JSON.stringify(r.status)}`);
    assert.equal(r.patch, undefined, 'validate never patches');
  }
  const digestRef = `${reg.host}/s/app@${img.signed!.digest}`;
  const rv = pod([img.signed!.ref, digestRef], [img.keyed!.ref]);
  const m = await decide(cip, rv, '/mutate');
  assert.equal(m.allowed, true);
  assert.equal(m.patchType, 'JSONPatch');
  const ops = JSON.parse(Buffer.from(m.patch, 'base64').toString());
  assert.deepEqual(ops.map((o: any) => o.path).sort(), ['/spec/containers/0/image', '/spec/initContainers/0/image']);
  const patched = fjp.applyPatch(structuredClone(rv.request.object), ops, true, false).newDocument;
  assert.equal(patched.spec.containers[0].image, `${reg.host}/s/app@${img.signed!.digest}`);
  assert.equal(patched.spec.containers[1].image, digestRef, 'a digest reference is left alone');
  assert.equal(patched.spec.initContainers[0].image, `${reg.host}/s/keyed@${img.keyed!.digest}`);
  // The pinned object verifies again (what the validating webhook sees after the mutating one).
  assert.equal((await decide(cip, review('Pod', patched))).allowed, true);
});

test('denied, each with its reason naming image and policy (ClusterImagePolicy)', async () => {
  const cases: [string, string, string][] = [
    ['unsigned', 'NO_SIGNATURES', 'signed'],
    ['other', 'IDENTITY_MISMATCH', 'signed'],
    ['swapB', 'SUBJECT_MISMATCH', 'signed'],
    ['attBad', 'CONDITION_FAILED', 'provenance'],
    ['attMissing', 'NO_ATTESTATIONS', 'provenance'],
  ];
  for (const [name, code, policy] of cases) {
    const r = await decide(cip, pod([img[name]!.ref]));
    assert.equal(r.allowed, false, name);
    assert.equal(r.status.code, 403);
    assert.equal(r.status.reason, code, `${name}: ${r.status.message}`);
    assert.ok(r.status.message.includes(img[name]!.ref), r.status.message);
    assert.ok(r.status.message.includes(`policy ${policy}`), r.status.message);
  }
  assert.equal((await decide(cip, pod([img.attested!.ref]))).allowed, true, 'attested SLSA provenance whose condition holds');
  const two = await decide(cip, pod([img.signed!.ref, img.unsigned!.ref]));
  assert.equal(two.allowed, false);
  assert.ok(two.status.message.includes(img.unsigned!.ref) && !two.status.message.includes(img.signed!.ref), two.status.message);
  const none = await decide(cip, pod([`${reg.host}/elsewhere/app:v1`]));
  assert.equal(none.status.reason, 'NO_MATCHING_POLICY');
  const badRef = await decide(cip, pod(['Not/A:Valid Ref']));
  assert.equal(badRef.allowed, false);
  assert.equal(badRef.status.reason, 'REFERENCE_INVALID');
});

test('tag moved after signing: the tag now names an unsigned digest and is denied', async () => {
  const ref = `${reg.host}/s/moving:v1`;
  await push('moving', ref);
  await sign(ref);
  await pushImage(client, ref, `moved-${randomUUID()}`);
  const r = await decide(cip, pod([ref]));
  assert.equal(r.allowed, false);
  assert.equal(r.status.reason, 'NO_SIGNATURES');
  // The old digest, pinned, is still admitted.
  assert.equal((await decide(cip, pod([`${reg.host}/s/moving@${img.moving!.digest}`]))).allowed, true);
});

test('every workload kind: containers, initContainers and ephemeralContainers (UPDATE of pods/ephemeralcontainers with oldObject)', async () => {
  for (const kind of ['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']) {
    const ok = review(kind, objectOf(kind, podSpec([img.signed!.ref], [img.keyed!.ref])));
    const m = await decide(cip, ok, '/mutate');
    assert.equal(m.allowed, true, kind);
    const ops = JSON.parse(Buffer.from(m.patch, 'base64').toString());
    const base = kind === 'CronJob' ? '/spec/jobTemplate/spec/template/spec' : '/spec/template/spec';
    assert.deepEqual(ops.map((o: any) => o.path).sort(), [`${base}/containers/0/image`, `${base}/initContainers/0/image`], kind);
    fjp.applyPatch(structuredClone(ok.request.object), ops, true, false);
    const bad = await decide(cip, review(kind, objectOf(kind, podSpec([img.signed!.ref], [img.unsigned!.ref]))));
    assert.equal(bad.allowed, false, kind);
    assert.ok(bad.status.message.includes(img.unsigned!.ref));
  }
  const before = objectOf('Pod', podSpec([img.signed!.ref]));
  const afterObj = objectOf('Pod', podSpec([img.signed!.ref], [], [img.unsigned!.ref]));
  const eph = await decide(cip, review('Pod', afterObj, { operation: 'UPDATE', subResource: 'ephemeralcontainers', oldObject: before }));
  assert.equal(eph.allowed, false);
  assert.equal(eph.status.reason, 'NO_SIGNATURES');
  const dry = await decide(cip, { ...pod([img.unsigned!.ref]), request: { ...pod([img.unsigned!.ref]).request, dryRun: true } });
  assert.equal(dry.allowed, false, 'dryRun is decided the same way');
});

test('the Kyverno ClusterPolicy gives the same decisions; warn and audit modes allow with warnings / an audit record', async () => {
  const names = ['signed', 'legacy', 'keyed', 'unsigned', 'other', 'swapB', 'attested', 'attBad', 'attMissing'];
  for (const name of names) {
    const rv = pod([img[name]!.ref]);
    const a = await decide(cip, rv);
    const b = await decide(kyv, { ...rv, request: { ...rv.request, uid: randomUUID() } });
    assert.equal(b.allowed, a.allowed, `${name}: ${JSON.stringify(b.status)}`);
    if (!a.allowed) assert.equal(b.status.reason, a.status.reason, name);
  }
  const w = await decide(cip, pod([img.warnUnsigned!.ref]));
  assert.equal(w.allowed, true);
  assert.match(w.warnings[0], /warn-only.*NO_SIGNATURES/);
  const au = await decide(kyv, pod([img.warnUnsigned!.ref]));
  assert.equal(au.allowed, true);
  const rec = JSON.parse(au.auditAnnotations['audit-failures']);
  assert.equal(rec[0].code, 'NO_SIGNATURES');
  assert.equal(rec[0].image, img.warnUnsigned!.ref);
});

test('skipped: DELETE, a scale sub-resource, an excluded namespace, a kind without pod spec', async () => {
  const unsigned = objectOf('Pod', podSpec([img.unsigned!.ref]));
  assert.equal((await decide(cip, review('Pod', null, { operation: 'DELETE', oldObject: unsigned }))).allowed, true);
  assert.equal((await decide(cip, review('Deployment', { apiVersion: 'autoscaling/v1', kind: 'Scale', spec: { replicas: 3 } }, { operation: 'UPDATE', subResource: 'scale' }))).allowed, true);
  assert.equal((await decide(cip, review('Pod', unsigned, { namespace: 'cairn' }))).allowed, true, 'its own namespace is excluded so it can always restart');
  assert.equal((await decide(cip, review('ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', data: {} }))).allowed, true);
});

test('bad input: each a clear, bounded answer with a stable code', async () => {
  const notJson = await post(cip, '/validate', '{not json');
  assert.deepEqual([notJson.status, notJson.json.code], [400, 'REVIEW_INVALID']);
  const v1beta1 = await post(cip, '/validate', { ...pod([img.signed!.ref]), apiVersion: 'admission.k8s.io/v1beta1' });
  assert.deepEqual([v1beta1.status, v1beta1.json.code], [400, 'REVIEW_UNSUPPORTED']);
  const kind = await post(cip, '/validate', { ...pod([img.signed!.ref]), kind: 'Pod' });
  assert.deepEqual([kind.status, kind.json.code], [400, 'REVIEW_UNSUPPORTED']);
  const rv = pod([img.signed!.ref]);
  delete rv.request.uid;
  const noUid = await post(cip, '/validate', rv);
  assert.deepEqual([noUid.status, noUid.json.code], [400, 'REVIEW_INVALID']);
  assert.match(noUid.json.message, /request\.uid/);
  const big = pod([img.signed!.ref]);
  big.request.object.metadata.annotations = { filler: 'x'.repeat(10 * 1024 * 1024) };
  const tooBig = await post(cip, '/validate', big);
  assert.deepEqual([tooBig.status, tooBig.json.code], [413, 'BODY_TOO_LARGE']);
  const many = await decide(cip, pod(Array.from({ length: 5000 }, () => img.signed!.ref)));
  assert.deepEqual([many.allowed, many.status.code, many.status.reason], [false, 400, 'TOO_MANY_IMAGES']);
  const broken = pod([img.signed!.ref]);
  broken.request.object.spec.containers = 'nginx';
  const b = await decide(cip, broken);
  assert.deepEqual([b.allowed, b.status.code, b.status.reason], [false, 400, 'OBJECT_INVALID']);
  const text = await post(cip, '/validate', JSON.stringify(pod([img.signed!.ref])), 'text/plain');
  assert.deepEqual([text.status, text.json.code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
  const getValidate = await get(cip, '/validate');
  assert.equal(getValidate.status, 405);
  assert.equal(JSON.parse(getValidate.text).code, 'METHOD_NOT_ALLOWED');
  assert.equal((await get(cip, '/nothing')).status, 404);
  // The server is still answering after all of it.
  assert.equal((await decide(cip, pod([img.signed!.ref]))).allowed, true);
});

test('health, readiness and metrics: decision counts and a latency histogram by result', async () => {
  assert.equal((await get(cip, '/healthz')).status, 200);
  const ready = await get(cip, '/readyz');
  assert.equal(ready.status, 200);
  assert.equal(JSON.parse(ready.text).policies, 3);
  const m = (await get(cip, '/metrics')).text;
  assert.match(m, /cairn_admission_decisions_total\{endpoint="validate",result="denied"\} [1-9]/);
  assert.match(m, /cairn_admission_decisions_total\{endpoint="mutate",result="allowed"\} [1-9]/);
  assert.match(m, /cairn_admission_decision_seconds_bucket\{le="0\.005",result="allowed"\} [0-9]+/);
  assert.match(m, /cairn_admission_decision_seconds_count\{result="bad_request"\} [1-9]/);
  assert.match(m, /cairn_admission_image_failures_total\{code="NO_SIGNATURES",mode="enforce"\} [1-9]/);
});

test('cache: a known digest is not verified again; concurrent requests for a new digest share one verification', async () => {
  const ref = `${reg.host}/s/fresh:v1`;
  await push('fresh', ref);
  await sign(ref);
  const before = cip.engine.stats.verifications;
  const answers = await Promise.all(Array.from({ length: 12 }, () => decide(cip, pod([ref]))));
  assert.ok(answers.every((a) => a.allowed));
  assert.equal(cip.engine.stats.verifications - before, 1);
  await decide(cip, pod([`${reg.host}/s/fresh@${img.fresh!.digest}`]));
  assert.equal(cip.engine.stats.verifications - before, 1);
});

test('policies reload on change without a restart; a broken edit keeps the loaded set', async () => {
  const dir = join(work, 'reload');
  mkdirSync(dir);
  const file = join(dir, 'p.yaml');
  writeFileSync(file, cipPolicy(reg.host, keyPem, s.issuer));
  const srv = await startAdmissionServer({ tlsCert: readFileSync(join(work, 'certs', 'tls.crt')), tlsKey: readFileSync(join(work, 'certs', 'tls.key')), port: 0, trust: parseTrustedRoot(s.trustedRoot), client, logger: silentLogger, reloadIntervalMs: 0, policyPaths: [dir] });
  try {
    assert.equal((await decide(srv, pod([img.signed!.ref]))).allowed, true);
    writeFileSync(file, `apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: freeze\nspec:\n  images: [{glob: "${reg.host}/**"}]\n  authorities: [{static: {action: fail, message: change freeze}}]\n`);
    assert.equal(srv.reload(), true);
    const frozen = await decide(srv, pod([img.signed!.ref]));
    assert.equal(frozen.allowed, false);
    assert.equal(frozen.status.reason, 'STATIC_FAIL');
    assert.match(frozen.status.message, /change freeze/);
    writeFileSync(file, 'apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: x}\nspec: {images: [{glob: "a"}], authorities: [{key: {kms: "gcpkms://k"}}]}\n');
    assert.equal(srv.reload(), false);
    assert.equal((await decide(srv, pod([img.signed!.ref]))).status.reason, 'STATIC_FAIL', 'the previous set is kept');
  } finally {
    await srv.close();
  }
});

test('registry unreachable: denied (fail-closed) in enforce mode; allowed with an audit record in audit mode', async () => {
  const dead = `127.0.0.1:${await freePort()}`;
  const file = join(work, 'dead.yaml');
  writeFileSync(
    file,
    `apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: dead}\nspec:\n  validationFailureAction: Enforce\n  rules:\n    - name: enforce\n      verifyImages:\n        - imageReferences: ["${dead}/enforce/*"]\n          attestors: [{entries: [{keyless: {issuer: "${s.issuer}", subject: "${SUBJECT}"}}]}]\n    - name: audit\n      verifyImages:\n        - imageReferences: ["${dead}/audit/*"]\n          failureAction: Audit\n          attestors: [{entries: [{keyless: {issuer: "${s.issuer}", subject: "${SUBJECT}"}}]}]\n`,
  );
  const srv = await startAdmissionServer({ tlsCert: readFileSync(join(work, 'certs', 'tls.crt')), tlsKey: readFileSync(join(work, 'certs', 'tls.key')), port: 0, trust: parseTrustedRoot(s.trustedRoot), client: new RegistryClient({ dockerConfig: false, timeoutMs: 2000 }), logger: silentLogger, reloadIntervalMs: 0, policyPaths: [file], timeoutMs: 3000 });
  try {
    const d = await decide(srv, pod([`${dead}/enforce/app:v1`]));
    assert.equal(d.allowed, false);
    assert.equal(d.status.reason, 'NETWORK_ERROR');
    assert.match(d.status.message, /registry unreachable/);
    const pinned = await decide(srv, pod([`${dead}/enforce/app@sha256:${'a'.repeat(64)}`]));
    assert.equal(pinned.allowed, false, 'a digest reference is fail-closed too');
    const a = await decide(srv, pod([`${dead}/audit/app:v1`]));
    assert.equal(a.allowed, true);
    assert.equal(JSON.parse(a.auditAnnotations['audit-failures'])[0].code, 'NETWORK_ERROR');
    assert.equal(srv.engine.cacheSize, 0, 'registry errors are never cached');
  } finally {
    await srv.close();
  }
});

test('@sigstore/cli attach (Basic auth registry): a sigstore-js attestation bundle satisfies the provenance policy', async () => {
  // @sigstore/oci needs a registry that challenges for credentials: a second docker-registry with htpasswd.
  const authReg = await startRegistry({ user: 'ci', password: 'registry-password-1' });
  const creds = { [authReg.host]: { username: 'ci', password: 'registry-password-1' } };
  const authed = new RegistryClient({ dockerConfig: false, credentials: creds });
  const dir = join(work, 'attach-policy');
  mkdirSync(dir);
  writeFileSync(join(dir, 'cip.yaml'), cipPolicy(authReg.host, keyPem, s.issuer));
  const srv = await startAdmissionServer({ tlsCert: readFileSync(join(work, 'certs', 'tls.crt')), tlsKey: readFileSync(join(work, 'certs', 'tls.key')), port: 0, trust: parseTrustedRoot(s.trustedRoot), client: authed, logger: silentLogger, reloadIntervalMs: 0, policyPaths: [dir] });
  try {
    const ref = `${authReg.host}/att/js:v1`;
    const pushed = await pushImage(authed, ref, `js-${randomUUID()}`);
    const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: `${authReg.host}/att/js`, digest: { sha256: pushed.digest.slice(7) } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: PROVENANCE };
    const token = await s.token();
    const bundle = await sigstore.attest(Buffer.from(JSON.stringify(statement)), 'application/vnd.in-toto+json', { fulcioURL: s.url, rekorURL: s.url, identityProvider: { getToken: () => Promise.resolve(token) } });
    const bundlePath = join(work, 'js.sigstore.json');
    writeFileSync(bundlePath, JSON.stringify(bundle));
    const unattested = await decide(srv, pod([ref]));
    assert.equal(unattested.status.reason, 'NO_ATTESTATIONS');
    const r = await runAsync('node_modules/.bin/sigstore', ['attach', '--attestation', bundlePath, '-u', 'ci', '-p', 'registry-password-1', `${authReg.host}/att/js@${pushed.digest}`], { ...process.env, HOME: work });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // The refusal above was cached for the negative TTL; a new server generation sees the attestation.
    srv.engine.clear();
    assert.equal((await decide(srv, pod([ref]))).allowed, true);
  } finally {
    await srv.close();
    await authReg.stop();
  }
});

test('acceptance: cairn serve admission (the built CLI, a child process) answered by curl --cacert', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, ['client/cli/bin/cairn.js', 'serve', 'admission', '--port', String(port), '--tls-cert', join(work, 'certs', 'tls.crt'), '--tls-key', join(work, 'certs', 'tls.key'), '--policy', join(work, 'kyverno.yaml'), '--trusted-root', s.trustedRootPath, '--log-level', 'silent'], { env: { ...process.env, HOME: work }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const deadline = Date.now() + 20_000;
    while (!out.includes('listening')) {
      if (Date.now() > deadline || child.exitCode !== null) assert.fail(`did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const [name, allowed] of [['signed', true], ['unsigned', false]] as const) {
      const file = join(work, `review-${name}.json`);
      writeFileSync(file, JSON.stringify(pod([img[name]!.ref])));
      const c = await runAsync('curl', ['--cacert', join(work, 'certs', 'ca.crt'), '-s', '-X', 'POST', `https://127.0.0.1:${port}/validate`, '-d', `@${file}`], process.env);
      assert.equal(c.status, 0, c.stderr);
      const j = JSON.parse(c.stdout);
      assert.equal(j.response.allowed, allowed, c.stdout);
      if (!allowed) assert.match(j.response.status.message, /NO_SIGNATURES/);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
});

test('CLI failure paths: usage, unknown config keys, bad policies and certificate names, each with its code', async () => {
  const tls = ['--tls-cert', join(work, 'certs', 'tls.crt'), '--tls-key', join(work, 'certs', 'tls.key')];
  const noTls = await cli(['serve', 'admission', '--policy', policyDir, '--trusted-root', s.trustedRootPath]);
  assert.equal(noTls.code, 2);
  assert.match(noTls.stderr, /\[USAGE\].*TLS is required/);
  const noPolicy = await cli(['serve', 'admission', ...tls, '--trusted-root', s.trustedRootPath]);
  assert.equal(noPolicy.code, 2);
  const typo = await cli(['serve', 'admission', ...tls, '--policy', policyDir, '--trusted-root', s.trustedRootPath, '--set', 'admission.cacheTtlz=5']);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /\[INVALID_CONFIG\].*admission\.cacheTtlz/);
  const creds = await cli(['serve', 'admission', ...tls, '--policy', policyDir, '--trusted-root', s.trustedRootPath, '--registry-username', 'u']);
  assert.equal(creds.code, 2);
  const bad = join(work, 'bad-policy.yaml');
  writeFileSync(bad, 'apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: x}\nspec:\n  images: [{glob: "r.internal/**"}]\n  authorities: [{keyless: {identities: [{issuer: a, subject: b}]}, attestations: [{predicateType: slsaprovenance, policy: {type: cue, data: "x"}}]}]\n');
  const check = await cli(['admission', 'check-policy', bad]);
  assert.equal(check.code, 1);
  assert.match(check.stderr, /\[POLICY_UNSUPPORTED\].*attestations\[0\]\.policy: CUE and Rego/);
  const startBad = await cli(['serve', 'admission', ...tls, '--policy', bad, '--trusted-root', s.trustedRootPath]);
  assert.equal(startBad.code, 1, 'the server refuses to start on a policy it cannot honour');
  assert.match(startBad.stderr, /POLICY_UNSUPPORTED/);
  const ok = await cli(['admission', 'check-policy', policyDir, join(work, 'kyverno.yaml'), '--trusted-root', s.trustedRootPath, '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).policies.length, 6);
  const name = await cli(['admission', 'certs', '--service', 'Bad_Name', '--namespace', 'cairn', '--out', join(work, 'c2')]);
  assert.equal(name.code, 1);
  assert.match(name.stderr, /\[CONFIG_INVALID\]/);
});
