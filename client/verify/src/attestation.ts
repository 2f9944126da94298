/**
 * Policy on a verified in-toto statement: its predicate type, and conditions on predicate fields
 * (`path=value`, `path=equals:value`, `path=glob:pattern`, `path=one-of:a,b,c`). Globs are matched
 * by a bounded dynamic-programming matcher, never by a RegExp built from the pattern.
 */
import { isRecord } from '@cairn/shared';
// One alias table for signing and verifying (cosign's --type aliases; slsaprovenance = SLSA v1).
import { SLSA_PROVENANCE_V1, resolvePredicateType as resolveType } from '@cairn/shared/statement';
import { fail } from './errors.ts';

export { SLSA_PROVENANCE_V1 };

export const CONDITION_LIMITS = {
  maxConditions: 32,
  maxConditionChars: 2048,
  maxPathSegments: 16,
  maxPatternChars: 512,
  maxValueChars: 8192,
  maxOneOf: 64,
} as const;

/**
 * `equals`, `glob` and `one-of` are what `--condition` writes; the others are Kyverno's operators
 * (NotEquals, NotIn, AnyIn, AllIn, AnyNotIn, AllNotIn, GreaterThan[OrEquals], LessThan[OrEquals]),
 * which the admission policies map onto this one model. The `any-*`/`all-*` operators also take a
 * predicate field that is an array of scalars; the numeric ones compare numbers only.
 */
export type ConditionOp = 'equals' | 'glob' | 'one-of' | 'not-equals' | 'not-one-of' | 'any-in' | 'all-in' | 'any-not-in' | 'all-not-in' | 'gt' | 'gte' | 'lt' | 'lte';

export const CONDITION_OPS: readonly ConditionOp[] = ['equals', 'glob', 'one-of', 'not-equals', 'not-one-of', 'any-in', 'all-in', 'any-not-in', 'all-not-in', 'gt', 'gte', 'lt', 'lte'];
const LIST_OPS: readonly ConditionOp[] = ['one-of', 'not-one-of', 'any-in', 'all-in', 'any-not-in', 'all-not-in'];

/** Builds a condition from parts (the admission policy readers); the same limits as parseCondition. */
export function makeCondition(path: readonly string[], op: ConditionOp, values: readonly string[], source: string): Condition {
  if (!CONDITION_OPS.includes(op)) fail('POLICY_INVALID', `unknown condition operator ${String(op).slice(0, 40)}`);
  if (path.length === 0 || path.length > CONDITION_LIMITS.maxPathSegments || !path.every((s) => SEGMENT_RE.test(s))) {
    fail('POLICY_INVALID', `condition path "${path.join('.').slice(0, 80)}" must be 1-${CONDITION_LIMITS.maxPathSegments} field names`);
  }
  if (values.length === 0 || values.length > CONDITION_LIMITS.maxOneOf || (!LIST_OPS.includes(op) && values.length !== 1)) {
    fail('POLICY_INVALID', `condition "${source.slice(0, 80)}": ${LIST_OPS.includes(op) ? `1-${CONDITION_LIMITS.maxOneOf} values` : 'one value'}`);
  }
  if (values.some((v) => v.length > CONDITION_LIMITS.maxValueChars)) fail('POLICY_INVALID', `a condition value is longer than ${CONDITION_LIMITS.maxValueChars} characters`);
  if (op === 'glob' && values[0]!.length > CONDITION_LIMITS.maxPatternChars) fail('POLICY_INVALID', `a glob is longer than ${CONDITION_LIMITS.maxPatternChars} characters`);
  if (['gt', 'gte', 'lt', 'lte'].includes(op) && !Number.isFinite(Number(values[0]))) fail('POLICY_INVALID', `condition "${source.slice(0, 80)}": ${op} compares with a number`);
  return { path: [...path], op, values: [...values], source };
}

export interface Condition {
  path: string[];
  op: ConditionOp;
  values: string[];
  source: string;
}

const SEGMENT_RE = /^[A-Za-z0-9_@$-]{1,128}$/;

/** An alias or an absolute URI, as the signer accepts them; anything else is POLICY_INVALID. */
export function resolvePredicateType(t: string): string {
  const r = resolveType(t);
  if ('error' in r) fail('POLICY_INVALID', r.error);
  return r.type;
}

/** Parses `path=[op:]value` as written on the command line. */
export function parseCondition(text: string): Condition {
  if (text.length > CONDITION_LIMITS.maxConditionChars) fail('POLICY_INVALID', `a condition is longer than ${CONDITION_LIMITS.maxConditionChars} characters`);
  const eq = text.indexOf('=');
  if (eq <= 0) fail('POLICY_INVALID', `condition "${text.slice(0, 80)}" must look like path=value, path=glob:pattern or path=one-of:a,b`);
  const path = text.slice(0, eq).split('.');
  if (path.length > CONDITION_LIMITS.maxPathSegments || !path.every((s) => SEGMENT_RE.test(s))) {
    fail('POLICY_INVALID', `condition path "${text.slice(0, eq).slice(0, 80)}" must be dot-separated field names (at most ${CONDITION_LIMITS.maxPathSegments})`);
  }
  const rest = text.slice(eq + 1);
  let op: ConditionOp = 'equals';
  let value = rest;
  for (const prefix of ['equals', 'glob', 'one-of'] as const) {
    if (rest.startsWith(`${prefix}:`)) {
      op = prefix;
      value = rest.slice(prefix.length + 1);
      break;
    }
  }
  let values: string[];
  if (op === 'one-of') {
    values = value.split(',');
    if (values.length > CONDITION_LIMITS.maxOneOf) fail('POLICY_INVALID', `one-of takes at most ${CONDITION_LIMITS.maxOneOf} values`);
  } else {
    values = [value];
  }
  if (op === 'glob' && value.length > CONDITION_LIMITS.maxPatternChars) fail('POLICY_INVALID', `a glob is longer than ${CONDITION_LIMITS.maxPatternChars} characters`);
  return { path, op, values, source: text };
}

type GlobToken = { kind: 'lit'; ch: string } | { kind: 'star' } | { kind: 'globstar' } | { kind: 'any' };

function tokenize(pattern: string): GlobToken[] {
  const out: GlobToken[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\' && i + 1 < chars.length) out.push({ kind: 'lit', ch: chars[++i]! });
    else if (c === '*' && chars[i + 1] === '*') {
      out.push({ kind: 'globstar' });
      while (chars[i + 1] === '*') i++;
    } else if (c === '*') out.push({ kind: 'star' });
    else if (c === '?') out.push({ kind: 'any' });
    else out.push({ kind: 'lit', ch: c });
  }
  return out;
}

/**
 * Glob match: `*` any run without '/', `**` any run, `?` one character other than '/', `\x` a
 * literal x; the whole value must match. O(pattern x value) time and O(value) memory.
 */
export function globMatch(pattern: string, value: string): boolean {
  if (pattern.length > CONDITION_LIMITS.maxPatternChars || value.length > CONDITION_LIMITS.maxValueChars) return false;
  const toks = tokenize(pattern);
  const v = [...value];
  // prev[j]: tokens[0..i) match v[0..j)
  let prev = new Array<boolean>(v.length + 1).fill(false);
  prev[0] = true;
  for (const t of toks) {
    const cur = new Array<boolean>(v.length + 1).fill(false);
    if (t.kind === 'star' || t.kind === 'globstar') {
      cur[0] = prev[0]!;
      for (let j = 1; j <= v.length; j++) {
        cur[j] = prev[j]! || (cur[j - 1]! && (t.kind === 'globstar' || v[j - 1] !== '/'));
      }
    } else {
      for (let j = 1; j <= v.length; j++) {
        const ch = v[j - 1]!;
        cur[j] = prev[j - 1]! && (t.kind === 'any' ? ch !== '/' : ch === t.ch);
      }
    }
    prev = cur;
  }
  return prev[v.length]!;
}

function lookup(root: unknown, path: readonly string[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (Array.isArray(cur) && /^[0-9]{1,6}$/.test(seg)) cur = cur[Number(seg)];
    else if (isRecord(cur) && Object.prototype.hasOwnProperty.call(cur, seg)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

function scalar(v: unknown): string | undefined {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

export function evaluateCondition(predicate: unknown, c: Condition): boolean {
  const v = lookup(predicate, c.path);
  if (c.op === 'any-in' || c.op === 'all-in' || c.op === 'any-not-in' || c.op === 'all-not-in') {
    const items = Array.isArray(v) ? v.slice(0, CONDITION_LIMITS.maxOneOf * 16).map(scalar) : [scalar(v)];
    if (items.length === 0 || items.some((i) => i === undefined)) return false;
    const inList = (i: string | undefined): boolean => c.values.includes(i!);
    switch (c.op) {
      case 'any-in':
        return items.some(inList);
      case 'all-in':
        return items.every(inList);
      case 'any-not-in':
        return items.some((i) => !inList(i));
      case 'all-not-in':
        return items.every((i) => !inList(i));
    }
  }
  const s = scalar(v);
  if (s === undefined) return false;
  switch (c.op) {
    case 'equals':
      return s === c.values[0];
    case 'not-equals':
      return s !== c.values[0];
    case 'one-of':
      return c.values.includes(s);
    case 'not-one-of':
      return !c.values.includes(s);
    case 'glob':
      return globMatch(c.values[0]!, s);
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (typeof v !== 'number' && !(typeof v === 'string' && /^-?[0-9]+(?:\.[0-9]+)?$/.test(v))) return false;
      const a = Number(v);
      const b = Number(c.values[0]);
      return c.op === 'gt' ? a > b : c.op === 'gte' ? a >= b : c.op === 'lt' ? a < b : a <= b;
    }
  }
}

/** Checks predicate type and every condition; throws PREDICATE_TYPE_MISMATCH / CONDITION_FAILED. */
export function checkAttestation(statement: Record<string, unknown>, predicateType: string | undefined, conditions: readonly Condition[]): void {
  if (conditions.length > CONDITION_LIMITS.maxConditions) fail('POLICY_INVALID', `at most ${CONDITION_LIMITS.maxConditions} conditions`);
  if (predicateType !== undefined) {
    const want = resolvePredicateType(predicateType);
    if (statement.predicateType !== want) {
      fail('PREDICATE_TYPE_MISMATCH', `the attestation's predicate type is "${String(statement.predicateType).slice(0, 200)}", expected "${want}"`);
    }
  }
  for (const c of conditions) {
    if (!evaluateCondition(statement.predicate, c)) {
      const actual = lookup(statement.predicate, c.path);
      fail('CONDITION_FAILED', `condition "${c.source}" does not hold (predicate.${c.path.join('.')} is ${JSON.stringify(actual ?? null).slice(0, 200)})`);
    }
  }
}
