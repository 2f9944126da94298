/**
 * Link and layout models (in-toto spec §4.3-4.4; python-in-toto models/*.py). Parsing checks every
 * field and fills the reference's defaults; `linkToSignable` / `layoutToSignable` rebuild exactly
 * the object python-in-toto signs (`attr.asdict` of the model: unknown fields dropped, defaults
 * present), so classic signatures agree with the reference byte for byte.
 */
import { isRecord } from '@cairn/shared';
import { IntotoError, type IntotoErrorCode } from './errors.ts';
import { keyidOf, publicKeyFromMetadata, type IntotoPublicKey } from './keys.ts';
import { unpackRule, type ArtifactMap } from './rules.ts';

/** Bounds on attacker-controlled metadata (anything larger is rejected, not truncated). */
export const MAX_STEPS = 256;
export const MAX_RULES_PER_LIST = 1024;
export const MAX_KEYS = 256;
export const MAX_ARTIFACTS_PER_LINK = 1_000_000;
export const MAX_COMMAND_ARGS = 4096;

export interface Link {
  _type: 'link';
  name: string;
  materials: ArtifactMap;
  products: ArtifactMap;
  byproducts: Record<string, unknown>;
  command: string[];
  environment: Record<string, unknown>;
}

export interface Step {
  _type: 'step';
  name: string;
  threshold: number;
  pubkeys: string[];
  expected_command: string[];
  expected_materials: string[][];
  expected_products: string[][];
}

export interface Inspection {
  _type: 'inspection';
  name: string;
  run: string[];
  expected_materials: string[][];
  expected_products: string[][];
}

export interface Layout {
  _type: 'layout';
  expires: string;
  readme: string;
  /** keyid -> key object exactly as in the layout (signed as is). */
  keys: Record<string, Record<string, unknown>>;
  steps: Step[];
  inspect: Inspection[];
}

/** ISO8601_DATETIME_SCHEMA of securesystemslib: `YYYY-MM-DDTHH:MM:SSZ`. */
const EXPIRES_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const KEYID_RE = /^[0-9a-f]{64}$/;
const HEX_RE = /^[0-9a-fA-F]+$/;

function bad(code: IntotoErrorCode, msg: string): never {
  throw new IntotoError(code, msg);
}

function stringList(v: unknown, what: string, code: IntotoErrorCode, max = MAX_COMMAND_ARGS): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > max || !v.every((x) => typeof x === 'string')) bad(code, `${what} must be a list of strings`);
  return [...(v)];
}

function ruleList(v: unknown, what: string, code: IntotoErrorCode): string[][] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_RULES_PER_LIST) bad(code, `${what} must be a list of rules`);
  return (v as unknown[]).map((r) => {
    unpackRule(r, code);
    return [...(r as string[])];
  });
}

function artifactMap(v: unknown, what: string): ArtifactMap {
  if (v === undefined) return {};
  if (!isRecord(v)) bad('MALFORMED_LINK', `${what} must be an object`);
  const keys = Object.keys(v);
  if (keys.length > MAX_ARTIFACTS_PER_LINK) bad('MALFORMED_LINK', `${what} lists more than ${MAX_ARTIFACTS_PER_LINK} artifacts`);
  const out: ArtifactMap = {};
  for (const k of keys) {
    const h = v[k];
    // HASHDICT_SCHEMA: at least one algorithm, hex digests.
    if (!isRecord(h) || Object.keys(h).length === 0) bad('MALFORMED_LINK', `${what}['${k}'] must be a hash object`);
    for (const [alg, hex] of Object.entries(h)) {
      if (typeof hex !== 'string' || !HEX_RE.test(hex)) bad('MALFORMED_LINK', `${what}['${k}'].${alg} must be a hex digest`);
    }
    out[k] = { ...(h as Record<string, string>) };
  }
  return out;
}

function plainObject(v: unknown, what: string, code: IntotoErrorCode): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isRecord(v)) bad(code, `${what} must be an object`);
  return v;
}

export function parseLink(obj: unknown): Link {
  if (!isRecord(obj)) bad('MALFORMED_LINK', 'link metadata must be an object');
  if (obj._type !== 'link') bad('MALFORMED_LINK', `expected _type 'link', got ${JSON.stringify(obj._type)}`);
  if (typeof obj.name !== 'string' || obj.name === '') bad('MALFORMED_LINK', 'link name must be a non-empty string');
  return {
    _type: 'link',
    name: obj.name,
    materials: artifactMap(obj.materials, 'materials'),
    products: artifactMap(obj.products, 'products'),
    byproducts: plainObject(obj.byproducts, 'byproducts', 'MALFORMED_LINK'),
    command: stringList(obj.command, 'command', 'MALFORMED_LINK'),
    environment: plainObject(obj.environment, 'environment', 'MALFORMED_LINK'),
  };
}

function parseName(v: unknown, what: string): string {
  // Names become file names (<name>.<keyid8>.link): no separators, no traversal.
  if (typeof v !== 'string' || v === '' || v.length > 256 || v.includes('/') || v.includes('\\') || v === '.' || v === '..' || v.includes('\0')) {
    bad('MALFORMED_LAYOUT', `${what} name must be a non-empty string usable as a file name`);
  }
  return v;
}

export function parseLayout(obj: unknown): { layout: Layout; keys: Map<string, IntotoPublicKey> } {
  const code: IntotoErrorCode = 'MALFORMED_LAYOUT';
  if (!isRecord(obj)) bad(code, 'layout metadata must be an object');
  if (obj._type !== 'layout') bad(code, `expected _type 'layout', got ${JSON.stringify(obj._type)}`);
  if (typeof obj.expires !== 'string' || !EXPIRES_RE.test(obj.expires) || Number.isNaN(Date.parse(obj.expires))) {
    bad(code, `layout expires must read YYYY-MM-DDTHH:MM:SSZ, got ${JSON.stringify(obj.expires)}`);
  }
  const readme = obj.readme === undefined ? '' : obj.readme;
  if (typeof readme !== 'string') bad(code, 'layout readme must be a string');
  const rawKeys = plainObject(obj.keys, 'keys', code);
  if (Object.keys(rawKeys).length > MAX_KEYS) bad(code, `layout has more than ${MAX_KEYS} keys`);
  const keys = new Map<string, IntotoPublicKey>();
  const keyObjs: Record<string, Record<string, unknown>> = {};
  for (const [id, k] of Object.entries(rawKeys)) {
    if (!KEYID_RE.test(id)) bad(code, `layout key id ${JSON.stringify(id)} is not 64 lowercase hex characters`);
    if (!isRecord(k)) bad(code, `layout key ${id} must be an object`);
    if (k.keyid !== undefined && k.keyid !== id) bad(code, `layout key ${id} carries keyid ${JSON.stringify(k.keyid)}`);
    // UNKNOWN_KEY_TYPE and INVALID_KEY from the key parser keep their codes.
    const pub = publicKeyFromMetadata(k, `layout key ${id.slice(0, 8)}`);
    // Stricter than the reference (which trusts the map key): the id must be the key's keyid.
    if (keyidOf(pub.metadata) !== id) bad(code, `layout key ${id.slice(0, 8)} does not hash to its keyid`);
    keys.set(id, pub);
    keyObjs[id] = k;
  }
  const stepsRaw = obj.steps === undefined ? [] : obj.steps;
  const inspectRaw = obj.inspect === undefined ? [] : obj.inspect;
  if (!Array.isArray(stepsRaw) || stepsRaw.length > MAX_STEPS) bad(code, `layout steps must be a list of at most ${MAX_STEPS}`);
  if (!Array.isArray(inspectRaw) || inspectRaw.length > MAX_STEPS) bad(code, `layout inspect must be a list of at most ${MAX_STEPS}`);
  const names = new Set<string>();
  const steps: Step[] = (stepsRaw as unknown[]).map((s, i) => {
    if (!isRecord(s)) bad(code, `step ${i} must be an object`);
    const name = parseName(s.name, `step ${i}`);
    if (names.has(name)) bad(code, `step name '${name}' is used twice`);
    names.add(name);
    const threshold = s.threshold === undefined ? 1 : s.threshold;
    if (typeof threshold !== 'number' || !Number.isSafeInteger(threshold) || threshold < 1 || threshold > MAX_KEYS) {
      bad(code, `step '${name}' threshold must be an integer from 1 to ${MAX_KEYS}`);
    }
    const pubkeys = stringList(s.pubkeys, `step '${name}' pubkeys`, code, MAX_KEYS);
    for (const id of pubkeys) if (!KEYID_RE.test(id)) bad(code, `step '${name}' pubkey ${JSON.stringify(id)} is not a keyid`);
    return {
      _type: 'step',
      name,
      threshold,
      pubkeys,
      expected_command: stringList(s.expected_command, `step '${name}' expected_command`, code),
      expected_materials: ruleList(s.expected_materials, `step '${name}' expected_materials`, code),
      expected_products: ruleList(s.expected_products, `step '${name}' expected_products`, code),
    };
  });
  const inspect: Inspection[] = (inspectRaw as unknown[]).map((s, i) => {
    if (!isRecord(s)) bad(code, `inspection ${i} must be an object`);
    const name = parseName(s.name, `inspection ${i}`);
    if (names.has(name)) bad(code, `inspection name '${name}' is already used by a step or inspection`);
    names.add(name);
    return {
      _type: 'inspection',
      name,
      run: stringList(s.run, `inspection '${name}' run`, code),
      expected_materials: ruleList(s.expected_materials, `inspection '${name}' expected_materials`, code),
      expected_products: ruleList(s.expected_products, `inspection '${name}' expected_products`, code),
    };
  });
  const layout: Layout = { _type: 'layout', expires: obj.expires, readme, keys: keyObjs, steps, inspect };
  return { layout, keys };
}

/** The object python-in-toto signs for a link (Signable.signable_bytes). */
export function linkToSignable(l: Link): Record<string, unknown> {
  return {
    _type: 'link',
    name: l.name,
    materials: l.materials,
    products: l.products,
    byproducts: l.byproducts,
    command: l.command,
    environment: l.environment,
  };
}

export function layoutToSignable(l: Layout): Record<string, unknown> {
  return {
    _type: 'layout',
    expires: l.expires,
    readme: l.readme,
    keys: l.keys,
    steps: l.steps.map((s) => ({
      _type: 'step',
      name: s.name,
      threshold: s.threshold,
      pubkeys: s.pubkeys,
      expected_command: s.expected_command,
      expected_materials: s.expected_materials,
      expected_products: s.expected_products,
    })),
    inspect: l.inspect.map((s) => ({
      _type: 'inspection',
      name: s.name,
      run: s.run,
      expected_materials: s.expected_materials,
      expected_products: s.expected_products,
    })),
  };
}
