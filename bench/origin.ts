/**
 * `npm run bench:origin`: blocking-reload fan-out and segment throughput of the
 * packager origin, on loopback. Prints figures; bounded in time; stops itself.
 *  1. N (1,000 then 5,000) clients each hold `index.m3u8?_HLS_msn=…&_HLS_part=…`
 *     for the next part while parts land every 200 ms; latency = response
 *     received − part landed (origin clock, same host).
 *  2. Segment-serving throughput of the origin vs nginx serving the same files.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const PHASE_MS = 8_000;
const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-origin-'));
const segDir = path.join(tmp, 'www', 'live', 'bench', 'video');
await fs.chmod(tmp, 0o755); // nginx workers run as nobody
await fs.mkdir(segDir, { recursive: true });
const media = path.join(tmp, 'video.mp4');

// 60 s of 360p CMAF with 200 ms fragments and a keyframe per second, encoded faster than real time.
execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '60', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-b:v', '800k', '-g', '30', '-sc_threshold', '0', '-force_key_frames', 'expr:gte(t,n_forced*1)', '-movflags', '+frag_keyframe+empty_moov+default_base_moof+cmaf', '-frag_duration', '200000', '-f', 'mp4', '-y', media]);

const child: ChildProcess = fork(path.join(import.meta.dirname, 'origin-server.ts'), [media, segDir], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const landed = new Map<string, number>();
let latest = { msn: 0, part: -1 };
const port = await new Promise<number>((resolve) => {
  child.on('message', (m: { type: string; port?: number; msn?: number; part?: number; at?: number }) => {
    if (m.type === 'ready') resolve(m.port!);
    if (m.type === 'part') {
      landed.set(`${m.msn}.${m.part}`, m.at!);
      latest = { msn: m.msn!, part: m.part! };
    }
  });
});
const stats = () =>
  new Promise<{ cpu: number; rss: number; heap: number }>((resolve) => {
    const on = (m: { type: string; cpu: number; rss: number; heap: number }) => {
      if (m.type === 'stats') {
        child.off('message', on);
        resolve(m);
      }
    };
    child.on('message', on);
    child.send({ type: 'stats' });
  });

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
function request(p: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', () => resolve({ status: -1, bytes }));
    });
    req.on('error', () => resolve({ status: -1, bytes: 0 }));
    req.setTimeout(10_000, () => req.destroy());
  });
}

const pct = (a: number[], p: number) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

// Wait for 2 s of media so the window has something.
while (latest.msn < 2) await new Promise((r) => setTimeout(r, 100));

async function blockingPhase(n: number): Promise<void> {
  const lat: number[] = [];
  let errors = 0;
  let responses = 0;
  let behind = 0;
  const end = performance.now() + PHASE_MS;
  child.send({ type: 'mark' });
  const partsPerSeg = 5;
  const client = async () => {
    let want = latest.part + 1 >= partsPerSeg ? { msn: latest.msn + 1, part: 0 } : { msn: latest.msn, part: latest.part + 1 };
    while (performance.now() < end) {
      const sentAt = performance.timeOrigin + performance.now();
      const r = await request(`/live/bench/video/index.m3u8?_HLS_msn=${want.msn}&_HLS_part=${want.part}`);
      const at = performance.timeOrigin + performance.now();
      if (r.status !== 200) {
        errors++;
        await new Promise((res) => setTimeout(res, 200));
      } else {
        responses++;
        const l = landed.get(`${want.msn}.${want.part}`);
        // Only requests that really waited for the part count (sent before it landed).
        if (l !== undefined && sentAt < l) lat.push(at - l);
        else behind++;
      }
      want = want.part + 1 >= partsPerSeg ? { msn: want.msn + 1, part: 0 } : { msn: want.msn, part: want.part + 1 };
      // A client behind the live edge jumps to the next part, as hls.js does.
      if (want.msn < latest.msn) want = latest.part + 1 >= partsPerSeg ? { msn: latest.msn + 1, part: 0 } : { msn: latest.msn, part: latest.part + 1 };
    }
  };
  await Promise.all(Array.from({ length: n }, client));
  const s = await stats();
  console.log(
    `blocking reload, ${n} clients, ${PHASE_MS / 1000} s: responses ${responses} (${lat.length} held until the part landed, ${behind} answered at once), errors ${errors}, part-landed→response p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${pct(lat, 100).toFixed(1)} ms; origin CPU ${(s.cpu * 100).toFixed(0)} % of one core, RSS ${(s.rss / 2 ** 20).toFixed(0)} MiB, heap ${(s.heap / 2 ** 20).toFixed(0)} MiB`,
  );
}

async function throughput(p: (i: number) => string, base: number, conns: number, ms: number, segs: string[]): Promise<{ rps: number; mbps: number; errors: number }> {
  const ag = new http.Agent({ keepAlive: true, maxSockets: conns });
  let count = 0;
  let bytes = 0;
  let errors = 0;
  const statuses: Record<string, number> = {};
  const end = performance.now() + ms;
  const one = (url: string) =>
    new Promise<void>((resolve) => {
      http
        .get({ host: '127.0.0.1', port: base, path: url, agent: ag }, (res) => {
          res.on('data', (d: Buffer) => (bytes += d.length));
          res.on('end', () => {
            if (res.statusCode === 200) count++;
            else {
              errors++;
              statuses[String(res.statusCode)] = (statuses[String(res.statusCode)] ?? 0) + 1;
            }
            resolve();
          });
        })
        .on('error', () => {
          errors++;
          resolve();
        });
    });
  await Promise.all(
    Array.from({ length: conns }, async (_, c) => {
      let i = c;
      while (performance.now() < end) await one(p(i++ % segs.length));
    }),
  );
  ag.destroy();
  if (errors) console.log('  error statuses', statuses);
  return { rps: (count * 1000) / ms, mbps: (bytes * 8) / 1e6 / (ms / 1000), errors };
}

try {
  await blockingPhase(1000);
  await blockingPhase(5000);
  agent.destroy();

  // Segment throughput: the segments still in the origin's memory window, and nginx serving the same files.
  const files = (await fs.readdir(segDir)).filter((f) => f.endsWith('.m4s'));
  const nums = files.map((f) => Number(/seg-(\d+)/.exec(f)![1])).sort((a, b) => a - b);
  const segs = nums.slice(-8).map((n) => `seg-${n}.m4s`);
  if (!(await fs.stat('/usr/sbin/nginx').catch(() => undefined))) execFileSync('apt-get', ['install', '-y', 'nginx-light'], { stdio: 'inherit' });
  const nginxPort = 20000 + Math.floor(Math.random() * 20000);
  const conf = path.join(tmp, 'nginx.conf');
  await fs.writeFile(
    conf,
    `worker_processes 1; daemon off; pid ${tmp}/nginx.pid; error_log ${tmp}/error.log;
events { worker_connections 4096; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000; types { video/iso.segment m4s; }
  server { listen 127.0.0.1:${nginxPort}; root ${tmp}/www; location / { add_header Cache-Control "public, max-age=1209600, immutable"; } } }`,
  );
  const nginx = spawn('/usr/sbin/nginx', ['-c', conf, '-p', tmp], { stdio: 'inherit' });
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise<boolean>((r) => http.get({ host: '127.0.0.1', port: nginxPort, path: `/live/bench/video/${segs[0]}` }, (res) => { res.resume(); r(res.statusCode === 200); }).on('error', () => r(false)));
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const ours = await throughput((i) => `/live/bench/video/${segs[i]}`, port, 32, 5000, segs);
  const theirs = await throughput((i) => `/live/bench/video/${segs[i]}`, nginxPort, 32, 5000, segs);
  nginx.kill('SIGTERM');
  await new Promise((r) => nginx.once('exit', r));
  const avg = (await Promise.all(segs.map((s) => fs.stat(path.join(segDir, s))))).reduce((a, s) => a + s.size, 0) / segs.length;
  console.log(`segment serving (32 keep-alive connections, 5 s each, ${segs.length} segments of ~${(avg / 1024).toFixed(0)} KiB):`);
  console.log(`  origin: ${ours.rps.toFixed(0)} req/s, ${ours.mbps.toFixed(0)} Mbit/s, errors ${ours.errors}`);
  console.log(`  nginx:  ${theirs.rps.toFixed(0)} req/s, ${theirs.mbps.toFixed(0)} Mbit/s, errors ${theirs.errors}`);
  console.log(`  origin/nginx throughput ratio: ${(ours.rps / theirs.rps).toFixed(2)}`);
} finally {
  child.send({ type: 'stop' });
  await new Promise((r) => child.once('exit', r));
  await fs.rm(tmp, { recursive: true, force: true });
}
