/**
 * DSSE v1 (secure-systems-lab/dsse protocol.md): the pre-authentication encoding and the
 * envelope JSON. Signatures are over PAE, never over the base64 text.
 */
import type { DsseEnvelopeJson } from './bundle.ts';

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN = ASCII decimal byte length. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.byteLength} `), payload]);
}

/** The envelope with one signature; `keyid` left out when empty, as sigstore-js serializes it. */
export function envelopeJson(payloadType: string, payload: Uint8Array, signature: Uint8Array, keyid = ''): DsseEnvelopeJson {
  const sig: { sig: string; keyid?: string } = { sig: Buffer.from(signature).toString('base64') };
  if (keyid !== '') sig.keyid = keyid;
  return { payload: Buffer.from(payload).toString('base64'), payloadType, signatures: [sig] };
}
