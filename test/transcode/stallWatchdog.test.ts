import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TranscoderState } from '../../transcode/index.ts';
import { StallWatchdog, stallVerdict, type StallProbe } from '../../transcode/stall.ts';

describe('transcode stall rule (pure)', () => {
  const timeout = 1000;
  const cases: [TranscoderState, number, ReturnType<typeof stallVerdict>][] = [
    ['running', 0, undefined],
    ['running', 1000, undefined],
    ['running', 1001, 'stalled'],
    ['running', 5000, 'stalled'],
    ['stalled', 0, 'resumed'],
    ['stalled', 1000, 'resumed'],
    ['stalled', 1001, undefined],
    ['stalled', 2000, undefined],
    ['stalled', 2001, 'stuck'],
    ['starting', 5000, undefined],
    ['restarting', 5000, undefined],
    ['stopped', 5000, undefined],
  ];
  for (const [state, idle, verdict] of cases) {
    test(`${state}, idle ${idle} ms of a ${timeout} ms timeout: ${verdict ?? 'nothing'}`, () => {
      assert.equal(stallVerdict(state, idle, timeout), verdict);
    });
  }
});

describe('transcode stall watchdog', () => {
  test('checks every quarter of the timeout and says stalled, resumed and stuck from what it is shown; nothing after stop()', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
    let probe: StallProbe | undefined = { state: 'running', lastAdvanceAt: 1_000_000 };
    const seen: string[] = [];
    const dog = new StallWatchdog(1000, () => probe);
    dog.on('stalled', (idle) => seen.push(`stalled ${idle}`));
    dog.on('resumed', () => seen.push('resumed'));
    dog.on('stuck', (idle) => seen.push(`stuck ${idle}`));
    dog.start();
    t.mock.timers.tick(1000);
    assert.deepEqual(seen, [], 'idle 1000 ms is not yet a stall');
    t.mock.timers.tick(250);
    assert.deepEqual(seen, ['stalled 1250']);
    probe = { state: 'stalled', lastAdvanceAt: Date.now() };
    t.mock.timers.tick(250);
    assert.deepEqual(seen, ['stalled 1250', 'resumed']);
    probe = { state: 'stalled', lastAdvanceAt: Date.now() - 2000 };
    t.mock.timers.tick(250);
    assert.deepEqual(seen.at(-1), 'stuck 2250');
    probe = undefined; // nothing to watch (no running output): no check
    const count = seen.length;
    t.mock.timers.tick(5000);
    assert.equal(seen.length, count);
    probe = { state: 'running', lastAdvanceAt: 0 };
    dog.stop();
    dog.stop(); // safe twice
    t.mock.timers.tick(5000);
    assert.equal(seen.length, count);
  });

  test('a short timeout is still checked at most every 50 ms', (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
    let checks = 0;
    const dog = new StallWatchdog(100, () => {
      checks++;
      return undefined;
    });
    dog.start();
    t.mock.timers.tick(500);
    dog.stop();
    assert.equal(checks, 10);
  });
});
