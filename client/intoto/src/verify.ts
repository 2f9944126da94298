/**
 * Final product verification in the order of python-in-toto 1.3.1 `verifylib.in_toto_verify`
 * (spec §5.2; digest §1.9):
 *   1 layout signatures (every given key must have signed)   2 expiry
 *   3 load links per step (fail fast below threshold)         4 link signatures and thresholds
 *   5 sublayouts (recursive, bounded)                         6 command alignment (warning only)
 *   7 threshold constraints (identical artifacts)             8 step rules (materials, products)
 *   9 inspections                                             10 inspection rules
 * Difference from the reference, on purpose: inspections run in a FRESH temporary copy of the
 * artifact directory, never in the caller's directory, so verifying twice gives the same answer
 * and verification leaves nothing behind (the reference runs them in cwd; digest §0.7, §2.6).
 */
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, type Clock } from '@cairn/shared';
import { IntotoError } from './errors.ts';
import type { IntotoPublicKey } from './keys.ts';
import { checkSignature, linkFileName, loadMetadata, type Metadata } from './metadata.ts';
import type { Inspection, Layout, Link, Step } from './models.ts';
import { verifyItemRules, type ArtifactMap, type RuleLink } from './rules.ts';
import { executeCommand, DEFAULT_COMMAND_TIMEOUT_MS } from './run.ts';
import { recordArtifacts } from './artifacts.ts';

export const MAX_SUBLAYOUT_DEPTH = 8;
/** Bounds on the copy of the artifact directory that inspections run in. */
export const MAX_INSPECTION_COPY_FILES = 200_000;
export const MAX_INSPECTION_COPY_BYTES = 4 * 1024 * 1024 * 1024;
export const MAX_LINK_DIR_ENTRIES = 200_000;
/** The reference's IN_TOTO_LINK_CMD_EXEC_TIMEOUT default is 10 s; inspections here get longer. */
export const DEFAULT_INSPECTION_TIMEOUT_MS = DEFAULT_COMMAND_TIMEOUT_MS;

export type LayoutMetadata = Extract<Metadata, { type: 'layout' }>;

export interface VerifyOptions {
  layout: LayoutMetadata;
  /** Every key given must have a valid signature on the layout. */
  layoutKeys: readonly IntotoPublicKey[];
  linkDir: string;
  /** The directory whose copy inspections start from (reference: the cwd). */
  artifactDir: string;
  clock?: Clock;
  inspectionTimeoutMs?: number;
  /**
   * Final products that are not files, named and hashed by the caller (a container image
   * `oci://REF` with its sha256 digest, resolved once): part of every inspection's materials and
   * products, so inspection rules (`MATCH oci://REF WITH PRODUCTS FROM build`) bind them.
   */
  finalProducts?: ArtifactMap;
  env?: Record<string, string | undefined>;
  log?: (level: 'info' | 'warn', message: string) => void;
}

export interface VerifyResult {
  summary: Link;
  warnings: string[];
}

interface Ctx {
  clock: Clock;
  log: (level: 'info' | 'warn', message: string) => void;
  warnings: string[];
  artifactDir: string;
  inspectionTimeoutMs: number;
  finalProducts: ArtifactMap;
  env: Record<string, string | undefined> | undefined;
}

export function verifyLayout(opts: VerifyOptions): VerifyResult {
  const warnings: string[] = [];
  const userLog = opts.log ?? (() => undefined);
  const ctx: Ctx = {
    clock: opts.clock ?? systemClock,
    log: (level, m) => {
      if (level === 'warn') warnings.push(m);
      userLog(level, m);
    },
    warnings,
    artifactDir: opts.artifactDir,
    inspectionTimeoutMs: opts.inspectionTimeoutMs ?? DEFAULT_INSPECTION_TIMEOUT_MS,
    finalProducts: opts.finalProducts ?? {},
    env: opts.env,
  };
  const summary = verifyRecursive(ctx, opts.layout, opts.layoutKeys, opts.linkDir, '', 0);
  return { summary, warnings };
}

function verifyLayoutSignatures(md: LayoutMetadata, keys: readonly IntotoPublicKey[]): void {
  if (keys.length === 0) throw new IntotoError('LAYOUT_SIGNATURE_INVALID', 'layout signature verification requires at least one key');
  for (const k of keys) {
    const r = checkSignature(md, k);
    if (r === 'missing') throw new IntotoError('LAYOUT_SIGNATURE_INVALID', `no signature found for key '${k.keyid}'`, { details: { keyid: k.keyid } });
    if (r === 'invalid') throw new IntotoError('LAYOUT_SIGNATURE_INVALID', `invalid signature for keyid '${k.keyid}'`, { details: { keyid: k.keyid } });
  }
}

function verifyExpiry(layout: Layout, clock: Clock): void {
  if (Date.parse(layout.expires) < clock.now().getTime()) {
    throw new IntotoError('LAYOUT_EXPIRED', `layout expired at ${layout.expires}`, { details: { expires: layout.expires } });
  }
}

const LINK_NAME_RE = /^[0-9a-f]{8}\.link$/;

function listDir(dir: string): string[] {
  try {
    const names = readdirSync(dir);
    if (names.length > MAX_LINK_DIR_ENTRIES) throw new IntotoError('IO_ERROR', `link directory ${dir} has more than ${MAX_LINK_DIR_ENTRIES} entries`);
    return names;
  } catch (e) {
    if (e instanceof IntotoError) throw e;
    throw new IntotoError('IO_ERROR', `cannot list link directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** load_links_for_layout: `<step>.<keyid8>.link` for each authorised keyid; fail fast below threshold. */
function loadLinks(layout: Layout, linkDir: string): Map<string, Map<string, Metadata>> {
  const present = new Set(listDir(linkDir));
  const out = new Map<string, Map<string, Metadata>>();
  for (const step of layout.steps) {
    const perKey = new Map<string, Metadata>();
    for (const keyid of step.pubkeys) {
      if (perKey.has(keyid)) continue;
      const name = linkFileName(step.name, keyid);
      if (!present.has(name)) continue;
      try {
        perKey.set(keyid, loadMetadata(join(linkDir, name), 'link'));
      } catch (e) {
        // The reference skips what it cannot open (IOError), e.g. a directory of that name.
        if (e instanceof IntotoError && e.code === 'IO_ERROR') continue;
        throw e;
      }
    }
    if (perKey.size < step.threshold) {
      // Links for this step stored under keyids the layout does not authorise are worth naming.
      const prefix = `${step.name}.`;
      const strangers = [...present].filter((n) => n.startsWith(prefix) && LINK_NAME_RE.test(n.slice(prefix.length)) && !step.pubkeys.some((k) => n === linkFileName(step.name, k)));
      if (strangers.length > 0) {
        throw new IntotoError('UNAUTHORIZED_FUNCTIONARY', `step '${step.name}' has links only from functionaries the layout does not authorise: ${strangers.join(', ')}`, {
          details: { step: step.name, links: strangers },
        });
      }
      throw new IntotoError('LINK_NOT_FOUND', `step '${step.name}' requires '${step.threshold}' link metadata file(s), found '${perKey.size}'`, {
        details: { step: step.name, threshold: step.threshold, found: perKey.size },
      });
    }
    out.set(step.name, perKey);
  }
  return out;
}

/** verify_link_signature_thresholds: unauthorised or badly signed links are skipped, then counted. */
function verifyLinkSignatures(ctx: Ctx, layout: Layout, keys: Map<string, IntotoPublicKey>, loaded: Map<string, Map<string, Metadata>>): Map<string, Map<string, Metadata>> {
  const out = new Map<string, Map<string, Metadata>>();
  for (const step of layout.steps) {
    const valid = new Map<string, Metadata>();
    let badSignatures = 0;
    let foreignSignatures = 0;
    for (const [keyid, md] of loaded.get(step.name) ?? new Map<string, Metadata>()) {
      const key = keys.get(keyid);
      if (!key || !step.pubkeys.includes(keyid)) {
        foreignSignatures++;
        ctx.log('info', `skipping link: keyid '${keyid}' is not authorised for step '${step.name}'`);
        continue;
      }
      const r = checkSignature(md, key);
      if (r !== 'valid') {
        if (r === 'missing' && md.signatures.length > 0) foreignSignatures++;
        else badSignatures++;
        ctx.log('info', `skipping link: ${r === 'missing' ? 'no signature' : 'broken signature'} with keyid '${keyid}' for step '${step.name}'`);
        continue;
      }
      if (md.type === 'link' && md.link.name !== step.name) {
        // The reference does not look at the name; a link recorded for another step is no evidence for this one.
        badSignatures++;
        ctx.log('warn', `skipping link: ${linkFileName(step.name, keyid)} records step '${md.link.name}'`);
        continue;
      }
      valid.set(keyid, md);
    }
    if (valid.size < step.threshold) {
      const base = `step '${step.name}' requires at least '${step.threshold}' links validly signed by different authorized functionaries, found '${valid.size}'`;
      const details = { step: step.name, threshold: step.threshold, found: valid.size };
      if (badSignatures > 0) throw new IntotoError('LINK_SIGNATURE_INVALID', `${base}: a link signature does not verify`, { details });
      if (foreignSignatures > 0) throw new IntotoError('UNAUTHORIZED_FUNCTIONARY', `${base}: a link is signed by a key the layout does not authorise`, { details });
      throw new IntotoError('THRESHOLD_NOT_MET', base, { details });
    }
    out.set(step.name, valid);
  }
  return out;
}

function sameArtifacts(a: ArtifactMap, b: ArtifactMap): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    const x = a[k]!;
    const y = b[k];
    if (!y) return false;
    const hx = Object.keys(x);
    if (hx.length !== Object.keys(y).length || hx.some((h) => x[h] !== y[h])) return false;
  }
  return true;
}

function argvText(argv: readonly string[]): string {
  return '[' + argv.map((a) => `'${a}'`).join(', ') + ']';
}

function verifyRecursive(ctx: Ctx, md: LayoutMetadata, keys: readonly IntotoPublicKey[], linkDir: string, stepName: string, depth: number): Link {
  if (depth > MAX_SUBLAYOUT_DEPTH) throw new IntotoError('SUBLAYOUT_TOO_DEEP', `sublayouts nest deeper than ${MAX_SUBLAYOUT_DEPTH}`);
  ctx.log('info', 'Verifying layout signatures...');
  verifyLayoutSignatures(md, keys);
  const layout = md.layout;
  ctx.log('info', 'Verifying layout expiration...');
  verifyExpiry(layout, ctx.clock);
  ctx.log('info', 'Reading link metadata files...');
  const loaded = loadLinks(layout, linkDir);
  ctx.log('info', 'Verifying link metadata signatures...');
  const verified = verifyLinkSignatures(ctx, layout, md.keys, loaded);

  ctx.log('info', 'Verifying sublayouts...');
  const resolved = new Map<string, Map<string, Link>>();
  for (const step of layout.steps) {
    const perKey = new Map<string, Link>();
    for (const [keyid, m] of verified.get(step.name)!) {
      if (m.type === 'layout') {
        ctx.log('info', `Verifying sublayout ${step.name}...`);
        const subDir = join(linkDir, `${step.name}.${keyid.slice(0, 8)}`);
        perKey.set(keyid, verifyRecursive(ctx, m, [md.keys.get(keyid)!], subDir, step.name, depth + 1));
      } else {
        perKey.set(keyid, m.link);
      }
    }
    resolved.set(step.name, perKey);
  }

  ctx.log('info', 'Verifying alignment of reported commands...');
  for (const step of layout.steps) {
    for (const link of resolved.get(step.name)!.values()) {
      const a = link.command;
      const b = step.expected_command;
      if (a.length !== b.length || a.some((x, i) => x !== b[i])) {
        ctx.log('warn', `Run command '${argvText(a)}' differs from expected command '${argvText(b)}'`);
      }
    }
  }

  ctx.log('info', 'Verifying threshold constraints...');
  for (const step of layout.steps) {
    if (step.threshold <= 1) continue;
    const links = [...resolved.get(step.name)!.entries()];
    const [refId, ref] = links[0]!;
    for (const [id, l] of links) {
      if (!sameArtifacts(ref.materials, l.materials) || !sameArtifacts(ref.products, l.products)) {
        throw new IntotoError('ARTIFACTS_DIFFER', `links '${linkFileName(step.name, refId)}' and '${linkFileName(step.name, id)}' have different artifacts`, {
          details: { step: step.name },
        });
      }
    }
  }
  const reduced = new Map<string, Link>();
  for (const step of layout.steps) reduced.set(step.name, resolved.get(step.name)!.values().next().value!);

  ctx.log('info', 'Verifying Step rules...');
  verifyItems(layout.steps, reduced);

  if (layout.inspect.length > 0) {
    ctx.log('info', 'Executing Inspection commands...');
    const inspected = runInspections(ctx, layout.inspect);
    const combined = new Map<string, Link>(reduced);
    for (const [k, v] of inspected) combined.set(k, v);
    ctx.log('info', 'Verifying Inspection rules...');
    verifyItems(layout.inspect, combined);
  }
  ctx.log('info', 'The software product passed all verification.');
  // get_summary_link: materials of the first step, products/byproducts/command of the last.
  const first = layout.steps.length > 0 ? reduced.get(layout.steps[0]!.name)! : undefined;
  const last = layout.steps.length > 0 ? reduced.get(layout.steps[layout.steps.length - 1]!.name)! : undefined;
  return {
    _type: 'link',
    name: stepName,
    materials: first?.materials ?? {},
    products: last?.products ?? {},
    byproducts: last?.byproducts ?? {},
    command: last?.command ?? [],
    environment: {},
  };
}

function verifyItems(items: ReadonlyArray<Step | Inspection>, links: Map<string, RuleLink>): void {
  for (const item of items) {
    verifyItemRules(item.name, 'materials', item.expected_materials, links);
    verifyItemRules(item.name, 'products', item.expected_products, links);
  }
}

/** Copies `src` into `dst` (symlinks as symlinks), within the file and byte ceilings. */
function copyTree(src: string, dst: string): void {
  let files = 0;
  let bytes = 0;
  const go = (s: string, d: string, depth: number): void => {
    if (depth > 128) throw new IntotoError('INSPECTION_FAILED', `artifact directory nests deeper than 128 levels`);
    for (const name of readdirSync(s)) {
      const sp = join(s, name);
      const dp = join(d, name);
      if (sp === dst) continue; // the copy itself, when the artifact directory holds the temp dir
      const st = lstatSync(sp);
      if (++files > MAX_INSPECTION_COPY_FILES) throw new IntotoError('INSPECTION_FAILED', `artifact directory holds more than ${MAX_INSPECTION_COPY_FILES} entries`);
      if (st.isSymbolicLink()) symlinkSync(readlinkSync(sp), dp);
      else if (st.isDirectory()) {
        mkdirSync(dp);
        go(sp, dp, depth + 1);
      } else if (st.isFile()) {
        bytes += st.size;
        if (bytes > MAX_INSPECTION_COPY_BYTES) throw new IntotoError('INSPECTION_FAILED', `artifact directory is larger than ${MAX_INSPECTION_COPY_BYTES} bytes`);
        copyFileSync(sp, dp);
      }
    }
  };
  go(src, dst, 0);
}

/** run_all_inspections, in a fresh working directory (see the module comment). */
function runInspections(ctx: Ctx, inspections: readonly Inspection[]): Map<string, Link> {
  const work = mkdtempSync(join(tmpdir(), 'cairn-intoto-inspect-'));
  try {
    copyTree(ctx.artifactDir, work);
    const out = new Map<string, Link>();
    for (const insp of inspections) {
      ctx.log('info', `Executing command for inspection '${insp.name}'...`);
      const materials = { ...recordArtifacts(['.'], { basePath: work }), ...ctx.finalProducts };
      let r;
      try {
        r = executeCommand(insp.run, { cwd: work, timeoutMs: ctx.inspectionTimeoutMs, env: ctx.env });
      } catch (e) {
        if (e instanceof IntotoError) {
          throw new IntotoError('INSPECTION_FAILED', `inspection '${insp.name}': ${e.message}`, { details: { inspection: insp.name, cause: e.code } });
        }
        throw e;
      }
      if (r.returnValue !== 0) {
        throw new IntotoError('INSPECTION_FAILED', `inspection '${insp.name}': got non-zero return value '${r.returnValue}' from command '${argvText(insp.run)}'`, {
          details: { inspection: insp.name, returnValue: r.returnValue, stderr: r.stderr.slice(0, 4096) },
        });
      }
      const products = { ...recordArtifacts(['.'], { basePath: work }), ...ctx.finalProducts };
      out.set(insp.name, {
        _type: 'link',
        name: insp.name,
        materials,
        products,
        byproducts: { stdout: r.stdout, stderr: r.stderr, 'return-value': r.returnValue },
        command: [...insp.run],
        environment: {},
      });
    }
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
