/**
 * npm run bench:load [-- --viewers 2000] [--seconds 60] [--ramp 10]
 *   [--generators 2] [--hint-share 0.5] [--switch-every 30] [--mix 60,40]
 *   [--ladder 360p:700,180p:250] [--preset ultrafast]
 *
 * Simulated LL-HLS viewers against ONE product process (`role all`, as `npm
 * start` runs it: bench/origin-server.ts, `app` feed, filesystem store) while
 * a broadcast runs through the path that ships: a Chromium host page publishes
 * its clock canvas (640×360 VP8) and fake microphone through the SFU, the
 * control API goes live, LiveBroadcast's FFmpeg encodes the ladder into the
 * in-process packager, and the same process's origin serves the viewers (so
 * its CPU figure holds the SFU's control side, the broadcast and the packager
 * too; FFmpeg, the mediasoup worker and Chromium are counted apart). The viewers (bench/lib/viewers.ts) run in `--generators` forked
 * processes, start evenly over `--ramp` seconds, then `--seconds` are
 * measured. Each viewer does what a player at the live edge does: master
 * playlist, a video rendition (by `--mix`) and the audio group, blocking
 * reloads with delta updates, part fetches, preload-hinted parts for
 * `--hint-share` of them, and a rendition switch every `--switch-every` s on
 * average (init + segment fetches).
 *
 * Prints, and writes as JSON to bench/results/: requests and errors by kind
 * (every error with its kind and an example), latency p50/p95/p99/max by kind
 * (blocking reloads and hinted parts counted from the part's availability),
 * the origin's CPU (% of one core) and RSS, the generators' and FFmpeg's CPU,
 * the machine's CPU use and load, and whether the pipeline kept real time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { originServerOptions } from '../packager/index.ts';
import { parseTranscodeConfig, type TranscodeConfigInput } from '../transcode/index.ts';
import { all, forkGenerators, stopGenerators } from './lib/generators.ts';
import { startLiveProduct } from './lib/liveProduct.ts';
import type { PartLanding } from './lib/originProcess.ts';
import { ProcSampler } from './lib/procStats.ts';
import { REQUEST_KINDS, generatorJob, type RunResult } from './lib/viewerJob.ts';
import { kindTable, mergeResults, pad } from './lib/viewerResults.ts';
import { arg, numArg } from './lib/args.ts';

const VIEWERS = numArg('viewers', 2000);
const SECONDS = numArg('seconds', 60);
const RAMP_S = numArg('ramp', 10);
const GENERATORS = Math.max(1, Math.round(numArg('generators', os.cpus().length)));
const HINT_SHARE = Math.min(1, numArg('hint-share', 0.5));
const SWITCH_EVERY_S = numArg('switch-every', 30);
const PRESET = (arg('preset') ?? 'ultrafast') as NonNullable<TranscodeConfigInput['x264Preset']>;
const LADDER = (arg('ladder') ?? '360p:700,180p:250').split(',').map((r) => {
  const [name, kbps] = r.split(':');
  return { name: name!, height: Number(name!.replace(/p$/, '')), bitrateKbps: Number(kbps) };
});
const MIX = (arg('mix') ?? LADDER.map((_, i) => (i === 0 ? 60 : 40 / Math.max(1, LADDER.length - 1))).join(',')).split(',').map(Number);
// The product's own server settings (app/server.ts): reported, not tuned here.
const SERVER = { keepAliveTimeout: originServerOptions.keepAliveTimeout, headersTimeout: originServerOptions.headersTimeout };
const RTP_PORTS = /^(\d+)-(\d+)$/.exec(arg('rtp-ports') ?? process.env.STAGECAST_TEST_RTP_PORTS ?? '47000-47999');
if (!RTP_PORTS) throw new TypeError('--rtp-ports (or STAGECAST_TEST_RTP_PORTS) must look like 47000-47999');
const STAGE = 'load';

const now = () => performance.timeOrigin + performance.now();
// A longer start timeout than the default 10 s: on a shared, saturated box FFmpeg's start-up alone has taken over 30 s; start-up is not what this measures.
const transcodeInput: TranscodeConfigInput = { ladder: LADDER, x264Preset: PRESET, supervision: { startTimeoutMs: 60_000 } };
const config = parseTranscodeConfig(transcodeInput);

const product = await startLiveProduct({
  stage: STAGE,
  blockingTimeoutMs: 3000,
  server: SERVER,
  rtpPorts: { min: Number(RTP_PORTS[1]), max: Number(RTP_PORTS[2]) },
  transcode: transcodeInput as Record<string, unknown>,
});
const { origin, tracks } = product;
let restarts = 0;
let speed: number | undefined;
const gens = await forkGenerators(path.join(import.meta.dirname, 'lib', 'viewers.ts'), GENERATORS);
// A generator that exits while a landing is on its way makes send() fail with EPIPE: nothing to act on then.
for (const g of gens) g.on('error', (err) => console.error(`generator ${g.pid}: ${err.message}`));
let forwarding = true;
/** Parts landed per track inside the measured window. */
const landedWindow = new Map<string, number>();
let window: { from: number; to: number } = { from: Infinity, to: Infinity };
product.onPart((p: PartLanding) => {
  if (forwarding) for (const g of gens) if (g.connected) g.send(p);
  if (p.at >= window.from && p.at < window.to) landedWindow.set(p.track, (landedWindow.get(p.track) ?? 0) + 1);
});

// Ctrl-C still stops every child process and frees the ports (the finally below).
let interruptedBy: string | undefined;
const interrupted = (sig: string) => {
  interruptedBy = sig;
  for (const g of gens) g.kill('SIGTERM');
};
process.on('SIGINT', interrupted).on('SIGTERM', interrupted);

const sampler = new ProcSampler();
let results: RunResult[] = [];
let summary: ReturnType<ProcSampler['summary']> | undefined;
let originInside: { cpu: number; rss: number; heap: number } | undefined;
try {
  const ffmpegPid = product.ffmpegPid;
  sampler.track('product', [origin.pid]);
  gens.forEach((g, i) => sampler.track(`generator ${i + 1}`, [g.pid!]));
  sampler.track('generators', gens.map((g) => g.pid!));
  sampler.track('ffmpeg', [ffmpegPid]);
  sampler.track('bench driver', [process.pid]);
  sampler.start(1000);
  const t0 = now() + 500;
  const measureFrom = t0 + RAMP_S * 1000;
  const end = measureFrom + SECONDS * 1000;
  window = { from: measureFrom, to: end };
  console.log(`bench:load: ${VIEWERS} viewers in ${GENERATORS} generator processes, ${RAMP_S} s ramp, then ${SECONDS} s measured; tracks ${tracks.join(', ')}`);
  const done = all<RunResult>(
    gens,
    (i) =>
      generatorJob(
        { port: origin.port, prefix: '', broadcast: product.broadcastId, t0, rampMs: RAMP_S * 1000, measureFrom, end, hintShare: HINT_SHARE, switchEverySec: SWITCH_EVERY_S, mix: MIX },
        VIEWERS,
        GENERATORS,
        i,
      ),
    'result',
  );
  await new Promise((r) => setTimeout(r, measureFrom - now()));
  sampler.window();
  origin.mark();
  await new Promise((r) => setTimeout(r, end - now()));
  summary = sampler.summary();
  originInside = await origin.stats();
  ({ restarts, speed } = await product.transcoder());
  results = await done;
} finally {
  forwarding = false;
  process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  sampler.stop();
  await stopGenerators(gens);
  await product.stop();
}

if (interruptedBy) {
  console.error(`interrupted by ${interruptedBy}`);
  process.exit(130);
}

// ---- Report ----
const merged = mergeResults(results);
const { hist, requests, immediate, bytes, errors, totalRequests, totalErrors, unmatched, hintMisses } = merged;
const errorsOf = merged.errorsOf;
const lines: string[] = [];
const out = (s = '') => lines.push(s);
out(`bench:load — ${VIEWERS} viewers (${Math.round(VIEWERS * HINT_SHARE)} fetching preload hints), ${GENERATORS} generator processes, ${RAMP_S} s ramp then ${SECONDS} s measured`);
out(`  ladder ${LADDER.map((r) => `${r.name}@${r.bitrateKbps}k`).join(' + ')} + AAC, x264 ${PRESET}; video mix ${MIX.join('/')}; rendition switch every ~${SWITCH_EVERY_S} s per viewer`);
out(`  origin keepAliveTimeout ${SERVER.keepAliveTimeout} ms, headersTimeout ${SERVER.headersTimeout} ms; ${merged.sockets} client connections opened`);
out();
for (const l of kindTable(merged, RAMP_S + SECONDS)) out(l);
out();
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const pc = (f: number) => `${(f * 100).toFixed(0)} %`;
if (summary) {
  out(`CPU over the measured window (% of one core; the machine has ${summary.cores} cores), RSS:`);
  for (const [name, p] of Object.entries(summary.procs)) {
    out(`  ${name.padEnd(13)} CPU mean ${pad(pc(p.cpuMean), 6)}, busiest second ${pad(pc(p.cpuMax), 6)}; RSS mean ${mib(p.rssMeanBytes)}, max ${mib(p.rssMaxBytes)}`);
  }
  if (originInside) out(`  product heap at the end ${mib(originInside.heap)}`);
  // What one origin core serves at this request mix: answered requests sent inside the window,
  // over the origin's CPU there. Meaningful while the origin is below one core (not saturated).
  const answered = REQUEST_KINDS.reduce((a, k) => a + hist[k].count, 0) / SECONDS;
  const originCpu = summary.procs.product?.cpuMean ?? NaN;
  // A viewer keeping up with the live edge asks, per part and per loader (video, audio), one
  // blocking reload and one part (or hint): what it would ask if nothing held it back.
  const loaders = tracks.some((t) => t.startsWith('audio')) ? 2 : 1;
  const demand = (loaders * 2 * 1000) / config.partDurationMs;
  const perCore = answered / originCpu;
  out(
    `  product (origin) throughput: ${answered.toFixed(0)} answered req/s at ${pc(originCpu)} of a core → ~${perCore.toFixed(0)} req/s per core${originCpu > 0.75 ? ' (near saturation)' : ''}; ` +
      `viewers got ${(answered / Math.max(1, merged.viewersStarted)).toFixed(1)} req/s each of the ${demand.toFixed(0)} a viewer at the live edge asks → ` +
      `one origin core serves ~${(perCore / demand).toFixed(0)} such viewers; ${VIEWERS} need ~${((VIEWERS * demand) / perCore).toFixed(1)} cores`,
  );
  out(`  machine: ${pc(summary.machineCpuMean)} of all cores busy (every process, other sessions included); 1-min load average up to ${summary.loadAvg1Max.toFixed(1)}`);
}
out(
  `pipeline: parts landed in the window per track ${tracks.map((t) => `${t} ${landedWindow.get(t) ?? 0}`).join(', ')} (real time: ${Math.round((SECONDS * 1000) / config.partDurationMs)}); transcoder restarts ${restarts}, speed ${speed ?? '–'}`,
);
const table = lines.join('\n');
console.log(table);

const dir = fileURLToPath(new URL('./results/', import.meta.url));
mkdirSync(dir, { recursive: true });
const file = path.join(dir, `load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  `${JSON.stringify(
    {
      at: new Date().toISOString(),
      settings: { viewers: VIEWERS, seconds: SECONDS, rampS: RAMP_S, generators: GENERATORS, hintShare: HINT_SHARE, switchEverySec: SWITCH_EVERY_S, mix: MIX, ladder: LADDER, preset: PRESET, server: SERVER, tracks },
      kinds: Object.fromEntries(
        REQUEST_KINDS.map((k) => [
          k,
          { requests: requests[k], errors: errorsOf(k), measured: hist[k].count, p50Ms: hist[k].percentile(50), p95Ms: hist[k].percentile(95), p99Ms: hist[k].percentile(99), maxMs: hist[k].max, immediate: immediate[k], bytes: bytes[k] },
        ]),
      ),
      totalRequests,
      totalErrors,
      errors: Object.fromEntries(errors),
      unmatched,
      hintMisses,
      procs: summary,
      series: Object.fromEntries(sampler.series),
      machineSeries: sampler.machine,
      loadSeries: sampler.load,
      originInside,
      partsLandedInWindow: Object.fromEntries(landedWindow),
      transcoder: { restarts, speed },
      table,
    },
    null,
    2,
  )}\n`,
);
console.log(`JSON: ${path.relative(process.cwd(), file)}`);
process.exit(totalErrors === 0 ? 0 : 1);
