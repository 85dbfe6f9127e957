import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../common/index.ts';
import { KeyframeRequests, type KeyframeRequestsOptions } from '../../transcode/keyframes.ts';

/** A KeyframeRequests whose requests and logged reasons are recorded. */
function setup(options: Partial<KeyframeRequestsOptions> = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'trace',
    destination: new Writable({
      write(chunk, _enc, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    }),
  });
  let requests = 0;
  const keyframes = new KeyframeRequests({
    requester: { requestKeyFrame: () => void requests++ },
    segmentDurationMs: 1000,
    onDecodeError: { enabled: true, minIntervalMs: 500 },
    logger,
    ...options,
  });
  return {
    keyframes,
    requests: () => requests,
    reasons: () => lines.filter((l) => l.msg === 'requestKeyFrame()').map((l) => l.reason),
    warnings: () => lines.filter((l) => l.msg === 'keyframe request failed').length,
  };
}

const DAMAGE = '[h264 @ 0x1] error while decoding MB 10 20, bytestream -5';

describe('transcode keyframe requests', () => {
  test('no requester: nothing sent; a requester that throws or rejects is logged, never thrown', async () => {
    const none = new KeyframeRequests({ segmentDurationMs: 1000, onDecodeError: { enabled: true, minIntervalMs: 500 }, logger: createLogger({ level: 'silent' }) });
    none.request('stall');
    const throwing = setup({ requester: { requestKeyFrame: () => { throw new Error('gone'); } } });
    throwing.keyframes.request('stall');
    assert.equal(throwing.warnings(), 1);
    const rejecting = setup({ requester: { requestKeyFrame: () => Promise.reject(new Error('gone')) } });
    rejecting.keyframes.request('stall');
    await new Promise((r) => setImmediate(r));
    assert.equal(rejecting.warnings(), 1);
  });

  test('decode errors: one request per interval, the damage counted, a request owed for damage late in the interval', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 10_000 });
    const s = setup();
    assert.equal(s.keyframes.decodeLine('[info] Stream mapping:'), undefined, 'not a decode error');
    assert.deepEqual(s.keyframes.decodeLine(DAMAGE), { line: DAMAGE, keyframeRequested: true, decodeErrors: 1, keyframeRequests: 1 });
    t.mock.timers.tick(100);
    assert.deepEqual(s.keyframes.decodeLine(DAMAGE), { line: DAMAGE, keyframeRequested: false, decodeErrors: 2, keyframeRequests: 1 });
    assert.equal(s.requests(), 1, 'a burst is one request');
    // Damage in the second half of the interval: a request is owed for its end.
    t.mock.timers.tick(200);
    assert.equal(s.keyframes.decodeLine(DAMAGE)?.keyframeRequested, false);
    t.mock.timers.tick(199);
    assert.equal(s.requests(), 1);
    t.mock.timers.tick(1);
    assert.equal(s.requests(), 2, 'the owed request at the end of the interval');
    assert.deepEqual(s.keyframes.decodeStats, { decodeErrors: 3, keyframeRequests: 2 });
    assert.deepEqual(s.reasons(), ['decode-error', 'decode-error']);
  });

  test('decode errors turned off: not even counted', () => {
    const s = setup({ onDecodeError: { enabled: false, minIntervalMs: 500 } });
    assert.equal(s.keyframes.decodeLine(DAMAGE), undefined);
    assert.deepEqual(s.keyframes.decodeStats, { decodeErrors: 0, keyframeRequests: 0 });
    assert.equal(s.requests(), 0);
  });

  test('stop() cancels an owed request', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 10_000 });
    const s = setup();
    s.keyframes.decodeLine(DAMAGE);
    t.mock.timers.tick(300);
    s.keyframes.decodeLine(DAMAGE);
    s.keyframes.stop();
    t.mock.timers.tick(1000);
    assert.equal(s.requests(), 1);
  });

  test('every segment while video is copied, until stop()', (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const s = setup();
    let copying = true;
    s.keyframes.everySegment(() => copying);
    t.mock.timers.tick(3000);
    assert.equal(s.requests(), 3);
    copying = false;
    t.mock.timers.tick(2000);
    assert.equal(s.requests(), 3, 'none while the session encodes');
    copying = true;
    s.keyframes.stop();
    t.mock.timers.tick(2000);
    assert.equal(s.requests(), 3);
    assert.deepEqual(s.reasons(), ['segment', 'segment', 'segment']);
  });

  test('at a start: once the ports are bound, then every segment until output advances', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    let first!: () => void;
    const asked = new Promise<void>((r) => (first = r));
    let requests = 0;
    const s = setup({ requester: { requestKeyFrame: () => void (requests++ === 0 && first()) } });
    const abort = new AbortController();
    s.keyframes.untilOutput([], abort.signal); // no ports to wait for
    await asked;
    t.mock.timers.tick(2000);
    assert.equal(requests, 3);
    abort.abort();
    t.mock.timers.tick(2000);
    assert.equal(requests, 3);
    assert.deepEqual(s.reasons(), ['start', 'start', 'start']);
  });
});
