import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { CairnError, SharedError } from './errors.ts';

class ExampleError extends CairnError<'X'> {}
class NarrowerError extends ExampleError {}

test('a CairnError subclass prints its own name without setting it, and so does a subclass of a subclass', () => {
  const e = new ExampleError('X', 'went wrong');
  assert.equal(e.name, 'ExampleError');
  assert.equal(String(e), 'ExampleError: went wrong');
  assert.match(e.stack ?? '', /^ExampleError: went wrong\n/);
  assert.match(inspect(e), /^ExampleError: went wrong/);
  assert.equal(new NarrowerError('X', 'm').name, 'NarrowerError');
  assert.equal(new SharedError('INTERNAL', 'm').name, 'SharedError');
  assert.equal(new CairnError('C', 'm').name, 'CairnError');
  assert.equal(e.code, 'X');
});
