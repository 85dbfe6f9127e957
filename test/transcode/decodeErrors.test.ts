// The decode-error watcher: which FFmpeg stderr lines mean a damaged picture,
// and how keyframe requests are rate-limited. The lines come from the real
// FFmpeg decoding a really corrupted H.264 stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DECODE_ERROR, DecodeErrorWatcher } from '../../transcode/decodeErrors.ts';

const run = promisify(execFile);

/** A tiny xorshift PRNG: the same corruption on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

test('the real FFmpeg decoding a corrupted H.264 stream reports errors the watcher recognises; a clean stream reports none', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'decode-errors-'));
  try {
    const clean = path.join(dir, 'clean.h264');
    await run('/usr/bin/ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '30', '-f', 'h264', '-y', clean]);
    const bytes = Buffer.from(await readFile(clean));
    const rand = prng(7);
    for (let i = 0; i < 40; i++) {
      const at = 2000 + Math.floor(rand() * (bytes.length - 2100));
      for (let j = 0; j < 50; j++) bytes[at + j] = Math.floor(rand() * 256);
    }
    const bad = path.join(dir, 'bad.h264');
    await writeFile(bad, bytes);
    const decode = async (file: string) =>
      (await run('/usr/bin/ffmpeg', ['-hide_banner', '-nostats', '-loglevel', 'level+info', '-f', 'h264', '-i', file, '-f', 'null', '-'])).stderr.split('\n');

    const cleanLines = await decode(clean);
    assert.deepEqual(cleanLines.filter((l) => DECODE_ERROR.test(l)), [], 'no false alarm on a clean stream');

    const badLines = await decode(bad);
    const watcher = new DecodeErrorWatcher(500);
    // All lines at the same instant: one request, every error counted.
    const verdicts = badLines.map((l) => watcher.feed(l, 1_000));
    assert.ok(watcher.stats.decodeErrors >= 10, `decode errors recognised: ${watcher.stats.decodeErrors}\n${badLines.slice(0, 20).join('\n')}`);
    assert.equal(verdicts.filter((v) => v === 'request').length, 1);
    assert.equal(watcher.stats.keyframeRequests, 1);
    assert.ok(badLines.some((l) => /error while decoding MB/.test(l) && DECODE_ERROR.test(l)));
    assert.ok(badLines.some((l) => /concealing/.test(l) && DECODE_ERROR.test(l)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('keyframe requests are rate-limited to one per interval; other lines are ignored', () => {
  const w = new DecodeErrorWatcher(500);
  const err = '[h264 @ 0x55] [error] error while decoding MB 12 4';
  assert.equal(w.feed('[info] frame=  100 fps= 30 q=-1.0 size=N/A time=00:00:03.33 bitrate=N/A speed=1x', 0), 'ignored');
  assert.equal(w.feed(err, 0), 'request');
  assert.equal(w.feed('[h264 @ 0x55] [info] concealing 257 DC, 257 AC, 257 MV errors in P frame', 100), 'counted');
  assert.equal(w.feed(err, 499), 'counted');
  assert.equal(w.feed(err, 500), 'request');
  assert.equal(w.feed('[h264 @ 0x55] [error] Missing reference picture, default is 0', 900), 'counted');
  assert.equal(w.feed('[rtp @ 0x55] [warning] RTP: missed 3 packets', 1_100), 'request');
  assert.deepEqual(w.stats, { decodeErrors: 6, keyframeRequests: 3 });
  assert.throws(() => new DecodeErrorWatcher(-1), TypeError);
});

test('damage late in an interval (the requested keyframe was hit too) owes a request at its end; damage early in it does not', () => {
  const w = new DecodeErrorWatcher(500);
  const err = '[h264 @ 0x55] [error] error while decoding MB 12 4';
  assert.equal(w.feed(err, 0), 'request');
  // The same loss's fallout before the keyframe can have come: nothing owed.
  assert.equal(w.feed(err, 100), 'counted');
  assert.equal(w.owedIn(100), undefined);
  // After the keyframe should have come: a request is owed for the interval's end, even if no error follows.
  assert.equal(w.feed(err, 300), 'counted');
  assert.equal(w.owedIn(300), 200);
  assert.equal(w.settleOwed(499), false, 'not before the interval ends');
  assert.equal(w.settleOwed(500), true);
  assert.equal(w.settleOwed(500), false, 'owed once');
  assert.deepEqual(w.stats, { decodeErrors: 3, keyframeRequests: 2 });
  // The settled request starts a new interval; an error arriving once it is over is a request as before, and clears what was owed.
  assert.equal(w.feed(err, 800), 'counted');
  assert.equal(w.owedIn(800), 200);
  assert.equal(w.feed(err, 1000), 'request');
  assert.equal(w.owedIn(1000), undefined);
  assert.deepEqual(w.stats, { decodeErrors: 5, keyframeRequests: 3 });
});
