/**
 * The origin under benchmark, in its own process so its CPU and memory are
 * measured apart from the load generators and the host. Options come as JSON
 * in argv[2] (bench/lib/originProcess.ts builds them). Two feeds:
 *  - `file`: pre-encoded CMAF fragments written into one track, one every
 *    200 ms (bench:origin); complete segments are also written to `segDir`
 *    for nginx to serve;
 *  - `app`: the product as `npm start` runs it (bench:load): SFU, control
 *    API, LiveBroadcast with its FFmpeg, the packager and origin in this one
 *    process, a filesystem store; one stage is created, the bench's host page
 *    publishes to it and the bench goes live through the control API, then
 *    sends `watch` with the broadcast id that go-live answered, so that
 *    broadcast's part landings are reported.
 * Every part landing is reported over IPC (track, msn, part, wall-clock ms).
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { appConfigSchema } from '../app/config.ts';
import { startApp } from '../app/server.ts';
import { silentLogger } from '../common/index.ts';
import { createOriginHotPath, createOriginRouter, createPackager, type Broadcast } from '../packager/index.ts';
import { CmafReader } from '../packager/cmaf.ts';
import type { OriginServerOptions } from './lib/originProcess.ts';

const opts = JSON.parse(process.argv[2]!) as OriginServerOptions;
const logger = silentLogger();
const reportParts = (b: Broadcast) =>
  b.on('part', (track, seg, part) => process.connected && process.send!({ type: 'part', track, msn: seg.msn, part: part.index, at: performance.timeOrigin + performance.now() }));

/** The product in this process: resolves with its HTTP port and a way to stop it. */
async function startProduct(
  feed: Extract<OriginServerOptions['feed'], { kind: 'app' }>,
): Promise<{
  port: number;
  hostToken: string;
  workerPids: number[];
  watch: (broadcastId: string) => boolean;
  whep: () => { sessions: number; connected: number; ended: Record<string, number> };
  stop: () => Promise<void>;
}> {
  const product = await startApp(
    appConfigSchema.parse({
      http: { host: '127.0.0.1', port: 0 },
      adminToken: feed.adminToken,
      initialStage: '',
      store: { kind: 'fs', dir: feed.storeDir },
      rtp: { address: '127.0.0.1', ports: feed.rtpPorts },
      ingest: { numWorkers: 1, listenIp: '127.0.0.1', hostTokenSecret: 'bench-host-token-secret-0123456789', ...feed.ingest },
      ...(feed.api ? { api: feed.api } : {}),
      packager: { blockingTimeoutMs: opts.blockingTimeoutMs },
      transcode: feed.transcode,
    }),
    logger,
  );
  await product.sfu.createStage(opts.broadcast);
  // Why WHEP sessions ended, for bench:whep.
  const whepEnded: Record<string, number> = {};
  product.whep?.on('sessionclose', (_s, reason) => void (whepEnded[reason] = (whepEnded[reason] ?? 0) + 1));
  return {
    port: Number(new URL(product.url).port),
    hostToken: product.sfu.issueHostToken(opts.broadcast),
    workerPids: product.sfu.workers.pids,
    whep: () => {
      const sessions = product.whep?.sessions ?? [];
      return { sessions: sessions.length, connected: sessions.filter((s) => s.connected).length, ended: { ...whepEnded } };
    },
    watch: (broadcastId) => {
      const b = product.packager.getBroadcast(broadcastId);
      if (b) reportParts(b);
      return b !== undefined;
    },
    stop: () => product.close(),
  };
}

/** The packager's origin alone, fed fragments from a file at the part rate. */
async function startFileOrigin(feed: Extract<OriginServerOptions['feed'], { kind: 'file' }>): Promise<{ port: number; stop: () => Promise<void> }> {
  const packager = createPackager({ blockingTimeoutMs: opts.blockingTimeoutMs }, { logger });
  const b = packager.createBroadcast(opts.broadcast, {});
  reportParts(b);
  const app = express();
  app.disable('x-powered-by');
  app.use(createOriginRouter(packager, undefined, { logger }));
  // Listened as the product listens (no maxConnections). Note: libuv >= 1.45 accepts one connection
  // per event-loop turn (libuv#3696); with the origin's loop saturated, turns took ~100 ms and it
  // accepted ~5-10 connections a second (strace), so a crowd joining at once waits in the kernel's
  // accept queue (somaxconn 4096 here) and, once that is full, in SYN retries.
  // As the product serves it: the hot path first, then Express (app/liveRouter.ts withHotPath).
  // BENCH_ORIGIN_EXPRESS_ONLY=1: the Express way alone, to see what the hot path saves.
  const hot = process.env.BENCH_ORIGIN_EXPRESS_ONLY === '1' ? () => false : createOriginHotPath(packager, { logger });
  const server = http.createServer(opts.server, (req, res) => {
    if (!hot(req, res)) app(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', 8192, r));
  const events = new CmafReader({ maxBoxBytes: 1 << 24 }).push(await fs.readFile(feed.file));
  const sink = b.openTrack('video');
  // The same objects on disk for nginx to serve (bench:origin compares the two).
  b.on('segment', (_t, seg) => {
    if (seg.bytes) void fs.writeFile(path.join(feed.segDir, `seg-${seg.msn}.m4s`), seg.bytes);
  });
  b.on('part', (_t, seg, part) => void fs.writeFile(path.join(feed.segDir, `part-${seg.msn}.${part.index}.m4s`), part.bytes));
  sink.write(events[0]!.bytes); // init
  let i = 1;
  const timer = setInterval(() => {
    const ev = events[i++];
    if (!ev) return clearInterval(timer);
    sink.write(ev.bytes);
  }, 200);
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      clearInterval(timer);
      server.closeAllConnections();
      server.close();
      await packager.close();
    },
  };
}

const running: {
  port: number;
  stop: () => Promise<void>;
  hostToken?: string;
  workerPids?: number[];
  watch?: (broadcastId: string) => boolean;
  whep?: () => { sessions: number; connected: number; ended: Record<string, number> };
} =
  opts.feed.kind === 'app' ? await startProduct(opts.feed) : await startFileOrigin(opts.feed);
let cpu = process.cpuUsage();
let wall = performance.now();
process.on('message', (m: { type: string; broadcast?: string }) => {
  if (m.type === 'watch') {
    process.send!({ type: 'watching', ok: running.watch?.(m.broadcast ?? opts.broadcast) ?? false });
  } else if (m.type === 'whep') {
    process.send!({ type: 'whep', ...(running.whep?.() ?? { sessions: 0, connected: 0, ended: {} }) });
  } else if (m.type === 'mark') {
    cpu = process.cpuUsage();
    wall = performance.now();
  } else if (m.type === 'stats') {
    const c = process.cpuUsage(cpu);
    process.send!({ type: 'stats', cpu: (c.user + c.system) / 1000 / (performance.now() - wall), rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed });
  } else if (m.type === 'stop') {
    void running.stop().then(() => process.exit(0));
  }
});
process.send!({ type: 'ready', port: running.port, ...(running.hostToken ? { hostToken: running.hostToken } : {}), ...(running.workerPids ? { workerPids: running.workerPids } : {}) });
