// Property-based fuzzing of the CMAF box reader (packager/cmaf.ts), the parser
// of everything the ingest receives: arbitrary bytes, and real FFmpeg CMAF
// mutated (bit flips, overwritten size/type fields, truncation, splices,
// random chunking). The only error allowed is our InputError; no hang (each
// property has a time budget) and no large allocation (a box may not claim more
// than maxBoxBytes, and memory is checked around the runs).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputError } from '../../common/index.ts';
import { CmafReader, parseMoof, parseMoov } from '../../packager/cmaf.ts';
import { captureCmaf, splitCmaf } from '../packager/helpers.ts';

const MAX_BOX = 256 * 1024;
let video: Buffer;
let audio: Buffer;

before(async () => {
  [video, audio] = await Promise.all([
    captureCmaf(1.2, { id: 'v', kind: 'video', width: 160, height: 90 }),
    captureCmaf(1.2, { id: 'a', kind: 'audio' }),
  ]);
});

/** Feeds chunks (then end) to a fresh reader; returns the events, or the InputError; anything else fails the property. */
function read(chunks: Buffer[]): { events: number; error?: InputError } {
  const reader = new CmafReader({ maxBoxBytes: MAX_BOX });
  let events = 0;
  try {
    for (const c of chunks) events += reader.push(c).length;
    reader.end();
    assert.ok(reader.bufferedBytes <= 2 * MAX_BOX + 16, `reader holds ${reader.bufferedBytes} bytes`);
    return { events };
  } catch (err) {
    if (err instanceof InputError) {
      assert.match(err.code, /^cmaf-/, `error code ${err.code}`);
      assert.equal(err.status, 400);
      return { events, error: err };
    }
    throw err;
  }
}

/** Splits a buffer at the given (sorted, deduplicated) cut points. */
function cut(buf: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of at) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

const source = () => fc.constantFrom('video', 'audio').map((k) => (k === 'video' ? video : audio));

/** A mutation of a valid stream: each keeps it a Buffer of bounded size. */
const mutated = fc.oneof(
  // Bit flips anywhere.
  fc.tuple(source(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 })).map(([b, flips]) => {
    const out = Buffer.from(b);
    for (const [at, bit] of flips) out[at % out.length]! ^= 1 << bit;
    return out;
  }),
  // A 32-bit field (a size, a type, a count) overwritten with an extreme or random value.
  fc
    .tuple(source(), fc.nat(), fc.constantFrom(0, 1, 7, 8, 0x7fffffff, 0xffffffff, MAX_BOX + 1), fc.boolean(), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([b, at, extreme, useExtreme, random]) => {
      const out = Buffer.from(b);
      out.writeUInt32BE(useExtreme ? extreme : random, Math.min(at % out.length, out.length - 4));
      return out;
    }),
  // Truncated anywhere.
  fc.tuple(source(), fc.nat()).map(([b, n]) => b.subarray(0, n % b.length)),
  // Pieces of the two streams spliced together (fragments of one under the other's init, moof/mdat out of order).
  fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat()).map(([a, b, c, d]) => {
    const [v0, v1] = [a % video.length, b % video.length].sort((x, y) => x - y) as [number, number];
    const [a0, a1] = [c % audio.length, d % audio.length].sort((x, y) => x - y) as [number, number];
    return Buffer.concat([video.subarray(0, v0), audio.subarray(a0, a1), video.subarray(v1)]);
  }),
);

test('the valid streams read the same however they are chunked', () => {
  const whole = { video: read([video]), audio: read([audio]) };
  assert.equal(whole.video.error, undefined);
  assert.ok(whole.video.events >= 6, `video events ${whole.video.events}`);
  assert.ok(whole.audio.events >= 6, `audio events ${whole.audio.events}`);
  fc.assert(
    fc.property(fc.constantFrom('video', 'audio'), fc.array(fc.nat(), { maxLength: 40 }), (kind, points) => {
      const b = kind === 'video' ? video : audio;
      const r = read(cut(b, points));
      assert.equal(r.error, undefined);
      assert.equal(r.events, whole[kind].events);
    }),
    { numRuns: 200, interruptAfterTimeLimit: 20_000 },
  );
});

test('mutated real CMAF, whole or chunked: events or an InputError, nothing else, in bounded time and memory', () => {
  const before = process.memoryUsage().arrayBuffers;
  let errors = 0;
  let runs = 0;
  fc.assert(
    fc.property(mutated, fc.array(fc.nat(), { maxLength: 8 }), (bytes, points) => {
      const t0 = performance.now();
      const r = read(cut(bytes, points));
      runs++;
      if (r.error) errors++;
      assert.ok(performance.now() - t0 < 2000, 'one stream read in under 2 s');
    }),
    { numRuns: 600, interruptAfterTimeLimit: 60_000 },
  );
  assert.ok(runs >= 100, `${runs} runs`);
  assert.ok(errors > 0, 'some mutations were refused (the fuzzer reaches the checks)');
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < 256 * 1024 * 1024, `array buffers grew by ${grown} bytes`);
});

test('arbitrary bytes, and boxes with arbitrary headers: an InputError or nothing', () => {
  const box = fc
    .tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom('ftyp', 'moov', 'moof', 'mdat', 'styp', 'prft', 'emsg', 'free', 'sidx', 'abcd', '\0\0\0\0'), fc.uint8Array({ maxLength: 64 }))
    .map(([size, type, body]) => {
      const b = Buffer.alloc(8 + body.length);
      b.writeUInt32BE(size, 0);
      b.write(type, 4, 'latin1');
      Buffer.from(body).copy(b, 8);
      return b;
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)), fc.array(box, { maxLength: 6 }).map((bs) => Buffer.concat(bs))), (bytes) => {
      read([bytes]);
    }),
    { numRuns: 1000, interruptAfterTimeLimit: 20_000 },
  );
});

test('parseMoov and parseMoof on mutated real boxes throw only InputError', () => {
  const { init, fragments } = splitCmaf(video);
  const moov = init.subarray(init.indexOf('moov') - 4);
  const moovPayload = moov.subarray(8, moov.readUInt32BE(0));
  const info = parseMoov(moovPayload);
  const moof = fragments[1]!.bytes;
  const moofPayload = moof.subarray(8, moof.readUInt32BE(0));
  parseMoof(moofPayload, info);
  const mutate = (b: Buffer) =>
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((edits) => {
      const out = Buffer.from(b);
      for (const [at, v] of edits) out[at % out.length] = v;
      return out;
    });
  const onlyInputError = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
    }
  };
  fc.assert(
    fc.property(mutate(moovPayload), (p) => onlyInputError(() => parseMoov(p))),
    { numRuns: 500, interruptAfterTimeLimit: 15_000 },
  );
  fc.assert(
    fc.property(mutate(moofPayload), (p) => onlyInputError(() => parseMoof(p, info))),
    { numRuns: 500, interruptAfterTimeLimit: 15_000 },
  );
});

test('found by the fuzzer: a trun claiming 2^32-1 samples without per-sample fields is refused at once, not walked', () => {
  const { init, fragments } = splitCmaf(video);
  const moov = init.subarray(init.indexOf('moov') - 4);
  const info = parseMoov(moov.subarray(8, moov.readUInt32BE(0)));
  const moof = Buffer.from(fragments[1]!.bytes.subarray(0, fragments[1]!.bytes.readUInt32BE(0)));
  const trun = moof.indexOf('trun') + 4; // the trun's payload: version+flags, then sample_count
  moof.writeUInt32BE(0, trun);
  moof.writeUInt32BE(0xffffffff, trun + 4);
  const t0 = performance.now();
  assert.throws(() => parseMoof(moof.subarray(8), info), (err) => err instanceof InputError && err.code === 'cmaf-bad-fragment');
  assert.ok(performance.now() - t0 < 100, 'refused without walking the samples');
});
