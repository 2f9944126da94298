/** `cairn image verify|verify-attestation`: no signing code is loaded. */
import { resolve } from 'node:path';
import { OciLayout, parseReference, verifyImage, type ImagePolicy, type ImageSource, type ImageVerification } from '@cairn/oci/verify';
import { CliError, parseFlags, type CliIO } from '../command.ts';
import { loadTrust, withoutNetwork } from './verify.ts';
import { MAX_KEY_FILE, oneRef, readSmall, REGISTRY_FLAGS, registryClient, threshold } from './image-common.ts';

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
  offline: { type: 'boolean' },
  type: { type: 'string' },
  condition: { type: 'string', multiple: true },
} as const;

type VerifyValues = ReturnType<typeof parseFlags<typeof VERIFY_FLAGS>>['values'];

function describeResult(r: ImageVerification, attestation: boolean): string {
  const lines: string[] = [`${r.verified ? 'Verified OK' : `NOT VERIFIED [${r.code ?? 'UNKNOWN'}]`}: ${r.reference} (referrers via ${r.referrersVia})`];
  for (const f of attestation ? r.attestations : [...r.signatures, ...r.attestations]) {
    const who = f.signer ? (f.signer.type === 'certificate' ? `${f.signer.subject} (${f.signer.issuer})` : `key sha256:${f.signer.keySha256}`) : '';
    lines.push(`  ${f.verified ? 'ok  ' : 'FAIL'} ${f.kind} ${f.format} ${f.source}${f.predicateType ? ` ${f.predicateType}` : ''}${f.verified ? ` by ${who}` : ` [${f.code}] ${f.message ?? ''}`}`);
  }
  for (const q of r.requirements) lines.push(`  requirement ${q.predicateType}: ${q.satisfied ? `met by ${q.by.join(', ')}` : `not met [${q.code}]`}`);
  return lines.join('\n') + '\n';
}

export async function verifyCommand(args: string[], io: CliIO, attestation: boolean): Promise<number> {
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
  // Verification never contacts the log, the CA or the TUF mirror (trust from the cache, proofs
  // from the signatures); --offline (cosign's flag) says so, and with --layout, where there is no
  // registry either, refuses any network use for the run (NETWORK_FORBIDDEN).
  return withoutNetwork(values.offline === true && values.layout !== undefined, () => verifyWith(values, positionals, policy, io, attestation));
}

async function verifyWith(values: VerifyValues, positionals: string[], policy: ImagePolicy, io: CliIO, attestation: boolean): Promise<number> {
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
