import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client, HeadObjectCommand } from '@aws-sdk/client-s3';
import { silentLogger } from '../../common/index.ts';
import { Publisher, S3ObjectStore, type Packager } from '../../packager/index.ts';
import { get, pushInProcess, startHarness, until } from './helpers.ts';
import { credentials, FaultProxy, gapUris, namedBy, RecordingStore, S3Server } from './s3store.ts';

const s3 = new S3Server();
let client: S3Client;
before(async () => {
  await s3.start();
  client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials });
});
after(async () => {
  client?.destroy();
  await s3.destroy();
});

const s3store = (endpoint: string) => new S3ObjectStore({ bucket: 'media', endpoint, forcePathStyle: true, credentials });

/** Every object the stored manifests of a broadcast name, checked in the bucket with its headers; returns the playlists' GAP URIs. */
async function checkStored(store: RecordingStore, id: string, tracks: string[], allowMissing: Set<string> = new Set()): Promise<string[]> {
  const gaps: string[] = [];
  const named = new Set<string>();
  for (const key of [`${id}/master.m3u8`, `${id}/manifest.mpd`, ...tracks.map((t) => `${id}/${t}/index.m3u8`)]) {
    const obj = await store.get(key);
    assert.ok(obj, `${key} stored`);
    const text = obj.body.toString('utf8');
    for (const n of namedBy(key, text)) named.add(n);
    if (key.endsWith('index.m3u8')) {
      assert.match(text, /#EXT-X-ENDLIST\n$/, key);
      gaps.push(...gapUris(text).map((u) => `${key.slice(0, key.lastIndexOf('/'))}/${u}`));
    }
  }
  for (const key of named) {
    if (key.endsWith('.m3u8')) continue;
    if (allowMissing.has(key)) continue;
    const head = await client.send(new HeadObjectCommand({ Bucket: 'media', Key: key }));
    const audio = key.includes('/audio/');
    const captions = key.includes('/captions/');
    const type = captions ? (key.endsWith('.vtt') ? 'text/vtt; charset=utf-8' : 'application/mp4') : audio ? 'audio/mp4' : key.endsWith('.mp4') ? 'video/mp4' : 'video/iso.segment';
    assert.equal(head.ContentType, type, key);
    assert.equal(head.CacheControl, 'public, max-age=1209600, immutable', key);
  }
  return gaps;
}

/** Polls the live edge with blocking reloads until `done()`; every one must answer with the awaited part. */
async function blockingReloadsUntil(base: string, packager: Packager, id: string, done: () => boolean): Promise<number> {
  let answered = 0;
  const t = packager.getBroadcast(id)!.track('video-360p')!;
  while (!done()) {
    const cur = t.current!;
    const want = cur.complete ? { msn: cur.msn + 1, part: 0 } : { msn: cur.msn, part: cur.parts.length };
    const r = await get(`${base}/live/${id}/video-360p/index.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
    assert.equal(r.status, 200);
    // The awaited part, or — when the segment ended before it — the first part of the next one.
    assert.ok(r.text.includes(`part-${want.msn}.${want.part}.m4s`) || r.text.includes(`part-${want.msn + 1}.0.m4s`), `answered with part ${want.msn}.${want.part}`);
    answered++;
  }
  return answered;
}

test('S3 stopped mid-broadcast and restarted: the live edge is served from memory meanwhile, the backlog drains, every named object is there and no manifest came before its media', async () => {
  const store = new RecordingStore(s3store(s3.endpoint));
  const QUEUE_MAX = 120;
  const h = await startHarness({ captions: { enabled: true }, uploadQueueMax: QUEUE_MAX, uploadRetry: { maxRetries: 60, delayMs: 100, maxDelayMs: 1_000, backoffFactor: 2 } }, store);
  const pub = h.packager.publisher!;
  let retries = 0;
  pub.on('retry', () => retries++);
  const run = pushInProcess(h.packager, 'out1', 16);
  try {
    const b = h.packager.getBroadcast('out1')!;
    const v = () => b.track('video-360p')?.current?.msn ?? 0;
    await until(h.packager, 'out1', () => v() >= 3 && store.manifests.size >= 3, 15_000, 'uploads under way');
    await s3.stop();
    const downAt = v();
    let maxQueued = 0;
    const sample = () => (maxQueued = Math.max(maxQueued, pub.queued));
    b.on('part', sample);
    // About 7 s of media while the store is away; the live edge keeps moving and blocking reload answers.
    const answered = await blockingReloadsUntil(h.base, h.packager, 'out1', () => v() >= downAt + 7);
    assert.ok(answered >= 20, `${answered} blocking reloads answered during the outage`);
    assert.ok(pub.queued > 5, `a backlog built up (${pub.queued})`);
    await s3.start(); // same port, same directory
    assert.equal(await run.exited, 0, run.stderr());
    await h.packager.close(); // ends the broadcast and drains the backlog
    b.off('part', sample);
    assert.equal(pub.queued, 0);
    assert.ok(retries > 0, 'uploads were retried');
    assert.ok(maxQueued <= QUEUE_MAX && pub.peakQueued <= QUEUE_MAX, `queue depth ${pub.peakQueued} within ${QUEUE_MAX}`);
    assert.equal(pub.dropped.count, 0);
    assert.deepEqual(store.violations, []);
    assert.deepEqual([...store.mpdNamedMissing], []);
    const gaps = await checkStored(store, 'out1', ['video-360p', 'video-180p', 'audio', 'captions']);
    assert.deepEqual(gaps, []);
    const stored = (await store.get('out1/video-360p/index.m3u8'))!.body.toString();
    const segs = stored.match(/^seg-\d+\.m4s$/gm)!;
    assert.ok(segs.length >= 15, `VOD lists ${segs.length} segments, including those made during the outage`);
    assert.ok(segs.includes(`seg-${downAt + 3}.m4s`));
  } finally {
    await run.stop();
    await s3.start().catch(() => {}); // if the test failed during the outage, let the drain finish
    await h.close();
    (store.inner as S3ObjectStore).close();
  }
});

test('5xx answers are retried with the policy backoff; a 4xx is not; retries give up after maxRetries', async () => {
  const proxy = new FaultProxy(() => s3.port);
  await proxy.start();
  const store = s3store(proxy.endpoint);
  // No jitter here: this test pins the backoff's shape (jitter: publisher.test.ts).
  const policy = { maxRetries: 4, delayMs: 50, maxDelayMs: 300, backoffFactor: 2, jitter: 'none' as const };
  const pub = new Publisher(store, { retry: policy, maxQueued: 10, concurrency: 2, logger: silentLogger() });
  try {
    const attempts = new Map<string, number>();
    proxy.failing = (req) => {
      const key = req.url!.split('?')[0]!;
      const n = (attempts.get(key) ?? 0) + 1;
      attempts.set(key, n);
      return req.method === 'PUT' && (key.endsWith('/flaky/seg-1.m4s') ? n <= 3 : key.endsWith('/down/seg-1.m4s'));
    };
    const retried: [string, number, number][] = [];
    pub.on('retry', (key, attempt, delay) => retried.push([key, attempt, delay]));
    const failed: string[] = [];
    pub.on('uploadFailed', (key) => failed.push(key));
    const meta = { contentType: 'video/iso.segment', cacheControl: 'public, max-age=1209600, immutable' };
    pub.enqueueMedia('r1/flaky/seg-1.m4s', Buffer.from('flaky'), meta);
    pub.enqueueMedia('r1/down/seg-1.m4s', Buffer.from('down'), meta);
    await pub.drain();

    const flaky = proxy.log.filter((l) => l.path.includes('/flaky/'));
    assert.deepEqual(flaky.map((l) => l.status), [503, 503, 503, 200]);
    const gaps = flaky.slice(1).map((l, i) => l.at - flaky[i]!.at);
    [50, 100, 200].forEach((d, i) => assert.ok(gaps[i]! >= d - 2 && gaps[i]! < d + 150, `retry ${i + 1} after ${gaps[i]!.toFixed(0)} ms, policy ${d}`));
    assert.deepEqual(retried.filter(([k]) => k.includes('flaky')).map(([, a, d]) => [a, d]), [[1, 50], [2, 100], [3, 200]]);
    assert.equal((await store.get('r1/flaky/seg-1.m4s'))?.body.toString(), 'flaky');

    const down = proxy.log.filter((l) => l.path.includes('/down/'));
    assert.equal(down.length, policy.maxRetries + 1, 'first attempt + maxRetries');
    assert.deepEqual(retried.filter(([k]) => k.includes('down')).map(([, , d]) => d), [50, 100, 200, 300], 'delays capped at maxDelayMs');
    assert.deepEqual(failed, ['r1/down/seg-1.m4s']);

    // A client error (here: a bucket that does not exist → 404) is not retried.
    const wrong = new Publisher(new S3ObjectStore({ bucket: 'no-such-bucket', endpoint: proxy.endpoint, forcePathStyle: true, credentials }), { retry: policy, maxQueued: 10, concurrency: 1, logger: silentLogger() });
    const before = proxy.log.length;
    wrong.enqueueMedia('r1/x/seg-1.m4s', Buffer.from('x'), meta);
    await wrong.drain();
    assert.equal(proxy.log.length - before, 1);
  } finally {
    pub.close();
    store.close();
    await proxy.close();
  }
});

test('store down with a tiny queue bound: queueFull is reported and the live edge keeps advancing; dropped segments are recorded and marked EXT-X-GAP in the stored playlists', async () => {
  const proxy = new FaultProxy(() => s3.port);
  await proxy.start();
  let down = true;
  proxy.failing = () => down;
  const store = new RecordingStore(s3store(proxy.endpoint));
  const QUEUE_MAX = 6;
  const h = await startHarness({ captions: { enabled: true }, uploadQueueMax: QUEUE_MAX, uploadRetry: { maxRetries: 200, delayMs: 50, maxDelayMs: 300, backoffFactor: 2 } }, store);
  const pub = h.packager.publisher!;
  const full: string[] = [];
  let maxQueued = 0;
  pub.on('queueFull', (key, queued) => {
    full.push(key);
    maxQueued = Math.max(maxQueued, queued);
  });
  const run = pushInProcess(h.packager, 'full1', 8);
  try {
    const b = h.packager.getBroadcast('full1')!;
    b.on('part', () => (maxQueued = Math.max(maxQueued, pub.queued)));
    const v = () => b.track('video-360p')?.current?.msn ?? 0;
    await until(h.packager, 'full1', () => full.length >= 3 && v() >= 3, 15_000, 'queueFull reports, and three complete segments (playlists are served from then on)');
    const at = v();
    const answered = await blockingReloadsUntil(h.base, h.packager, 'full1', () => v() >= at + 2);
    assert.ok(answered >= 5, 'the live edge advanced with the queue full');
    assert.equal(store.manifests.size, 0, 'nothing reached the store yet');
    down = false;
    assert.equal(await run.exited, 0, run.stderr());
    await h.packager.close();
    assert.ok(maxQueued <= QUEUE_MAX && pub.peakQueued <= QUEUE_MAX, `queue depth ${pub.peakQueued} within ${QUEUE_MAX}`);
    assert.deepEqual(pub.dropped.keys, full, 'every dropped key is recorded');
    assert.equal(pub.dropped.count, full.length);
    assert.ok(full.every((k) => /\/seg-\d+\.(m4s|vtt)$/.test(k)), 'init segments were not dropped');
    assert.deepEqual(store.violations, []);
    const gaps = await checkStored(store, 'full1', ['video-360p', 'video-180p', 'audio', 'captions'], new Set(full));
    // A captions segment is stored twice (WebVTT for HLS, wvtt for DASH): the playlist marks a gap where its WebVTT was dropped.
    assert.deepEqual(gaps.sort(), full.filter((k) => !/\/captions\/seg-\d+\.m4s$/.test(k)).sort(), 'exactly the dropped segments are EXT-X-GAP in the stored playlists');
    assert.ok([...store.mpdNamedMissing].every((k) => full.includes(k)), 'the MPD misses only dropped segments');
  } finally {
    down = false;
    await run.stop();
    await h.close();
    (store.inner as S3ObjectStore).close();
    await proxy.close();
  }
});
