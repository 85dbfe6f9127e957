// The per-client limiter behind the control API, WHIP and the signalling
// upgrade: a token bucket per key, bounded memory, and no way for a spray of
// new keys to give a limited client its burst back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientRateLimiter } from '../../common/index.ts';

/** A clock the test moves by hand. */
function manualClock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

test('each key gets the burst, then the refill rate; keys do not share a bucket', () => {
  const clock = manualClock();
  const limiter = new ClientRateLimiter({ perSecond: 2, burst: 3, now: clock.now });
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.take('a')), [true, true, true, false]);
  assert.equal(limiter.take('b'), true);
  clock.advance(499);
  assert.equal(limiter.take('a'), false, 'not yet one token back');
  clock.advance(1);
  assert.equal(limiter.take('a'), true, 'one token after 500 ms at 2/s');
});

test('spray: a limited client stays limited while more than maxClients other addresses make one request each', () => {
  const clock = manualClock();
  const maxClients = 10_000;
  const limiter = new ClientRateLimiter({ perSecond: 1, burst: 5, maxClients, now: clock.now });
  const attacker = '203.0.113.7';
  for (let i = 0; i < 5; i++) assert.equal(limiter.take(attacker), true);
  assert.equal(limiter.take(attacker), false);
  for (let i = 0; i < maxClients + 500; i++) {
    clock.advance(0.05); // 10,500 requests in about half a second: no bucket refills
    assert.equal(limiter.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`), true, 'each new address has its own burst');
    // The limited client keeps knocking (and keeps being refused) during the spray.
    if (i % 1000 === 999) assert.equal(limiter.take(attacker), false, `still limited after ${i + 1} other addresses`);
    assert.ok(limiter.size <= maxClients, `size ${limiter.size} after ${i + 1} addresses`);
  }
  assert.equal(limiter.take(attacker), false, 'still limited after the spray');
  assert.equal(limiter.size, maxClients, 'memory stays bounded at maxClients');
});

test('when full, buckets that have refilled are forgotten before any active one', () => {
  const clock = manualClock();
  // Refill time: burst / perSecond = 2 s.
  const limiter = new ClientRateLimiter({ perSecond: 1, burst: 2, maxClients: 3, now: clock.now });
  limiter.take('idle');
  clock.advance(1000);
  limiter.take('active-1');
  limiter.take('active-2');
  clock.advance(1000); // 'idle' has refilled fully; the others have not
  limiter.take('new');
  assert.equal(limiter.size, 3);
  assert.equal(limiter.has('idle'), false);
  assert.ok(limiter.has('active-1') && limiter.has('active-2') && limiter.has('new'));
});

test('when full of active clients, the least recently seen key is evicted (not the first inserted)', () => {
  const clock = manualClock();
  const limiter = new ClientRateLimiter({ perSecond: 1, burst: 10, maxClients: 3, now: clock.now });
  limiter.take('a');
  limiter.take('b');
  limiter.take('c');
  limiter.take('a'); // seen again: now b is the least recently seen
  limiter.take('d');
  assert.equal(limiter.size, 3);
  assert.equal(limiter.has('b'), false);
  assert.ok(limiter.has('a') && limiter.has('c') && limiter.has('d'));
  // A refused request counts as seen too.
  for (let i = 0; i < 9; i++) limiter.take('c');
  assert.equal(limiter.take('c'), false);
  limiter.take('e'); // evicts a (c and d were seen after it)
  assert.equal(limiter.has('a'), false);
  assert.equal(limiter.take('c'), false, 'c is still limited');
});

test('bad options are a TypeError', () => {
  assert.throws(() => new ClientRateLimiter({ perSecond: 0, burst: 1 }), TypeError);
  assert.throws(() => new ClientRateLimiter({ perSecond: 1, burst: 0 }), TypeError);
  assert.throws(() => new ClientRateLimiter({ perSecond: 1, burst: 1, maxClients: 0 }), TypeError);
});
