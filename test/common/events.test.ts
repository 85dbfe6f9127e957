// TypedEmitter.waitFor (common/events.ts): what tests and the app await instead of polling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TypedEmitter } from '../../common/index.ts';

class Counter extends TypedEmitter<{ tick: [n: number]; done: [] }> {
  tick(n: number): void {
    this.emit('tick', n);
  }
}

test('waitFor resolves with the next event, or the next one the filter accepts, and stops listening', async () => {
  const c = new Counter();
  const next = c.waitFor('tick');
  const third = c.waitFor('tick', { filter: (n) => n === 3 });
  for (const n of [1, 2, 3, 4]) c.tick(n);
  assert.deepEqual(await next, [1]);
  assert.deepEqual(await third, [3]);
  assert.equal(c.listenerCount('tick'), 0, 'no listener left behind');
});

test('waitFor rejects on abort (a deadline) and removes its listener', async () => {
  const c = new Counter();
  await assert.rejects(c.waitFor('done', { signal: AbortSignal.timeout(20) }), { name: 'TimeoutError' });
  assert.equal(c.listenerCount('done'), 0);
  const aborted = new AbortController();
  aborted.abort(new Error('gave up'));
  await assert.rejects(c.waitFor('done', { signal: aborted.signal }), /gave up/);
});
