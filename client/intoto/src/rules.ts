/**
 * Artifact rules: the grammar of in_toto/rulelib.py `unpack_rule` and the queue semantics of
 * verifylib.py `verify_item_rules` (spec §4.3.3; digest §1.4-1.5).
 */
import { fnmatchFilter, MAX_PATTERN_LENGTH } from './fnmatch.ts';
import { IntotoError, type IntotoErrorCode } from './errors.ts';

export type HashDict = Record<string, string>;
export type ArtifactMap = Record<string, HashDict>;

export type Rule =
  | { type: 'create' | 'delete' | 'modify' | 'allow' | 'disallow' | 'require'; pattern: string }
  | { type: 'match'; pattern: string; sourcePrefix: string; destType: 'materials' | 'products'; destPrefix: string; destName: string };

const GENERIC = new Set(['create', 'delete', 'modify', 'allow', 'disallow', 'require']);

/** Parses one rule (a list of string tokens); keywords are case-insensitive, operands are not. */
export function unpackRule(rule: unknown, code: IntotoErrorCode = 'MALFORMED_LAYOUT'): Rule {
  if (!Array.isArray(rule) || !rule.every((t) => typeof t === 'string')) {
    throw new IntotoError(code, `a rule must be a list of strings, got ${JSON.stringify(rule)?.slice(0, 200)}`);
  }
  const r = rule;
  const lower = r.map((t) => t.toLowerCase());
  const type = lower[0];
  if (r.length < 2 || type === undefined || !(GENERIC.has(type) || type === 'match')) {
    throw new IntotoError(code, `rules start with MATCH, CREATE, DELETE, MODIFY, ALLOW, DISALLOW or REQUIRE and name a pattern: ${JSON.stringify(r)}`);
  }
  const pattern = r[1]!;
  if (pattern.length > MAX_PATTERN_LENGTH) throw new IntotoError(code, `rule pattern longer than ${MAX_PATTERN_LENGTH} characters`);
  if (GENERIC.has(type)) {
    if (r.length !== 2) throw new IntotoError(code, `generic rules have exactly two elements: ${JSON.stringify(r)}`);
    return { type: type as 'allow', pattern };
  }
  let sourcePrefix = '';
  let destPrefix = '';
  let destType: string;
  let destName: string;
  if (r.length === 10 && lower[2] === 'in' && lower[4] === 'with' && lower[6] === 'in' && lower[8] === 'from') {
    sourcePrefix = r[3]!;
    destType = lower[5]!;
    destPrefix = r[7]!;
    destName = r[9]!;
  } else if (r.length === 8 && lower[2] === 'in' && lower[4] === 'with' && lower[6] === 'from') {
    sourcePrefix = r[3]!;
    destType = lower[5]!;
    destName = r[7]!;
  } else if (r.length === 8 && lower[2] === 'with' && lower[4] === 'in' && lower[6] === 'from') {
    destType = lower[3]!;
    destPrefix = r[5]!;
    destName = r[7]!;
  } else if (r.length === 6 && lower[2] === 'with' && lower[4] === 'from') {
    destType = lower[3]!;
    destName = r[5]!;
  } else {
    throw new IntotoError(code, `MATCH rules read MATCH <pattern> [IN <prefix>] WITH (MATERIALS|PRODUCTS) [IN <prefix>] FROM <step>: ${JSON.stringify(r)}`);
  }
  if (destType !== 'materials' && destType !== 'products') {
    throw new IntotoError(code, `MATCH rules take MATERIALS or PRODUCTS as destination: ${JSON.stringify(r)}`);
  }
  return { type: 'match', pattern, sourcePrefix, destType, destPrefix, destName };
}

/** The parts of a link the rules look at. */
export interface RuleLink {
  materials: ArtifactMap;
  products: ArtifactMap;
}

export interface TraceEntry {
  rule: string[];
  queue: string[];
}

export interface RuleFailureDetails {
  item: string;
  list: 'expected_materials' | 'expected_products';
  rule: string;
  artifacts: string[];
  trace: string;
  [k: string]: unknown;
}

function sameHashes(a: HashDict | undefined, b: HashDict | undefined): boolean {
  if (!a || !b) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}

/** os.path.join(prefix, rest) for the relative POSIX paths in links. */
function joinPath(prefix: string, rest: string): string {
  if (rest.startsWith('/')) return rest;
  if (prefix === '' || prefix.endsWith('/')) return prefix + rest;
  return prefix + '/' + rest;
}

function has(map: ArtifactMap, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(map, k);
}

function formatList(xs: string[]): string {
  return '[' + xs.map((x) => `'${x}'`).join(', ') + ']';
}

/**
 * verify_item_rules: applies `rules` in order to the item's materials or products. Each rule
 * consumes paths from the queue; only DISALLOW and REQUIRE fail. An implicit ALLOW * ends the list.
 */
export function verifyItemRules(
  itemName: string,
  sourceType: 'materials' | 'products',
  rules: readonly (readonly string[])[],
  links: ReadonlyMap<string, RuleLink>,
): void {
  const link = links.get(itemName);
  if (!link) throw new IntotoError('RULE_VIOLATION', `no link for item '${itemName}'`);
  const materials = link.materials;
  const products = link.products;
  const artifacts = sourceType === 'materials' ? materials : products;
  const queue = new Set(Object.keys(artifacts));
  const trace: TraceEntry[] = [];
  const traceText = (): string => {
    let s = `Full trace for 'expected_${sourceType}' of item '${itemName}':\n`;
    s += `Available materials${sourceType === 'materials' ? ' (used for queue)' : ''}:\n${formatList(Object.keys(materials))}\n`;
    s += `Available products${sourceType === 'products' ? ' (used for queue)' : ''}:\n${formatList(Object.keys(products))}\n`;
    for (const t of trace) s += `Queue after '${t.rule.join(' ')}':\n${formatList(t.queue)}\n`;
    return s;
  };
  const fail = (ruleText: string, matched: string[], message: string): never => {
    const details: RuleFailureDetails = { item: itemName, list: `expected_${sourceType}`, rule: ruleText, artifacts: matched, trace: traceText() };
    throw new IntotoError('RULE_VIOLATION', message, { details });
  };
  for (const raw of rules) {
    const rule = unpackRule(raw);
    const q = [...queue].sort();
    let consumed: string[] = [];
    switch (rule.type) {
      case 'match': {
        const dest = links.get(rule.destName);
        if (!dest) break; // a MATCH against a step with no link consumes nothing
        const destArtifacts = rule.destType === 'materials' ? dest.materials : dest.products;
        let candidates = q;
        let prefix = '';
        if (rule.sourcePrefix !== '') {
          prefix = rule.sourcePrefix.endsWith('/') ? rule.sourcePrefix : rule.sourcePrefix + '/';
          candidates = q.filter((p) => p.startsWith(prefix)).map((p) => p.slice(prefix.length));
        }
        for (const rel of fnmatchFilter(candidates, rule.pattern)) {
          const src = rule.sourcePrefix !== '' ? joinPath(rule.sourcePrefix, rel) : rel;
          const dst = rule.destPrefix !== '' ? joinPath(rule.destPrefix, rel) : rel;
          if (!has(destArtifacts, dst)) continue;
          if (!sameHashes(artifacts[src], destArtifacts[dst])) continue;
          consumed.push(src);
        }
        break;
      }
      case 'create':
        consumed = fnmatchFilter(q, rule.pattern).filter((p) => has(products, p) && !has(materials, p));
        break;
      case 'delete':
        consumed = fnmatchFilter(q, rule.pattern).filter((p) => has(materials, p) && !has(products, p));
        break;
      case 'modify':
        consumed = fnmatchFilter(q, rule.pattern).filter((p) => has(materials, p) && has(products, p) && !sameHashes(materials[p], products[p]));
        break;
      case 'allow':
        consumed = fnmatchFilter(q, rule.pattern);
        break;
      case 'disallow': {
        const matched = fnmatchFilter(q, rule.pattern);
        if (matched.length > 0) {
          fail(`DISALLOW ${rule.pattern}`, matched, `'DISALLOW ${rule.pattern}' matched the following artifacts: ${formatList(matched)}`);
        }
        break;
      }
      case 'require':
        if (!queue.has(rule.pattern)) {
          fail(`REQUIRE ${rule.pattern}`, [rule.pattern], `'REQUIRE ${rule.pattern}' did not find ${rule.pattern} in: ${formatList(q)}`);
        }
        break;
    }
    for (const c of consumed) queue.delete(c);
    trace.push({ rule: [...raw], queue: [...queue].sort() });
  }
}
