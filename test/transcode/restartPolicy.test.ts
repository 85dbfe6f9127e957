import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTranscodeConfig, type RetryConfig } from '../../transcode/index.ts';
import { nextRestart, type RestartStep } from '../../transcode/restartPolicy.ts';

const defaults = parseTranscodeConfig().supervision.restart;

/** The steps of `failures` consecutive failures from a session that ran (attempt 0). */
function run(policy: RetryConfig, failures: number): RestartStep[] {
  const steps: RestartStep[] = [];
  let attempt = 0;
  for (let i = 0; i < failures; i++) {
    const step = nextRestart(policy, attempt);
    steps.push(step);
    attempt = step.attempt;
  }
  return steps;
}

const retry = (attempt: number, delayMs: number): RestartStep => ({ kind: 'retry', attempt, delayMs });
const giveUp = (attempt: number): RestartStep => ({ kind: 'give-up', attempt });

describe('transcode restart policy (supervision.restart as plain data)', () => {
  const cases: { name: string; policy: RetryConfig; failures: number; steps: RestartStep[] }[] = [
    {
      name: 'the defaults: 100 ms doubling, given up after the 5th retry',
      policy: defaults,
      failures: 6,
      steps: [retry(1, 100), retry(2, 200), retry(3, 400), retry(4, 800), retry(5, 1600), giveUp(6)],
    },
    {
      name: 'the delay stops growing at maxDelayMs',
      policy: { maxRetries: 6, delayMs: 1000, maxDelayMs: 5000, backoff: 3 },
      failures: 7,
      steps: [retry(1, 1000), retry(2, 3000), retry(3, 5000), retry(4, 5000), retry(5, 5000), retry(6, 5000), giveUp(7)],
    },
    {
      name: 'backoff 1: the same delay every time',
      policy: { maxRetries: 3, delayMs: 250, maxDelayMs: 5000, backoff: 1 },
      failures: 4,
      steps: [retry(1, 250), retry(2, 250), retry(3, 250), giveUp(4)],
    },
    {
      name: 'a fractional backoff rounds to whole ms',
      policy: { maxRetries: 4, delayMs: 150, maxDelayMs: 5000, backoff: 1.5 },
      failures: 4,
      steps: [retry(1, 150), retry(2, 225), retry(3, 338), retry(4, 506)],
    },
    {
      name: 'maxRetries 0: the first failure gives up',
      policy: { ...defaults, maxRetries: 0 },
      failures: 1,
      steps: [giveUp(1)],
    },
    {
      name: 'delayMs 0: restarts at once',
      policy: { ...defaults, delayMs: 0 },
      failures: 3,
      steps: [retry(1, 0), retry(2, 0), retry(3, 0)],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(run(c.policy, c.failures), c.steps);
    });
  }

  test('a preempted start (a newer program stopped it) is no failure: the same count, no delay', () => {
    assert.deepEqual(nextRestart(defaults, 0, true), retry(0, 0));
    assert.deepEqual(nextRestart(defaults, 3, true), retry(3, 0));
    // The count it keeps still backs off the next real failure.
    assert.deepEqual(nextRestart(defaults, 3), retry(4, 800));
  });
});
