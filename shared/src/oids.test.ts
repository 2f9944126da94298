import { test } from 'node:test';
import assert from 'node:assert/strict';
import { oidContent, oidToString } from './der.ts';
import { FULCIO_ARC, OID, fulcioOid } from './oids.ts';

test('one OID table: every value is a dotted OID that round-trips through DER, and no OID has two names', () => {
  const values = Object.values(OID);
  assert.equal(new Set(values).size, values.length, 'an OID listed twice under two names');
  for (const [name, v] of Object.entries(OID)) {
    assert.match(v, /^[0-2](\.(0|[1-9][0-9]*))+$/, name);
    assert.equal(oidToString(oidContent(v)), v, name);
  }
});

test('the Fulcio arc: issuer 1.1 and 1.8, username 1.7 (oid-info.md)', () => {
  assert.equal(fulcioOid(1), OID.fulcioIssuerV1);
  assert.equal(fulcioOid(8), OID.fulcioIssuerV2);
  assert.equal(fulcioOid(7), OID.fulcioUsername);
  assert.ok(OID.fulcioIssuerV2.startsWith(FULCIO_ARC));
});
