import { isRecord } from '@cairn/shared';
import { HASH_ALGORITHMS, IN_TOTO_PAYLOAD_TYPE } from './common.ts';

/** Subjects indexed per in-toto statement (bounded: statements may list many). */
const MAX_INDEXED_SUBJECTS = 64;

/**
 * Search-index keys for the subject digests of an in-toto statement, so attestations can be
 * found by artifact hash as Rekor does. Anything unparseable simply yields no keys.
 */
export function inTotoSubjectKeys(payloadType: string, payload: Buffer): string[] {
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) return [];
  let st: unknown;
  try {
    st = JSON.parse(payload.toString('utf8')) as unknown;
  } catch {
    return [];
  }
  if (!isRecord(st) || !Array.isArray(st.subject)) return [];
  const keys: string[] = [];
  for (const s of st.subject.slice(0, MAX_INDEXED_SUBJECTS)) {
    if (!isRecord(s) || !isRecord(s.digest)) continue;
    for (const [alg, v] of Object.entries(s.digest)) {
      const known = HASH_ALGORITHMS[alg];
      if (known && typeof v === 'string' && v.length === known.length * 2 && /^[0-9a-fA-F]+$/.test(v)) keys.push(`hash:${alg}:${v.toLowerCase()}`);
    }
  }
  return keys;
}
