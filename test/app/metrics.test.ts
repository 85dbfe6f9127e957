// /metrics, /healthz and /readyz of a running app: the figures come from what
// really happened (parts pushed by a real FFmpeg through the packager, origin
// requests made here), not from constants.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningApp } from '../../app/server.ts';
import { TEST_ADMIN_TOKEN, api, startTestApp } from '../helpers/app.ts';
import { scrapeMetrics } from '../helpers/metrics.ts';
import { pushInProcess, until, type FfmpegRun } from '../packager/helpers.ts';

async function scrape(app: RunningApp, headers: Record<string, string> = {}): Promise<{ status: number; metrics: Map<string, number>; text: string }> {
  return scrapeMetrics(`${app.url}/metrics`, headers);
}

describe('metrics of a running broadcast', () => {
  let app: RunningApp;
  let run: FfmpegRun;
  const B = 'metrics1';
  const counted = { parts: new Map<string, number>(), segments: new Map<string, number>() };

  before(async () => {
    app = await startTestApp();
    assert.equal((await api(app, 'POST', '/stages', { id: B })).status, 201);
    const b = app.packager.createBroadcast(B);
    b.on('part', (track) => counted.parts.set(track, (counted.parts.get(track) ?? 0) + 1));
    b.on('segment', (track) => counted.segments.set(track, (counted.segments.get(track) ?? 0) + 1));
    run = pushInProcess(app.packager, B, 9);
    // Three complete segments: playlists are served from then on (HOLD-BACK).
    await until(app.packager, B, () => b.tracks.length === 3 && b.tracks.every((t) => (t.current?.msn ?? 0) >= 3), 20_000, 'three complete segments on every track');
  });

  after(async () => {
    await run?.stop();
    await app?.close();
  });

  test('stages, hosts, producers and workers come from the SFU', async () => {
    const { status, metrics, text } = await scrape(app);
    assert.equal(status, 200);
    assert.equal(metrics.get('stagecast_stages'), 1);
    assert.equal(metrics.get('stagecast_mediasoup_workers'), 1);
    assert.equal(metrics.get(`stagecast_hosts{stage="${B}"}`), 0);
    assert.equal(metrics.get(`stagecast_producers{stage="${B}",kind="video"}`), 0);
    assert.ok(metrics.has('process_resident_memory_bytes'), 'default process metrics are included');
    assert.match(text, /# TYPE stagecast_parts_total counter/);
  });

  test('parts and segments counters equal the packager events, per track; the lag histogram saw every part', async (t) => {
    // Media keeps landing while we scrape: the metric lies between the event counts just before and just after.
    const snap = (m: Map<string, number>) => new Map(m);
    const parts0 = snap(counted.parts);
    const segments0 = snap(counted.segments);
    const { metrics } = await scrape(app);
    let parts = 0;
    assert.equal(counted.parts.size, 3);
    for (const [track, n1] of counted.parts) {
      const v = metrics.get(`stagecast_parts_total{broadcast="${B}",track="${track}"}`);
      const n0 = parts0.get(track) ?? 0;
      assert.ok(v !== undefined && v >= n0 && v <= n1, `parts of ${track}: metric ${v}, events ${n0}..${n1}`);
      parts += v;
    }
    for (const [track, n1] of counted.segments) {
      const v = metrics.get(`stagecast_segments_total{broadcast="${B}",track="${track}"}`);
      const n0 = segments0.get(track) ?? 0;
      assert.ok(v !== undefined && v >= n0 && v <= n1, `segments of ${track}: metric ${v}, events ${n0}..${n1}`);
    }
    const lagCount = metrics.get(`stagecast_part_availability_lag_seconds_count{broadcast="${B}"}`);
    assert.equal(lagCount, parts, 'one lag observation per part');
    const lagSum = metrics.get(`stagecast_part_availability_lag_seconds_sum{broadcast="${B}"}`)!;
    // The mean depends on the machine's load (FFmpeg falling behind -re adds to it): reported, and only checked to be a real figure.
    assert.ok(Number.isFinite(lagSum));
    t.diagnostic(`mean part availability lag ${(lagSum / lagCount).toFixed(3)} s over ${lagCount} parts`);
  });

  test('origin requests are counted by route kind and status; a blocking reload shows as a waiter while it waits', async () => {
    const base = `${app.url}/live/${B}`;
    assert.equal((await fetch(`${base}/video-360p/index.m3u8`).then((r) => r.arrayBuffer().then(() => r.status))), 200);
    assert.equal((await fetch(`${base}/video-360p/index.m3u8?_HLS_msn=-1`).then((r) => r.arrayBuffer().then(() => r.status))), 400);
    assert.equal((await fetch(`${base}/video-360p/nothing.txt`).then((r) => r.arrayBuffer().then(() => r.status))), 404);
    const t = app.packager.getBroadcast(B)!.track('video-360p')!;
    const next = t.current!.msn + 1;
    const blocking = fetch(`${base}/video-360p/index.m3u8?_HLS_msn=${next}`).then((r) => r.arrayBuffer().then(() => r.status));
    await until(app.packager, B, () => t.waiting > 0, 5000, 'the blocking request to wait');
    const during = (await scrape(app)).metrics;
    assert.ok((during.get(`stagecast_blocking_waiters{broadcast="${B}"}`) ?? 0) >= 1, 'waiter visible');
    assert.equal(await blocking, 200);
    const { metrics } = await scrape(app);
    assert.ok((metrics.get('stagecast_origin_requests_total{route="playlist",status="200"}') ?? 0) >= 1);
    assert.equal(metrics.get('stagecast_origin_requests_total{route="playlist_blocking",status="400"}'), 1);
    assert.equal(metrics.get('stagecast_origin_requests_total{route="other",status="404"}'), 1);
    assert.equal(metrics.get('stagecast_origin_requests_total{route="playlist_blocking",status="200"}'), 1);
    assert.equal(metrics.get('stagecast_origin_response_seconds_count{route="playlist_blocking"}'), 2);
    assert.equal(metrics.get(`stagecast_viewers_estimated{broadcast="${B}"}`), 1, 'one client (this test) polled playlists');
  });

  test('uploads to the store are counted; nothing failed', async () => {
    const { metrics } = await scrape(app);
    assert.ok((metrics.get('stagecast_uploads_total{kind="media"}') ?? 0) >= 3, 'init segments and segments stored');
    assert.equal(metrics.get('stagecast_upload_failures_total{kind="media"}'), 0);
    assert.equal(metrics.get('stagecast_upload_retries_total{kind="media"}'), 0);
    assert.ok(metrics.has('stagecast_upload_queue_depth'));
  });

  test('health: /healthz answers; /readyz is 200 with a worker and a store, 503 with reasons once shutting down', async () => {
    const live = await fetch(`${app.url}/healthz`);
    assert.equal(live.status, 200);
    const ready = await fetch(`${app.url}/readyz`);
    const body = (await ready.json()) as { ready: boolean; workers: number; store: { ok: boolean } };
    assert.equal(ready.status, 200);
    assert.equal(body.ready, true);
    assert.equal(body.workers, 1);
    assert.equal(body.store.ok, true);
    app.health.setShuttingDown();
    const draining = await fetch(`${app.url}/readyz`);
    assert.equal(draining.status, 503);
    assert.deepEqual(((await draining.json()) as { reasons: string[] }).reasons, ['shutting down']);
  });
});

describe('metrics token and an unreachable store', () => {
  let app: RunningApp;
  before(async () => {
    app = await startTestApp({
      metrics: { token: 'metrics-token-0123456789' },
      // Nothing listens on port 9: the S3 store is unreachable from the start.
      store: { kind: 's3', bucket: 'nothing', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } },
    });
  });
  after(async () => {
    await app?.close();
  });

  test('/metrics needs the token when one is configured', async () => {
    assert.equal((await scrape(app)).status, 401);
    assert.equal((await scrape(app, { authorization: `Bearer ${TEST_ADMIN_TOKEN}` })).status, 401, 'the admin token is not the metrics token');
    const ok = await scrape(app, { authorization: 'Bearer metrics-token-0123456789' });
    assert.equal(ok.status, 200);
    assert.equal(ok.metrics.get('stagecast_stages'), 0);
  });

  test('/readyz stays 200 but reports the store as degraded when it cannot be reached', async () => {
    // The origin serves the live edge from memory while the store is away; readiness must not pull it.
    const res = await fetch(`${app.url}/readyz`);
    const body = (await res.json()) as { ready: boolean; reasons: string[]; degraded: string[] };
    assert.equal(res.status, 200);
    assert.equal(body.ready, true);
    assert.deepEqual(body.reasons, []);
    assert.equal(body.degraded.length, 1);
    assert.match(body.degraded[0]!, /^object store: unreachable/);
    assert.equal((await fetch(`${app.url}/healthz`)).status, 200, 'liveness is not readiness');
  });
});
