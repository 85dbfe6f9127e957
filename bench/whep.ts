/**
 * npm run bench:whep [-- --sizes 1,10,25,50,100] [--seconds 20] [--warmup 5]
 *   [--per-page 25] [--concurrency 4] [--decoders 0] [--rtp-ports 25000-25999]
 *
 * How many WHEP viewers (the front row, README "WHEP playback") this machine
 * holds. One product process (role `all`, as `npm start` runs it, WHEP on with
 * seats and WHEP/control-API rate limits raised for the bench), a Chromium
 * host page publishing its clock canvas and fake microphone through the SFU,
 * the control API's go-live; then, for each size in turn, that many viewers:
 * real WebRTC peers in Chromium pages (`--per-page` per page, in a browser of
 * their own), each with its own token from `POST /api/stages/:id/whep-tokens`,
 * doing the WHEP exchange itself (recvonly audio + video, ICE gathered before
 * the POST, the answer applied) and DELETEing its Location at the end.
 *
 * The viewers do not decode: they receive through encoded transforms
 * (bench/lib/whepPeers.ts), counting and dropping every encoded frame, so the
 * client side's cost is the WebRTC receive path (SRTP, jitter buffer, frame
 * assembly) without H.264 decoding. `--decoders N` makes the first N viewers of
 * each size decode into a <video> instead.
 *
 * Per size, over `--seconds` after `--warmup`: viewers connected (the page's
 * and the server's view), per-viewer video frame rate (p50/min), keyframes and
 * kbit/s, audio packets/s (p50/min), packet loss, viewers that got no media,
 * and CPU as a fraction of one core from /proc: the mediasoup worker, the app
 * process (SFU control, WHEP, the RTP return relay, packager, origin), FFmpeg,
 * the viewers' Chromium, the host's Chromium, this process (playwright), the
 * machine's busy share and load average. A window with no viewers comes first;
 * "worker CPU per viewer" is the least-squares slope of worker CPU over viewer
 * count, and viewers per worker core an extrapolation from it (an estimate:
 * the viewers and the SFU share this machine's cores). JSON in bench/results/.
 */
import { readFileSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.ts';
import { startLiveProduct, type LiveProduct } from './lib/liveProduct.ts';
import { procCpuSeconds } from './lib/procStats.ts';
import type { PeerSnapshot, WhepPeers } from './lib/whepPeers.ts';
import { arg, numArg } from './lib/args.ts';
import { browserBundle } from './lib/browserBundle.ts';

const SIZES = (arg('sizes') ?? '1,10,25,50,100').split(',').map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--sizes takes positive integers, not ${x}`);
  return n;
});
const SECONDS = numArg('seconds', 20);
const WARMUP_S = numArg('warmup', 5);
const PER_PAGE = Math.max(1, Math.round(numArg('per-page', 25)));
const CONCURRENCY = Math.max(1, Math.round(numArg('concurrency', 4)));
const DECODERS = Math.round(numArg('decoders', 0));
const RTP_RANGE = /^(\d+)-(\d+)$/.exec(arg('rtp-ports') ?? process.env.STAGECAST_TEST_RTP_PORTS ?? '25000-25999');
if (!RTP_RANGE) throw new TypeError('--rtp-ports (or STAGECAST_TEST_RTP_PORTS) must look like 25000-25999');
const RTP_PORTS = { min: Number(RTP_RANGE[1]), max: Number(RTP_RANGE[2]) };
const STAGE = 'whep-bench';
const MAX_VIEWERS = Math.max(...SIZES);

// ---- processes ------------------------------------------------------------------

/** pid → parent pid of every process, from /proc. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      out.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** `root` and all its descendants now. */
function tree(root: number): number[] {
  const ppid = parents();
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, parent] of ppid) if (parent === out[i]) out.push(pid);
  return out.filter((p) => ppid.has(p));
}

/** Chromium browser processes started by this process (playwright spawns them as children). */
function chromiumRoots(): number[] {
  const ppid = parents();
  return [...ppid]
    .filter(([pid, parent]) => {
      if (parent !== process.pid) return false;
      try {
        return readFileSync(`/proc/${pid}/comm`, 'utf8').trim().startsWith('chromium');
      } catch {
        return false;
      }
    })
    .map(([pid]) => pid);
}

function machineJiffies(): { busy: number; total: number } {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** The kernel's UDP receive-buffer drops so far (/proc/net/snmp `Udp: RcvbufErrors`): a receiver that fell behind. */
function udpRcvbufErrors(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const head = lines[0]?.split(/\s+/) ?? [];
  const vals = lines[1]?.split(/\s+/) ?? [];
  return Number(vals[head.indexOf('RcvbufErrors')] ?? 0);
}

type Groups = Record<string, () => number[]>;
interface CpuMark {
  at: number;
  cpu: Record<string, Map<number, number>>;
  machine: { busy: number; total: number };
  self: NodeJS.CpuUsage;
  udpDrops: number;
}

/** CPU of each group of processes (re-listed at both ends: Chromium starts and ends processes). */
function mark(groups: Groups): CpuMark {
  const cpu: Record<string, Map<number, number>> = {};
  for (const [name, pids] of Object.entries(groups)) cpu[name] = new Map(pids().map((p) => [p, procCpuSeconds(p)]));
  return { at: performance.now(), cpu, machine: machineJiffies(), self: process.cpuUsage(), udpDrops: udpRcvbufErrors() };
}

/** Fraction of one core per group between two marks; a process that ended in between is not counted. */
function cpuBetween(a: CpuMark, b: CpuMark): Record<string, number> & { machine: number; bench: number; udpDrops: number } {
  const secs = (b.at - a.at) / 1000;
  const out: Record<string, number> = {};
  for (const [name, end] of Object.entries(b.cpu)) {
    let s = 0;
    for (const [pid, v] of end) s += v - (a.cpu[name]?.get(pid) ?? 0);
    out[name] = s / secs;
  }
  const self = process.cpuUsage(a.self);
  return {
    ...out,
    bench: (self.user + self.system) / 1e6 / secs,
    udpDrops: b.udpDrops - a.udpDrops,
    machine: (b.machine.busy - a.machine.busy) / Math.max(1, b.machine.total - a.machine.total),
  };
}

/** Re-reads FFmpeg's pid from the control API; resolves with it. */
let refreshFfmpeg = async (): Promise<number | undefined> => undefined;

// ---- viewers ------------------------------------------------------------------------

const peersScript = (): Promise<string> => browserBundle(new URL('./lib/whepPeers.ts', import.meta.url));

const quantile = (xs: number[], q: number): number | undefined => {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

interface SizeResult {
  viewers: number;
  pages: number;
  /** Exchanges that got a 201 and reached DTLS connected (page view), and the server's sessions/connected after the warm-up. */
  answered: number;
  connected: number;
  /** Sessions the server ended from the first connect to the end of the window, by reason. */
  serverEndedInWindow?: Record<string, number>;
  /** ms after their connect() started when viewers' connections failed: first and last. */
  failedMsRange?: number[];
  /** Connection states of the viewers at the end of the window. */
  states?: Record<string, number>;
  serverSessions: number;
  serverConnected: number;
  failures: string[];
  /** ms from connect() to DTLS connected and to the first keyframe, p50/max. */
  connectMsP50?: number;
  connectMsMax?: number;
  firstKeyMsP50?: number;
  firstKeyMsMax?: number;
  connectAllS: number;
  /** Per viewer over the window. */
  videoFpsP50?: number;
  videoFpsMin?: number;
  videoKbpsP50?: number;
  keyFramesPerSP50?: number;
  audioPpsP50?: number;
  audioPpsMin?: number;
  /** Opus frames through the encoded transform per second (non-decoding viewers). */
  audioFramesPerSP50?: number;
  audioFramesPerSMin?: number;
  /** Lost / (received + lost) over the window, all viewers together, %. */
  videoLossPct: number;
  audioLossPct: number;
  noMedia: number;
  noVideo: number;
  noAudio: number;
  /** Frames Chromium decoded over the window, all non-decoding viewers together (0: nothing was decoded). */
  framesDecodedByNonDecoders: number;
  cpu: Record<string, number>;
  load1: number;
  ffmpegRestarts: number;
  /** FFmpeg's pid before and after the window when it changed (its CPU is then undercounted). */
  ffmpegPidChanged?: (number | undefined)[];
  deleteStatuses: Record<string, number>;
  serverSessionsAfter: number;
  /** Per viewer at the end: the nominated pair's STUN requests sent, responses received, requests received. */
  stun?: number[][];
  /** Per viewer over the window: [video fps, audio packets/s (getStats), audio frames/s (transform), video kbit/s]. */
  perViewer?: number[][];
}

async function measureSize(product: LiveProduct, browser: Browser, script: string, n: number, groups: Groups): Promise<SizeResult> {
  const endpoint = `${product.base}/whep/${STAGE}`;
  const endedBefore = (await product.origin.whep()).ended;
  const tokens = await Promise.all(
    Array.from({ length: n }, () => product.control<{ token: string }>('POST', `/stages/${STAGE}/whep-tokens`, { ttlSeconds: 3600 }).then((t) => t.token)),
  );
  const pageCount = Math.ceil(n / PER_PAGE);
  const pages: Page[] = [];
  const failures: string[] = [];
  const deleteStatuses: Record<string, number> = {};
  try {
    for (let i = 0; i < pageCount; i++) {
      const page = await browser.newPage();
      pages.push(page);
      await page.addInitScript({ content: script });
      // A page of the product's origin (same-origin fetches: no CORS preflights); without a token it connects nothing itself.
      await page.goto(`${product.base}/watch/whep.html`);
    }
    const t0 = performance.now();
    await Promise.all(
      pages.map((page, p) => {
        const viewers = tokens
          .map((token, id) => ({ id, token, decode: id < DECODERS }))
          .filter((v) => Math.floor(v.id / PER_PAGE) === p);
        return page.evaluate(
          ({ endpoint, viewers, concurrency }) => (window as unknown as { __whepPeers: WhepPeers }).__whepPeers.connect(endpoint, viewers, concurrency),
          { endpoint, viewers, concurrency: CONCURRENCY },
        );
      }),
    );
    const snap = async (stats: boolean) =>
      (await Promise.all(pages.map((p) => p.evaluate((stats) => (window as unknown as { __whepPeers: WhepPeers }).__whepPeers.snapshot(stats), stats)))).flat();
    // Until every answered viewer has its first keyframe (one a second), 20 s at most.
    const deadline = Date.now() + 20_000;
    let s0: PeerSnapshot[] = await snap(false);
    while (s0.some((s) => s.state !== 'error' && s.keyFrames === 0 && s.firstKeyMs === undefined) && Date.now() < deadline) {
      await delay(500);
      s0 = await snap(false);
    }
    const connectAllS = (performance.now() - t0) / 1000;
    for (const s of s0) if (s.error) failures.push(s.error);
    await delay(WARMUP_S * 1000);
    const server = await product.origin.whep();
    const restartsBefore = (await product.transcoder()).restarts;
    const ffmpegPid = await refreshFfmpeg();
    const a = await snap(true);
    const ma = mark(groups);
    await delay(SECONDS * 1000);
    const mb = mark(groups);
    const b = await snap(true);
    const cpu = cpuBetween(ma, mb);
    const load1 = os.loadavg()[0]!;
    const restarts = (await product.transcoder()).restarts - restartsBefore;
    const ffmpegPidAfter = await refreshFfmpeg();
    const endedAfter = (await product.origin.whep()).ended;
    const failedMs = b.flatMap((s) => (s.failedMs !== undefined ? [Math.round(s.failedMs)] : []));

    const byId = new Map(a.map((s) => [s.id, s]));
    const per = b.map((end) => {
      const start = byId.get(end.id)!;
      const secs = (end.at - start.at) / 1000;
      return {
        decode: end.decode,
        fps: (end.videoFrames - start.videoFrames) / secs,
        kbps: ((end.videoBytes - start.videoBytes) * 8) / 1000 / secs,
        keys: (end.keyFrames - start.keyFrames) / secs,
        pps: (end.audioPackets - start.audioPackets) / secs,
        afps: (end.audioFrames - start.audioFrames) / secs,
        vRecv: end.videoPackets - start.videoPackets,
        vLost: end.videoLost - start.videoLost,
        aRecv: end.audioPackets - start.audioPackets,
        aLost: end.audioLost - start.audioLost,
        decoded: end.framesDecoded - start.framesDecoded,
      };
    });
    const sum = (k: 'vRecv' | 'vLost' | 'aRecv' | 'aLost') => per.reduce((x, p) => x + Math.max(0, p[k]), 0);
    const pct = (lost: number, recv: number) => (lost + recv > 0 ? (100 * lost) / (lost + recv) : 0);
    const connectMs = b.flatMap((s) => (s.connectedMs !== undefined ? [s.connectedMs] : []));
    const firstKeyMs = b.flatMap((s) => (s.firstKeyMs !== undefined ? [s.firstKeyMs] : []));
    return {
      viewers: n,
      pages: pageCount,
      answered: b.filter((s) => s.postStatus === 201).length,
      serverEndedInWindow: Object.fromEntries(Object.entries(endedAfter).map(([k, v]) => [k, v - (endedBefore[k] ?? 0)]).filter(([, v]) => (v as number) > 0)),
      failedMsRange: failedMs.length ? [Math.min(...failedMs), Math.max(...failedMs)] : undefined,
      states: b.reduce<Record<string, number>>((m, s) => ({ ...m, [s.state]: (m[s.state] ?? 0) + 1 }), {}),
      connected: b.filter((s) => s.state === 'connected').length,
      serverSessions: server.sessions,
      serverConnected: server.connected,
      failures: [...new Set(failures)].slice(0, 5),
      connectMsP50: quantile(connectMs, 0.5),
      connectMsMax: quantile(connectMs, 1),
      firstKeyMsP50: quantile(firstKeyMs, 0.5),
      firstKeyMsMax: quantile(firstKeyMs, 1),
      connectAllS,
      videoFpsP50: quantile(per.map((p) => p.fps), 0.5),
      videoFpsMin: quantile(per.map((p) => p.fps), 0),
      videoKbpsP50: quantile(per.map((p) => p.kbps), 0.5),
      keyFramesPerSP50: quantile(per.filter((p) => !p.decode).map((p) => p.keys), 0.5),
      audioPpsP50: quantile(per.map((p) => p.pps), 0.5),
      audioPpsMin: quantile(per.map((p) => p.pps), 0),
      audioFramesPerSP50: quantile(per.filter((p) => !p.decode).map((p) => p.afps), 0.5),
      audioFramesPerSMin: quantile(per.filter((p) => !p.decode).map((p) => p.afps), 0),
      videoLossPct: pct(sum('vLost'), sum('vRecv')),
      audioLossPct: pct(sum('aLost'), sum('aRecv')),
      noMedia: per.filter((p) => p.fps === 0 && p.pps === 0).length + (n - per.length),
      noVideo: per.filter((p) => p.fps === 0).length + (n - per.length),
      noAudio: per.filter((p) => p.pps === 0).length + (n - per.length),
      framesDecodedByNonDecoders: per.filter((p) => !p.decode).reduce((x, p) => x + p.decoded, 0),
      cpu,
      load1,
      ffmpegRestarts: restarts,
      ...(ffmpegPidAfter !== ffmpegPid ? { ffmpegPidChanged: [ffmpegPid, ffmpegPidAfter] } : {}),
      deleteStatuses,
      serverSessionsAfter: -1,
      stun: b.map((s) => s.stun ?? []),
      perViewer: per.map((p) => [p.fps, p.pps, p.afps, p.kbps].map((x) => Number(x.toFixed(2)))),
    };
  } finally {
    // Every viewer DELETEs its session, then the pages close.
    for (const page of pages) {
      const statuses = await page
        .evaluate(() => (window as unknown as { __whepPeers: WhepPeers }).__whepPeers.closeAll())
        .catch((err: unknown) => ({ [`closeAll failed: ${(err as Error).message.slice(0, 80)}`]: 1 }));
      for (const [k, v] of Object.entries(statuses)) deleteStatuses[k] = (deleteStatuses[k] ?? 0) + v;
      await page.close();
    }
  }
}

/** The no-viewer window: the broadcast, host and SFU alone. */
async function measureBaseline(groups: Groups): Promise<SizeResult> {
  await delay(WARMUP_S * 1000);
  await refreshFfmpeg();
  const ma = mark(groups);
  await delay(SECONDS * 1000);
  const mb = mark(groups);
  return {
    viewers: 0,
    pages: 0,
    answered: 0,
    connected: 0,
    serverSessions: 0,
    serverConnected: 0,
    failures: [],
    connectAllS: 0,
    videoLossPct: 0,
    audioLossPct: 0,
    noMedia: 0,
    noVideo: 0,
    noAudio: 0,
    framesDecodedByNonDecoders: 0,
    cpu: cpuBetween(ma, mb),
    load1: os.loadavg()[0]!,
    ffmpegRestarts: 0,
    deleteStatuses: {},
    serverSessionsAfter: 0,
  };
}

// ---- report ---------------------------------------------------------------------------

const f = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));
const pctCore = (v: number | undefined) => (v === undefined ? '–' : `${(v * 100).toFixed(1)}`);

/** CPU of everything else on the machine (other users of the cores), fraction of one core. */
const others = (r: SizeResult): number =>
  (r.cpu.machine ?? 0) * os.cpus().length - ['worker', 'app', 'ffmpeg', 'viewerChromium', 'hostChromium', 'bench'].reduce((a, k) => a + (r.cpu[k] ?? 0), 0);

function table(results: SizeResult[]): string {
  const rows = [
    [
      'viewers',
      'connected',
      'server',
      'no media',
      'video fps p50/min',
      'key/s',
      'video kbit/s',
      'audio pkt/s p50/min',
      'loss v/a %',
      'worker %',
      'app %',
      'ffmpeg %',
      'viewer chromium %',
      'host chromium %',
      'bench %',
      'other %',
      'machine %',
      'load1',
      'UDP rcvbuf drops',
    ],
    ...results.map((r) => [
      String(r.viewers),
      r.viewers ? `${r.connected}/${r.viewers}` : '–',
      r.viewers ? `${r.serverConnected}/${r.serverSessions}` : '–',
      r.viewers ? String(r.noMedia) : '–',
      r.viewers ? `${f(r.videoFpsP50)}/${f(r.videoFpsMin)}` : '–',
      f(r.keyFramesPerSP50, 2),
      f(r.videoKbpsP50, 0),
      r.viewers ? `${f(r.audioPpsP50)}/${f(r.audioPpsMin)}` : '–',
      r.viewers ? `${f(r.videoLossPct, 2)}/${f(r.audioLossPct, 2)}` : '–',
      pctCore(r.cpu.worker),
      pctCore(r.cpu.app),
      pctCore(r.cpu.ffmpeg),
      pctCore(r.cpu.viewerChromium),
      pctCore(r.cpu.hostChromium),
      pctCore(r.cpu.bench),
      pctCore(others(r)),
      `${((r.cpu.machine ?? 0) * 100).toFixed(0)}`,
      r.load1.toFixed(2),
      String(r.cpu.udpDrops ?? 0),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(rows[0]!), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.slice(1).map(line)].join('\n');
}

/** Least-squares slope and intercept of y over x. */
function fit(points: [number, number][]): { slope: number; intercept: number } {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const sxx = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  const sxy = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const slope = sxx ? sxy / sxx : NaN;
  return { slope, intercept: my - slope * mx };
}

async function main(): Promise<void> {
  const settings = {
    sizes: SIZES,
    seconds: SECONDS,
    warmupS: WARMUP_S,
    perPage: PER_PAGE,
    concurrency: CONCURRENCY,
    decoders: DECODERS,
    cores: os.cpus().length,
    chromium: 'encoded transforms: frames counted and dropped, not decoded (except --decoders)',
    source: 'host page ?source=clock: 640×360 canvas at 30 fps (VP8) + fake microphone; app transcode defaults (ladder hd → 360p for this source; WHEP: the program encoded once more as H.264 constrained baseline)',
  };
  console.log(`bench:whep ${JSON.stringify(settings)}`);
  const script = await peersScript();
  let product: LiveProduct | undefined;
  let viewers: Browser | undefined;
  const results: SizeResult[] = [];
  try {
    const before = new Set(chromiumRoots());
    product = await startLiveProduct({
      stage: STAGE,
      blockingTimeoutMs: 3000,
      server: {},
      rtpPorts: RTP_PORTS,
      transcode: { supervision: { startTimeoutMs: 60_000 } },
      ingest: { whep: { enabled: true, maxViewersPerStage: MAX_VIEWERS, ratePerSecond: 10_000, rateBurst: 10_000 } },
      // One token per viewer from the control API, all at once.
      api: { rateLimit: { perSecond: 10_000, burst: 10_000 } },
    });
    const hostRoots = chromiumRoots().filter((p) => !before.has(p));
    viewers = await launchChromium();
    const viewerRoots = chromiumRoots().filter((p) => !before.has(p) && !hostRoots.includes(p));
    if (hostRoots.length !== 1 || viewerRoots.length !== 1) console.warn(`warning: Chromium roots host=${hostRoots.join(',')} viewers=${viewerRoots.join(',')}`);
    if (product.workerPids.length === 0) throw new Error('the product reported no mediasoup worker pid');
    const p = product;
    const ffmpeg = { pid: p.ffmpegPid };
    // FFmpeg's pid as the broadcast reports it now (a restart or reconfiguration starts another FFmpeg).
    refreshFfmpeg = async () => {
      const status = await p.control<{ broadcast?: { transcoder?: { pid?: number } } }>('GET', `/stages/${STAGE}`);
      ffmpeg.pid = status.broadcast?.transcoder?.pid ?? ffmpeg.pid;
      return ffmpeg.pid;
    };
    const groups: Groups = {
      worker: () => p.workerPids,
      app: () => [p.origin.pid],
      ffmpeg: () => [ffmpeg.pid],
      viewerChromium: () => viewerRoots.flatMap(tree),
      hostChromium: () => hostRoots.flatMap(tree),
    };
    console.log(`live: broadcast ${p.broadcastId}, app pid ${p.origin.pid}, worker pid ${p.workerPids.join(',')}, FFmpeg pid ${p.ffmpegPid}`);

    console.log(`measuring 0 viewers for ${SECONDS} s`);
    results.push(await measureBaseline(groups));
    for (const n of SIZES) {
      console.log(`measuring ${n} viewers for ${SECONDS} s (${Math.ceil(n / PER_PAGE)} pages)`);
      const r = await measureSize(p, viewers, script, n, groups);
      // Let the DELETEs land, then check that every seat is free again.
      await delay(500);
      r.serverSessionsAfter = (await p.origin.whep()).sessions;
      results.push(r);
      console.log(
        `  ${r.connected}/${n} connected (server ${r.serverConnected}/${r.serverSessions}), in ${r.connectAllS.toFixed(1)} s; video ${f(r.videoFpsP50)} fps p50, ${f(r.videoFpsMin)} min; audio ${f(r.audioPpsP50)} pkt/s; worker ${pctCore(r.cpu.worker)} %; no media ${r.noMedia}; DELETE ${JSON.stringify(r.deleteStatuses)}; sessions after ${r.serverSessionsAfter}`,
      );
      for (const e of r.failures) console.log(`  failure: ${e}`);
    }
  } finally {
    await viewers?.close();
    await product?.stop();
  }

  const out = table(results);
  // The slope only over windows where every viewer was connected and received media:
  // a window where connections failed would count seats the worker no longer served.
  const healthy = results.filter((r) => r.viewers === 0 || (r.connected === r.viewers && r.noMedia === 0));
  const unhealthy = results.filter((r) => !healthy.includes(r)).map((r) => r.viewers);
  const worker = fit(healthy.map((r): [number, number] => [r.viewers, r.cpu.worker ?? 0]));
  const chromium = fit(healthy.map((r): [number, number] => [r.viewers, r.cpu.viewerChromium ?? 0]));
  const app = fit(healthy.map((r): [number, number] => [r.viewers, r.cpu.app ?? 0]));
  const largest = Math.max(...healthy.map((r) => r.viewers));
  const summary = {
    workerCpuPerViewerPctOfCore: worker.slope * 100,
    workerCpuInterceptPctOfCore: worker.intercept * 100,
    appCpuPerViewerPctOfCore: app.slope * 100,
    viewerChromiumCpuPerViewerPctOfCore: chromium.slope * 100,
    healthySizes: healthy.map((r) => r.viewers),
    notHeldSizes: unhealthy,
    estimatedViewersPerWorkerCore: worker.slope > 0 ? Math.floor((1 - Math.max(0, worker.intercept)) / worker.slope) : undefined,
  };
  const lines = [
    out,
    '',
    'CPU columns: % of one core over the window (this machine has ' + os.cpus().length + ' cores); other: the rest of the machine (not this bench); machine %: all cores busy; connected: page view (DTLS up) / viewers; server: connected / sessions the app held.',
    ...(unhealthy.length ? [`NOT HELD: ${unhealthy.join(', ')} viewers (viewers without media or not connected; see the table); left out of the slopes below.`] : []),
    `worker CPU per viewer (least-squares slope over ${healthy.length} windows where every viewer got media, 0–${largest} viewers): ${summary.workerCpuPerViewerPctOfCore.toFixed(3)} % of a core; at 0 viewers ${summary.workerCpuInterceptPctOfCore.toFixed(1)} % (host in, RTP to FFmpeg, the program back in).`,
    `app process per viewer: ${summary.appCpuPerViewerPctOfCore.toFixed(3)} % of a core; viewer Chromium per viewer (non-decoding): ${summary.viewerChromiumCpuPerViewerPctOfCore.toFixed(3)} % of a core.`,
    `ESTIMATE, extrapolated from the measured slope, not measured: one worker core would hold about ${summary.estimatedViewersPerWorkerCore ?? '–'} viewers of this program (360p H.264 + Opus), before anything else on the machine; the largest count held here is ${largest}.`,
  ];
  const text = lines.join('\n');
  console.log(`\n${text}\n`);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}whep-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), settings, results, summary, table: text }, null, 2)}\n`);
  console.log(`saved ${file}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
