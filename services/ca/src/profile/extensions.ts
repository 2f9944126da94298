/**
 * Fulcio's certificate extensions (arc 1.3.6.1.4.1.57264.1, Fulcio docs/oid-info.md and
 * pkg/certificate/extensions.go). 1.1-1.6 carry the raw string bytes in extnValue (no DER);
 * 1.8 and later carry a DER UTF8String. All are non-critical: Go verifiers reject unknown
 * critical extensions.
 */
import { encodeTlv, oid, octetString, seq, bool, TAG } from '@cairn/shared/der';
import { FULCIO_EXTENSIONS, type FulcioExtensionField } from '@cairn/shared/oids';
import { fulcioOid } from './oids.ts';

export type ExtensionField = FulcioExtensionField;

export type FulcioExtensions = Partial<Record<ExtensionField, string>> & { issuer: string };

interface FieldSpec {
  field: ExtensionField;
  /** Config template key (Fulcio YAML name). */
  key: string;
  /** OID suffixes under 57264.1; the issuer has both the deprecated raw 1.1 and the DER 1.8. */
  raw?: number;
  der?: number;
}

/** In emission order: ascending OID, as observed in production certificates (the table is @cairn/shared/oids). */
export const EXTENSION_FIELDS: readonly FieldSpec[] = FULCIO_EXTENSIONS;

/** Finds a field by its config key in YAML (`build-signer-uri`) or Go/JSON (`BuildSignerURI`) spelling. */
export function fieldForKey(key: string): ExtensionField | undefined {
  const norm = key.toLowerCase().replace(/[-_]/g, '');
  return EXTENSION_FIELDS.find((f) => f.key.replace(/-/g, '') === norm)?.field;
}

/** Encoded OIDs of the profile, computed once: every certificate repeats the same few. */
const OID_CACHE = new Map<string, Buffer>();
const MAX_OID_CACHE = 256;

function cachedOid(dotted: string): Buffer {
  let der = OID_CACHE.get(dotted);
  if (!der) {
    der = oid(dotted);
    if (OID_CACHE.size < MAX_OID_CACHE) OID_CACHE.set(dotted, der);
  }
  return der;
}

/** RFC 5280 §4.1 Extension: SEQUENCE { extnID, critical DEFAULT FALSE, extnValue OCTET STRING }. */
export function extension(dottedOid: string, critical: boolean, value: Uint8Array): Buffer {
  // DER: a DEFAULT FALSE boolean is omitted (X.690 §11.5).
  const id = cachedOid(dottedOid);
  return critical ? seq(id, bool(true), octetString(value)) : seq(id, octetString(value));
}

/** Longest value we put in one extension; token claims are bounded well below this. */
export const MAX_EXTENSION_VALUE_BYTES = 4096;

/** The Fulcio extensions as DER Extension elements, in emission order. */
export function renderFulcioExtensions(ext: FulcioExtensions): Buffer[] {
  const raws: Buffer[] = [];
  const ders: Buffer[] = [];
  for (const spec of EXTENSION_FIELDS) {
    const v = ext[spec.field];
    if (v === undefined || v === '') continue;
    const bytes = Buffer.from(v, 'utf8');
    if (spec.raw !== undefined) raws.push(extension(fulcioOid(spec.raw), false, bytes));
    if (spec.der !== undefined) ders.push(extension(fulcioOid(spec.der), false, encodeTlv(TAG.UTF8_STRING, bytes)));
  }
  return [...raws, ...ders];
}
