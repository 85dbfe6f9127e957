// A stage that goes live again and again (a weekly show): every go-live is its
// own broadcast with its own objects, the stage's stable link follows the
// current broadcast and offers the latest recording between broadcasts, and a
// restart on the same store keeps every recording. For a filesystem store and
// for S3 (s3rver): two broadcasts in one process, a third after a restart;
// FFmpeg (a client we did not write) plays each recording from the store and
// plain hls.js plays the stable link; not one object of the first broadcast is
// rewritten by the later ones.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { AppConfigInput } from '../../app/config.ts';
import type { RunningApp } from '../../app/server.ts';
import { api } from '../helpers/app.ts';
import { startE2e, type E2e } from '../helpers/e2e/harness.ts';
import { samplePlayback } from '../helpers/plainPlayers.ts';
import { S3Server, credentials } from '../helpers/s3.ts';
import { until } from '../helpers/wait.ts';

const STAGE = 'weekly';
const light: Partial<AppConfigInput> = {
  transcode: { ladder: 'sd', x264Preset: 'ultrafast', supervision: { startTimeoutMs: 30_000 } },
  endedGraceMs: 500,
  packager: { captions: { enabled: true } },
};

/**
 * A caption cue for the stage's live broadcast, awaited in a complete live WebVTT segment: a cue
 * placed at the live edge is in no segment until media past it comes, and a stop before that
 * leaves it only in captions.vtt (the broadcast ends where its media ends).
 */
async function caption(app: RunningApp, id: string): Promise<void> {
  const text = `Caption of ${id}`;
  const r = await api(app, 'POST', `/stages/${STAGE}/captions`, { text, duration: 1500 });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const base = `${app.url}/live/${id}/captions`;
  await until(`a live WebVTT segment of ${id} carrying its cue`, async () => {
    const names = (await (await fetch(`${base}/index.m3u8`)).text()).match(/^seg-\d+\.vtt$/gm) ?? [];
    for (const n of names.slice(-4)) if ((await (await fetch(`${base}/${n}`)).text()).includes(text)) return true;
    return false;
  }, 15_000);
}

let h: E2e;
before(async () => {
  // The app is started (and restarted) by each test, on its store.
  h = await startE2e({ app: false });
});
after(() => h?.close());

type Status = { id: string; stageId: string; state: string };
type StageView = { broadcast: Status | null; broadcasts: { id: string; state: string; hlsUrl: string }[]; hlsUrl: string; viewerUrl: string };

/** Creates the stage (a restarted process knows no stages), publishes from the host page, goes live; returns the broadcast id. */
async function goLive(app: RunningApp): Promise<{ id: string; close: () => Promise<void> }> {
  let created = await api<{ hostUrl: string }>(app, 'POST', '/stages', { id: STAGE });
  if (created.status === 409) created = await api<{ hostUrl: string }>(app, 'POST', `/stages/${STAGE}/host-tokens`, {});
  assert.ok(created.status === 201, JSON.stringify(created.body));
  const host = await h.publishHost({ stage: STAGE, hostUrl: created.body.hostUrl });
  const live = await h.goLive<{ broadcast: Status; hlsUrl: string }>(STAGE);
  assert.equal(live.broadcast.stageId, STAGE);
  assert.match(live.broadcast.id, /^weekly-\d{8}T\d{6}Z(-\d+)?$/);
  assert.equal(live.hlsUrl, `${app.url}/live/${STAGE}/master.m3u8`, 'the go-live answer gives the stage\'s stable link');
  return { id: live.broadcast.id, close: () => host.close() };
}

/** Where the stable link leads now (fetch follows the redirect), once it serves a playlist. */
async function stableTarget(app: RunningApp): Promise<string> {
  return until('the stable link serving a playlist', async () => {
    const res = await fetch(`${app.url}/live/${STAGE}/master.m3u8`);
    await res.arrayBuffer();
    return res.status === 200 ? new URL(res.url).pathname : undefined;
  }, 60_000);
}

/** FFmpeg as the client: decodes the video of an HLS URL to the end (a VOD) and counts its frames. */
function ffmpegFrames(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', '-stats', '-i', url, '-map', '0:v:0', '-f', 'null', '-'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const frames = [...err.matchAll(/frame=\s*(\d+)/g)].at(-1)?.[1];
      if (code !== 0 || frames === undefined) reject(new Error(`ffmpeg ${url} exited ${code}: ${err}`));
      else resolve(Number(frames));
    });
  });
}

/**
 * Plain hls.js on its defaults plays the stable link: 45 more frames (1.5 s of the 30 fps clock) decoded and the
 * media time 1.5 s on. Awaited with a 10 s deadline rather than read after a fixed 3 s: on a loaded 2-core CI
 * machine the first seconds after start-up can stall (a run on 2026-12-04 counted 40 frames in its 3 s).
 */
async function plainHlsPlays(app: RunningApp): Promise<void> {
  const page = await h.newPage();
  try {
    await page.goto((await h.players()).pageUrl('hlsjs', `${app.url}/live/${STAGE}/master.m3u8`));
    await page.waitForFunction('window.__player && window.__player.sample().currentTime > 0', undefined, { timeout: 30_000 });
    const a = await samplePlayback(page);
    const moved = await page
      // A string, as samplePlayback's: the test build would wrap a function in a `__name` call the page lacks.
      .waitForFunction(`(() => { const s = window.__player.sample(); return s.frames - ${a.frames} > 45 && s.currentTime - ${a.currentTime} > 1.5; })()`, undefined, {
        timeout: 10_000,
        polling: 100,
      })
      .then(() => true, () => false);
    const b = await samplePlayback(page);
    assert.ok(moved, `hls.js decoded ${b.frames - a.frames} frames and played ${(b.currentTime - a.currentTime).toFixed(2)} s of the stable link in 10 s`);
  } finally {
    await page.close();
  }
}

interface StoreKind {
  name: string;
  setup(): Promise<{ store: AppConfigInput['store']; objects(prefix: string): Promise<Map<string, string>>; close(): Promise<void> }>;
}

const kinds: StoreKind[] = [
  {
    name: 'filesystem',
    async setup() {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'stagecast-again-'));
      const walk = (d: string, out: Map<string, string>) => {
        for (const f of readdirSync(d)) {
          const p = path.join(d, f);
          if (statSync(p).isDirectory()) walk(p, out);
          else out.set(path.relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
        }
        return out;
      };
      return {
        store: { kind: 'fs', dir },
        objects: async (prefix) => walk(path.join(dir, prefix), new Map()),
        close: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'S3 (s3rver)',
    async setup() {
      const s3 = new S3Server();
      await s3.start();
      const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials });
      return {
        store: { kind: 's3', bucket: 'media', endpoint: s3.endpoint, forcePathStyle: true, credentials },
        objects: async (prefix) => {
          const out = new Map<string, string>();
          let token: string | undefined;
          do {
            const page = await client.send(new ListObjectsV2Command({ Bucket: 'media', Prefix: `${prefix}/`, ...(token ? { ContinuationToken: token } : {}) }));
            for (const o of page.Contents ?? []) out.set(o.Key!, `${o.ETag}:${o.Size}`);
            token = page.NextContinuationToken;
          } while (token);
          return out;
        },
        close: async () => {
          client.destroy();
          await s3.destroy();
        },
      };
    },
  },
];

for (const kind of kinds) {
  describe(`go live again on one stage, ${kind.name} store`, () => {
    test('each go-live its own broadcast and objects; the stable link follows; a restart keeps every recording', async () => {
      const store = await kind.setup();
      let app: RunningApp | undefined;
      try {
        app = await h.startApp({ ...light, store: store.store });
        // Before the first broadcast the stable link is "not live yet".
        await api(app, 'POST', '/stages', { id: STAGE });
        assert.equal((await fetch(`${app.url}/live/${STAGE}/master.m3u8`)).status, 404);

        const first = await goLive(app);
        assert.equal(await stableTarget(app), `/live/${first.id}/master.m3u8`, 'the stable link redirects to the live broadcast');
        await plainHlsPlays(app);
        await caption(app, first.id);
        await api(app, 'POST', `/stages/${STAGE}/stop`);
        await first.close();
        await app.packager.publisher?.drain();
        const before = await store.objects(first.id);
        assert.ok([...before.keys()].some((k) => k.endsWith('seg-2.m4s')), `the first broadcast is in the store: ${[...before.keys()].slice(0, 5).join(', ')}`);

        // Same stage, same process: a new broadcast, not a 409.
        const second = await goLive(app);
        assert.notEqual(second.id, first.id);
        assert.equal(await stableTarget(app), `/live/${second.id}/master.m3u8`);
        await caption(app, second.id);
        await api(app, 'POST', `/stages/${STAGE}/stop`);
        await second.close();
        await app.packager.publisher?.drain();
        // Between broadcasts the stable link offers the latest recording.
        assert.equal(await stableTarget(app), `/live/${second.id}/master.m3u8`);
        await h.closeApp();
        app = undefined;

        // A restart on the same store: the recordings are still there, and the stage goes on.
        app = await h.startApp({ ...light, store: store.store });
        await api(app, 'POST', '/stages', { id: STAGE });
        assert.equal(await stableTarget(app), `/live/${second.id}/master.m3u8`, 'after a restart the stable link offers the latest recording');
        const third = await goLive(app);
        assert.equal(await stableTarget(app), `/live/${third.id}/master.m3u8`);
        await plainHlsPlays(app);

        const view = await api<StageView>(app, 'GET', `/stages/${STAGE}`);
        assert.deepEqual(
          view.body.broadcasts.map((b) => [b.id, b.state]),
          [
            [third.id, 'live'],
            [second.id, 'recorded'],
            [first.id, 'recorded'],
          ],
        );
        assert.equal(view.body.viewerUrl, `${app.url}/watch/?stage=${STAGE}`);
        const recordings = await api<{ stages: { stageId: string; recordings: { id: string }[] }[] }>(app, 'GET', '/recordings');
        assert.deepEqual(
          recordings.body.stages.map((s) => [s.stageId, s.recordings.map((r) => r.id)]),
          [[STAGE, [first.id, second.id]]],
        );

        // What each recording says besides its media outlives the process: its timeline (in the
        // store's recordings index), its chapters, thumbnails track and poster (in the store).
        for (const id of [first.id, second.id]) {
          type RecordingView = { timeline: { kind: string; attributes: Record<string, string> }[]; chaptersUrl: string };
          const rec: { status: number; body: RecordingView } = await api<RecordingView>(app, 'GET', `/recordings/${id}`);
          assert.equal(rec.status, 200);
          assert.ok(rec.body.timeline.some((e) => e.kind === 'layout' && e.attributes.layout === 'grid'), JSON.stringify(rec.body.timeline));
          assert.ok(rec.body.timeline.some((e) => e.kind === 'host' && e.attributes.action === 'on-stage'), JSON.stringify(rec.body.timeline));
          assert.match(await (await fetch(rec.body.chaptersUrl)).text(), /^WEBVTT/);
          const thumbs = await (await fetch(`${app.url}/live/${id}/thumbnails.vtt`)).text();
          const firstImage = /^(thumbs\/thumb-\d+-\d+\.jpg)$/m.exec(thumbs)?.[1];
          assert.ok(firstImage, thumbs.slice(0, 300));
          const image: Response = await fetch(`${app.url}/live/${id}/${firstImage}`);
          assert.equal(image.headers.get('content-type'), 'image/jpeg');
          assert.deepEqual([...Buffer.from(await image.arrayBuffer()).subarray(0, 2)], [0xff, 0xd8]);
          assert.equal((await fetch(`${app.url}/live/${id}/poster.jpg`)).status, 200);
          // Its captions: the whole file and the subtitle rendition the stored multivariant playlist names.
          assert.match(await (await fetch(`${app.url}/live/${id}/captions.vtt`)).text(), new RegExp(`-->.*\n.*Caption of ${id}`));
          assert.match(await (await fetch(`${app.url}/live/${id}/master.m3u8`)).text(), /#EXT-X-MEDIA:TYPE=SUBTITLES,.*URI="captions\/index.m3u8"/);
          const subs = await (await fetch(`${app.url}/live/${id}/captions/index.m3u8`)).text();
          assert.match(subs, /#EXT-X-ENDLIST\n$/);
          const base = `${app.url}/live/${id}/captions`;
          const withCue = await Promise.all((subs.match(/^seg-\d+\.vtt$/gm) ?? []).map(async (n) => (await (await fetch(`${base}/${n}`)).text()).includes(`Caption of ${id}`)));
          assert.ok(withCue.some(Boolean), 'a stored WebVTT segment carries the cue');
        }

        // Both recordings play from the store (this process never had them in memory).
        for (const id of [first.id, second.id]) {
          const frames = await ffmpegFrames(`${app.url}/live/${id}/master.m3u8`);
          assert.ok(frames > 60, `FFmpeg decoded ${frames} frames of the recording ${id}`);
        }
        await api(app, 'POST', `/stages/${STAGE}/stop`);
        await third.close();
        await app.packager.publisher?.drain();

        const afterAll = await store.objects(first.id);
        for (const [key, digest] of before) assert.equal(afterAll.get(key), digest, `${key} of the first broadcast was rewritten`);
        assert.deepEqual([...afterAll.keys()].sort(), [...before.keys()].sort(), 'no object was added under the first broadcast');
      } finally {
        await h.closeApp();
        await store.close();
      }
    });
  });
}
