// The S3 server goes away for 30 s in the middle of a broadcast and comes back on
// the same port and directory. Viewers keep watching the live edge (served from
// the origin's memory), the upload queue stays inside its bounds, the backlog
// drains, and afterwards every object any manifest ever named is in the bucket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { RunningApp } from '../../app/server.ts';
import { S3ObjectStore } from '../../packager/index.ts';
import { api, broadcastIdOf } from '../helpers/app.ts';
import { startE2e, type E2e } from '../helpers/e2e/harness.ts';
import { TWO_RUNGS } from '../helpers/e2e/ladders.ts';
import { S3Server, credentials } from '../helpers/s3.ts';
import { stallStats, watchStalls } from '../helpers/stalls.ts';
import { namedBy } from '../packager/s3store.ts';

const OUTAGE_MS = 30_000;
const QUEUE_MAX = 200;
const QUEUE_MAX_BYTES = 48 * 1024 * 1024;
const ID = 's3out';
/** The broadcast's id (its media's name), known once it goes live. */
let BID = '';
const TRACKS = ['video-360p', 'video-180p', 'audio'];

let h: E2e;
let app: RunningApp;
const s3 = new S3Server();

before(async () => {
  h = await startE2e({ app: false });
  h.defer('backend', 'the S3 server', () => s3.destroy());
  await s3.start();
  app = await h.startApp({
    store: { kind: 's3', bucket: 'media', endpoint: s3.endpoint, forcePathStyle: true, credentials },
    transcode: TWO_RUNGS,
    // Retries outlast the outage (capped at 2 s apart, so the backlog drains soon after the store is back).
    packager: { uploadQueueMax: QUEUE_MAX, uploadQueueMaxBytes: QUEUE_MAX_BYTES, uploadRetry: { maxRetries: 60, delayMs: 200, maxDelayMs: 2_000, backoffFactor: 2 } },
    endedGraceMs: 2_000,
  });
  // Before the app closes: a failed run may leave it stopped; let the drain on close finish.
  h.defer('app', 'the S3 server back', () => s3.start().catch(() => {}));
});
after(() => h?.close());

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Polls every manifest the origin serves (multivariant, media playlists, MPD),
 * remembering every object they name; each part is fetched once as it appears,
 * so its bytes can be looked for in the stored segment later (parts live in
 * memory only; the store keeps the segment they make up).
 */
class ManifestWatcher {
  readonly named = new Set<string>(); // store keys: <id>/<track>/<name>
  readonly parts = new Map<string, Buffer>();
  readonly msn = new Map<string, number>();
  #stop = false;
  #loop: Promise<void> | undefined;
  errors: string[] = [];

  constructor(readonly base: string) {}

  start(): void {
    this.#loop = (async () => {
      while (!this.#stop) {
        await this.poll().catch((err: Error) => this.errors.push(err.message));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }

  async poll(): Promise<void> {
    const master = await fetch(`${this.base}/live/${BID}/master.m3u8`);
    if (master.status !== 200) throw new Error(`master.m3u8 ${master.status}`);
    await master.text();
    for (const track of TRACKS) {
      const res = await fetch(`${this.base}/live/${BID}/${track}/index.m3u8`);
      if (res.status !== 200) throw new Error(`${track}/index.m3u8 ${res.status}`);
      const text = await res.text();
      let last = -1;
      const mediaSeq = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
      let n = mediaSeq;
      for (const line of text.split('\n')) {
        const map = /^#EXT-X-MAP:URI="([^"]+)"/.exec(line);
        if (map) this.named.add(`${BID}/${track}/${map[1]}`);
        const part = /^#EXT-X-PART:.*URI="([^"]+)"/.exec(line);
        if (part) {
          const key = `${BID}/${track}/${part[1]}`;
          this.named.add(key);
          if (!this.parts.has(key)) {
            const r = await fetch(`${this.base}/live/${key}`);
            if (r.status !== 200) throw new Error(`part ${key} ${r.status}`);
            this.parts.set(key, Buffer.from(await r.arrayBuffer()));
          }
        }
        if (line && !line.startsWith('#')) {
          this.named.add(`${BID}/${track}/${line}`);
          last = n++;
        }
      }
      this.msn.set(track, last);
    }
    const mpd = await fetch(`${this.base}/live/${BID}/manifest.mpd`);
    if (mpd.status !== 200) throw new Error(`manifest.mpd ${mpd.status}`);
    for (const key of namedBy(`${BID}/manifest.mpd`, await mpd.text())) this.named.add(key);
  }
}

test('S3 away for 30 s: viewers keep playing from memory, the queue stays bounded, the backlog drains, every named segment, part and init is in the bucket', async (t) => {
  const created = await h.createStage(ID);
  const bucket = new S3ObjectStore({ bucket: 'media', endpoint: s3.endpoint, forcePathStyle: true, credentials });
  const watcher = new ManifestWatcher(app.url);
  const pub = app.packager.publisher!;
  try {
    await h.publishHost({ stage: ID, hostUrl: created.hostUrl });
    await h.goLive(ID);
    BID = broadcastIdOf(app, ID);
    const viewer = await h.openViewer({ kind: 'watch', stage: ID });
    await viewer.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 3, undefined, { timeout: 30_000, polling: 200 });
    await watcher.poll();
    watcher.start();
    await watchStalls(viewer);

    // The store goes away. Everything below runs against the origin's memory.
    let maxQueued = 0;
    let maxBytes = 0;
    const sampler = setInterval(() => {
      maxQueued = Math.max(maxQueued, pub.queued);
      maxBytes = Math.max(maxBytes, pub.queuedBytes);
    }, 100);
    let retries = 0;
    const onRetry = () => retries++;
    pub.on('retry', onRetry);
    const sample = () =>
      viewer.evaluate(() => ({
        currentTime: (document.getElementById('video') as HTMLVideoElement).currentTime,
        state: document.getElementById('state')!.dataset.state,
      }));
    const msnBefore = watcher.msn.get('video-360p') ?? -1;
    const playBefore = await sample();
    const rssBefore = process.memoryUsage().rss;
    await s3.stop();
    const downAt = Date.now();
    // The fault lasts 30 s of wall time: this wait is the scenario, not a warm-up.
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const playAfter = await sample();
    const queuedAtEnd = pub.queued;
    const rssAfter = process.memoryUsage().rss;
    const msnAfter = watcher.msn.get('video-360p') ?? -1;
    await s3.start(); // same port, same directory
    const upAt = Date.now();
    const { events, stalledMs } = await stallStats(viewer);
    const stalls = { count: events, ms: stalledMs };
    t.diagnostic(
      `outage ${upAt - downAt} ms: viewer ${playBefore.currentTime.toFixed(1)} → ${playAfter.currentTime.toFixed(1)} s (${playAfter.state}), ` +
        `stalls ${stalls.count} (${stalls.ms.toFixed(0)} ms), playlist msn ${msnBefore} → ${msnAfter}, ` +
        `queue at the end ${queuedAtEnd}, peak ${maxQueued} objects / ${(maxBytes / 1024 / 1024).toFixed(1)} MiB, retries ${retries}, ` +
        `test process RSS ${(rssBefore / 1024 / 1024).toFixed(0)} → ${(rssAfter / 1024 / 1024).toFixed(0)} MiB`,
    );
    assert.equal(playAfter.state, 'playing');
    assert.ok(playAfter.currentTime - playBefore.currentTime >= (OUTAGE_MS / 1000) * 0.85, `the viewer played on: ${playBefore.currentTime} → ${playAfter.currentTime}`);
    // What the viewer lost to rebuffering, not how many times hls.js said 'waiting': the count
    // follows this shared machine's load (1 stall of 63 ms at load ~10, 12 short ones at ~25).
    assert.ok(stalls.ms < 2_000, `stalled ${stalls.ms.toFixed(0)} ms (${stalls.count} stalls) during the outage`);
    assert.ok(msnAfter - msnBefore >= 25, `the live playlist advanced: msn ${msnBefore} → ${msnAfter}`);
    assert.ok(retries > 0 && queuedAtEnd > 30, `uploads were held back during the outage (queued ${queuedAtEnd}, retries ${retries})`);
    assert.ok(maxQueued <= QUEUE_MAX && pub.peakQueued <= QUEUE_MAX, `queue depth ${pub.peakQueued} within ${QUEUE_MAX}`);
    assert.ok(maxBytes <= QUEUE_MAX_BYTES, `queued bytes ${maxBytes} within ${QUEUE_MAX_BYTES}`);

    // The backlog drains while the broadcast goes on.
    const drainStart = Date.now();
    while (pub.queued > 4 && Date.now() - drainStart < 30_000) await new Promise((r) => setTimeout(r, 100));
    t.diagnostic(`backlog down to ${pub.queued} in flight ${Date.now() - drainStart} ms after the store came back`);
    assert.ok(pub.queued <= 4, `backlog drained (${pub.queued} left)`);
    clearInterval(sampler);
    pub.off('retry', onRetry);

    // A few more seconds live, then stop; the broadcast leaves memory once its uploads are stored.
    const msnNow = watcher.msn.get('video-360p') ?? 0;
    while ((watcher.msn.get('video-360p') ?? 0) < msnNow + 3) await new Promise((r) => setTimeout(r, 200));
    await watcher.stop();
    assert.deepEqual(watcher.errors, [], 'every manifest and part request to the origin succeeded');
    assert.equal((await api(app, 'POST', `/stages/${ID}/stop`)).status, 200);
    const deadline = Date.now() + 30_000;
    while (app.packager.getBroadcast(BID) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(app.packager.getBroadcast(BID), undefined, 'the ended broadcast was drained and retired');
    assert.equal(pub.queued, 0);
    assert.equal(pub.dropped.count, 0, `dropped: ${pub.dropped.keys.join(', ')}`);

    // Everything any manifest named — live versions seen by the watcher and the final stored ones — is in the bucket.
    const named = new Set(watcher.named);
    for (const key of [`${BID}/master.m3u8`, `${BID}/manifest.mpd`, ...TRACKS.map((tr) => `${BID}/${tr}/index.m3u8`)]) {
      const obj = await bucket.get(key);
      assert.ok(obj, `${key} stored`);
      const text = obj.body.toString('utf8');
      if (key.endsWith('index.m3u8')) {
        assert.match(text, /#EXT-X-ENDLIST\n$/, key);
        assert.doesNotMatch(text, /#EXT-X-GAP/, `${key} has no gaps`);
      }
      for (const n of namedBy(key, text)) named.add(n);
    }
    const missing: string[] = [];
    const segments = new Map<string, Buffer>();
    let checkedParts = 0;
    for (const key of named) {
      const part = /^(.*)\/part-(\d+)\.(\d+)\.m4s$/.exec(key);
      if (part) {
        // A part's bytes are stored as a slice of its segment.
        const segKey = `${part[1]}/seg-${part[2]}.m4s`;
        let seg = segments.get(segKey);
        if (!seg) {
          seg = (await bucket.get(segKey))?.body;
          if (seg) segments.set(segKey, seg);
        }
        const bytes = watcher.parts.get(key)!;
        if (!seg || seg.indexOf(bytes) < 0) missing.push(`${key} (sha ${sha(bytes).slice(0, 8)}) not in ${segKey}`);
        checkedParts++;
        continue;
      }
      if (!(await bucket.get(key))) missing.push(key);
    }
    const segCount = [...named].filter((k) => /seg-\d+\.m4s$/.test(k)).length;
    t.diagnostic(`${named.size} named objects checked in the bucket: ${segCount} segments, ${checkedParts} parts (as slices of their segments), the rest inits and manifests`);
    assert.deepEqual(missing, []);
    // The VOD covers the outage: each track's stored segments run without a hole across every
    // media sequence number the live playlist went through while the store was away.
    for (const track of TRACKS) {
      const numbers = new Set([...named].flatMap((k) => {
        const m = new RegExp(`^${BID}/${track}/seg-(\\d+)\\.m4s$`).exec(k);
        return m ? [Number(m[1])] : [];
      }));
      const holes: number[] = [];
      for (let n = msnBefore; n <= msnAfter; n++) if (!numbers.has(n)) holes.push(n);
      assert.deepEqual(holes, [], `${track}: segments ${msnBefore}..${msnAfter} named and stored (${numbers.size} segments in all)`);
    }
    assert.ok(checkedParts >= 100, `${checkedParts} parts checked`);
  } finally {
    await watcher.stop();
    bucket.close();
  }
});
