/**
 * `cairn image sign|attest|verify|verify-attestation|tree|save|load`: container images in a
 * registry (or an OCI layout), in cosign's formats, through @cairn/oci. Flag names are cosign's
 * where cosign has them; identity and trust flags are those of `cairn verify`.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { isRecord } from '@cairn/shared';
import {
  attestImage,
  imageTree,
  loadImage,
  OciLayout,
  parseReference,
  RegistryClient,
  saveImage,
  signImage,
  verifyImage,
  type ImagePolicy,
  type ImageSource,
  type ImageVerification,
  type RegistryClientOptions,
} from '@cairn/oci';
import { SignError } from '@cairn/sign';
import { CliError, parseFlags, type CliIO, type Command } from '../command.ts';
import { IDENTITY_FLAGS, IDENTITY_USAGE, signOptionsFromFlags } from './sign.ts';
import { loadTrust } from './verify.ts';

export const MAX_PREDICATE_BYTES = 8 * 1024 * 1024;
const MAX_KEY_FILE = 64 * 1024;

export const REGISTRY_FLAGS = {
  'allow-http-registry': { type: 'boolean' },
  'registry-ca-file': { type: 'string' },
  'registry-username': { type: 'string' },
  'registry-password-file': { type: 'string' },
  'registry-timeout': { type: 'string' },
} as const;

export const REGISTRY_USAGE = `Registry:
  --allow-http-registry         plain http to a registry that is not on a loopback address
  --registry-ca-file F          PEM CA certificates for the registry's https (replaces the system store)
  --registry-username U         Basic/token credentials (with --registry-password-file); else
  --registry-password-file F    ~/.docker/config.json (auths, identitytoken) is used
  --registry-timeout SECONDS    deadline of each registry operation (default 30)`;

const VERIFY_FLAGS = {
  ...REGISTRY_FLAGS,
  'certificate-identity': { type: 'string', multiple: true },
  'certificate-identity-regexp': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  'certificate-oidc-issuer-regexp': { type: 'string' },
  key: { type: 'string', multiple: true },
  'trusted-root': { type: 'string' },
  'tuf-cache': { type: 'string' },
  'tuf-mirror': { type: 'string' },
  mirror: { type: 'string' },
  'tlog-threshold': { type: 'string' },
  'ctlog-threshold': { type: 'string' },
  'timestamp-threshold': { type: 'string' },
  layout: { type: 'string' },
  json: { type: 'boolean' },
  type: { type: 'string' },
  condition: { type: 'string', multiple: true },
} as const;

const VERIFY_USAGE_COMMON = `Identity (one of each pair, or --key):
  --certificate-identity SAN            exact signer identity (repeat to accept several)
  --certificate-identity-regexp RE      identity as an RE2 expression (unanchored, as cosign)
  --certificate-oidc-issuer URL         exact OIDC issuer
  --certificate-oidc-issuer-regexp RE   issuer as an RE2 expression
  --key KEY.pem                         a public key of key-signed images (repeatable)
Trust (verification is offline): --trusted-root FILE | --tuf-cache DIR | --tuf-mirror URL
  (the cache 'cairn trust init' wrote; default $CAIRN_URL/tuf)
Thresholds: --tlog-threshold N, --ctlog-threshold N, --timestamp-threshold N (defaults 1, 1, 1)
  --layout DIR                          verify an image saved by 'cairn image save' (no registry)
  --json                                print the result as JSON
${REGISTRY_USAGE}

Exit status: 0 verified, 1 not verified (each finding names a stable code), 2 usage error.`;

function readSmall(path: string, max: number, what: string, cwd: string): string {
  const p = resolve(cwd, path);
  try {
    if (statSync(p).size > max) throw new CliError('IO_ERROR', `${what} ${path} is larger than ${max} bytes`);
    return readFileSync(p, 'utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('IO_ERROR', `cannot read ${what} ${path}`);
  }
}

function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const s = Number(v);
  if (!Number.isFinite(s) || s <= 0 || s > 3600) throw new CliError('USAGE', `${flag} is a number of seconds between 0 and 3600`);
  return Math.round(s * 1000);
}

function threshold(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,2}$/.test(v)) throw new CliError('USAGE', `${flag} takes a small non-negative integer`);
  return Number(v);
}

type RegistryValues = { 'allow-http-registry'?: boolean; 'registry-ca-file'?: string; 'registry-username'?: string; 'registry-password-file'?: string; 'registry-timeout'?: string };

export function registryClient(v: RegistryValues, io: CliIO, host?: string): RegistryClient {
  const o: RegistryClientOptions = { env: io.env };
  if (v['allow-http-registry'] === true) o.allowHttp = true;
  if (v['registry-ca-file'] !== undefined) o.caFile = resolve(io.cwd, v['registry-ca-file']);
  const t = seconds(v['registry-timeout'], '--registry-timeout');
  if (t !== undefined) o.timeoutMs = t;
  if ((v['registry-username'] === undefined) !== (v['registry-password-file'] === undefined)) throw new CliError('USAGE', '--registry-username and --registry-password-file go together');
  if (v['registry-username'] !== undefined && host !== undefined) {
    const password = readSmall(v['registry-password-file']!, 64 * 1024, 'password file', io.cwd).replace(/\r?\n$/, '');
    o.credentials = { [host]: { username: v['registry-username'], password } };
  }
  return new RegistryClient(o);
}

function oneRef(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new CliError('USAGE', `cairn image ${what} takes exactly one image reference`);
  return positionals[0]!;
}

async function signCommand(args: string[], io: CliIO, attest: boolean): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...IDENTITY_FLAGS,
    ...REGISTRY_FLAGS,
    format: { type: 'string' },
    recursive: { type: 'boolean' },
    annotations: { type: 'string', short: 'a', multiple: true },
    predicate: { type: 'string' },
    type: { type: 'string' },
  });
  const ref = parseReference(oneRef(positionals, attest ? 'attest' : 'sign'));
  const format = values.format ?? 'bundle';
  if (format !== 'bundle' && format !== 'legacy') throw new CliError('USAGE', '--format is bundle (default: a Sigstore bundle as an OCI 1.1 referrer) or legacy (cosign .sig/.att tags)');
  if (values.bundle !== undefined) throw new CliError('USAGE', 'cairn image writes to the registry: --bundle is not used');
  const annotations: Record<string, string> = {};
  for (const a of values.annotations ?? []) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new CliError('USAGE', '-a/--annotations takes KEY=VALUE');
    annotations[a.slice(0, eq)] = a.slice(eq + 1);
  }
  let predicate: Record<string, unknown> | undefined;
  if (attest) {
    if (values.predicate === undefined || values.type === undefined) throw new CliError('USAGE', 'cairn image attest needs --predicate FILE and --type TYPE');
    let j: unknown;
    try {
      j = JSON.parse(readSmall(values.predicate, MAX_PREDICATE_BYTES, 'predicate file', io.cwd));
    } catch (e) {
      if (e instanceof CliError) throw e;
      throw new SignError('INPUT_INVALID', `${values.predicate} is not JSON`);
    }
    if (!isRecord(j)) throw new SignError('INPUT_INVALID', `${values.predicate} must hold a JSON object`);
    predicate = j;
  }
  const client = registryClient(values, io, ref.registry);
  const sign = await signOptionsFromFlags(values, io);
  const common = { client, reference: ref, sign, format, recursive: values.recursive === true, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) } as const;
  const done = attest ? await attestImage({ ...common, predicateType: values.type!, predicate: predicate! }) : await signImage(common);
  for (const d of done) {
    const where = d.format === 'legacy' ? `tag ${d.location}` : `referrer ${d.location} (${d.via === 'api' ? 'referrers API' : 'referrers tag schema'})`;
    io.stderr(`${attest ? 'Attested' : 'Signed'} ${ref.registry}/${ref.repository}@${d.digest}: ${where}${d.result.logEntry ? `, log entry ${d.result.logEntry.logIndex}` : ''}\n`);
    io.stdout(`${ref.registry}/${ref.repository}@${d.digest}\n`);
  }
  return 0;
}

function describeResult(r: ImageVerification, attestation: boolean): string {
  const lines: string[] = [`${r.verified ? 'Verified OK' : `NOT VERIFIED [${r.code ?? 'UNKNOWN'}]`}: ${r.reference} (referrers via ${r.referrersVia})`];
  for (const f of attestation ? r.attestations : [...r.signatures, ...r.attestations]) {
    const who = f.signer ? (f.signer.type === 'certificate' ? `${f.signer.subject} (${f.signer.issuer})` : `key sha256:${f.signer.keySha256}`) : '';
    lines.push(`  ${f.verified ? 'ok  ' : 'FAIL'} ${f.kind} ${f.format} ${f.source}${f.predicateType ? ` ${f.predicateType}` : ''}${f.verified ? ` by ${who}` : ` [${f.code}] ${f.message ?? ''}`}`);
  }
  for (const q of r.requirements) lines.push(`  requirement ${q.predicateType}: ${q.satisfied ? `met by ${q.by.join(', ')}` : `not met [${q.code}]`}`);
  return lines.join('\n') + '\n';
}

async function verifyCommand(args: string[], io: CliIO, attestation: boolean): Promise<number> {
  const { values, positionals } = parseFlags(args, VERIFY_FLAGS);
  if (!attestation && (values.type !== undefined || values.condition !== undefined)) throw new CliError('USAGE', '--type and --condition belong to cairn image verify-attestation');
  if (attestation && values.type === undefined) throw new CliError('USAGE', 'cairn image verify-attestation needs --type');
  const ids = values['certificate-identity'] ?? [];
  const idRe = values['certificate-identity-regexp'];
  const iss = values['certificate-oidc-issuer'];
  const issRe = values['certificate-oidc-issuer-regexp'];
  const keys = (values.key ?? []).map((k) => readSmall(k, MAX_KEY_FILE, 'key', io.cwd));
  const hasId = ids.length > 0 || idRe !== undefined;
  const hasIss = iss !== undefined || issRe !== undefined;
  if (hasId !== hasIss || (!hasId && keys.length === 0)) throw new CliError('USAGE', 'give --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp], or --key');
  if (iss !== undefined && issRe !== undefined) throw new CliError('USAGE', 'give --certificate-oidc-issuer or its -regexp, not both');
  const issuerSide = iss !== undefined ? { issuer: iss } : issRe !== undefined ? { issuerRegExp: issRe } : {};
  const policy: ImagePolicy = {
    identities: hasId ? [...ids.map((s) => ({ subject: s, ...issuerSide })), ...(idRe !== undefined ? [{ subjectRegExp: idRe, ...issuerSide }] : [])] : [],
    publicKeys: keys,
    tlogThreshold: threshold(values['tlog-threshold'], '--tlog-threshold'),
    ctlogThreshold: threshold(values['ctlog-threshold'], '--ctlog-threshold'),
    timestampThreshold: threshold(values['timestamp-threshold'], '--timestamp-threshold'),
  };
  const trust = await loadTrust({ 'trusted-root': values['trusted-root'], 'tuf-cache': values['tuf-cache'], mirror: values['tuf-mirror'] ?? values.mirror }, io);
  let client: ImageSource;
  let reference: string;
  if (values.layout !== undefined) {
    const layout = new OciLayout(resolve(io.cwd, values.layout));
    client = layout;
    if (positionals.length > 1) throw new CliError('USAGE', 'with --layout give at most one REF (a tag or digest saved in the layout)');
    const root = layout.list().find((e) => e.annotations?.['dev.cairn.image.digest'] !== undefined);
    const name = positionals[0] ?? root?.digest;
    if (name === undefined) throw new CliError('USAGE', `${values.layout} holds no image saved by cairn image save; name one`);
    reference = name.includes('/') ? name : `layout.local/image${name.startsWith('sha256:') ? `@${name}` : `:${name}`}`;
  } else {
    reference = oneRef(positionals, attestation ? 'verify-attestation' : 'verify');
    client = registryClient(values, io, parseReference(reference).registry);
  }
  const r = await verifyImage({
    client,
    reference,
    trustedRoot: trust,
    policy,
    requireSignature: !attestation,
    ...(attestation ? { attestations: [{ predicateType: values.type!, conditions: values.condition ?? [] }] } : {}),
  });
  if (values.json === true) io.stdout(JSON.stringify(r, null, 2) + '\n');
  else io.stdout(describeResult(r, attestation));
  return r.verified ? 0 : 1;
}

async function treeCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...REGISTRY_FLAGS, json: { type: 'boolean' } });
  const ref = parseReference(oneRef(positionals, 'tree'));
  const t = await imageTree(registryClient(values, io, ref.registry), ref);
  if (values.json === true) {
    io.stdout(JSON.stringify(t, null, 2) + '\n');
    return 0;
  }
  const lines = [`📦 ${ref.registry}/${ref.repository}@${t.digest}`];
  for (const m of t.manifests) lines.push(`└── platform ${m.platform ? `${m.platform.os}/${m.platform.architecture}` : '?'}: ${m.digest}`);
  for (const l of t.legacy) {
    lines.push(`└── 🔐 ${l.tag}`);
    for (const layer of l.layers) lines.push(`   └── ${layer.mediaType} ${layer.digest}${layer.annotations?.predicateType ? ` ${layer.annotations.predicateType}` : ''}`);
  }
  if (t.referrers.length > 0) lines.push(`└── 🔗 referrers (${t.referrersVia === 'api' ? 'referrers API' : 'tag schema'})`);
  for (const d of t.referrers) lines.push(`   └── ${d.artifactType ?? d.mediaType} ${d.digest}${d.annotations?.['dev.sigstore.bundle.predicateType'] ? ` ${d.annotations['dev.sigstore.bundle.predicateType']}` : ''}`);
  io.stdout(lines.join('\n') + '\n');
  return 0;
}

async function saveCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...REGISTRY_FLAGS, dir: { type: 'string' } });
  const ref = parseReference(oneRef(positionals, 'save'));
  if (values.dir === undefined) throw new CliError('USAGE', 'cairn image save needs --dir D');
  const r = await saveImage(registryClient(values, io, ref.registry), ref, resolve(io.cwd, values.dir));
  io.stderr(`Saved ${ref.registry}/${ref.repository}@${r.digest} with ${r.manifests - 1} signature objects and referrers to ${values.dir}\n`);
  io.stdout(`${r.digest}\n`);
  return 0;
}

async function loadCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { ...REGISTRY_FLAGS, dir: { type: 'string' } });
  const ref = parseReference(oneRef(positionals, 'load'));
  if (values.dir === undefined) throw new CliError('USAGE', 'cairn image load needs --dir D');
  const r = await loadImage(registryClient(values, io, ref.registry), resolve(io.cwd, values.dir), ref);
  io.stderr(`Pushed ${r.pushed} manifests into ${ref.registry}/${ref.repository}\n`);
  io.stdout(`${ref.registry}/${ref.repository}@${r.digest}\n`);
  return 0;
}

const USAGE = `Usage: cairn image <sign|attest|verify|verify-attestation|tree|save|load> REF [options]

Container images in an OCI registry, in cosign's formats. REF is [registry/]repo[:tag][@sha256:...];
a tag is resolved to a digest once and everything after uses the digest.

  cairn image sign REF [--format bundle|legacy] [--recursive] [-a KEY=VALUE] [identity] [services]
      bundle (default): a Sigstore bundle v0.3 (DSSE, predicate https://sigstore.dev/cosign/sign/v1)
      as an OCI 1.1 referrer, artifactType application/vnd.dev.sigstore.bundle.v0.3+json, with the
      referrers tag schema (sha256-<hex>) kept when the registry has no referrers API;
      legacy: a simple-signing layer appended to cosign's sha256-<hex>.sig manifest.
      --recursive: an index and each platform manifest it lists.
  cairn image attest REF --predicate F --type T [--format bundle|legacy] [--recursive] [identity]
  cairn image verify REF [identity and trust]          signatures in both formats
  cairn image verify-attestation REF --type T [--condition 'PATH=VALUE' ...] [identity and trust]
  cairn image tree REF [--json]                        what is attached (like cosign tree)
  cairn image save REF --dir D                         image + signatures + referrers as an OCI layout
  cairn image load --dir D REF                         push a saved layout into REF's repository

Signing:
${IDENTITY_USAGE}

Verifying:
${VERIFY_USAGE_COMMON}`;

export const command: Command = {
  summary: 'sign, attest, verify, save and load container images in a registry (cosign formats)',
  usage: USAGE,
  run(args, io) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'sign':
        return signCommand(rest, io, false);
      case 'attest':
        return signCommand(rest, io, true);
      case 'verify':
        return verifyCommand(rest, io, false);
      case 'verify-attestation':
        return verifyCommand(rest, io, true);
      case 'tree':
        return treeCommand(rest, io);
      case 'save':
        return saveCommand(rest, io);
      case 'load':
        return loadCommand(rest, io);
      default:
        throw new CliError('USAGE', `cairn image: unknown subcommand ${sub ?? '(none)'}; one of sign, attest, verify, verify-attestation, tree, save, load`);
    }
  },
};
