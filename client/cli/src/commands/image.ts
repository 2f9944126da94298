/**
 * `cairn image sign|attest|verify|verify-attestation|tree|save|load`: container images in a
 * registry (or an OCI layout), in cosign's formats, through @cairn/oci. Flag names are cosign's
 * where cosign has them; identity and trust flags are those of `cairn verify`. This module holds
 * the help and the dispatch only: each subcommand's module is loaded when it runs, so verifying
 * never loads the signing code.
 */
import { CliError, type Command } from '../command.ts';
import { IDENTITY_USAGE } from './identity-flags.ts';
import { VERIFY_USAGE_COMMON } from './image-usage.ts';

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
        return import('./image-sign.ts').then((m) => m.signCommand(rest, io, false));
      case 'attest':
        return import('./image-sign.ts').then((m) => m.signCommand(rest, io, true));
      case 'verify':
        return import('./image-verify.ts').then((m) => m.verifyCommand(rest, io, false));
      case 'verify-attestation':
        return import('./image-verify.ts').then((m) => m.verifyCommand(rest, io, true));
      case 'tree':
        return import('./image-store.ts').then((m) => m.treeCommand(rest, io));
      case 'save':
        return import('./image-store.ts').then((m) => m.saveCommand(rest, io));
      case 'load':
        return import('./image-store.ts').then((m) => m.loadCommand(rest, io));
      default:
        throw new CliError('USAGE', `cairn image: unknown subcommand ${sub ?? '(none)'}; one of sign, attest, verify, verify-attestation, tree, save, load`);
    }
  },
};
