/**
 * Shared set-up of the signing tests: a real stack (OIDC, CT, log, CA) in-process on port 0, a
 * trusted_root.json built from its /api/cairn/v1/trust-info with the TUF engineer's
 * buildTrustedRoot, the `cairn` CLI run in-process through main() with captured output, and
 * verification by the real @sigstore/verify (the oracle) with its default thresholds.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type * as SigstoreVerify from '@sigstore/verify';
import type * as SigstoreBundle from '@sigstore/bundle';
import type * as ProtobufSpecs from '@sigstore/protobuf-specs';
import { loadConfig, silentLogger, systemClock, type TrustInfo } from '@cairn/shared';
import { mintDevToken } from '@cairn/oidc';
import { bootstrapTsa, startStack, type Stack } from '@cairn/host';
import { main } from '@cairn/cli';
import { buildTrustedRoot, buildSigningConfig, type TrustedRootJson } from '@cairn/trust';

const require = createRequire(import.meta.url);
export const sigstoreVerify = require('@sigstore/verify') as typeof SigstoreVerify;
export const sigstoreBundle = require('@sigstore/bundle') as typeof SigstoreBundle;
export const protobufSpecs = require('@sigstore/protobuf-specs') as typeof ProtobufSpecs;

export const SUBJECT = 'https://ci.example.internal/pipelines/42';

export interface SignStack {
  stack: Stack;
  url: string;
  dataDir: string;
  work: string;
  issuer: string;
  trustedRoot: TrustedRootJson;
  trustedRootPath: string;
  signingConfigPath: string;
  token(o?: { subject?: string; email?: string; audience?: string }): Promise<string>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** `tsa: true` adds the timestamp authority (its chain in the trusted root, its URL at /api/v1/timestamp). */
export async function startSignStack(o: { tsa?: boolean } = {}): Promise<SignStack> {
  const dataDir = tempDir('cairn-sign-data-');
  const work = tempDir('cairn-sign-work-');
  const stack = await startStack(loadConfig({ overrides: { port: 0, dataDir, dev: true, logLevel: 'silent' } }), {
    components: o.tsa === true ? ['oidc', 'ct', 'log', 'ca', 'tsa'] : ['oidc', 'ct', 'log', 'ca'],
    beforeCreate: async (name) => {
      if (name === 'tsa') await bootstrapTsa(join(dataDir, 'tsa'));
    },
    logger: silentLogger,
  });
  const infos = (await (await fetch(`${stack.url}/api/cairn/v1/trust-info`)).json()) as TrustInfo[];
  const trustedRoot = buildTrustedRoot(infos);
  const trustedRootPath = join(work, 'trusted_root.json');
  writeFileSync(trustedRootPath, JSON.stringify(trustedRoot));
  const signingConfigPath = join(work, 'signing_config.json');
  // Explicit CA URL: buildSigningConfig leaves out CAs whose trust info carries a validTo.
  writeFileSync(signingConfigPath, JSON.stringify(buildSigningConfig(infos, { ca: [stack.url], rekor: [stack.url] })));
  return {
    stack,
    url: stack.url,
    dataDir,
    work,
    issuer: `${stack.url}/oidc`,
    trustedRoot,
    trustedRootPath,
    signingConfigPath,
    token: (o = {}) => mintDevToken(join(dataDir, 'oidc'), { subject: o.email === undefined ? (o.subject ?? SUBJECT) : o.subject, email: o.email, audience: o.audience }, systemClock),
  };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cairn ARGS` in this process with its own environment (nothing from process.env). */
export async function cli(args: string[], env: Record<string, string | undefined> = {}, cwd = process.cwd()): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env, cwd });
  return { code, stdout, stderr };
}

/**
 * Runs a child process without blocking this event loop: the stack it talks to lives in this
 * process, so spawnSync would deadlock.
 */
export function runAsync(cmd: string, args: string[], env: Record<string, string | undefined>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The `[CODE]` the CLI printed for a CairnError. */
export function errorCode(r: CliRun): string | undefined {
  return /error \[([A-Z_]+)\]/.exec(r.stderr)?.[1];
}

export function readJson(path: string): any {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/**
 * Verifies with the real @sigstore/verify 3.1.1: default thresholds (tlog 1, ctlog 1,
 * timestamp 1) unless overridden. Throws its VerificationError/PolicyError on failure.
 */
export function sigstoreVerifyBundle(
  s: SignStack,
  bundle: unknown,
  artifact: Buffer | undefined,
  policy: SigstoreVerify.VerificationPolicy,
  options: { keys?: Record<string, ProtobufSpecs.PublicKey>; tlogThreshold?: number; ctlogThreshold?: number; timestampThreshold?: number } = {},
): SigstoreVerify.Signer {
  const tm = sigstoreVerify.toTrustMaterial(protobufSpecs.TrustedRoot.fromJSON(s.trustedRoot), options.keys);
  const { keys: _keys, ...thresholds } = options;
  void _keys;
  const verifier = new sigstoreVerify.Verifier(tm, thresholds);
  return verifier.verify(sigstoreVerify.toSignedEntity(sigstoreBundle.bundleFromJSON(bundle), artifact), policy);
}
