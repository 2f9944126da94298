/** `cairn image sign|attest`: loaded only for these subcommands (the signing code is not small). */
import { isRecord } from '@cairn/shared';
import { attestImage, parseReference, signImage } from '@cairn/oci';
import { SignError } from '@cairn/sign';
import { CliError, parseFlags, type CliIO } from '../command.ts';
import { IDENTITY_FLAGS } from './identity-flags.ts';
import { signOptionsFromFlags } from './sign.ts';
import { MAX_PREDICATE_BYTES, oneRef, readSmall, REGISTRY_FLAGS, registryClient } from './image-common.ts';

export async function signCommand(args: string[], io: CliIO, attest: boolean): Promise<number> {
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
  // cosign's legacy objects carry a Rekor v1 entry with its SET (dev.sigstore.cosign/bundle): a
  // Rekor v2 entry (inclusion proof, no SET) has nowhere to go, so legacy signs through Rekor v1
  // even when the cached signing config prefers v2.
  if (format === 'legacy' && values['rekor-version'] === '2') throw new CliError('USAGE', "--format legacy carries a Rekor v1 entry (cosign's SET annotation): use --format bundle for Rekor v2");
  const sign = await signOptionsFromFlags(format === 'legacy' ? { ...values, 'rekor-version': '1' } : values, io);
  const common = { client, reference: ref, sign, format, recursive: values.recursive === true, ...(Object.keys(annotations).length > 0 ? { annotations } : {}) } as const;
  const done = attest ? await attestImage({ ...common, predicateType: values.type!, predicate: predicate! }) : await signImage(common);
  for (const d of done) {
    const where = d.format === 'legacy' ? `tag ${d.location}` : `referrer ${d.location} (${d.via === 'api' ? 'referrers API' : 'referrers tag schema'})`;
    io.stderr(`${attest ? 'Attested' : 'Signed'} ${ref.registry}/${ref.repository}@${d.digest}: ${where}${d.result.logEntry ? `, log entry ${d.result.logEntry.logIndex}` : ''}\n`);
    io.stdout(`${ref.registry}/${ref.repository}@${d.digest}\n`);
  }
  return 0;
}
