// SIGTERM to the real process (`node --import tsx main.ts`) in the middle of a
// broadcast: it exits 0 having ended the broadcast (ENDLIST, static MPD in the
// store), with no FFmpeg or mediasoup worker left and its ports free; started
// again on the same store, it lists the broadcast as a recording and the viewer
// page plays it as a VOD.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { isUdpPortBound } from '../../common/index.ts';
import { launchChromium } from '../helpers/browser.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN = 'shutdown-admin-token-0123456789';
const ports = /^(\d+)-(\d+)$/.exec(process.env.STAGECAST_TEST_RTP_PORTS ?? '');
const RTP_MIN = ports ? Number(ports[1]) : 25000;
const RTP_MAX = Math.min(ports ? Number(ports[2]) : 25999, RTP_MIN + 99);

let dataDir: string;
let browser: Browser;
const procs: ChildProcess[] = [];
// If the runner cancels this file (timeout), after() may not run: never leave a product process behind.
process.once('exit', () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'stagecast-shutdown-'));
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

interface Proc {
  child: ChildProcess;
  url: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  logs: string[];
}

/** Starts the product the way `npm start` does (without setup), on loopback, with the test's store and ports. */
async function startProcess(): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      STAGECAST_HTTP_HOST: '127.0.0.1',
      STAGECAST_HTTP_PORT: '0',
      STAGECAST_ADMIN_TOKEN: ADMIN,
      STAGECAST_HOST_TOKEN_SECRET: 'shutdown-host-secret-0123456789',
      STAGECAST_DATA_DIR: dataDir,
      STAGECAST_INITIAL_STAGE: '',
      STAGECAST_WORKERS: '1',
      STAGECAST_LADDER: 'sd',
      STAGECAST_X264_PRESET: 'ultrafast',
      STAGECAST_RTP_MIN_PORT: String(RTP_MIN),
      STAGECAST_RTP_MAX_PORT: String(RTP_MAX),
      STAGECAST_DRAIN_TIMEOUT_MS: '20000',
      STAGECAST_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(child);
  const logs: string[] = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        logs.push(line);
        if (logs.length > 2000) logs.shift();
        const m = /^stagecast(?: \([^)]*\))? is running at (\S+)/.exec(line);
        if (m?.[1]) resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => logs.push(c.toString('utf8')));
    void exit.then((e) => reject(new Error(`main.ts exited before listening (${JSON.stringify(e)}):\n${logs.slice(-30).join('\n')}`)));
    // A changed start-up line must fail here, not hang the file until the runner's timeout.
    setTimeout(() => reject(new Error(`main.ts printed no "is running at" line within 90 s:\n${logs.slice(-30).join('\n')}`)), 90_000).unref();
  });
  return { child, url, exit, logs };
}

async function api<T>(base: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}/api${p}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
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

const until = async (what: string, ms: number, check: () => Promise<boolean> | boolean) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

test('SIGTERM mid-broadcast: exit 0, ENDLIST and a static MPD in the store, no FFmpeg or worker left, ports free; a restart serves the broadcast as a VOD', async (t) => {
  // 1. A broadcast is live in the real process.
  const first = await startProcess();
  const created = await api<{ hostUrl: string }>(first.url, 'POST', '/stages', { id: 'show1' });
  assert.equal(created.status, 201);
  // The host stays connected through the shutdown, as it would be: media flows until FFmpeg has flushed.
  const host = await browser.newPage();
  await host.goto(created.body.hostUrl.replace('/host/?', '/host/?autostart=1&'));
  await until('the host to publish', 30_000, async () => (await api<{ producers: unknown[] }>(first.url, 'GET', '/stages/show1')).body.producers.length >= 2);
  const live = await api<{ broadcast: { id: string; state: string } }>(first.url, 'POST', '/stages/show1/live');
  assert.equal(live.status, 201, JSON.stringify(live.body));
  const bid = live.body.broadcast.id;
  await until('5 segments in the live playlist', 30_000, async () => {
    const r = await fetch(`${first.url}/live/${bid}/video-360p/index.m3u8`);
    return r.status === 200 && ((await r.text()).match(/^seg-\d+\.m4s$/gm)?.length ?? 0) >= 5;
  });
  // The process's children before the signal: FFmpeg (running + warm standby) and the mediasoup worker.
  const status = await api<{ broadcast: { transcoder: { pid: number } } }>(first.url, 'GET', '/stages/show1');
  const children = descendants(first.child.pid!);
  t.diagnostic(`children before SIGTERM: ${children.map((c) => `${c.comm}:${c.pid}`).join(', ')}`);
  assert.ok(children.some((c) => c.pid === status.body.broadcast.transcoder.pid && c.comm === 'ffmpeg'), 'the reported FFmpeg is our child');
  assert.ok(children.some((c) => c.comm.startsWith('mediasoup-work')), 'a mediasoup worker is our child');
  const httpPort = Number(new URL(first.url).port);

  // 2. SIGTERM.
  const signalledAt = Date.now();
  first.child.kill('SIGTERM');
  const exit = await first.exit;
  const tookMs = Date.now() - signalledAt;
  await host.close();
  t.diagnostic(`exit ${JSON.stringify(exit)} ${tookMs} ms after SIGTERM`);
  assert.deepEqual(exit, { code: 0, signal: null }, first.logs.slice(-20).join('\n'));
  const logs = first.logs.join('\n');
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
  const second = await startProcess();
  try {
    const list = await api<{ recordings: { id: string; viewerUrl: string; endedAt: string }[] }>(second.url, 'GET', '/recordings');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.recordings.map((r) => r.id), [bid]);
    assert.ok(list.body.recordings[0]!.viewerUrl.endsWith(`/watch/?broadcast=${bid}`));

    // The stage's stable link offers its latest recording: the one made before the restart.
    const vod = await browser.newPage();
    try {
      await vod.goto(`${second.url}/watch/?stage=show1`);
      await vod.waitForFunction(() => document.getElementById('state')?.dataset.state === 'vod', undefined, { timeout: 20_000, polling: 200 });
      await vod.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 2, undefined, { timeout: 20_000, polling: 200 });
      const duration = await vod.evaluate(() => (document.getElementById('video') as HTMLVideoElement).duration);
      assert.ok(Number.isFinite(duration) && duration >= 5, `VOD duration ${duration}`);
    } finally {
      await vod.close();
    }
  } finally {
    second.child.kill('SIGTERM');
    assert.deepEqual(await second.exit, { code: 0, signal: null }, second.logs.slice(-20).join('\n'));
  }
});
