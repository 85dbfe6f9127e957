// SIGTERM to the real process (`node --import tsx main.ts`) in the middle of a
// broadcast: it exits 0 having ended the broadcast (ENDLIST, static MPD in the
// store), with no FFmpeg or mediasoup worker left and its ports free; started
// again on the same store, it lists the broadcast as a recording and the viewer
// page plays it as a VOD.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { isUdpPortBound } from '../../common/index.ts';
import { testRtpPorts } from '../helpers/app.ts';
import { startE2e, type E2e, type StagecastProcess } from '../helpers/e2e/harness.ts';
import { until } from '../helpers/wait.ts';

const ADMIN = 'shutdown-admin-token-0123456789';
const RTP_MIN = testRtpPorts()?.min ?? 25000;
const RTP_MAX = Math.min(testRtpPorts()?.max ?? 25999, RTP_MIN + 99);

let h: E2e;
let dataDir: string;

before(async () => {
  h = await startE2e({ app: false });
  dataDir = h.tempDir('stagecast-shutdown-');
});
after(() => h?.close());

/** Starts the product the way `npm start` does (without setup), on loopback, with the test's store and ports; its URL from the line it prints. */
function startProcess(name: string): Promise<StagecastProcess> {
  return h.startProcess({
    name,
    adminToken: ADMIN,
    ready: 'line',
    env: {
      STAGECAST_HOST_TOKEN_SECRET: 'shutdown-host-secret-0123456789',
      STAGECAST_DATA_DIR: dataDir,
      STAGECAST_WORKERS: '1',
      STAGECAST_LADDER: 'sd',
      STAGECAST_X264_PRESET: 'ultrafast',
      STAGECAST_RTP_MIN_PORT: String(RTP_MIN),
      STAGECAST_RTP_MAX_PORT: String(RTP_MAX),
      STAGECAST_DRAIN_TIMEOUT_MS: '20000',
    },
  });
}

/** Every process descended from `pid`, with its command name (from /proc). */
function descendants(pid: number): { pid: number; comm: string }[] {
  const byParent = new Map<number, { pid: number; comm: string }[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      const list = byParent.get(ppid) ?? [];
      list.push({ pid: Number(entry), comm });
      byParent.set(ppid, list);
    } catch {
      // The process ended while we read /proc.
    }
  }
  const out: { pid: number; comm: string }[] = [];
  const walk = (p: number) => {
    for (const c of byParent.get(p) ?? []) {
      out.push(c);
      walk(c.pid);
    }
  };
  walk(pid);
  return out;
}

function tcpPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

test('SIGTERM mid-broadcast: exit 0, ENDLIST and a static MPD in the store, no FFmpeg or worker left, ports free; a restart serves the broadcast as a VOD', async (t) => {
  // 1. A broadcast is live in the real process.
  const first = await startProcess('first');
  const created = await h.createStage('show1', {}, first);
  // The host stays connected through the shutdown, as it would be: media flows until FFmpeg has flushed.
  const host = await h.publishHost({ stage: 'show1', hostUrl: created.hostUrl, client: first, timeoutMs: 30_000 });
  const live = await h.goLive('show1', first);
  const bid = live.broadcast.id;
  await until('5 segments in the live playlist', async () => {
    const r = await fetch(`${first.url}/live/${bid}/video-360p/index.m3u8`);
    return r.status === 200 && ((await r.text()).match(/^seg-\d+\.m4s$/gm)?.length ?? 0) >= 5;
  }, 30_000);
  // The process's children before the signal: FFmpeg (running + warm standby) and the mediasoup worker.
  const status = await first.api<{ broadcast: { transcoder: { pid: number } } }>('GET', '/stages/show1');
  const children = descendants(first.proc.pid!);
  t.diagnostic(`children before SIGTERM: ${children.map((c) => `${c.comm}:${c.pid}`).join(', ')}`);
  assert.ok(children.some((c) => c.pid === status.body.broadcast.transcoder.pid && c.comm === 'ffmpeg'), 'the reported FFmpeg is our child');
  assert.ok(children.some((c) => c.comm.startsWith('mediasoup-work')), 'a mediasoup worker is our child');
  const httpPort = Number(new URL(first.url).port);

  // 2. SIGTERM.
  const signalledAt = Date.now();
  first.proc.child.kill('SIGTERM');
  const exit = await first.proc.exited;
  const tookMs = Date.now() - signalledAt;
  await host.close();
  t.diagnostic(`exit ${JSON.stringify(exit)} ${tookMs} ms after SIGTERM`);
  const lines = await first.proc.lines();
  assert.deepEqual(exit, { code: 0, signal: null }, lines.slice(-20).join('\n'));
  const logs = lines.join('\n');
  assert.match(logs, /shutdown complete/);
  assert.doesNotMatch(logs, /not drained in time|SIGKILL|did not exit in time/);
  // FFmpeg (running and standby) and the mediasoup worker are ours to stop. (esbuild's
  // service processes, from tsx and the page bundler, end by themselves on their pipe's EOF.)
  const ours = children.filter((c) => c.comm === 'ffmpeg' || c.comm.startsWith('mediasoup-work'));
  assert.ok(ours.filter((c) => c.comm === 'ffmpeg').length >= 1);
  for (const c of ours) assert.equal(existsSync(`/proc/${c.pid}`), false, `${c.comm} ${c.pid} is gone`);
  assert.equal(await tcpPortOpen(httpPort), false, 'the HTTP port is closed');
  for (let p = RTP_MIN; p <= RTP_MIN + 7; p++) assert.equal(await isUdpPortBound('127.0.0.1', p), false, `UDP ${p} is free`);

  // 3. The store holds the ended broadcast.
  const store = path.join(dataDir, 'store');
  for (const track of ['video-360p', 'audio']) {
    const text = readFileSync(path.join(store, bid, track, 'index.m3u8'), 'utf8');
    assert.match(text, /#EXT-X-ENDLIST\n$/, `${track} playlist ended`);
    assert.match(text, /#EXT-X-PLAYLIST-TYPE:VOD|#EXT-X-ENDLIST/);
    const segs = text.match(/^seg-\d+\.m4s$/gm) ?? [];
    assert.ok(segs.length >= 5, `${track}: ${segs.length} segments`);
    for (const s of segs) assert.ok(existsSync(path.join(store, bid, track, s)), `${track}/${s} stored`);
  }
  assert.match(readFileSync(path.join(store, bid, 'manifest.mpd'), 'utf8'), /type="static"/);
  const index = JSON.parse(readFileSync(path.join(store, '_stagecast', 'recordings.json'), 'utf8')) as { recordings: { id: string; stageId: string }[] };
  assert.deepEqual(index.recordings.map((r) => [r.id, r.stageId]), [[bid, 'show1']]);

  // 4. Restarted on the same store: the recording is listed and plays as a VOD.
  const second = await startProcess('second');
  try {
    const list = await second.api<{ recordings: { id: string; viewerUrl: string; endedAt: string }[] }>('GET', '/recordings');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.recordings.map((r) => r.id), [bid]);
    assert.ok(list.body.recordings[0]!.viewerUrl.endsWith(`/watch/?broadcast=${bid}`));

    // The stage's stable link offers its latest recording: the one made before the restart.
    const vod = await h.openViewer({ kind: 'watch', stage: 'show1', client: second });
    try {
      await vod.waitForFunction(() => document.getElementById('state')?.dataset.state === 'vod', undefined, { timeout: 20_000, polling: 200 });
      await vod.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 2, undefined, { timeout: 20_000, polling: 200 });
      const duration = await vod.evaluate(() => (document.getElementById('video') as HTMLVideoElement).duration);
      assert.ok(Number.isFinite(duration) && duration >= 5, `VOD duration ${duration}`);
    } finally {
      await vod.close();
    }
  } finally {
    second.proc.child.kill('SIGTERM');
    const secondExit = await second.proc.exited;
    assert.deepEqual(secondExit, { code: 0, signal: null }, (await second.proc.lines()).slice(-20).join('\n'));
  }
});
