import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AvailabilityClock } from '../../packager/availabilityClock.ts';

test('the availability clock takes the earliest arrival per session, not the first chunk', () => {
  const c = new AvailabilityClock();
  // FFmpeg's start-up burst: the first chunks (media ends 0.2, 0.4) arrive together,
  // about a second late; from 0.6 on they arrive 0.1 s after their media ends.
  c.observe(0, 0.2, 11_400);
  c.observe(0, 0.4, 11_410);
  c.observe(0, 0.6, 10_700);
  c.observe(0, 0.8, 10_905);
  c.observe(1, 5.0, 20_000);
  assert.equal(c.zeroMs(0), 10_100);
  assert.equal(c.zeroMs(1), 15_000);
  assert.equal(c.zeroMs(2), undefined, 'a session without chunks has no estimate');
});

test('an estimate is frozen once a manifest has used it', () => {
  const c = new AvailabilityClock();
  c.observe(0, 1, 2_000);
  assert.equal(c.zeroMs(0), 1_000);
  c.observe(0, 2, 2_500); // earlier still, but availabilityStartTime is published
  assert.equal(c.zeroMs(0), 1_000);
  c.observe(1, 1, 5_000); // another session is still free
  c.observe(1, 2, 5_900);
  assert.equal(c.zeroMs(1), 3_900);
});
