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
