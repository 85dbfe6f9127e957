import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError, TokenBucket } from '../../common/index.ts';
import { parseRequest } from '../../ingest/index.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    return err.code;
  }
  assert.fail('expected a rejection');
};

test('valid signalling requests parse into typed requests', () => {
  const join = parseRequest(JSON.stringify({ id: '1', method: 'join', data: { stageId: 'main', token: 't' } }), 65536);
  assert.equal(join.method, 'join');
  const produce = parseRequest(
    JSON.stringify({
      id: '2',
      method: 'produce',
      data: { transportId: 'x', kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }] } },
    }),
    65536,
  );
  assert.equal(produce.method, 'produce');
});

test('malformed, unknown and oversized messages are refused with a code', () => {
  assert.equal(code(() => parseRequest('{not json', 65536)), 'malformed');
  assert.equal(code(() => parseRequest('"a string"', 65536)), 'invalid-request');
  assert.equal(code(() => parseRequest(JSON.stringify({ id: '1', method: 'rm -rf', data: {} }), 65536)), 'invalid-request');
  assert.equal(code(() => parseRequest(JSON.stringify({ id: '1', method: 'join', data: { stageId: 'main' } }), 65536)), 'invalid-request');
  assert.equal(code(() => parseRequest(JSON.stringify({ id: '1', method: 'produce', data: { transportId: 'x', kind: 'data', rtpParameters: { codecs: [] } } }), 65536)), 'invalid-request');
  assert.equal(code(() => parseRequest('x'.repeat(2000), 1024)), 'message-too-large');
  assert.equal(code(() => parseRequest(JSON.stringify({ id: 'x'.repeat(500), method: 'leave' }), 65536)), 'invalid-request');
});

test('a token bucket allows the burst, then the refill rate', () => {
  const bucket = new TokenBucket(10, 3, 0);
  assert.deepEqual([0, 0, 0, 0].map(() => bucket.take(0)), [true, true, true, false]);
  assert.equal(bucket.take(50), false); // half a token after 50 ms
  assert.equal(bucket.take(100), true); // one more after 100 ms
  assert.equal(bucket.take(10_000), true);
  assert.deepEqual([0, 0, 0].map(() => bucket.take(10_000)), [true, true, false]);
});
