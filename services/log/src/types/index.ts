/** Rekor v1 ProposedEntry dispatch: {apiVersion, kind, spec} to the kind's preparer. */
import { LogError } from '../errors.ts';
import { bad, obj, only, str, type PreparedEntry } from './common.ts';
import { prepareDsse001 } from './dsse.ts';
import { prepareHashedRekord001 } from './hashedrekord.ts';
import { prepareIntoto002 } from './intoto.ts';

const KINDS: Record<string, Record<string, (spec: unknown) => PreparedEntry>> = {
  hashedrekord: { '0.0.1': prepareHashedRekord001 },
  dsse: { '0.0.1': prepareDsse001 },
  intoto: { '0.0.2': prepareIntoto002 },
};

/**
 * A request body as the write routes receive it (raw bytes, parsed where the entry is prepared:
 * possibly a worker thread) to its JSON value, as express.json would give it: an empty body is {}.
 */
export function parseJsonBody(body: unknown): unknown {
  if (!(body instanceof Uint8Array)) return body;
  if (body.length === 0) return {};
  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as unknown;
  } catch {
    throw new LogError('INVALID_JSON', 'request body is not valid JSON');
  }
}

export function prepareProposedEntry(input: unknown): PreparedEntry {
  const entry = obj(input, 'proposed entry');
  only(entry, ['apiVersion', 'kind', 'spec'], 'proposed entry');
  const kind = str(entry.kind, 'kind');
  const versions = Object.hasOwn(KINDS, kind) ? KINDS[kind] : undefined;
  if (!versions) throw new LogError('UNSUPPORTED_KIND', `kind ${kind} is not supported (hashedrekord, dsse, intoto)`);
  const version = str(entry.apiVersion, 'apiVersion');
  const prepare = Object.hasOwn(versions, version) ? versions[version] : undefined;
  if (!prepare) throw new LogError('UNSUPPORTED_VERSION', `${kind} apiVersion ${version} is not supported`);
  if (entry.spec === undefined) bad('spec is missing');
  return prepare(entry.spec);
}

export { prepareV2Request, KEY_DETAILS } from './v2.ts';
export type { PreparedEntry } from './common.ts';
