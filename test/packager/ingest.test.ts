import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePackagerConfig } from '../../packager/index.ts';
import { CmafReader } from '../../packager/cmaf.ts';
import { ffmpegArgs, get, LADDER, runFfmpeg, startHarness, until, type Harness } from './helpers.ts';

let h: Harness;
before(async () => {
  h = await startHarness({ maxBoxBytes: 4 * 1024 * 1024, autoCreateBroadcasts: true });
});
after(async () => {
  await h?.close();
});

/** A chunked PUT whose body we control. */
async function put(url: string, chunks: Buffer[], contentType = 'video/mp4', headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const ch of chunks) c.enqueue(ch);
      c.close();
    },
  });
  const r = await fetch(url, { method: 'PUT', body, headers: { 'Content-Type': contentType, ...headers }, duplex: 'half' } as RequestInit);
  return { status: r.status, text: await r.text() };
}

test('FFmpeg pushes CMAF directly over HTTP (chunked PUT per track) and the playlists come out', async () => {
  const urls = LADDER.map((r) => `${h.base}/ingest/http1/${r.id}`);
  const run = runFfmpeg(ffmpegArgs(urls, 4, LADDER, ['-method', 'PUT', '-chunked_post', '1', '-content_type', 'video/mp4']));
  try {
    const code = await run.exited;
    assert.equal(code, 0, run.stderr());
    const b = h.packager.getBroadcast('http1')!;
    assert.deepEqual(b.tracks.map((t) => t.id).sort(), ['audio', 'video-180p', 'video-360p']);
    for (const t of b.tracks) assert.ok(t.segments.length >= 3 && !t.failure, `${t.id}: ${t.segments.length} segments`);
    const master = await get(`${h.base}/live/http1/master.m3u8`);
    assert.equal(master.status, 200);
    assert.match(master.text, /AUDIO="audio"/);
  } finally {
    await run.stop();
  }
});

test('a push that ends after its init segment, without media, ends cleanly (204) and the track keeps what it had', async () => {
  const b = h.packager.getBroadcast('http1')!;
  const track = b.track('video-180p')!;
  const before = track.segments.length;
  const res = await put(`${h.base}/ingest/http1/video-180p`, [track.init!.bytes]);
  assert.equal(res.status, 204, res.text);
  assert.equal(track.segments.length, before);
  assert.equal(track.failure, undefined);
});

test('bad input fails only its own track with a clear error; other tracks and broadcasts go on', async () => {
  // A good track from FFmpeg on broadcast bad1 and on broadcast good1, while bad inputs hit bad1's other tracks.
  const run = runFfmpeg(ffmpegArgs([`${h.base}/ingest/bad1/video-360p`, `${h.base}/ingest/good1/video-360p`], 4, [LADDER[0]!, LADDER[0]!], ['-method', 'PUT']));
  try {
    const rssBefore = process.memoryUsage().rss;
    const garbage = await put(`${h.base}/ingest/bad1/garbage`, [Buffer.from('this is definitely not an mp4 file at all, just text')]);
    assert.equal(garbage.status, 400);
    assert.match(garbage.text, /cmaf-bad-box: unexpected top-level box/);

    // A box claiming 2 GiB: rejected at its header, nothing buffered.
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(0x7fff_ffff, 0);
    huge.write('mdat', 4, 'latin1');
    const hugeRes = await put(`${h.base}/ingest/bad1/huge`, [huge, Buffer.alloc(64 * 1024)]);
    assert.equal(hugeRes.status, 400);
    assert.match(hugeRes.text, /cmaf-box-too-large/);

    // Truncated: a valid ftyp then half a moov.
    const ftyp = Buffer.from('00000018667479706973366d0000020069736f366d703431', 'hex');
    const half = Buffer.alloc(16);
    half.writeUInt32BE(1000, 0);
    half.write('moov', 4, 'latin1');
    const trunc = await put(`${h.base}/ingest/bad1/truncated`, [ftyp, half]);
    assert.equal(trunc.status, 400);
    assert.match(trunc.text, /cmaf-truncated/);

    const wrongType = await put(`${h.base}/ingest/bad1/texty`, [Buffer.from('hello')], 'text/plain');
    assert.equal(wrongType.status, 415);

    const b = h.packager.getBroadcast('bad1')!;
    assert.match(String(b.track('garbage')!.failure?.message), /not a CMAF stream/);
    await until(h.packager, 'good1', () => (h.packager.getBroadcast('good1')?.track('video-360p')?.current?.msn ?? 0) >= 3, 10_000, 'good broadcast');
    await until(h.packager, 'bad1', () => (b.track('video-360p')?.current?.msn ?? 0) >= 3, 10_000, 'good track of the bad broadcast (three complete segments: playlists are served from then on)');
    assert.equal(b.track('video-360p')!.failure, undefined);
    // The failed tracks are not offered to viewers; the good one is.
    const master = await get(`${h.base}/live/bad1/master.m3u8`);
    assert.match(master.text, /video-360p\/index.m3u8/);
    assert.doesNotMatch(master.text, /garbage|huge|truncated/);
    assert.ok(process.memoryUsage().rss - rssBefore < 100 * 1024 * 1024, 'memory stays bounded');
    assert.equal(await run.exited, 0, run.stderr());
  } finally {
    await run.stop();
  }
});

test('CmafReader bounds memory: a fragment larger than the limit fails instead of buffering', () => {
  const r = new CmafReader({ maxBoxBytes: 1024 });
  const big = Buffer.alloc(8);
  big.writeUInt32BE(4096, 0);
  big.write('moof', 4, 'latin1');
  assert.throws(() => r.push(big), /cmaf-box-too-large|claims 4096 bytes/);
  const r2 = new CmafReader({ maxBoxBytes: 1024 });
  assert.throws(() => r2.push(Buffer.from('00000010moofxxxxxxxx', 'latin1')), /unexpected top-level box/);
});

test('CmafReader accepts any chunking of a real FFmpeg stream (fuzzed chunk boundaries give the same fragments)', async () => {
  const run = runFfmpeg(ffmpegArgs(['pipe:1'], 1, [LADDER[2]!]).filter((a) => a !== '-re'));
  const chunks: Buffer[] = [];
  run.child.stdout?.on('data', (d: Buffer) => chunks.push(d));
  await run.exited;
  const whole = Buffer.concat(chunks);
  const ref = new CmafReader({ maxBoxBytes: 1 << 20 }).push(whole).map((e) => (e.type === 'fragment' ? e.info.decodeTime : -1));
  assert.ok(ref.length >= 5);
  for (let seed = 1; seed <= 20; seed++) {
    const reader = new CmafReader({ maxBoxBytes: 1 << 20 });
    const got: number[] = [];
    let off = 0;
    let x = seed;
    while (off < whole.length) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const n = 1 + (x % 3000);
      for (const e of reader.push(whole.subarray(off, off + n))) got.push(e.type === 'fragment' ? e.info.decodeTime : -1);
      off += n;
    }
    reader.end();
    assert.deepEqual(got, ref);
  }
});

/** One second of AAC CMAF from FFmpeg, made faster than real time. */
async function audioCmaf(): Promise<Buffer> {
  const run = runFfmpeg(ffmpegArgs(['pipe:1'], 1, [LADDER[2]!]).filter((a) => a !== '-re'));
  const chunks: Buffer[] = [];
  run.child.stdout?.on('data', (d: Buffer) => chunks.push(d));
  assert.equal(await run.exited, 0, run.stderr());
  return Buffer.concat(chunks);
}

test('by default ingest creates no broadcast: an unknown id is 404, one created by the control plane is accepted', async () => {
  const d = await startHarness({});
  try {
    assert.equal(d.packager.config.autoCreateBroadcasts, false);
    const cmaf = await audioCmaf();
    const r = await put(`${d.base}/ingest/nobody/audio`, [cmaf]);
    assert.equal(r.status, 404);
    assert.equal(d.packager.getBroadcast('nobody'), undefined);
    d.packager.createBroadcast('known');
    const ok = await put(`${d.base}/ingest/known/audio`, [cmaf]);
    assert.equal(ok.status, 204, ok.text);
    assert.ok(d.packager.getBroadcast('known')!.track('audio')!.segments.length >= 1);
  } finally {
    await d.close();
  }
});

test('with ingestToken configured, ingest needs the bearer token: 401 without it or with a wrong one', async () => {
  const token = 'tok-0123456789abcdef';
  const d = await startHarness({ ingestToken: token });
  try {
    d.packager.createBroadcast('auth1');
    const cmaf = await audioCmaf();
    const none = await put(`${d.base}/ingest/auth1/audio`, [cmaf]);
    assert.equal(none.status, 401);
    for (const bad of ['Bearer tok-0123456789abcdeX', `Basic ${token}`, 'Bearer ', `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`]) {
      assert.equal((await put(`${d.base}/ingest/auth1/audio`, [cmaf], 'video/mp4', { Authorization: bad })).status, 401, bad);
    }
    assert.equal(d.packager.getBroadcast('auth1')!.track('audio'), undefined, 'nothing was ingested');
    const ok = await put(`${d.base}/ingest/auth1/audio`, [cmaf], 'video/mp4', { Authorization: `Bearer ${token}` });
    assert.equal(ok.status, 204, ok.text);
    assert.ok(d.packager.getBroadcast('auth1')!.track('audio')!.segments.length >= 1);
    assert.throws(() => parsePackagerConfig({ ingestToken: 'short' }), /ingestToken/);
  } finally {
    await d.close();
  }
});
