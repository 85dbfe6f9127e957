/**
 * npm run bench:audience [-- --sizes 10,100,1000,2000] [--ramp 10] [--seconds 30]
 *   [--generators 2] [--nginx-workers 1] [--hint-share 0.5] [--switch-every 30]
 *
 * The audience as it reaches a real deployment: through a CDN. One product
 * process runs a live broadcast through the path that ships (bench/lib/
 * liveProduct.ts: Chromium host → SFU → FFmpeg → packager → origin), and
 * nginx stands in front of it as the CDN's cache, configured with the files
 * operators get (infra/nginx, included as they are by test/helpers/nginx.ts:
 * the origin's Cache-Control honoured, the delivery directives in the key,
 * proxy_cache_lock). Simulated LL-HLS viewers (bench/lib/viewers.ts: hls.js's
 * request pattern at the live edge, blocking reloads with delta updates,
 * parts, preload hints for --hint-share of them, rendition switches) then
 * watch through nginx, one audience size after another on the same broadcast:
 * each size starts evenly over --ramp seconds and --seconds are measured.
 *
 * Per audience size it prints: the requests viewers made and nginx answered,
 * the origin's requests (its own stagecast_origin_requests_total, by route)
 * per second and per part, errors, viewers that fell behind, blocking-reload
 * and hinted-part latency from the part's availability at the origin, part
 * response times, and the CPU of the product, nginx, FFmpeg and the load
 * generators (which share the machine's cores with everything else). The
 * targets (issue 14): origin requests per part flat within 10 % from the
 * smallest audience to the largest, 0 errors, blocking reload p99 ≤ 100 ms.
 * Writes everything as JSON to bench/results/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { originServerOptions } from '../packager/index.ts';
import { parseTranscodeConfig, type TranscodeConfigInput } from '../transcode/index.ts';
import { NginxCdn } from '../test/helpers/nginx.ts';
import { all, forkGenerators, stopGenerators } from './lib/generators.ts';
import { startLiveProduct } from './lib/liveProduct.ts';
import type { PartLanding } from './lib/originProcess.ts';
import { ProcSampler } from './lib/procStats.ts';
import { generatorJob, type RunResult } from './lib/viewerJob.ts';
import { kindTable, mergeResults, ms, pad, type MergedResults } from './lib/viewerResults.ts';
import { arg, numArg } from './lib/args.ts';

const SIZES = (arg('sizes') ?? '10,100,1000,2000').split(',').map((v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`--sizes must list positive integers, not ${v}`);
  return n;
});
const SECONDS = numArg('seconds', 30);
const RAMP_S = numArg('ramp', 10);
const GENERATORS = Math.max(1, Math.round(numArg('generators', os.cpus().length)));
const NGINX_WORKERS = Math.max(1, Math.round(numArg('nginx-workers', 1)));
const HINT_SHARE = Math.min(1, numArg('hint-share', 0.5));
const SWITCH_EVERY_S = numArg('switch-every', 30);
const LADDER = [
  { name: '360p', height: 360, bitrateKbps: 700 },
  { name: '180p', height: 180, bitrateKbps: 250 },
];
const MIX = [60, 40];
const RTP_PORTS = /^(\d+)-(\d+)$/.exec(arg('rtp-ports') ?? process.env.STAGECAST_TEST_RTP_PORTS ?? '47000-47999');
if (!RTP_PORTS) throw new TypeError('--rtp-ports (or STAGECAST_TEST_RTP_PORTS) must look like 47000-47999');
const NODE_ID = 'node-0';

const now = () => performance.timeOrigin + performance.now();
const transcodeInput: TranscodeConfigInput = { ladder: LADDER, x264Preset: 'ultrafast', supervision: { startTimeoutMs: 60_000 } };
const config = parseTranscodeConfig(transcodeInput);

/** The origin's request counter by route kind, read from its own /metrics. */
async function originRequests(base: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const byRoute = new Map<string, number>();
  for (const m of text.matchAll(/^stagecast_origin_requests_total\{([^}]*)\} (\d+(?:\.\d+)?(?:e\+\d+)?)$/gm)) {
    const route = /route="([^"]+)"/.exec(m[1]!)?.[1] ?? '?';
    byRoute.set(route, (byRoute.get(route) ?? 0) + Number(m[2]));
  }
  return byRoute;
}
const diff = (a: Map<string, number>, b: Map<string, number>) => new Map([...b].map(([k, v]) => [k, v - (a.get(k) ?? 0)] as const).filter(([, v]) => v > 0));
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

interface SizeResult {
  viewers: number;
  merged: MergedResults;
  answeredPerS: number;
  origin: Map<string, number>;
  originPerS: number;
  originPerPart: number;
  partsLanded: number;
  cpu: ReturnType<ProcSampler['summary']>;
}

const product = await startLiveProduct({
  stage: 'audience',
  blockingTimeoutMs: 3000,
  server: originServerOptions,
  rtpPorts: { min: Number(RTP_PORTS[1]), max: Number(RTP_PORTS[2]) },
  transcode: transcodeInput as Record<string, unknown>,
});
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-audience-'));
let cdn: NginxCdn | undefined;
let gens: Awaited<ReturnType<typeof forkGenerators>> = [];
let interruptedBy: string | undefined;
const interrupted = (sig: string) => {
  interruptedBy = sig;
  for (const g of gens) g.kill('SIGTERM');
};
process.on('SIGINT', interrupted).on('SIGTERM', interrupted);
let landedInWindow = 0;
let window = { from: Infinity, to: Infinity };
const firstTrack = product.tracks[0]!;
product.onPart((p: PartLanding) => {
  for (const g of gens) if (g.connected) g.send(p);
  if (p.track === firstTrack && p.at >= window.from && p.at < window.to) landedInWindow++;
});
const sizes: SizeResult[] = [];
let transcoder = { restarts: 0, speed: undefined as number | undefined };
try {
  // Each viewer holds up to 6 sockets (a browser's limit); 2,000 hold about 6,000.
  cdn = await NginxCdn.start(path.join(tmp, 'nginx'), [{ id: NODE_ID, url: product.base }], {
    stripPrefix: true,
    workers: NGINX_WORKERS,
    workerConnections: Math.max(4096, Math.max(...SIZES) * 8),
    upstreamKeepalive: 64,
    backlog: 8192,
    accessLog: false,
  });
  console.log(`bench:audience: broadcast ${product.broadcastId}, tracks ${product.tracks.join(', ')}; nginx (${NGINX_WORKERS} worker${NGINX_WORKERS > 1 ? 's' : ''}) at ${cdn.url}/b/${NODE_ID}/`);
  for (const viewers of SIZES) {
    if (interruptedBy) break;
    gens = await forkGenerators(path.join(import.meta.dirname, 'lib', 'viewers.ts'), Math.min(GENERATORS, viewers));
    for (const g of gens) g.on('error', (err) => console.error(`generator ${g.pid}: ${err.message}`));
    const sampler = new ProcSampler();
    sampler.track('product', [product.origin.pid]);
    sampler.track('nginx', cdn.pids());
    sampler.track('generators', gens.map((g) => g.pid!));
    sampler.track('ffmpeg', [product.ffmpegPid]);
    sampler.start(1000);
    const t0 = now() + 500;
    const measureFrom = t0 + RAMP_S * 1000;
    const end = measureFrom + SECONDS * 1000;
    const done = all<RunResult>(
      gens,
      (i) =>
        generatorJob(
          { port: cdn!.port, prefix: `/b/${NODE_ID}`, broadcast: product.broadcastId, t0, rampMs: RAMP_S * 1000, measureFrom, end, hintShare: HINT_SHARE, switchEverySec: SWITCH_EVERY_S, mix: MIX },
          viewers,
          gens.length,
          i,
        ),
      'result',
    );
    await new Promise((r) => setTimeout(r, measureFrom - now()));
    sampler.window();
    landedInWindow = 0;
    window = { from: measureFrom, to: end };
    const before = await originRequests(product.base);
    await new Promise((r) => setTimeout(r, end - now()));
    const after = await originRequests(product.base);
    const cpu = sampler.summary();
    sampler.stop();
    const merged = mergeResults(await done);
    await stopGenerators(gens);
    gens = [];
    const origin = diff(before, after);
    const answered = Object.values(merged.hist).reduce((a, h) => a + h.count, 0);
    sizes.push({
      viewers,
      merged,
      answeredPerS: answered / SECONDS,
      origin,
      originPerS: total(origin) / SECONDS,
      originPerPart: total(origin) / Math.max(1, landedInWindow),
      partsLanded: landedInWindow,
      cpu,
    });
    const s = sizes.at(-1)!;
    console.log(
      `  ${pad(viewers, 5)} viewers: ${s.answeredPerS.toFixed(0)} req/s answered by nginx, origin ${s.originPerS.toFixed(1)} req/s = ${s.originPerPart.toFixed(1)} per part; ` +
        `errors ${merged.totalErrors}; blocking p99 ${ms(merged.hist.blocking.percentile(99))} ms`,
    );
  }
  transcoder = await product.transcoder();
} finally {
  process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  await stopGenerators(gens);
  await cdn?.stop();
  await product.stop();
  rmSync(tmp, { recursive: true, force: true });
}
if (interruptedBy) {
  console.error(`interrupted by ${interruptedBy}`);
  process.exit(130);
}

// ---- Report ----
const pc = (f: number | undefined) => (f === undefined ? '–' : `${(f * 100).toFixed(0)} %`);
const lines: string[] = [];
const out = (s = '') => lines.push(s);
out(`bench:audience — LL-HLS viewers through nginx (infra/nginx) in front of one product process; ${RAMP_S} s ramp then ${SECONDS} s measured per size`);
out(`  ladder ${LADDER.map((r) => `${r.name}@${r.bitrateKbps}k`).join(' + ')} + AAC, parts ${config.partDurationMs} ms, segments ${config.segmentDurationMs} ms; ${Math.round(HINT_SHARE * 100)} % of viewers fetch preload hints; ${GENERATORS} generator processes, nginx ${NGINX_WORKERS} worker(s)`);
out();
out(
  `${pad('viewers', 8)}${pad('req/s', 8)}${pad('origin/s', 10)}${pad('per part', 10)}${pad('errors', 8)}${pad('behind', 8)}${pad('block p50', 11)}${pad('p99', 7)}${pad('hint p99', 10)}${pad('part p50', 10)}${pad('p99', 7)}` +
    `  CPU: product   nginx  ffmpeg  generators  machine`,
);
for (const s of sizes) {
  const h = s.merged.hist;
  const p = s.cpu.procs;
  out(
    `${pad(s.viewers, 8)}${pad(s.answeredPerS.toFixed(0), 8)}${pad(s.originPerS.toFixed(1), 10)}${pad(s.originPerPart.toFixed(2), 10)}${pad(s.merged.totalErrors, 8)}${pad(s.merged.fellBehind, 8)}` +
      `${pad(ms(h.blocking.percentile(50)), 11)}${pad(ms(h.blocking.percentile(99)), 7)}${pad(ms(h.hint.percentile(99)), 10)}${pad(ms(h.part.percentile(50)), 10)}${pad(ms(h.part.percentile(99)), 7)}` +
      `  ${pad(pc(p.product?.cpuMean), 12)}${pad(pc(p.nginx?.cpuMean), 8)}${pad(pc(p.ffmpeg?.cpuMean), 8)}${pad(pc(p.generators?.cpuMean), 12)}${pad(pc(s.cpu.machineCpuMean), 9)}`,
  );
}
out('  req/s: viewer requests answered in the window; origin/s and per part: requests the origin answered (its own counter), per part of one track landed in the window;');
out('  block / hint: from the part\'s availability at the origin (ms); part: response time (ms); CPU: % of one core (machine: of all cores); behind: viewers that fell a segment behind at least once');
out();
for (const s of sizes) out(`  origin requests by route at ${s.viewers} viewers: ${[...s.origin].map(([k, v]) => `${k} ${(v / SECONDS).toFixed(1)}/s`).join(', ')}`);
out();
// MISS: this reload was the one nginx passed to the origin; HIT: answered from the cache, at once or
// after waiting on proxy_cache_lock for the request that was passed (nginx re-checks the lock every 500 ms).
for (const s of sizes) {
  const by = [...s.merged.blockingByCache].sort((a, b) => b[1].count - a[1].count);
  out(`  blocking reloads by X-Cache-Status at ${s.viewers} viewers: ${by.map(([k, h]) => `${k} ${h.count} (p50 ${ms(h.percentile(50))}, p90 ${ms(h.percentile(90))}, p99 ${ms(h.percentile(99))} ms)`).join('; ')}`);
}
out();
const base = sizes[0];
if (base && sizes.length > 1) {
  const worst = sizes.reduce((w, s) => (Math.abs(s.originPerPart / base.originPerPart - 1) > Math.abs(w.originPerPart / base.originPerPart - 1) ? s : w), base);
  const spread = worst.originPerPart / base.originPerPart - 1;
  const errors = sizes.reduce((a, s) => a + s.merged.totalErrors, 0);
  const p99 = Math.max(...sizes.map((s) => s.merged.hist.blocking.percentile(99)));
  out(`targets: origin requests per part ${base.originPerPart.toFixed(2)} at ${base.viewers} viewers, furthest ${worst.originPerPart.toFixed(2)} at ${worst.viewers} (${(spread * 100).toFixed(1)} %; target within 10 %): ${Math.abs(spread) <= 0.1 ? 'met' : 'NOT met'}`);
  out(`         errors ${errors} (target 0): ${errors === 0 ? 'met' : 'NOT met'}; blocking reload p99 at most ${ms(p99)} ms (target ≤ 100 ms): ${p99 <= 100 ? 'met' : 'NOT met'}`);
}
out(`pipeline: transcoder restarts ${transcoder.restarts}, speed ${transcoder.speed ?? '–'}`);
out();
for (const s of sizes) {
  out(`--- ${s.viewers} viewers: by request kind (through nginx) ---`);
  for (const l of kindTable(s.merged, RAMP_S + SECONDS)) out(l);
  out();
}
const table = lines.join('\n');
console.log(table);

const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `audience-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      settings: { sizes: SIZES, seconds: SECONDS, rampS: RAMP_S, generators: GENERATORS, nginxWorkers: NGINX_WORKERS, hintShare: HINT_SHARE, switchEverySec: SWITCH_EVERY_S, ladder: LADDER, tracks: product.tracks },
      sizes: sizes.map((s) => ({
        viewers: s.viewers,
        answeredPerS: s.answeredPerS,
        originPerS: s.originPerS,
        originPerPart: s.originPerPart,
        partsLanded: s.partsLanded,
        originByRoute: Object.fromEntries(s.origin),
        errors: Object.fromEntries(s.merged.errors),
        fellBehind: s.merged.fellBehind,
        blockingByCache: Object.fromEntries([...s.merged.blockingByCache].map(([k, h]) => [k, { count: h.count, p50: h.percentile(50), p90: h.percentile(90), p99: h.percentile(99) }])),
        blocking: { p50: s.merged.hist.blocking.percentile(50), p99: s.merged.hist.blocking.percentile(99), max: s.merged.hist.blocking.max },
        hint: { p50: s.merged.hist.hint.percentile(50), p99: s.merged.hist.hint.percentile(99) },
        part: { p50: s.merged.hist.part.percentile(50), p99: s.merged.hist.part.percentile(99) },
        cpu: s.cpu,
      })),
      transcoder,
      table,
    },
    null,
    2,
  )}\n`,
);
console.log(`JSON: ${path.relative(process.cwd(), file)}`);
process.exit(sizes.every((s) => s.merged.totalErrors === 0) ? 0 : 1);
