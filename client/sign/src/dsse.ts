/**
 * DSSE v1 (secure-systems-lab/dsse protocol.md): the envelope JSON. The pre-authentication
 * encoding signatures are over is `@cairn/shared/dsse`'s (re-exported here for callers).
 */
import type { DsseEnvelopeJson } from './bundle.ts';

export { pae } from '@cairn/shared/dsse';

/** The envelope with one signature; `keyid` left out when empty, as sigstore-js serializes it. */
export function envelopeJson(payloadType: string, payload: Uint8Array, signature: Uint8Array, keyid = ''): DsseEnvelopeJson {
  const sig: { sig: string; keyid?: string } = { sig: Buffer.from(signature).toString('base64') };
  if (keyid !== '') sig.keyid = keyid;
  return { payload: Buffer.from(payload).toString('base64'), payloadType, signatures: [sig] };
}
