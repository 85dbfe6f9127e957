// Framing the CMAF stream once, in the packager's reader: bytes in any
// chunking, the boxes taken across chunk edges, a fragment joined once, and a
// cut-off stream (its writer gone mid-write) keeping only what was whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteQueue } from '../../packager/byteQueue.ts';
import { CmafReader } from '../../packager/cmaf.ts';
import { VIDEO, fragments, initSegment } from './syntheticCmaf.ts';

test('ByteQueue: a header peeked across chunk edges, boxes taken as slices of the chunks they came in (no copy)', () => {
  const q = new ByteQueue();
  const a = Buffer.from([0, 0, 0]);
  const b = Buffer.from([12, 0x6d, 0x64, 0x61, 0x74, 1, 2]);
  const c = Buffer.from([3, 4, 9, 9]);
  q.push(a);
  q.push(Buffer.alloc(0));
  q.push(b);
  q.push(c);
  assert.equal(q.length, 14);
  const header = q.peek(8);
  assert.equal(header.readUInt32BE(0), 12);
  assert.equal(header.toString('latin1', 4, 8), 'mdat');
  const slices = q.take(12);
  assert.deepEqual(slices.map((s) => s.length), [3, 7, 2]);
  assert.equal(slices[1]!.buffer, b.buffer, 'a slice shares its chunk\'s memory');
  assert.equal(slices[1]!.byteOffset, b.byteOffset);
  assert.deepEqual([...Buffer.concat(slices)], [0, 0, 0, 12, 0x6d, 0x64, 0x61, 0x74, 1, 2, 3, 4]);
  assert.equal(q.length, 2);
  assert.deepEqual([...q.peek(2)], [9, 9], 'the rest of the last chunk stays queued');
  assert.throws(() => q.peek(3), RangeError);
  assert.throws(() => q.take(3), RangeError);
  assert.equal(q.clear(), 2);
  assert.equal(q.length, 0);
});

const stream = Buffer.concat([initSegment(VIDEO), ...fragments(VIDEO, 0, 6)]);
const decodeTimes = (events: ReturnType<CmafReader['push']>) => events.map((e) => (e.type === 'fragment' ? e.info.decodeTime : 'init'));

test('CmafReader: one byte at a time gives the same init and fragments, byte for byte, as the whole stream at once', () => {
  const whole = new CmafReader({ maxBoxBytes: 1 << 20 }).push(stream);
  const reader = new CmafReader({ maxBoxBytes: 1 << 20 });
  const trickled = [...stream].flatMap((byte) => reader.push(Buffer.from([byte])));
  assert.deepEqual(decodeTimes(trickled), decodeTimes(whole));
  assert.equal(whole.length, 7);
  trickled.forEach((e, i) => assert.ok(e.bytes.equals(whole[i]!.bytes), `event ${i}: same bytes`));
  assert.equal(reader.bufferedBytes, 0);
  reader.end();
});

test('CmafReader: a fragment\'s bytes are its own copy, not a view of the chunk it came in', () => {
  const chunk = Buffer.from(stream);
  const [, first] = new CmafReader({ maxBoxBytes: 1 << 20 }).push(chunk);
  const before = Buffer.from(first!.bytes);
  chunk.fill(0);
  assert.ok(first!.bytes.equals(before), 'reusing the chunk leaves the fragment as it was');
});

test('CmafReader: cut off inside a fragment, the partial fragment is dropped and counted; what was whole stands, and the reader ends clean', () => {
  const [init, f0, f1] = [initSegment(VIDEO), ...fragments(VIDEO, 0, 2)];
  const reader = new CmafReader({ maxBoxBytes: 1 << 20 });
  const cut = f1!.length - 10; // the moof is whole, the mdat is not
  const events = reader.push(Buffer.concat([init, f0!, f1!.subarray(0, cut)]));
  assert.deepEqual(decodeTimes(events), ['init', 0]);
  assert.equal(reader.bufferedBytes, cut);
  assert.throws(() => reader.end(), { code: 'cmaf-truncated' }, 'a clean end here is bad input');
  assert.equal(reader.discardPartial(), cut);
  assert.equal(reader.bufferedBytes, 0);
  reader.end();
});
