// The origin's hot path (packager/originHotPath.ts) against the Express routes
// (packager/origin.ts) over one packager fed by real FFmpeg: what it takes it
// must answer byte for byte and header for header as the Express way does, and
// everything unusual it must leave to the Express way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { silentLogger } from '../../common/index.ts';
import { createOriginHotPath, createOriginRouter, createPackager, signViewerToken, signedLivePath, signedUrlChecker, type Packager } from '../../packager/index.ts';
import { get, pushInProcess, until, type FfmpegRun } from './helpers.ts';

const B = 'hot';
let packager: Packager;
let ffmpeg: FfmpegRun;
/** Express alone; the hot path then Express (as the product serves); the hot path with a marker where it declines. */
let expressOnly: string;
let product: string;
let hotOnly: string;
const servers: http.Server[] = [];
const taken: string[] = [];

async function serve(listener: http.RequestListener): Promise<string> {
  const server = http.createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

before(async () => {
  const logger = silentLogger();
  packager = createPackager({ blockingTimeoutMs: 3000 }, { logger });
  const app = express();
  app.use(createOriginRouter(packager, undefined, { logger }));
  const hot = createOriginHotPath(packager, { logger, prefix: '/b/node-1', onTake: (_req, _res, route) => void taken.push(route) });
  expressOnly = await serve(app);
  product = await serve((req, res) => {
    if (!hot(req, res)) app(req, res);
  });
  hotOnly = await serve((req, res) => {
    if (!hot(req, res)) res.writeHead(299, { 'Content-Type': 'text/plain' }).end('declined');
  });
  ffmpeg = pushInProcess(packager, B, 30);
  const b = () => packager.getBroadcast(B);
  await until(packager, B, () => (b()?.track('video-360p')?.current?.msn ?? 0) >= 3 && b()?.mediaPlaylistText('video-360p') !== undefined, 30_000, 'three segments');
});

after(async () => {
  await ffmpeg.stop();
  await packager.close();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

/** Headers that differ between any two answers (the date) or belong to the connection. */
const VOLATILE = new Set(['date', 'connection', 'keep-alive', 'x-powered-by']);
const headersOf = (h: Headers) => Object.fromEntries([...h].filter(([k]) => !VOLATILE.has(k)).sort(([a], [b]) => a.localeCompare(b)));

/** The newest complete segment and a part of it (both in memory, so answered at once). */
function edge(): { seg: number } {
  return { seg: packager.getBroadcast(B)!.track('video-360p')!.current!.msn - 1 };
}

test('what the hot path takes it answers exactly as the Express way: same status, headers and bytes', async () => {
  const { seg } = edge();
  const paths = [
    `/live/${B}/video-360p/init-0.mp4`,
    `/live/${B}/audio/init-0.mp4`,
    `/live/${B}/video-360p/seg-${seg}.m4s`,
    `/live/${B}/video-360p/part-${seg}.2.m4s`,
    `/live/${B}/audio/part-${seg}.0.m4s`,
    `/live/${B}/video-360p/part-${seg + 40}.0.m4s`, // never coming: 404
  ];
  for (const p of paths) {
    for (const method of ['GET', 'HEAD']) {
      const before = taken.length;
      const [a, b] = await Promise.all([get(`${expressOnly}${p}`, { method }), get(`${product}${p}`, { method })]);
      assert.equal(taken.length, before + 1, `${method} ${p} went the hot way`);
      assert.equal(b.status, a.status, `${method} ${p}: status`);
      assert.deepEqual(headersOf(b.headers), headersOf(a.headers), `${method} ${p}: headers`);
      assert.ok(b.body.equals(a.body), `${method} ${p}: body`);
    }
  }
  // Under the node's prefix too (a broadcast node serves /b/<node>/live/…).
  const viaPrefix = await get(`${product}/b/node-1/live/${B}/video-360p/seg-${seg}.m4s`);
  const direct = await get(`${expressOnly}/live/${B}/video-360p/seg-${seg}.m4s`);
  assert.equal(viaPrefix.status, 200);
  assert.ok(viaPrefix.body.equals(direct.body));
});

test('blocking reloads and hinted parts: held until the part lands, then the same playlist and part as the Express way', async () => {
  const cur = packager.getBroadcast(B)!.track('video-360p')!.current!;
  const next = cur.complete ? { msn: cur.msn + 1, part: 0 } : { msn: cur.msn, part: cur.parts.length };
  const q = `_HLS_msn=${next.msn}&_HLS_part=${next.part}`;
  for (const skip of ['', '&_HLS_skip=YES']) {
    const p = `/live/${B}/video-360p/index.m3u8?${q}${skip}`;
    const before = taken.length;
    const [a, b] = await Promise.all([get(`${expressOnly}${p}`), get(`${product}${p}`)]);
    assert.equal(taken.length, before + 1, `${p} went the hot way`);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.match(b.text, new RegExp(`part-${next.msn}\\.${next.part}\\.m4s`), 'released once the asked-for part is listed');
    assert.deepEqual(headersOf(b.headers), headersOf(a.headers), `${p}: headers`);
    assert.equal(b.headers.get('cache-control'), 'public, max-age=6');
    // Both were released by the same part; a later part may already have landed for one of them.
    if (a.text !== b.text) assert.match(b.text, /#EXT-X-PRELOAD-HINT/);
  }
  const cur2 = packager.getBroadcast(B)!.track('audio')!.current!;
  const hint = `/live/${B}/audio/part-${cur2.msn}.${cur2.parts.length}.m4s`;
  const [a, b] = await Promise.all([get(`${expressOnly}${hint}`), get(`${product}${hint}`)]);
  assert.equal(b.status, a.status, 'a hinted part: held, then answered alike');
  if (a.status === 200) assert.ok(b.body.equals(a.body));
});

test('anything unusual is left to the Express way, which answers it in full', async () => {
  const { seg } = edge();
  // Paths, or paths made at request time (what is in progress moves on while the others are asked).
  const declined: [string | (() => string), http.OutgoingHttpHeaders?][] = [
    [`/live/${B}/video-360p/part-${seg}.1.m4s`, { range: 'bytes=0-99' }], // Range
    [`/live/${B}/video-360p/index.m3u8?_HLS_msn=abc`], // malformed: Express's 400
    [`/live/${B}/video-360p/index.m3u8?_HLS_part=1`], // part without msn: 400
    [`/live/${B}/video-360p/index.m3u8?_HLS_msn=${seg + 50}`], // beyond the next segment: 400
    [`/live/${B}/video-360p/index.m3u8?_HLS_msn=1&_HLS_msn=2`], // repeated
    [`/live/${B}/video-360p/index.m3u8?foo=1`], // another parameter
    [`/live/${B}/video-360p/seg-${seg}.m4s?x=1`],
    [`/live/${B}/master.m3u8`],
    [`/live/${B}/manifest.mpd`],
    [`/live/other/video-360p/index.m3u8`], // not in memory: the store's
    // Not yet complete: streamed as it is written. The segment after the one in progress, named when asked:
    // the one in progress can complete (and be taken) between naming it and asking for it on a loaded machine.
    [() => `/live/${B}/video-360p/seg-${packager.getBroadcast(B)!.track('video-360p')!.current!.msn + 1}.m4s`],
    [`/live/${B}/nope/index.m3u8`],
  ];
  for (const [path, headers] of declined) {
    const p = typeof path === 'string' ? path : path();
    const r = await new Promise<number>((resolve, reject) => http.get(`${hotOnly}${p}`, { headers: headers ?? {} }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject));
    assert.equal(r, 299, `${p} ${JSON.stringify(headers ?? {})}: declined`);
  }
  // And the product answers them as Express does.
  const range = await get(`${product}/live/${B}/video-360p/part-${seg}.1.m4s`, { headers: { range: 'bytes=0-99' } });
  assert.equal(range.status, 206);
  assert.equal(range.body.length, 100);
  for (const q of ['_HLS_msn=abc', '_HLS_part=1', `_HLS_msn=${seg + 50}`]) {
    const [a, b] = await Promise.all([get(`${expressOnly}/live/${B}/video-360p/index.m3u8?${q}`), get(`${product}/live/${B}/video-360p/index.m3u8?${q}`)]);
    assert.equal(a.status, 400, q);
    assert.equal(b.status, 400, q);
    assert.equal(b.text, a.text);
  }
  // POST is not the origin's.
  const post = await fetch(`${hotOnly}/live/${B}/video-360p/index.m3u8`, { method: 'POST' });
  assert.equal(post.status, 299);
});

test('signed viewer URLs: the hot path serves a valid token unwrapped, and leaves a refused one (and, when tokens are required, an unsigned URL) to the Express way', async () => {
  const secret = 'hot-path-viewer-secret-0123456789';
  const check = signedUrlChecker({ secret, required: true });
  const hot = createOriginHotPath(packager, { logger: silentLogger(), unwrap: (url) => {
    const c = check(url, Date.now() / 1000);
    return c.kind === 'refused' ? undefined : c.url;
  } });
  const signedOnly = await serve((req, res) => {
    if (!hot(req, res)) res.writeHead(299, { 'Content-Type': 'text/plain' }).end('declined');
  });
  const { seg } = edge();
  const good = signViewerToken({ broadcastId: B, exp: Math.floor(Date.now() / 1000) + 600 }, secret);
  const expired = signViewerToken({ broadcastId: B, exp: Math.floor(Date.now() / 1000) - 1 }, secret);
  const other = signViewerToken({ broadcastId: 'other', exp: Math.floor(Date.now() / 1000) + 600 }, secret);
  const object = `video-360p/seg-${seg}.m4s`;
  const [signed, plain] = await Promise.all([get(`${signedOnly}${signedLivePath(B, good)}/${object}`), get(`${expressOnly}/live/${B}/${object}`)]);
  assert.equal(signed.status, 200, 'a valid token is served');
  assert.ok(signed.body.equals(plain.body));
  for (const p of [`${signedLivePath(B, expired)}/${object}`, `${signedLivePath(B, other)}/${object}`, `/live/t/not-a-token/${B}/${object}`, `/live/${B}/${object}`]) {
    assert.equal((await get(`${signedOnly}${p}`)).status, 299, `${p}: declined (Express refuses it)`);
  }
});
