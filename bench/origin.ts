/**
 * `npm run bench:origin`: blocking-reload fan-out and segment throughput of the
 * packager origin, on loopback. Prints figures; bounded in time; stops itself.
 * The origin runs in its own process (bench/origin-server.ts) and the clients
 * in GENERATORS other processes (bench/lib/originClients.ts), so the load generator
 * never shares an event loop with the origin or with the bookkeeping.
 *  1. N (1,000 then 5,000) clients each hold `index.m3u8?_HLS_msn=…&_HLS_part=…`
 *     for the next part while parts land every 200 ms; latency = response
 *     received − part landed (wall clock, same host). Connections open evenly
 *     over RAMP_MS, then WARMUP_MS is reported apart from the MEASURE_MS window.
 *  2. Segment-serving throughput of the origin vs nginx serving the same files,
 *     in alternating rounds, as a ratio of requests served.
 *  3. The live-edge mix (the media playlist and the newest parts) per core:
 *     requests each server answered over the CPU it used (/proc), from the
 *     origin's memory and from nginx's disk with the same headers.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { all as allGens, forkGenerators, share, stopGenerators } from './lib/generators.ts';
import { startOriginProcess } from './lib/originProcess.ts';
import { originServerOptions } from '../packager/index.ts';
import { CORS_HEADERS } from '../packager/originAnswers.ts';
import { cacheControl, names } from '../packager/naming.ts';
import { procCpuSeconds } from './lib/procStats.ts';

const GENERATORS = 2;
const RAMP_MS = 2_000;
const WARMUP_MS = 3_000;
const MEASURE_MS = 8_000;
const ROUNDS = 4;
const ROUND_MS = 3_000;
const CONNS = 32;
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-origin-'));
const segDir = path.join(tmp, 'www', 'live', 'bench', 'video');
await fs.chmod(tmp, 0o755); // nginx workers run as nobody
await fs.mkdir(segDir, { recursive: true });
const media = path.join(tmp, 'video.mp4');

// 180 s (longer than the whole run, so the feed never runs out) of 360p CMAF with 200 ms fragments and a keyframe per second, encoded faster than real time.
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '180', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', '800k', '-g', '30', '-sc_threshold', '0', '-force_key_frames', 'expr:gte(t,n_forced*1)', '-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf', '-frag_duration', '200000', '-f', 'mp4', '-y', media]);

const origin = await startOriginProcess({ broadcast: 'bench', blockingTimeoutMs: 5000, server: originServerOptions, feed: { kind: 'file', file: media, segDir } });
const gens = await forkGenerators(path.join(import.meta.dirname, 'lib', 'originClients.ts'), GENERATORS);
let latest = { msn: 0, part: -1 };
origin.onPart((m) => {
  latest = { msn: m.msn, part: m.part };
  for (const g of gens) g.send(m);
});
const port = origin.port;
const stats = origin.stats;
const mark = origin.mark;
const all = <T>(job: (i: number) => object, type: string): Promise<T[]> => allGens<T>(gens, job, type);

const pct = (a: number[], p: number) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

// Wait until the playlist is served (the packager lists a track once it has enough media to start).
for (;;) {
  const status = await new Promise<number>((resolve) => http.get({ host: '127.0.0.1', port, path: '/live/bench/video/index.m3u8' }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', () => resolve(0)));
  if (status === 200 && latest.msn >= 2) break;
  await new Promise((r) => setTimeout(r, 100));
}

/** Error kinds summed over generators, as "3 × ECONNRESET on a reused keep-alive socket, …". */
const kinds = (res: { errorKinds: Record<string, number> }[]) => {
  const m = new Map<string, number>();
  for (const r of res) for (const [k, n] of Object.entries(r.errorKinds)) m.set(k, (m.get(k) ?? 0) + n);
  return m.size ? ` (${[...m].map(([k, n]) => `${n} × ${k}`).join(', ')})` : '';
};
const fmt = (a: number[]) => `p50 ${pct(a, 50).toFixed(1)} ms, p99 ${pct(a, 99).toFixed(1)} ms, max ${pct(a, 100).toFixed(1)} ms (${a.length})`;

async function blockingPhase(n: number): Promise<void> {
  mark();
  const warmStats = new Promise<{ cpu: number; rss: number; heap: number }>((resolve) => setTimeout(() => void stats().then(resolve), RAMP_MS + WARMUP_MS));
  const res = await all<{ warm: number[]; meas: number[]; behind: number; errors: number; errorKinds: Record<string, number>; responses: number }>(
    (i) => ({ type: 'blocking', port, clients: share(n, GENERATORS, i), rampMs: RAMP_MS, warmupMs: WARMUP_MS, measureMs: MEASURE_MS, partsPerSeg: 5 }),
    'blockingResult',
  );
  const w = await warmStats;
  const s = await stats(); // CPU over the whole phase from mark()
  const warm = res.flatMap((r) => r.warm);
  const meas = res.flatMap((r) => r.meas);
  const sum = (f: (r: (typeof res)[number]) => number) => res.reduce((a, r) => a + f(r), 0);
  console.log(`blocking reload, ${n} clients in ${GENERATORS} generator processes (connections opened over ${RAMP_MS / 1000} s):`);
  console.log(`  ramp + warm-up (${(RAMP_MS + WARMUP_MS) / 1000} s): part-landed→response ${fmt(warm)}; origin RSS ${(w.rss / 2 ** 20).toFixed(0)} MiB`);
  console.log(`  measured (${MEASURE_MS / 1000} s after warm-up): part-landed→response ${fmt(meas)}`);
  console.log(
    `  responses ${sum((r) => r.responses)} (${sum((r) => r.behind)} answered at once: asked for a part already there), errors ${sum((r) => r.errors)}${kinds(res)}; origin CPU ${(s.cpu * 100).toFixed(0)} % of one core over the phase, RSS ${(s.rss / 2 ** 20).toFixed(0)} MiB, heap ${(s.heap / 2 ** 20).toFixed(0)} MiB`,
  );
}

/** Requests served by the server on `p` in one round, all generators together. */
type RoundResult = { count: number; bytes: number; errors: number; errorKinds: Record<string, number> };
async function round(p: number, paths: string[]): Promise<RoundResult> {
  const res = await all<RoundResult>(() => ({ type: 'throughput', port: p, conns: CONNS / GENERATORS, ms: ROUND_MS, paths }), 'throughputResult');
  const errorKinds: Record<string, number> = {};
  for (const r of res) for (const [k, n] of Object.entries(r.errorKinds)) errorKinds[k] = (errorKinds[k] ?? 0) + n;
  return res.reduce((a, r) => ({ count: a.count + r.count, bytes: a.bytes + r.bytes, errors: a.errors + r.errors, errorKinds }), { count: 0, bytes: 0, errors: 0, errorKinds });
}

try {
  await blockingPhase(1000);
  await blockingPhase(5000);

  // Segment throughput: the segments still in the origin's memory window, and nginx serving the same files.
  const files = (await fs.readdir(segDir)).filter((f) => /^seg-\d+\.m4s$/.test(f));
  const nums = files.map((f) => Number(/seg-(\d+)/.exec(f)![1])).sort((a, b) => a - b);
  const segs = nums.slice(-8).map((n) => `seg-${n}.m4s`);
  if (!(await fs.stat('/usr/sbin/nginx').catch(() => undefined))) execFileSync('apt-get', ['install', '-y', 'nginx-light'], { stdio: 'inherit' });
  const nginxPort = 20000 + Math.floor(Math.random() * 20000);
  const conf = path.join(tmp, 'nginx.conf');
  await fs.writeFile(
    conf,
    // The origin's headers on the same files: type, Cache-Control by kind, CORS (nginx adds Accept-Ranges and its own ETag).
    `worker_processes 1; daemon off; pid ${tmp}/nginx.pid; error_log ${tmp}/error.log;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  types { video/iso.segment m4s; application/vnd.apple.mpegurl m3u8; }
  server { listen 127.0.0.1:${nginxPort}; root ${tmp}/www;
    ${Object.entries(CORS_HEADERS).map(([k, v]) => `add_header ${k} "${v}";`).join(' ')}
    location ~ \\.m4s$ { add_header Cache-Control "${cacheControl.immutable}"; ${Object.entries(CORS_HEADERS).map(([k, v]) => `add_header ${k} "${v}";`).join(' ')} }
    location ~ \\.m3u8$ { add_header Cache-Control "${cacheControl.manifest(names.playlist, false, false)}"; ${Object.entries(CORS_HEADERS).map(([k, v]) => `add_header ${k} "${v}";`).join(' ')} } } }`,
  );
  const nginx = spawn('/usr/sbin/nginx', ['-c', conf, '-p', tmp], { stdio: 'inherit' });
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((r) => http.get({ host: '127.0.0.1', port: nginxPort, path: `/live/bench/video/${segs[0]}` }, (res) => { res.resume(); r(res.statusCode === 200); }).on('error', () => r(false)));
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // Each round asks for the 8 newest complete segments, which are in the origin's memory window
  // (the origin has no store here) and on disk for nginx.
  const newest = () => Array.from({ length: 8 }, (_, k) => `/live/bench/video/seg-${latest.msn - 8 + k}.m4s`);
  const ours: RoundResult = { count: 0, bytes: 0, errors: 0, errorKinds: {} };
  const theirs: RoundResult = { count: 0, bytes: 0, errors: 0, errorKinds: {} };
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which server goes first, so drift over time does not favour one.
    const paths = newest();
    const [a, b] = r % 2 === 0 ? [await round(port, paths), await round(nginxPort, paths)] : [undefined, await round(nginxPort, paths)];
    const o = a ?? (await round(port, paths));
    for (const [acc, x] of [[ours, o], [theirs, b]] as const) {
      acc.count += x.count;
      acc.bytes += x.bytes;
      acc.errors += x.errors;
      for (const [k, n] of Object.entries(x.errorKinds)) acc.errorKinds[k] = (acc.errorKinds[k] ?? 0) + n;
    }
    ratios.push(o.count / b.count);
  }
  const avg = (await Promise.all(segs.map((s) => fs.stat(path.join(segDir, s))))).reduce((a, s) => a + s.size, 0) / segs.length;
  const secs = (ROUNDS * ROUND_MS) / 1000;
  console.log(`segment serving (${CONNS} keep-alive connections from ${GENERATORS} generator processes, ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per server, ${segs.length} segments of ~${(avg / 1024).toFixed(0)} KiB):`);
  console.log(`  origin: ${ours.count} requests, ${(ours.count / secs).toFixed(0)} req/s, ${((ours.bytes * 8) / 1e6 / secs).toFixed(0)} Mbit/s, errors ${ours.errors}${kinds([ours])}`);
  console.log(`  nginx:  ${theirs.count} requests, ${(theirs.count / secs).toFixed(0)} req/s, ${((theirs.bytes * 8) / 1e6 / secs).toFixed(0)} Mbit/s, errors ${theirs.errors}${kinds([theirs])}`);
  console.log(`  origin/nginx throughput ratio: ${(ours.count / theirs.count).toFixed(2)} (per round: ${ratios.map((r) => r.toFixed(2)).join(', ')})`);

  // The live-edge mix per core: the media playlist and the parts of the two newest complete
  // segments, what viewers at the edge ask for most, from the origin's memory and from nginx's
  // disk with the same headers. Each server's CPU is read from /proc over its own rounds.
  const nginxPids = () => {
    const master = nginx.pid!;
    try {
      return [master, ...readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)];
    } catch {
      return [master];
    }
  };
  const cpuOf = (pids: number[]) => pids.reduce((a, p) => a + procCpuSeconds(p), 0);
  const edge = { ours: { count: 0, cpu: 0 }, theirs: { count: 0, cpu: 0 } };
  const edgeErrors = { ours: 0, theirs: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    const msn = latest.msn;
    const parts = (await fs.readdir(segDir)).filter((f) => new RegExp(`^part-(${msn - 1}|${msn - 2})\\.\\d+\\.m4s$`).test(f));
    // nginx gets the playlist as the origin serves it now (a file; the origin's changes with every part).
    const playlist = await new Promise<Buffer>((resolve, reject) =>
      http.get({ host: '127.0.0.1', port, path: '/live/bench/video/index.m3u8' }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d)).on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject),
    );
    await fs.writeFile(path.join(segDir, 'index.m3u8'), playlist);
    const paths = ['index.m3u8', ...parts].map((f) => `/live/bench/video/${f}`);
    for (const [who, p, pids] of (r % 2 === 0 ? [['ours', port, [origin.pid]], ['theirs', nginxPort, nginxPids()]] : [['theirs', nginxPort, nginxPids()], ['ours', port, [origin.pid]]]) as ['ours' | 'theirs', number, number[]][]) {
      const before = cpuOf(pids);
      const res = await round(p, paths);
      edge[who].cpu += cpuOf(pids) - before;
      edge[who].count += res.count;
      edgeErrors[who] += res.errors;
    }
  }
  nginx.kill('SIGTERM');
  await new Promise((r) => nginx.once('exit', r));
  const perCore = (x: { count: number; cpu: number }) => x.count / Math.max(0.01, x.cpu);
  console.log(`live-edge mix (media playlist + the parts of the 2 newest segments, ${CONNS} keep-alive connections, ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s per server):`);
  for (const [name, who] of [['origin', 'ours'], ['nginx ', 'theirs']] as const) {
    const x = edge[who];
    console.log(`  ${name}: ${(x.count / secs).toFixed(0)} req/s using ${((x.cpu / secs) * 100).toFixed(0)} % of a core → ${perCore(x).toFixed(0)} req/s per core; errors ${edgeErrors[who]}`);
  }
  console.log(`  origin/nginx requests per core: ${(perCore(edge.ours) / perCore(edge.theirs)).toFixed(2)}`);
} finally {
  await stopGenerators(gens);
  await origin.stop();
  await fs.rm(tmp, { recursive: true, force: true });
}
