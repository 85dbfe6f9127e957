// The stream sink bridge: FFmpeg's HTTP push reaches an in-process sink as the
// bytes came (the sink frames them), and the sink learns how the stream ended:
// end() when the request completed, destroy() when it was cut off mid-write,
// so a packager keeps only whole boxes. Loopback HTTP, no FFmpeg.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Writable } from 'node:stream';
import { silentLogger } from '../../common/index.ts';
import { StreamSinkBridge } from '../../transcode/bridge.ts';
import { streamCmafSink } from '../../transcode/index.ts';

interface Opened {
  trackId: string;
  run: number;
  bytes: Buffer[];
  how?: 'ended' | 'cut off';
  errors: number;
}

/** A sink that records each stream's bytes and how it ended; `refuse` makes its writes fail. */
function recordingSink(opened: Opened[], refuse = false) {
  return streamCmafSink((trackId, run) => {
    const o: Opened = { trackId, run, bytes: [], errors: 0 };
    opened.push(o);
    const w = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        if (refuse) return cb(Object.assign(new Error('not a CMAF stream'), { code: 'cmaf-bad-box' }));
        o.bytes.push(chunk);
        cb();
      },
      final: (cb) => {
        o.how = 'ended';
        cb();
      },
      destroy: (err, cb) => {
        o.how ??= 'cut off';
        cb(err);
      },
    });
    w.on('error', () => o.errors++);
    return w;
  });
}

/**
 * A chunked PUT as FFmpeg sends it. `end`: finish the request (resolves with its status),
 * `abort`: destroy it after the chunks (FFmpeg killed), `hold`: leave it open.
 */
function push(url: string, chunks: Buffer[], how: 'end' | 'abort' | 'hold' = 'end'): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', (err) => (how === 'end' ? reject(err) : resolve(undefined)));
    chunks.forEach((c, i) => {
      // Killed once the last chunk is on the wire.
      const last = i === chunks.length - 1;
      req.write(c, () => (how === 'abort' && last ? setImmediate(() => req.destroy()) : undefined));
    });
    if (how === 'end') req.end();
  });
}

/** Resolves once `check` holds, checked every turn of the event loop; rejects after 5 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a complete push reaches the sink byte for byte, as it came, and ends it (204)', async () => {
  const opened: Opened[] = [];
  const data: number[] = [];
  const bridge = await StreamSinkBridge.start(recordingSink(opened), silentLogger(), (run) => data.push(run));
  try {
    // A box split across writes, as FFmpeg's chunks split them: the bridge does not frame.
    const chunks = [Buffer.from([0, 0, 0, 16, 0x66]), Buffer.from('typ'), Buffer.from('iso6isom')];
    assert.equal(await push(bridge.urlFor(3, 'video-720p'), chunks), 204);
    await until(() => opened[0]?.how !== undefined, 'the stream to end');
    const [o] = opened;
    assert.equal(o!.trackId, 'video-720p');
    assert.equal(o!.run, 3);
    assert.ok(Buffer.concat(o!.bytes).equals(Buffer.concat(chunks)));
    assert.equal(o!.how, 'ended');
    assert.equal(o!.errors, 0);
    assert.ok(data.length > 0 && data.every((s) => s === 3), 'each arrival advances run 3');
  } finally {
    await bridge.close();
  }
});

test('a push cut off mid-write (FFmpeg killed) destroys the sink\'s stream without an error, after the bytes that came', async () => {
  const opened: Opened[] = [];
  const bridge = await StreamSinkBridge.start(recordingSink(opened), silentLogger(), () => {});
  try {
    const half = Buffer.from([0, 0, 0, 24, 0x6d, 0x6f]);
    assert.equal(await push(bridge.urlFor(1, 'audio'), [half], 'abort'), undefined);
    await until(() => opened[0]?.how !== undefined, 'the stream to settle');
    const [o] = opened;
    assert.equal(o!.how, 'cut off');
    assert.equal(o!.errors, 0);
    assert.ok(Buffer.concat(o!.bytes).equals(half), 'the bytes before the cut reached the sink');
  } finally {
    await bridge.close();
  }
});

test('a sink that refuses the bytes answers 400', async () => {
  const opened: Opened[] = [];
  const bridge = await StreamSinkBridge.start(recordingSink(opened, true), silentLogger(), () => {});
  try {
    assert.equal(await push(bridge.urlFor(1, 'video'), [Buffer.from('not a CMAF stream')]), 400);
    assert.equal(opened[0]?.how, 'cut off', 'the refused stream is destroyed, not ended');
    assert.equal(opened[0]?.errors, 1);
  } finally {
    await bridge.close();
  }
});

test('closing the bridge cuts off the pushes still open', async () => {
  const opened: Opened[] = [];
  const bridge = await StreamSinkBridge.start(recordingSink(opened), silentLogger(), () => {});
  const pending = push(bridge.urlFor(1, 'video'), [Buffer.from([0, 0, 0, 8])], 'hold');
  await until(() => opened[0]?.bytes.length === 1, 'the first bytes');
  await bridge.close();
  await until(() => opened[0]?.how !== undefined, 'the stream to settle');
  assert.equal(opened[0]!.how, 'cut off');
  assert.equal(opened[0]!.errors, 0);
  assert.equal(await pending, undefined, 'the request was closed');
});
