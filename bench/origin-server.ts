/**
 * The origin under benchmark, in its own process so its CPU and memory are
 * measured apart from the load generator. It feeds pre-encoded CMAF fragments
 * into a broadcast at one every 200 ms and reports each landing over IPC.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { silentLogger } from '../common/index.ts';
import { CmafReader, createOriginRouter, createPackager } from '../packager/index.ts';

const [file, segDir] = process.argv.slice(2) as [string, string];
const bytes = await fs.readFile(file);
const events = new CmafReader({ maxBoxBytes: 1 << 24 }).push(bytes);
const logger = silentLogger();
const packager = createPackager({ blockingTimeoutMs: 5000 }, { logger });
const b = packager.createBroadcast('bench');
const sink = b.openTrack('video');
b.on('part', (_t, seg, part) => process.send!({ type: 'part', msn: seg.msn, part: part.index, at: performance.timeOrigin + performance.now() }));
b.on('segment', (_t, seg) => {
  if (seg.bytes) void fs.writeFile(path.join(segDir, `seg-${seg.msn}.m4s`), seg.bytes);
});
const app = express();
app.use(createOriginRouter(packager, undefined, { logger }));
const server = http.createServer({ keepAliveTimeout: 60_000 }, app);
server.maxConnections = 20_000;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', 8192, r));

sink.write(events[0]!.bytes); // init
let i = 1;
const timer = setInterval(() => {
  const ev = events[i++];
  if (!ev) return clearInterval(timer);
  sink.write(ev.bytes);
}, 200);

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
    void packager.close().then(() => process.exit(0));
  }
});
process.send!({ type: 'ready', port: (server.address() as AddressInfo).port });
