/**
 * Service selection from a Sigstore `signing_config` v0.2 (reference §6.2): keep services whose
 * majorApiVersion this client speaks (CA 1 = Fulcio v2 REST; Rekor 1) and whose validFor holds
 * now, then take the one with the newest validFor.start, as sigstore-js does.
 */
import { isRecord } from '@cairn/shared';
import { SignError } from './errors.ts';

export const SIGNING_CONFIG_V02_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';
export const MAX_SERVICES = 64;
/** The API versions this client speaks, per service list. */
const SUPPORTED = { caUrls: 1, rekorTlogUrls: 1 } as const;
const MAX_VERSION = { caUrls: 1, rekorTlogUrls: 2, tsaUrls: 1 } as const;

function time(v: unknown, what: string): number {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new SignError('INPUT_INVALID', `${what} is not an RFC 3339 time`);
  return ms;
}

function select(config: Record<string, unknown>, list: keyof typeof SUPPORTED, now: Date): string {
  const services = config[list];
  if (!Array.isArray(services) || services.length > MAX_SERVICES) throw new SignError('INPUT_INVALID', `the signing config ${list} is not a bounded list`);
  const candidates: { url: string; start: number }[] = [];
  for (const s of services) {
    if (!isRecord(s) || typeof s.url !== 'string' || typeof s.majorApiVersion !== 'number' || !isRecord(s.validFor)) {
      throw new SignError('INPUT_INVALID', `a ${list} service lacks url, majorApiVersion or validFor`);
    }
    if (s.majorApiVersion !== SUPPORTED[list]) continue;
    const start = time(s.validFor.start, `${list} validFor.start`);
    const end = s.validFor.end === undefined ? undefined : time(s.validFor.end, `${list} validFor.end`);
    if (end !== undefined && end < now.getTime()) continue;
    candidates.push({ url: s.url, start });
  }
  candidates.sort((a, b) => b.start - a.start);
  const chosen = candidates[0];
  if (chosen === undefined) throw new SignError('URL_MISSING', `the signing config has no current ${list} entry with majorApiVersion ${SUPPORTED[list]}`);
  return chosen.url;
}

/** The CA and Rekor v1 URLs a signing config names for `now`. */
export function urlsFromSigningConfig(json: unknown, now: Date): { fulcioUrl: string; rekorUrl: string } {
  if (!isRecord(json)) throw new SignError('INPUT_INVALID', 'the signing config is not a JSON object');
  if (json.mediaType !== SIGNING_CONFIG_V02_MEDIA_TYPE) throw new SignError('INPUT_INVALID', `the signing config media type must be ${SIGNING_CONFIG_V02_MEDIA_TYPE}`);
  return { fulcioUrl: select(json, 'caUrls', now), rekorUrl: select(json, 'rekorTlogUrls', now) };
}

export interface SigningPlan {
  fulcioUrl: string;
  rekorUrl: string;
  rekorVersion: 1 | 2;
  /** Present when the config lists a TSA (and `tsaConfig`, which makes sigstore-js use it). */
  tsaUrl?: string;
}

interface Candidate {
  url: string;
  version: number;
  start: number;
}

function candidates(config: Record<string, unknown>, list: keyof typeof MAX_VERSION, now: Date, version?: number): Candidate[] {
  const services = config[list] ?? [];
  if (!Array.isArray(services) || services.length > MAX_SERVICES) throw new SignError('INPUT_INVALID', `the signing config ${list} is not a bounded list`);
  const out: Candidate[] = [];
  for (const s of services) {
    if (!isRecord(s) || typeof s.url !== 'string' || typeof s.majorApiVersion !== 'number' || !isRecord(s.validFor)) {
      throw new SignError('INPUT_INVALID', `a ${list} service lacks url, majorApiVersion or validFor`);
    }
    if (s.majorApiVersion < 1 || s.majorApiVersion > MAX_VERSION[list] || (version !== undefined && s.majorApiVersion !== version)) continue;
    const start = time(s.validFor.start, `${list} validFor.start`);
    const end = s.validFor.end === undefined ? undefined : time(s.validFor.end, `${list} validFor.end`);
    if (start > now.getTime() || (end !== undefined && end < now.getTime())) continue;
    out.push({ url: s.url, version: s.majorApiVersion, start });
  }
  // protobuf-specs SigningConfig: the highest API version the client speaks, then the newest start.
  return out.sort((a, b) => b.version - a.version || b.start - a.start);
}

/**
 * Everything a signing config says about signing `now` (reference §6.2): the CA, the log and the
 * Rekor API to write it with (v2 if listed and current, unless `rekorVersion` pins one), and the
 * TSA. A v2 log is only taken together with a TSA: a keyless v2 entry without a timestamp never
 * verifies (§3.5), so a config listing v2 without a TSA falls back to its v1 log.
 */
export function planFromSigningConfig(json: unknown, now: Date, o: { rekorVersion?: 1 | 2 } = {}): SigningPlan {
  if (!isRecord(json)) throw new SignError('INPUT_INVALID', 'the signing config is not a JSON object');
  if (json.mediaType !== SIGNING_CONFIG_V02_MEDIA_TYPE) throw new SignError('INPUT_INVALID', `the signing config media type must be ${SIGNING_CONFIG_V02_MEDIA_TYPE}`);
  const ca = candidates(json, 'caUrls', now)[0];
  if (ca === undefined) throw new SignError('URL_MISSING', 'the signing config has no current caUrls entry with majorApiVersion 1');
  const tsa = isRecord(json.tsaConfig) ? candidates(json, 'tsaUrls', now)[0] : undefined;
  let logs = candidates(json, 'rekorTlogUrls', now, o.rekorVersion);
  if (tsa === undefined && o.rekorVersion === undefined) logs = logs.filter((l) => l.version === 1);
  const log = logs[0];
  if (log === undefined) throw new SignError('URL_MISSING', `the signing config has no current rekorTlogUrls entry${o.rekorVersion !== undefined ? ` with majorApiVersion ${o.rekorVersion}` : ''}`);
  return { fulcioUrl: ca.url, rekorUrl: log.url, rekorVersion: log.version === 2 ? 2 : 1, ...(tsa !== undefined ? { tsaUrl: tsa.url } : {}) };
}
