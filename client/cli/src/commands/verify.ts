/**
 * `cairn verify FILE|sha256:DIGEST --bundle B ...`: offline verification of a Sigstore bundle.
 * Shared with `cairn verify-attestation` (runVerify with attestation options).
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { resolve } from 'node:path';
import {
  checkAttestation,
  parseCondition,
  parseTrustedRoot,
  parseTrustedRootJson,
  resolvePredicateType,
  verify,
  VerifyError,
  type ArtifactInput,
  type TrustMaterial,
  type VerificationPolicy,
  type VerificationResult,
} from '@cairn/verify';
import { forbidNetwork } from '@cairn/verify';
import { readCappedFile } from '@cairn/shared/io';
import { MAX_BUNDLE_BYTES } from '@cairn/shared/limits';
import { CliError, parseFlags, type CliIO, type Command } from '../command.ts';

/** Files larger than this are digested in a stream and verified prehashed (ECDSA/RSA keys). */
export const MAX_ARTIFACT_IN_MEMORY = 256 * 1024 * 1024;
export const MAX_BUNDLE_FILE = MAX_BUNDLE_BYTES;
export const MAX_TRUSTED_ROOT_FILE = 4 * 1024 * 1024;
export const MAX_KEY_FILE = 64 * 1024;

const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

const COMMON_OPTIONS = {
  bundle: { type: 'string' },
  'certificate-identity': { type: 'string' },
  'certificate-identity-regexp': { type: 'string' },
  'certificate-oidc-issuer': { type: 'string' },
  'certificate-oidc-issuer-regexp': { type: 'string' },
  key: { type: 'string' },
  'trusted-root': { type: 'string' },
  'tuf-cache': { type: 'string' },
  'tuf-mirror': { type: 'string' },
  mirror: { type: 'string' },
  offline: { type: 'boolean' },
  'tlog-threshold': { type: 'string' },
  'ctlog-threshold': { type: 'string' },
  'timestamp-threshold': { type: 'string' },
  json: { type: 'boolean' },
} as const;

const ATTESTATION_OPTIONS = {
  ...COMMON_OPTIONS,
  type: { type: 'string' },
  condition: { type: 'string', multiple: true },
} as const;

const COMMON_USAGE = `Identity (certificate bundles; one of each pair is required):
  --certificate-identity SAN            exact signer identity (URI or email SAN)
  --certificate-identity-regexp RE      identity as an RE2 expression (unanchored, as cosign; linear time)
  --certificate-oidc-issuer URL         exact OIDC issuer (extension 1.3.6.1.4.1.57264.1.8, then 1.1)
  --certificate-oidc-issuer-regexp RE   issuer as an RE2 expression
Key-based bundles:
  --key KEY.pem                         the signer's public key (PEM); also checks a certificate's key
Trust (no network is ever used to verify):
  --trusted-root FILE                   a trusted_root.json
  --tuf-cache DIR                       a trust cache written by 'cairn trust init'
  --tuf-mirror URL                      the cache 'cairn trust init --mirror URL' wrote (under
                                        $CAIRN_TRUST_CACHE or ~/.cairn/trust); default $CAIRN_URL/tuf,
                                        else the mirror of the last 'cairn trust init'
  --mirror URL                          same as --tuf-mirror
  --offline                             hard guarantee: fetch, sockets and DNS are refused for the run
Thresholds (defaults as sigstore-js):
  --tlog-threshold N                    verified transparency-log entries required (default 1)
  --ctlog-threshold N                   verified embedded SCTs required (default 1; 0 for key bundles)
  --timestamp-threshold N               trusted timestamps required (default 1)
Output:
  --json                                print the verification result as JSON

Exit status: 0 verified, 1 verification failed (the error names a stable code), 2 usage error.`;

export const VERIFY_USAGE = `Usage: cairn verify FILE|sha256:DIGEST --bundle BUNDLE [options]

Verifies a Sigstore bundle (v0.1, v0.2, v0.3; message signature or DSSE) for a file, or for a
digest written sha256:<64 hex> (used when no file of that name exists), fully offline: the
certificate chain to a trusted CA valid at the signing time, embedded SCTs, transparency-log
entries (SET, checkpoint signature, inclusion proof, body), RFC 3161 timestamps, the signature,
and the signer identity.

${COMMON_USAGE}`;

export const VERIFY_ATTESTATION_USAGE = `Usage: cairn verify-attestation FILE|sha256:DIGEST --bundle BUNDLE [options]

Verifies a DSSE attestation bundle like 'cairn verify' (the file or digest must be a subject of
the in-toto statement), then its predicate:
  --type URI                            required predicate type, or an alias as 'cairn attest' takes
                                        (slsaprovenance = https://slsa.dev/provenance/v1, spdxjson,
                                        cyclonedx, link, vuln, openvex, vsa, ...)
  --condition 'PATH=VALUE'              predicate field PATH (dot-separated) equals VALUE;
  --condition 'PATH=glob:PATTERN'       glob: * (no '/'), ** (anything), ?, \\ escapes;
  --condition 'PATH=one-of:A,B,C'       one of the listed values; repeat --condition (max 32)
  e.g. --condition 'buildDefinition.externalParameters.repository=glob:your-org/*'

${COMMON_USAGE}`;

function readBounded(path: string, max: number, what: string, cwd: string): string {
  try {
    return readCappedFile(resolve(cwd, path), max, `${what} ${path}`).toString('utf8');
  } catch (e) {
    throw new CliError('IO_ERROR', e instanceof Error ? e.message : String(e));
  }
}

function parseThreshold(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,2}$/.test(v)) throw new CliError('USAGE', `${flag} takes a small non-negative integer`);
  return Number(v);
}

async function streamDigest(path: string): Promise<Buffer> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (e) {
    throw new CliError('IO_ERROR', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return h.digest();
}

async function loadArtifact(target: string, cwd: string): Promise<ArtifactInput> {
  const p = resolve(cwd, target);
  if (DIGEST_RE.test(target) && !existsSync(p)) return target;
  let size: number;
  try {
    size = statSync(p).size;
  } catch (e) {
    throw new CliError('IO_ERROR', `cannot read ${target}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (size > MAX_ARTIFACT_IN_MEMORY) return { sha256: await streamDigest(p) };
  return readFileSync(p);
}

export async function loadTrust(flags: { 'trusted-root'?: string; 'tuf-cache'?: string; mirror?: string }, io: CliIO): Promise<TrustMaterial> {
  if (flags['trusted-root'] !== undefined) {
    if (flags['tuf-cache'] !== undefined || flags.mirror !== undefined) throw new CliError('USAGE', 'give --trusted-root or --tuf-cache/--tuf-mirror, not both');
    return parseTrustedRootJson(readBounded(flags['trusted-root'], MAX_TRUSTED_ROOT_FILE, 'trusted root', io.cwd));
  }
  // The mirror's cache written by 'cairn trust init': --tuf-cache DIR, or the cache of --mirror URL
  // (default: $CAIRN_URL/tuf, else the mirror the last default 'cairn trust init' recorded).
  // Reading it is file I/O only; the TUF metadata is re-checked there.
  const { loadCachedTrustedRoot, defaultMirror } = await import('@cairn/trust');
  const mirror = flags.mirror ?? (io.env.CAIRN_URL ? `${io.env.CAIRN_URL.replace(/\/+$/, '')}/tuf` : undefined);
  const where = flags['tuf-cache'] !== undefined ? resolve(io.cwd, flags['tuf-cache']) : (mirror ?? defaultMirror(io.env));
  if (where === undefined) throw new CliError('USAGE', 'no trust material: run cairn trust init first, or pass --trusted-root FILE, --tuf-cache DIR or --tuf-mirror URL');
  return parseTrustedRoot(loadCachedTrustedRoot(where, { env: io.env }));
}

function describe(result: VerificationResult): string {
  const lines = ['Verified OK'];
  if (result.signer.type === 'certificate') {
    lines.push(`  identity:     ${result.signer.identity}`, `  issuer:       ${result.signer.issuer}`);
  } else {
    lines.push(`  signer key:   sha256:${createHash('sha256').update(result.signer.spki).digest('hex')}`);
  }
  for (const t of result.timestamps) lines.push(`  signed at:    ${t.time.toISOString()} (${t.source})`);
  lines.push(`  tlog entries: ${result.tlogEntries}`, `  SCTs:         ${result.scts}`, `  bundle:       v${result.bundleVersion}`);
  if (result.statement) lines.push(`  predicate:    ${String(result.statement.predicateType)}`);
  return lines.join('\n') + '\n';
}

/**
 * Below fetch: every TCP connection (http, https, undici, net) goes through
 * net.Socket.prototype.connect, and every name lookup through dns; both refuse while blocked.
 */
function forbidSockets(): () => void {
  const connect = Object.getOwnPropertyDescriptor(net.Socket.prototype, 'connect')!;
  const lookup = Object.getOwnPropertyDescriptor(dns, 'lookup')!;
  const forbidden = (): never => {
    throw new VerifyError('NETWORK_FORBIDDEN', 'network access attempted while running with --offline');
  };
  Object.defineProperty(net.Socket.prototype, 'connect', { ...connect, value: forbidden });
  Object.defineProperty(dns, 'lookup', { ...lookup, value: forbidden });
  syncBuiltinESMExports();
  return () => {
    Object.defineProperty(net.Socket.prototype, 'connect', connect);
    Object.defineProperty(dns, 'lookup', lookup);
    syncBuiltinESMExports();
  };
}

/** Runs `fn` with fetch, sockets and DNS refused (NETWORK_FORBIDDEN) when `offline`, whatever it loads. */
export async function withoutNetwork<T>(offline: boolean, fn: () => Promise<T>): Promise<T> {
  const restores = offline ? [forbidNetwork(), forbidSockets()] : [];
  try {
    return await fn();
  } finally {
    for (const r of restores.reverse()) r();
  }
}

export async function runVerify(args: string[], io: CliIO, attestation: boolean): Promise<number> {
  const { values } = parseFlags(args, attestation ? ATTESTATION_OPTIONS : COMMON_OPTIONS);
  // --offline: no network for the whole run of the command, whatever it loads (fetch, sockets, DNS).
  return withoutNetwork(values.offline === true, () => verifyCommand(args, io, attestation));
}

async function verifyCommand(args: string[], io: CliIO, attestation: boolean): Promise<number> {
  const { values, positionals } = parseFlags(args, attestation ? ATTESTATION_OPTIONS : COMMON_OPTIONS);
  const flags = values as Record<string, string | boolean | string[] | undefined>;
  const str = (k: string): string | undefined => (typeof flags[k] === 'string' ? flags[k] : undefined);
  if (positionals.length !== 1) throw new CliError('USAGE', `cairn ${attestation ? 'verify-attestation' : 'verify'} takes exactly one FILE or sha256:DIGEST`);
  const bundlePath = str('bundle');
  if (bundlePath === undefined) throw new CliError('USAGE', '--bundle is required');
  const keyPath = str('key');
  const policy: VerificationPolicy = {
    identity: str('certificate-identity'),
    identityRegExp: str('certificate-identity-regexp'),
    issuer: str('certificate-oidc-issuer'),
    issuerRegExp: str('certificate-oidc-issuer-regexp'),
    publicKey: keyPath === undefined ? undefined : readBounded(keyPath, MAX_KEY_FILE, 'key', io.cwd),
    tlogThreshold: parseThreshold(str('tlog-threshold'), '--tlog-threshold'),
    ctlogThreshold: parseThreshold(str('ctlog-threshold'), '--ctlog-threshold'),
    timestampThreshold: parseThreshold(str('timestamp-threshold'), '--timestamp-threshold'),
  };
  if (keyPath === undefined) {
    const hasId = policy.identity !== undefined || policy.identityRegExp !== undefined;
    const hasIss = policy.issuer !== undefined || policy.issuerRegExp !== undefined;
    if (!hasId || !hasIss) {
      throw new CliError('USAGE', 'give --certificate-identity[-regexp] and --certificate-oidc-issuer[-regexp], or --key');
    }
  }
  const conditions = attestation ? ((flags.condition as string[] | undefined) ?? []).map(parseCondition) : [];
  const type = attestation ? str('type') : undefined;

  if (str('tuf-mirror') !== undefined && str('mirror') !== undefined) throw new CliError('USAGE', 'give --tuf-mirror or --mirror, not both');
  const trust = await loadTrust({ 'trusted-root': str('trusted-root'), 'tuf-cache': str('tuf-cache'), mirror: str('tuf-mirror') ?? str('mirror') }, io);
  const bundleText = readBounded(bundlePath, MAX_BUNDLE_FILE, 'bundle', io.cwd);
  const artifact = await loadArtifact(positionals[0]!, io.cwd);
  const result = verify(bundleText, artifact, policy, trust);
  if (attestation) {
    if (!result.statement) throw new VerifyError('BUNDLE_INVALID', 'an attestation bundle carries a DSSE envelope with an in-toto statement');
    checkAttestation(result.statement, type === undefined ? undefined : resolvePredicateType(type), conditions);
  }
  if (flags.json === true) {
    io.stdout(
      JSON.stringify(
        {
          verified: true,
          bundleVersion: result.bundleVersion,
          signer:
            result.signer.type === 'certificate'
              ? { type: 'certificate', identity: result.signer.identity, issuer: result.signer.issuer }
              : { type: 'key', keySha256: createHash('sha256').update(result.signer.spki).digest('hex') },
          timestamps: result.timestamps.map((t) => ({ source: t.source, time: t.time.toISOString() })),
          tlogEntries: result.tlogEntries,
          scts: result.scts,
          ...(result.statement ? { predicateType: result.statement.predicateType } : {}),
        },
        null,
        2,
      ) + '\n',
    );
  } else {
    io.stdout(describe(result));
  }
  return 0;
}

export const command: Command = {
  summary: 'verify a bundle for a file or digest, fully offline',
  usage: VERIFY_USAGE,
  run: (args, io) => runVerify(args, io, false),
};
