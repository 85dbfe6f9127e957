/**
 * The origin under benchmark, in its own process so its CPU and memory are
 * measured apart from the load generators and the encoder. Options come as
 * JSON in argv[2] (bench/lib/originProcess.ts builds them). Two feeds:
 *  - `file`: pre-encoded CMAF fragments written into one track, one every
 *    200 ms (bench:origin); complete segments are also written to `segDir`
 *    for nginx to serve;
 *  - `ingest`: the broadcast is created with its expected tracks and fed by a
 *    real FFmpeg over the packager's HTTP ingest, on a second, private
 *    listener (bench:load), as a broadcast node is; the store is a filesystem
 *    store as in `npm start`.
 * Every part landing is reported over IPC (track, msn, part, wall-clock ms).
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { silentLogger } from '../common/index.ts';
import { CmafReader, FsObjectStore, createIngestRouter, createOriginRouter, createPackager } from '../packager/index.ts';
import type { OriginServerOptions } from './lib/originProcess.ts';

const opts = JSON.parse(process.argv[2]!) as OriginServerOptions;
const logger = silentLogger();
const store = opts.feed.kind === 'ingest' ? new FsObjectStore(opts.feed.storeDir) : undefined;
const packager = createPackager({ blockingTimeoutMs: opts.blockingTimeoutMs }, { logger, ...(store ? { store } : {}) });
const b = packager.createBroadcast(opts.broadcast, opts.feed.kind === 'ingest' ? { expectedTracks: opts.feed.tracks } : {});
b.on('part', (track, seg, part) => process.connected && process.send!({ type: 'part', track, msn: seg.msn, part: part.index, at: performance.timeOrigin + performance.now() }));

const app = express();
app.disable('x-powered-by');
app.use(createOriginRouter(packager, store, { logger }));
// Listened as the product listens (no maxConnections). Note: libuv >= 1.45 accepts one connection
// per event-loop turn (libuv#3696); with the origin's loop saturated, turns took ~100 ms and it
// accepted ~5-10 connections a second (strace), so a crowd joining at once waits in the kernel's
// accept queue (somaxconn 4096 here) and, once that is full, in SYN retries.
const server = http.createServer(opts.server, app);
await new Promise<void>((r) => server.listen(0, '127.0.0.1', 8192, r));

let ingest: http.Server | undefined;
let timer: NodeJS.Timeout | undefined;
if (opts.feed.kind === 'ingest') {
  const ingestApp = express();
  ingestApp.use(createIngestRouter(packager, { logger }));
  ingest = http.createServer(ingestApp);
  await new Promise<void>((r) => ingest!.listen(0, '127.0.0.1', r));
} else {
  const { file, segDir } = opts.feed;
  const events = new CmafReader({ maxBoxBytes: 1 << 24 }).push(await fs.readFile(file));
  const sink = b.openTrack('video');
  b.on('segment', (_t, seg) => {
    if (seg.bytes) void fs.writeFile(path.join(segDir, `seg-${seg.msn}.m4s`), seg.bytes);
  });
  sink.write(events[0]!.bytes); // init
  let i = 1;
  timer = setInterval(() => {
    const ev = events[i++];
    if (!ev) return clearInterval(timer);
    sink.write(ev.bytes);
  }, 200);
}

let cpu = process.cpuUsage();
let wall = performance.now();
process.on('message', (m: { type: string }) => {
  if (m.type === 'mark') {
    cpu = process.cpuUsage();
    wall = performance.now();
  } else if (m.type === 'stats') {
    const c = process.cpuUsage(cpu);
    process.send!({ type: 'stats', cpu: (c.user + c.system) / 1000 / (performance.now() - wall), rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed });
  } else if (m.type === 'stop') {
    clearInterval(timer);
    server.closeAllConnections();
    server.close();
    ingest?.closeAllConnections();
    ingest?.close();
    void packager.close().then(() => process.exit(0));
  }
});
process.send!({ type: 'ready', port: (server.address() as AddressInfo).port, ingestPort: ingest ? (ingest.address() as AddressInfo).port : undefined });
