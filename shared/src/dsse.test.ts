import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pae } from './dsse.ts';

test('PAE: the protocol.md test vector', () => {
  assert.equal(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world');
});

test('PAE: lengths are UTF-8 byte counts, not characters', () => {
  assert.equal(pae('t', Buffer.from('é')).toString(), 'DSSEv1 1 t 2 é');
  assert.equal(pae('é', new Uint8Array([1, 2, 3])).subarray(0, 12).toString(), 'DSSEv1 2 é ');
});

test('PAE: an empty payload and a subarray view (byteLength of the view, not of its buffer)', () => {
  assert.equal(pae('x', new Uint8Array()).toString(), 'DSSEv1 1 x 0 ');
  const view = Buffer.from('0123456789').subarray(2, 5);
  assert.equal(pae('x', view).toString(), 'DSSEv1 1 x 3 234');
});
