/* eslint-disable @typescript-eslint/no-explicit-any -- the parsers return untyped objects */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { get, pushInProcess, startHarness, until, type FfmpegRun, type Harness } from './helpers.ts';
import { readM3u8, readMpd } from './readback.ts';

const PART_TARGET = 0.22;
let h: Harness;
let run: FfmpegRun;
const B = 'live1';

before(async () => {
  h = await startHarness({});
  run = pushInProcess(h.packager, B, 20);
  const b = h.packager.getBroadcast(B)!;
  await until(h.packager, B, () => b.tracks.length === 3 && b.tracks.every((t) => (t.current?.msn ?? 0) >= 3), 15_000, 'three complete segments on every track (HOLD-BACK: playlists are served from then on)');
});

after(async () => {
  await run?.stop();
  await h?.close();
});

test('blocking reload: _HLS_msn/_HLS_part is answered after that part lands, not before', async () => {
  const b = h.packager.getBroadcast(B)!;
  const t = b.track('video-360p')!;
  const cur = t.current!;
  const want = cur.complete ? { msn: cur.msn + 1, part: 0 } : { msn: cur.msn, part: cur.parts.length };
  let landedAt = 0;
  const onPart = (id: string, seg: { msn: number }, part: { index: number }) => {
    if (id === 'video-360p' && seg.msn === want.msn && part.index === want.part) landedAt = performance.now();
  };
  b.on('part', onPart);
  const r = await get(`${h.base}/live/${B}/video-360p/index.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
  const answeredAt = performance.now();
  b.off('part', onPart);
  assert.equal(r.status, 200);
  assert.ok(landedAt > 0, 'the part landed before the answer');
  assert.ok(answeredAt >= landedAt);
  assert.ok(r.text.includes(`URI="part-${want.msn}.${want.part}.m4s"`), 'playlist names the awaited part');
  assert.equal(r.headers.get('cache-control'), 'public, max-age=6');
});

test('blocking reload 400 rules: _HLS_part without _HLS_msn, _HLS_msn beyond the next segment, malformed values', async () => {
  const t = h.packager.getBroadcast(B)!.track('video-360p')!;
  const url = `${h.base}/live/${B}/video-360p/index.m3u8`;
  for (const q of ['_HLS_part=1', `_HLS_msn=${t.current!.msn + 2}`, '_HLS_msn=-1', '_HLS_msn=abc', '_HLS_msn=1&_HLS_part=x', '_HLS_skip=MAYBE']) {
    const r = await get(`${url}?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.headers.get('cache-control'), 'no-store');
  }
  // One beyond the current segment is allowed (it blocks).
  const r = await get(`${url}?_HLS_msn=${t.current!.msn + 1}`);
  assert.equal(r.status, 200);
});

test('preload-hinted part is answered as soon as it is complete', async () => {
  const p = await get(`${h.base}/live/${B}/video-360p/index.m3u8`);
  const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(p.text)![1]!;
  const r = await get(`${h.base}/live/${B}/video-360p/${hint}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString('latin1', 4, 8), 'moof');
  assert.equal(r.headers.get('content-type'), 'video/iso.segment');
  assert.equal(r.headers.get('cache-control'), 'public, max-age=1209600, immutable');
});

test('every preload hint names a part that comes, across segment boundaries (Shaka fetches hints)', async () => {
  for (const track of ['video-360p', 'audio']) {
    const seen = new Set<string>();
    let unhinted = 0;
    for (let i = 0; i < 10; i++) {
      const p = await get(`${h.base}/live/${B}/${track}/index.m3u8`);
      const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"/.exec(p.text)?.[1];
      if (!hint) {
        // The open segment is at its target: the next part starts a segment not listed yet. Wait for it.
        unhinted++;
        const t = h.packager.getBroadcast(B)!.track(track)!;
        assert.equal((await get(`${h.base}/live/${B}/${track}/index.m3u8?_HLS_msn=${t.current!.msn + 1}&_HLS_part=0`)).status, 200);
        continue;
      }
      const r = await get(`${h.base}/live/${B}/${track}/${hint}`);
      assert.equal(r.status, 200, `${track}/${hint} was hinted and must come`);
      assert.equal(r.body.toString('latin1', 4, 8), 'moof');
      seen.add(hint);
    }
    const msns = new Set([...seen].map((u) => /part-(\d+)\./.exec(u)![1]));
    assert.ok(msns.size >= 2 || unhinted > 0, `${track}: the hints crossed a segment boundary (${[...seen].join(' ')})`);
  }
});

test('an in-progress segment is served with chunked transfer as it grows, ending with the whole segment', async () => {
  const t = h.packager.getBroadcast(B)!.track('video-360p')!;
  const msn = t.current!.complete ? t.current!.msn + 1 : t.current!.msn;
  const r = await fetch(`${h.base}/live/${B}/video-360p/seg-${msn}.m4s`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-length'), null);
  assert.equal(r.headers.get('transfer-encoding'), 'chunked');
  const body = Buffer.from(await r.arrayBuffer());
  const seg = t.segment(msn)!;
  assert.ok(seg.complete);
  assert.equal(body.length, seg.byteLength);
});

test('delta update: _HLS_skip=YES and v2 answer with EXT-X-SKIP once the window exceeds CAN-SKIP-UNTIL', async () => {
  const t = h.packager.getBroadcast(B)!.track('video-360p')!;
  await until(h.packager, B, () => t.current!.msn >= 7, 10_000, '7 s of media');
  const full = readM3u8((await get(`${h.base}/live/${B}/video-360p/index.m3u8`)).text) as any;
  const yes = await get(`${h.base}/live/${B}/video-360p/index.m3u8?_HLS_skip=YES`);
  assert.match(yes.text, /#EXT-X-SKIP:SKIPPED-SEGMENTS=\d+\n/);
  const delta = readM3u8(yes.text) as any;
  assert.ok(delta.skip.skippedSegments >= 1);
  assert.equal(delta.mediaSequence, full.mediaSequence);
  const v2 = await get(`${h.base}/live/${B}/video-360p/index.m3u8?_HLS_skip=v2`);
  assert.match(v2.text, /RECENTLY-REMOVED-DATERANGES=""/);
});

test('media playlists read back: parts ≤ PART-TARGET, non-independent non-last parts ≥ 85 %, segments ≤ TARGETDURATION, continuous numbers', async () => {
  for (const id of ['video-360p', 'video-180p', 'audio']) {
    const r = await get(`${h.base}/live/${B}/${id}/index.m3u8`);
    assert.equal(r.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    const m = readM3u8(r.text) as any;
    assert.equal(m.partTargetDuration, PART_TARGET);
    m.segments.forEach((s: any, i: number) => {
      assert.ok(Math.round(s.duration) <= m.targetDuration, `${id} segment ${i} ${s.duration}`);
      assert.equal(s.uri, `seg-${m.mediaSequence + i}.m4s`, 'sequence numbers continuous');
      (s.parts ?? []).forEach((p: any, j: number, all: any[]) => {
        assert.ok(p.duration <= PART_TARGET, `${id} part ${p.uri} ${p.duration}`);
        if (!p.independent && j < all.length - 1) assert.ok(p.duration >= 0.85 * PART_TARGET, `${id} part ${p.uri} ${p.duration} < 85 %`);
        assert.equal(p.uri, `part-${m.mediaSequence + i}.${j}.m4s`);
      });
    });
    if (id !== 'audio') assert.equal(m.segments[m.segments.length - 1].parts?.[0]?.independent ?? true, true);
    // One hint, or none while the open segment is at its target (see the preload hint test).
    assert.ok((m.preloadSegment?.preloadHints?.length ?? 0) <= 1);
  }
});

test('multivariant playlist lists the renditions really produced with measured bandwidth and codecs from the init segments', async () => {
  const r = await get(`${h.base}/live/${B}/master.m3u8`);
  assert.equal(r.headers.get('cache-control'), 'public, max-age=2');
  const m = readM3u8(r.text) as any;
  assert.equal(m.playlists.length, 2);
  const top = m.playlists[0].attributes;
  assert.match(top.CODECS, /^avc1\.42c0[0-9a-f]{2},mp4a\.40\.2$/);
  assert.deepEqual(top.RESOLUTION, { width: 640, height: 360 });
  assert.equal(top['FRAME-RATE'], 30);
  assert.ok(top.BANDWIDTH > top['AVERAGE-BANDWIDTH'] * 0.9 && top.BANDWIDTH > 100_000);
  assert.equal(m.mediaGroups.AUDIO.audio.audio.uri, 'audio/index.m3u8');
});

test('the MPD reads back over the same segment objects, and they are fetchable', async () => {
  const r = await get(`${h.base}/live/${B}/manifest.mpd`);
  assert.equal(r.headers.get('content-type'), 'application/dash+xml');
  assert.match(r.text, /availabilityTimeComplete="false"/);
  assert.match(r.text, /availabilityTimeOffset="0.78"/);
  const cur = h.packager.getBroadcast(B)!.track('video-360p')!.current!;
  const m = readMpd(r.text, `${h.base}/live/${B}/manifest.mpd`) as any;
  const video = m.playlists.find((p: any) => p.attributes.NAME === 'video-360p');
  // LL-DASH: number addressing (SegmentTemplate@duration): the segment in progress is
  // segment (startNumber + elapsed targets), fetchable while it is being written.
  assert.doesNotMatch(r.text, /<SegmentTimeline>/);
  assert.match(r.text, /<SegmentTemplate timescale="(\d+)"[^>]*startNumber="0"[^>]*duration="\1"/);
  const writing = { resolvedUri: `${h.base}/live/${B}/video-360p/seg-${cur.msn}.m4s` };
  assert.ok(video.segments.length > 0);
  const seg = await get(writing.resolvedUri);
  assert.equal(seg.status, 200);
  const init = await get(video.segments[0].map.resolvedUri);
  assert.equal(init.body.toString('latin1', 4, 8), 'ftyp');
});

test('origin: HEAD, Range, CORS preflight, 404 for unknown names, no path escapes', async () => {
  const p = await get(`${h.base}/live/${B}/video-360p/index.m3u8`);
  const segName = /\n(seg-\d+\.m4s)\n/.exec(p.text)![1]!;
  const url = `${h.base}/live/${B}/video-360p/${segName}`;
  const head = await fetch(url, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.ok(Number(head.headers.get('content-length')) > 0);
  const range = await get(url, { headers: { Range: 'bytes=0-7' } });
  assert.equal(range.status, 206);
  assert.equal(range.body.length, 8);
  assert.match(range.headers.get('content-range')!, /^bytes 0-7\/\d+$/);
  assert.equal((await get(url, { headers: { Range: 'bytes=99999999-' } })).status, 416);
  const pre = await fetch(url, { method: 'OPTIONS', headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'GET' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), '*');
  for (const bad of ['video-360p/seg-99999.m4s', 'video-360p/x.txt', 'nope/index.m3u8', '..%2F..%2Fpackage.json', 'video-360p/..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e/%2e%2e/package.json']) {
    const r = await get(`${h.base}/live/${B}/${bad}`);
    assert.equal(r.status, 404, bad);
  }
  assert.equal((await get(`${h.base}/live/..%2F..%2Fetc/master.m3u8`)).status, 404);
});

test('an FFmpeg restart on the same tracks is a discontinuity, then end() gives ENDLIST and a static MPD', async () => {
  await run.exited;
  const b = h.packager.getBroadcast(B)!;
  const lastBefore = b.track('video-360p')!.current!.msn;
  run = pushInProcess(h.packager, B, 3);
  await until(h.packager, B, () => b.tracks.every((t) => t.current!.period === 1 && t.current!.msn >= lastBefore + 2), 10_000, 'second session');
  const text = (await get(`${h.base}/live/${B}/video-360p/index.m3u8`)).text;
  assert.match(text, /#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="init-1.mp4"\n/);
  const m = readM3u8(text) as any;
  const idx = m.segments.findIndex((s: any) => s.discontinuity);
  assert.equal(m.segments[idx].uri, `seg-${lastBefore + 1}.m4s`, 'numbers continue across the restart');
  const mpd = (await get(`${h.base}/live/${B}/manifest.mpd`)).text;
  assert.match(mpd, /<Period id="p1"/);
  await run.exited;
  b.end();
  const vod = (await get(`${h.base}/live/${B}/video-360p/index.m3u8?_HLS_msn=999`)).text;
  assert.match(vod, /#EXT-X-ENDLIST\n$/);
  assert.match(vod, /#EXT-X-MEDIA-SEQUENCE:0\n/);
  assert.doesNotMatch(vod, /EXT-X-PART/);
  const fin = (await get(`${h.base}/live/${B}/manifest.mpd`)).text;
  assert.match(fin, /type="static"/);
  const vm = readMpd(fin) as any;
  assert.equal(vm.playlists.length >= 2, true);
});
