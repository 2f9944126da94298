import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { CliError, parseFlags, type CliIO, type Command } from '../command.ts';
import { sign, MAX_ARTIFACT_BYTES, type SignOptions, type SignResult } from '@cairn/sign';
import { serializeBundle } from '@cairn/sign';
import { SignError } from '@cairn/sign';
import { checkWritable, identityToken, loadSigningKey, loadTrustedRootJson, readSmallFile, serviceUrls, writeFileAtomic } from '@cairn/sign';
import { planFromSigningConfig, type SigningPlan } from '@cairn/sign';
import { defaultCacheDir, loadCachedSigningConfig } from '@cairn/trust';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { verifyLogEntry } from '@cairn/sign';
import { trustedRootLogKeys } from '@cairn/sign';

export const MAX_SIGNING_CONFIG_BYTES = 1024 * 1024;

// The identity flags and their help live in identity-flags.ts (no imports), so commands that only
// show them (cairn image --help, image verify) do not load the signing code.
import { IDENTITY_FLAGS, IDENTITY_USAGE } from './identity-flags.ts';
export { IDENTITY_FLAGS, IDENTITY_USAGE };

export type IdentityValues = { [K in keyof typeof IDENTITY_FLAGS]?: (typeof IDENTITY_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/** Builds SignOptions from the shared flags (token or key, URLs, upload, timeout). */
export async function signOptionsFromFlags(v: IdentityValues, io: CliIO): Promise<SignOptions> {
  let timeoutMs: number | undefined;
  if (v.timeout !== undefined) {
    const s = Number(v.timeout);
    if (!Number.isFinite(s) || s <= 0 || s > 600) throw new CliError('USAGE', '--timeout is a number of seconds between 0 and 600');
    timeoutMs = Math.round(s * 1000);
  }
  const http = timeoutMs !== undefined ? { timeoutMs } : {};
  let urls = serviceUrls(v, io.env);
  const rekorVersion = v['rekor-version'] === undefined ? undefined : v['rekor-version'] === '1' ? 1 : v['rekor-version'] === '2' ? 2 : undefined;
  if (v['rekor-version'] !== undefined && rekorVersion === undefined) throw new CliError('USAGE', '--rekor-version is 1 or 2');
  if (v['no-tsa'] === true && v['tsa-url'] !== undefined) throw new CliError('USAGE', '--no-tsa and --tsa-url contradict each other');
  const plan = signingPlan(v, io, urls.rekorUrl, rekorVersion ?? (v['no-tsa'] === true ? 1 : undefined));
  if (plan) urls = { fulcioUrl: v['fulcio-url'] ?? plan.fulcioUrl, rekorUrl: v['rekor-url'] ?? plan.rekorUrl };
  const version = rekorVersion ?? plan?.rekorVersion ?? 1;
  const tsaUrl = v['no-tsa'] === true ? undefined : (v['tsa-url'] ?? plan?.tsaUrl);
  const witnesses = { rekorVersion: version, ...(tsaUrl !== undefined ? { tsaUrl } : {}) };
  const tlogUpload = v['no-tlog-upload'] !== true;
  if (v.key !== undefined) {
    if (v['identity-token'] !== undefined || v['oidc-issuer'] !== undefined) throw new CliError('USAGE', '--key signs without an identity token: drop --identity-token/--oidc-issuer');
    const signer = loadSigningKey(v.key, v['key-passphrase-file'], io.env, io.cwd);
    return { signer, ...urls, ...witnesses, tlogUpload, http };
  }
  if (v['no-tlog-upload'] === true) throw new CliError('USAGE', '--no-tlog-upload only works with --key: a keyless bundle needs its log entry');
  if (v['key-passphrase-file'] !== undefined) throw new CliError('USAGE', '--key-passphrase-file goes with --key');
  if (urls.fulcioUrl === undefined) throw new SignError('URL_MISSING', 'no CA URL: pass --url or --fulcio-url, or set CAIRN_URL');
  if (urls.rekorUrl === undefined) throw new SignError('URL_MISSING', 'no log URL: pass --url or --rekor-url, or set CAIRN_URL');
  if (version === 2 && tsaUrl === undefined) throw new SignError('TSA_REQUIRED', 'keyless signing through Rekor v2 needs a timestamp authority: give --tsa-url, or use --rekor-version 1');
  const token = await identityToken(v, io.env, io.cwd, http);
  return { identityToken: token, ...urls, ...witnesses, tlogUpload, http };
}

/**
 * The signing config to follow: --signing-config, else the one in the trust cache (--tuf-cache,
 * else the default cache of <log url>/tuf) when that cache exists. Undefined: none, sign as
 * the flags say (Rekor v1).
 */
function signingPlan(v: IdentityValues, io: CliIO, baseUrl: string | undefined, rekorVersion: 1 | 2 | undefined): SigningPlan | undefined {
  let json: unknown;
  if (v['signing-config'] !== undefined) {
    const text = readSmallFile(v['signing-config'], MAX_SIGNING_CONFIG_BYTES, 'signing config', io.cwd).toString('utf8');
    try {
      json = JSON.parse(text) as unknown;
    } catch {
      throw new SignError('INPUT_INVALID', `${v['signing-config']} is not JSON`);
    }
  } else {
    const cache = v['tuf-cache'];
    const dir =
      cache !== undefined
        ? /^https?:\/\//.test(cache)
          ? defaultCacheDir(cache, io.env)
          : resolve(io.cwd, cache)
        : baseUrl !== undefined && /^https?:\/\//.test(baseUrl)
          ? defaultCacheDir(`${baseUrl.replace(/\/+$/, '')}/tuf`, io.env)
          : undefined;
    if (dir === undefined || !existsSync(join(dir, 'root.json'))) return undefined;
    json = loadCachedSigningConfig(dir, { env: io.env });
    if (json === undefined) return undefined;
  }
  return planFromSigningConfig(json, new Date(), rekorVersion !== undefined ? { rekorVersion } : {});
}

export function readArtifact(path: string, max: number, cwd: string): Buffer {
  const p = resolve(cwd, path);
  let size: number;
  try {
    const st = statSync(p);
    if (!st.isFile()) throw new Error('not a file');
    size = st.size;
  } catch {
    throw new CliError('IO_ERROR', `cannot read ${path}`);
  }
  if (size > max) throw new SignError('INPUT_INVALID', `${path} is larger than ${max} bytes`);
  try {
    return readFileSync(p);
  } catch {
    throw new CliError('IO_ERROR', `cannot read ${path}`);
  }
}

/**
 * With a trust root at hand, the log's answer is checked (SET, inclusion proof, checkpoint) before
 * any bundle is written: a log that does not include what it acknowledged is caught at signing.
 */
export function checkLogAnswer(r: SignResult, root: unknown, io: CliIO): void {
  if (r.logEntry === undefined || root === undefined) return;
  const checked = verifyLogEntry(r.logEntry, trustedRootLogKeys(root).keyFor(r.logEntry));
  io.stderr(`Log entry verified with the trusted root: SET, inclusion in tree size ${checked.inclusion.treeSize}, checkpoint by ${checked.checkpoint.signer}\n`);
}

/** What `cairn sign`/`attest` print once the bundle is on disk. */
export function report(r: SignResult, what: string, out: string, io: CliIO): void {
  if (r.subject !== undefined) io.stderr(`Signed ${what} as ${r.subject} (certificate from the CA)\n`);
  else io.stderr(`Signed ${what} with the local key (publicKey hint ${r.bundle.verificationMaterial.publicKey?.hint ?? ''})\n`);
  if (r.logEntry !== undefined) io.stderr(`Logged as entry ${r.logEntry.logIndex} (uuid ${r.logEntry.uuid.slice(-64)})\n`);
  else if (r.logEntryV2 !== undefined) io.stderr(`Logged through Rekor v2 as entry ${r.logEntryV2.logIndex}\n`);
  else io.stderr('Not logged (--no-tlog-upload): verifiers must accept a bundle without a transparency log entry\n');
  if (r.timestamps > 0) io.stderr(`Timestamped by the TSA (RFC 3161 token in the bundle)\n`);
  io.stdout(`${out}\n`);
}

export const command: Command = {
  summary: 'sign a file (keyless or with a key) and write a Sigstore bundle',
  usage: `Usage: cairn sign FILE --bundle OUT [identity] [services]

Signs FILE and writes a Sigstore bundle v0.3 (messageSignature, SHA2_256 digest) to OUT.
Keyless: an ephemeral P-256 key, a certificate from the CA for the token's identity (the
proof of possession signs the token's email if present, else its sub), a hashedrekord entry in
the transparency log: 0.0.1 through Rekor v1, or 0.0.2 through Rekor v2 together with an RFC 3161
timestamp when the signing config advertises both (see Services). Prints the bundle path on
stdout, progress on stderr.

${IDENTITY_USAGE}

Exit codes: 0 signed, 1 failed (the error code is printed), 2 usage error.`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, IDENTITY_FLAGS);
    if (positionals.length !== 1) throw new CliError('USAGE', 'cairn sign needs exactly one FILE');
    if (values.bundle === undefined) throw new CliError('USAGE', 'cairn sign needs --bundle OUT');
    checkWritable(values.bundle, io.cwd);
    const file = positionals[0]!;
    const artifact = readArtifact(file, MAX_ARTIFACT_BYTES, io.cwd);
    // Read before signing: a bad trust root must not cost a certificate and a log entry.
    const trust = loadTrustedRootJson(values, io);
    const options = await signOptionsFromFlags(values, io);
    const result = await sign(artifact, options);
    checkLogAnswer(result, trust, io);
    const out = writeFileAtomic(values.bundle, serializeBundle(result.bundle), io.cwd);
    report(result, file, out, io);
    return 0;
  },
};
