/**
 * `cairn intoto layout`: builds a layout from a short YAML/JSON description, so nobody writes
 * keyids by hand (the Debian 1.3.1 package has no layout tool at all; digest §2.3).
 *
 *   expires: 2027-01-01T00:00:00Z      # or expires_in_days: 30
 *   readme: build, scan, sign
 *   keys:                               # functionary name -> public key file (relative to this file)
 *     alice: keys/alice.pub
 *   steps:
 *     - name: build
 *       functionaries: [alice]          # names from `keys` (or 64-hex keyids of keys listed there)
 *       threshold: 1
 *       expected_command: tar -czf dist/app.tar.gz src      # a string (shell-split) or a list
 *       expected_materials: ["ALLOW src/*", "DISALLOW *"]   # rules as strings or token lists
 *       expected_products: [["CREATE", "dist/app.tar.gz"], "DISALLOW *"]
 *   inspect:
 *     - name: untar
 *       run: tar -xzf dist/app.tar.gz
 *       expected_materials: ["MATCH dist/app.tar.gz WITH PRODUCTS FROM build", "ALLOW *"]
 */
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { isRecord, type Clock } from '@cairn/shared';
import { IntotoError } from './errors.ts';
import { loadPublicKey, type IntotoPublicKey } from './keys.ts';
import { parseLayout, type Layout } from './models.ts';
import { readBoundedFile } from './metadata.ts';
import { unpackRule } from './rules.ts';

export const MAX_DESCRIPTION_BYTES = 1024 * 1024;
const MAX_SHLEX_INPUT = 64 * 1024;

/** POSIX `shlex.split` (what python-in-toto uses for rule and command strings). */
export function shlexSplit(s: string): string[] {
  if (s.length > MAX_SHLEX_INPUT) throw new IntotoError('MALFORMED_DESCRIPTION', 'string too long to split');
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      // Python's shlex (not the POSIX shell): inside "..." a backslash escapes only " and \\.
      else if (c === '\\' && i + 1 < s.length && (s[i + 1] === '"' || s[i + 1] === '\\')) cur += s[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 >= s.length) throw new IntotoError('MALFORMED_DESCRIPTION', `no escaped character in ${JSON.stringify(s)}`);
      cur += s[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new IntotoError('MALFORMED_DESCRIPTION', `no closing quotation in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}

function argv(v: unknown, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return shlexSplit(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  throw new IntotoError('MALFORMED_DESCRIPTION', `${what} must be a string or a list of strings`);
}

function rules(v: unknown, what: string): string[][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new IntotoError('MALFORMED_DESCRIPTION', `${what} must be a list of rules`);
  return (v as unknown[]).map((r, i) => {
    const tokens: unknown = typeof r === 'string' ? shlexSplit(r) : r;
    try {
      unpackRule(tokens, 'MALFORMED_DESCRIPTION');
    } catch (e) {
      if (e instanceof IntotoError) throw new IntotoError('MALFORMED_DESCRIPTION', `${what}[${i}]: ${e.message}`);
      throw e;
    }
    return [...(tokens as string[])];
  });
}

function formatExpires(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Builds (and validates through the same parser verification uses) an unsigned layout. */
export function layoutFromDescription(text: string, baseDir: string, clock: Clock): Layout {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch {
    throw new IntotoError('MALFORMED_DESCRIPTION', 'layout description is not valid YAML or JSON');
  }
  if (!isRecord(doc)) throw new IntotoError('MALFORMED_DESCRIPTION', 'layout description must be a mapping');
  let expires: string;
  if (typeof doc.expires === 'string') expires = doc.expires;
  else if (doc.expires instanceof Date) expires = formatExpires(doc.expires);
  else if (doc.expires === undefined) {
    const days = doc.expires_in_days ?? 30;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > 3660) {
      throw new IntotoError('MALFORMED_DESCRIPTION', 'expires_in_days must be an integer from 1 to 3660');
    }
    expires = formatExpires(new Date(clock.now().getTime() + days * 86_400_000));
  } else throw new IntotoError('MALFORMED_DESCRIPTION', 'expires must be a YYYY-MM-DDTHH:MM:SSZ string');

  const named = new Map<string, IntotoPublicKey>();
  const keysDoc = doc.keys ?? {};
  if (!isRecord(keysDoc)) throw new IntotoError('MALFORMED_DESCRIPTION', 'keys must map functionary names to public key files');
  for (const [name, path] of Object.entries(keysDoc)) {
    if (typeof path !== 'string') throw new IntotoError('MALFORMED_DESCRIPTION', `keys.${name} must be a file path`);
    named.set(name, loadPublicKey(isAbsolute(path) ? path : join(baseDir, path)));
  }
  const byId = new Map([...named.values()].map((k) => [k.keyid, k]));
  const resolve = (ref: unknown, where: string): string => {
    if (typeof ref !== 'string') throw new IntotoError('MALFORMED_DESCRIPTION', `${where}: functionaries are names or keyids`);
    const k = named.get(ref) ?? byId.get(ref);
    if (!k) throw new IntotoError('MALFORMED_DESCRIPTION', `${where}: unknown functionary '${ref}' (list its key under keys)`);
    return k.keyid;
  };
  const stepsDoc = doc.steps ?? [];
  const inspectDoc = doc.inspect ?? [];
  if (!Array.isArray(stepsDoc) || !Array.isArray(inspectDoc)) throw new IntotoError('MALFORMED_DESCRIPTION', 'steps and inspect must be lists');
  const steps = stepsDoc.map((s: unknown, i: number) => {
    if (!isRecord(s) || typeof s.name !== 'string') throw new IntotoError('MALFORMED_DESCRIPTION', `steps[${i}] needs a name`);
    const where = `step '${s.name}'`;
    const fs = s.functionaries ?? s.pubkeys ?? [];
    if (!Array.isArray(fs)) throw new IntotoError('MALFORMED_DESCRIPTION', `${where}: functionaries must be a list`);
    const pubkeys = [...new Set(fs.map((f: unknown) => resolve(f, where)))];
    return {
      _type: 'step',
      name: s.name,
      threshold: s.threshold ?? 1,
      pubkeys,
      expected_command: argv(s.expected_command, `${where} expected_command`),
      expected_materials: rules(s.expected_materials, `${where} expected_materials`),
      expected_products: rules(s.expected_products, `${where} expected_products`),
    };
  });
  const inspect = inspectDoc.map((s: unknown, i: number) => {
    if (!isRecord(s) || typeof s.name !== 'string') throw new IntotoError('MALFORMED_DESCRIPTION', `inspect[${i}] needs a name`);
    const where = `inspection '${s.name}'`;
    return {
      _type: 'inspection',
      name: s.name,
      run: argv(s.run, `${where} run`),
      expected_materials: rules(s.expected_materials, `${where} expected_materials`),
      expected_products: rules(s.expected_products, `${where} expected_products`),
    };
  });
  const keys: Record<string, unknown> = {};
  // Every listed key goes into the layout, used by a step or not (the description says so).
  for (const id of [...byId.keys()].sort()) {
    const k = byId.get(id)!;
    keys[id] = { keyid: id, ...k.metadata, keyval: { ...k.metadata.keyval } };
  }
  const candidate = { _type: 'layout', expires, readme: doc.readme ?? '', keys, steps, inspect };
  try {
    return parseLayout(candidate).layout;
  } catch (e) {
    if (e instanceof IntotoError && e.code === 'MALFORMED_LAYOUT') throw new IntotoError('MALFORMED_DESCRIPTION', e.message);
    throw e;
  }
}

export function loadDescription(path: string, clock: Clock): Layout {
  const text = readBoundedFile(path, MAX_DESCRIPTION_BYTES, 'layout description').toString('utf8');
  return layoutFromDescription(text, dirname(path), clock);
}
