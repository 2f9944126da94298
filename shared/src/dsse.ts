/**
 * DSSE v1 (secure-systems-lab/dsse protocol.md) pre-authentication encoding: the one home of PAE
 * for the signer, the verifier, in-toto and the log. Signatures are over PAE, never over the
 * base64 text.
 */

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN = ASCII decimal byte length. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.byteLength} `), payload]);
}
