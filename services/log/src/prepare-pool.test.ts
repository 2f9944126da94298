import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { LogError } from './errors.ts';
import { PreparePool, prepareInline } from './prepare-pool.ts';

function entry(artifact: string, tamper = false): Buffer {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const data = Buffer.from(artifact);
  const digest = createHash('sha256').update(tamper ? Buffer.from(`${artifact}!`) : data).digest('hex');
  return Buffer.from(
    JSON.stringify({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: { data: { hash: { algorithm: 'sha256', value: digest } }, signature: { content: sign('sha256', data, privateKey).toString('base64'), publicKey: { content: Buffer.from(pem).toString('base64') } } },
    }),
  );
}

async function started(pool: PreparePool): Promise<void> {
  for (let i = 0; i < 400 && pool.size === 0; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(pool.size, 1, 'the worker started');
}

test('prepare pool: a worker batch gives what inline preparation gives, bad signatures keep their code', async () => {
  const errors: string[] = [];
  const pool = new PreparePool({ workers: 1, startAfterPerSecond: 0, onWorkerError: (m) => errors.push(m) });
  try {
    await started(pool);
    const inputs = Array.from({ length: 12 }, (_, i) => entry(`artifact ${i}`, i % 4 === 3));
    const results = await Promise.allSettled(inputs.map((b) => pool.prepare('v1', b)));
    for (let i = 0; i < inputs.length; i++) {
      const r = results[i]!;
      if (i % 4 === 3) {
        assert.equal(r.status, 'rejected');
        assert.ok(r.status === 'rejected' && r.reason instanceof LogError && r.reason.code === 'INVALID_SIGNATURE', `entry ${i}`);
      } else {
        assert.equal(r.status, 'fulfilled', `entry ${i}`);
        assert.deepEqual(r.status === 'fulfilled' && r.value.body, prepareInline('v1', inputs[i]).body);
      }
    }
    const bad = await pool.prepare('v1', Buffer.from('{"apiVersion":')).catch((e: unknown) => e);
    assert.ok(bad instanceof LogError && bad.code === 'INVALID_JSON');
    assert.deepEqual(errors, []);
  } finally {
    await pool.close();
  }
});

test('prepare pool: requests held by a worker that stops are prepared inline, with the same results', async () => {
  const errors: string[] = [];
  const pool = new PreparePool({ workers: 1, startAfterPerSecond: 1_000_000, onWorkerError: (m) => errors.push(m) });
  try {
    pool.start();
    await started(pool);
    const good = entry('kept');
    const tampered = entry('refused', true);
    // Queued for the worker (posted on the next turn), which is stopped before it answers.
    const p1 = pool.prepare('v1', good);
    const p2 = pool.prepare('v1', tampered).catch((e: unknown) => e);
    await pool.dropWorkers();
    assert.deepEqual((await p1).body, prepareInline('v1', good).body);
    const e = await p2;
    assert.ok(e instanceof LogError && e.code === 'INVALID_SIGNATURE');
    assert.equal(pool.size, 0);
    assert.match(errors.join('\n'), /2 requests prepared inline/);
    // And the pool keeps serving, inline.
    assert.equal((await pool.prepare('v1', entry('after'))).kind, 'hashedrekord');
  } finally {
    await pool.close();
  }
});

test('closing the pool while its workers are still starting completes (they are let start, then stopped)', async () => {
  // Closing at different moments of the workers' start (module loading takes ~100-500 ms).
  for (let round = 0; round < 24; round++) {
    const pool = new PreparePool({ workers: 2, startAfterPerSecond: 0 });
    await new Promise((r) => setTimeout(r, round * 15));
    await pool.close();
    assert.equal(pool.size, 0);
  }
});
