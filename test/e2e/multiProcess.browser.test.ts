// The roles on separate processes, as on separate machines: an `sfu` process, a
// `broadcast` process, and nginx as the CDN's caching proxy in front of the
// broadcast node's origin. A host publishes to the SFU, the stage goes live
// through the SFU's control API (placed on the broadcast node by rendezvous
// hashing, skipping a node that is down), hls.js plays it through nginx, and
// nginx's access log shows what was cached.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { rankNodes } from '../../app/placement.ts';
import { isUdpPortBound } from '../../common/index.ts';
import { cacheControl, names } from '../../packager/naming.ts';
import { startE2e, type E2e, type StagecastProcess, type WhipPublisher } from '../helpers/e2e/harness.ts';
import { scrapeMetrics } from '../helpers/metrics.ts';
import { NginxCdn, type CacheLogLine } from '../helpers/nginx.ts';
import { freeTcpPort } from '../helpers/processes.ts';
import { postWhepOffer } from '../helpers/whep.ts';
import { linesWithDuplicateKeys } from '../helpers/logKeys.ts';
import { until } from '../helpers/wait.ts';

const ADMIN = 'multi-process-admin-token-0123';
const INTERNAL = 'multi-process-internal-token-0123';
const HOST_SECRET = 'multi-process-host-secret-0123456';
const METRICS = 'multi-process-metrics-token-0123';
const rtpRange = process.env.STAGECAST_TEST_RTP_PORTS ?? '25000-25999';

type Status = {
  id: string;
  producers: { kind: string }[];
  placement?: { nodeId: string; connected: boolean };
  broadcast: { id: string; state: string; renditions: { trackId: string }[]; input: { bitrate: number }[]; viewers: number } | null;
};

describe('roles on separate processes behind a caching proxy', () => {
  let h: E2e;
  let dir: string;
  let sfu: StagecastProcess;
  let node: StagecastProcess;
  let cdn: NginxCdn;
  let sfuUrl: string;
  let nodeUrl: string;
  let goneUrl: string;

  before(async () => {
    h = await startE2e({ app: false });
    dir = h.logDir();
    // A configured node nobody listens on: placement must skip it.
    goneUrl = `http://127.0.0.1:${await freeTcpPort()}`;
    const common = { STAGECAST_INTERNAL_TOKEN: INTERNAL, STAGECAST_METRICS_TOKEN: METRICS };
    node = await h.startProcess({
      name: 'broadcast',
      adminToken: ADMIN,
      env: {
        ...common,
        STAGECAST_ROLE: 'broadcast',
        STAGECAST_NODE_ID: 'node-a',
        STAGECAST_DATA_DIR: path.join(dir, 'node-a'),
        STAGECAST_RTP_ADDRESS: '127.0.0.1',
        STAGECAST_RTP_MIN_PORT: rtpRange.split('-')[0]!,
        STAGECAST_RTP_MAX_PORT: rtpRange.split('-')[1]!,
        // One small rung keeps host, SFU, FFmpeg and viewer within this machine's 2 cores.
        STAGECAST_LADDER: 'sd',
        STAGECAST_CAPTIONS: '1',
        STAGECAST_X264_PRESET: 'ultrafast',
      },
    });
    nodeUrl = node.url;
    cdn = await NginxCdn.start(path.join(dir, 'nginx'), [{ id: 'node-a', url: nodeUrl }]);
    h.defer('server', 'nginx', () => cdn.stop());
    sfu = await h.startProcess({
      name: 'sfu',
      adminToken: ADMIN,
      env: {
        ...common,
        STAGECAST_ROLE: 'sfu',
        STAGECAST_WORKERS: '1',
        STAGECAST_HOST_TOKEN_SECRET: HOST_SECRET,
        STAGECAST_BROADCAST_NODES: `node-gone=${goneUrl},node-a=${nodeUrl}`,
        STAGECAST_CDN_BASE_URL: cdn.url,
        // WHEP belongs to the SFU; the broadcast node sends the program back to it over RTP.
        STAGECAST_WHEP: '1',
      },
    });
    sfuUrl = sfu.url;
  });

  after(async () => {
    // SIGTERM (by the harness): each process drains its broadcasts and closes its children and ports.
    await h?.close();
    for (const [name, p] of [['sfu', sfu], ['broadcast', node]] as const) {
      if (p) assert.equal((await p.proc.stop()).killed, false, `${name} process exited by itself after SIGTERM`);
    }
    assert.equal(cdn?.running, false, 'nginx exited');
  });

  test('internal API refuses calls without the internal token, and the CDN path never reaches it', async () => {
    assert.equal((await fetch(`${nodeUrl}/internal/ready`)).status, 401);
    assert.equal((await fetch(`${nodeUrl}/internal/ready`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401);
    const ok = await fetch(`${nodeUrl}/internal/ready`, { headers: { authorization: `Bearer ${INTERNAL}` } });
    assert.equal(ok.status, 200);
    assert.equal(((await ok.json()) as { nodeId: string }).nodeId, 'node-a');
    // Through the CDN the node's prefix serves media and pages only.
    assert.equal((await fetch(`${cdn.url}/b/node-a/internal/ready`, { headers: { authorization: `Bearer ${INTERNAL}` } })).status, 404);
    assert.equal((await fetch(`${cdn.url}/internal/ready`, { headers: { authorization: `Bearer ${INTERNAL}` } })).status, 404);
  });

  test('a host publishes to the sfu, the broadcast node runs it, hls.js plays it through nginx for 10 s; playlists and parts are cached as the headers say', async (t) => {
    // A stage whose home (first in rendezvous order) is the node that is down.
    const nodes = [
      { id: 'node-gone', url: goneUrl },
      { id: 'node-a', url: nodeUrl },
    ];
    let stageId = '';
    for (let i = 0; !stageId; i++) if (rankNodes(`mp-${i}`, nodes)[0]!.id === 'node-gone') stageId = `mp-${i}`;

    const created = await h.createStage(stageId, {}, sfu);
    let host: Page | undefined;
    let viewer: Page | undefined;
    try {
      // Another process: the harness polls the control API until both tracks are produced.
      host = await h.publishHost({ stage: stageId, hostUrl: created.hostUrl, client: sfu, timeoutMs: 30_000 });
      const stage = (await sfu.api<Status>('GET', `/stages/${stageId}`)).body;
      assert.equal(stage.producers.length, 2, `the host publishes audio and video: ${JSON.stringify(stage)}`);

      const live = await sfu.api<{ viewerUrl: string; hlsUrl: string; broadcast: Status['broadcast'] }>('POST', `/stages/${stageId}/live`);
      assert.equal(live.status, 201, JSON.stringify(live.body));
      assert.equal(live.body.broadcast?.state, 'live');
      assert.deepEqual(
        live.body.broadcast?.renditions.map((r) => r.trackId).sort(),
        ['audio', 'video-360p'],
      );
      // The viewer links name the owning node's path on the CDN: the stage's stable links, then the broadcast's own media.
      assert.equal(live.body.viewerUrl, `${cdn.url}/b/node-a/watch/?stage=${stageId}`);
      assert.equal(live.body.hlsUrl, `${cdn.url}/b/node-a/live/${stageId}/master.m3u8`);
      const bid = live.body.broadcast!.id;
      assert.match(bid, new RegExp(`^${stageId}-\\d{8}T\\d{6}Z`));
      const placed = (await sfu.api<Status>('GET', `/stages/${stageId}`)).body;
      assert.deepEqual(placed.placement && { nodeId: placed.placement.nodeId, connected: placed.placement.connected }, { nodeId: 'node-a', connected: true });

      const failed: string[] = [];
      viewer = await h.openViewer({
        kind: 'watch',
        url: live.body.viewerUrl,
        init: (page) =>
          page.on('response', (r) => {
            if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
          }),
      });
      await viewer.waitForFunction(() => document.getElementById('state')?.dataset.state === 'playing', undefined, { timeout: 40_000, polling: 200 });
      const t0 = await viewer.evaluate(() => (document.getElementById('video') as HTMLVideoElement).currentTime);
      await viewer.waitForFunction((t) => (document.getElementById('video') as HTMLVideoElement).currentTime >= t + 10, t0, { timeout: 30_000, polling: 200 });

      // Captions posted to the SFU's control API reach the broadcast on its node (relayed over the internal channel).
      const cue = await sfu.api<{ id: string; error?: { code: string } }>('POST', `/stages/${stageId}/captions`, { text: 'relayed to node-a', duration: 2000 });
      assert.equal(cue.status, 201, JSON.stringify(cue.body));
      assert.equal((await sfu.api<{ error: { code: string } }>('POST', `/stages/${stageId}/captions`, { text: 'x'.repeat(501), duration: 1000 })).body.error.code, 'cue-too-large', 'the node\'s refusal comes back as it is');
      const captioned = async () => {
        const subs = await (await fetch(`${nodeUrl}/live/${bid}/captions/index.m3u8`)).text();
        const files = subs.match(/^seg-\d+\.vtt$/gm) ?? [];
        for (const f of files.slice(-4)) if ((await (await fetch(`${nodeUrl}/live/${bid}/captions/${f}`)).text()).includes('relayed to node-a')) return true;
        return false;
      };
      for (const deadline = Date.now() + 15_000; !(await captioned()); ) {
        assert.ok(Date.now() < deadline, 'the cue in a WebVTT segment of the node\'s captions rendition within 15 s');
        await new Promise((r) => setTimeout(r, 250));
      }

      // A second CDN client asking for the very next blocking reload and the preload-hinted part,
      // five times at once each: nginx must pull each once from the origin and answer the rest from cache.
      const base = `${cdn.url}/b/node-a/live/${bid}/video-360p`;
      const answers: string[] = [];
      const bodies: string[] = [];
      const burst = async (uri: string) =>
        Promise.all(
          Array.from({ length: 5 }, async () => {
            const r = await fetch(`${cdn.url}${uri}`);
            const body = await r.text();
            if (r.status !== 200) answers.push(`${r.status} ${uri}: ${body.slice(0, 200)}`);
            else bodies.push(body);
            return r.status;
          }),
        );
      // A hint may name a part that never comes: when the segment ends first, the next
      // part is part 0 of the next segment (the spec allows this; all five then get 404).
      // Then the burst is repeated on the hint of the blocking reload's answer (fresh: a plain
      // reload through the cache may be the same second-old playlist with the same dead hint),
      // at most three times.
      let blockingUri = '';
      let partUri = '';
      let playlist = await (await fetch(`${base}/index.m3u8`)).text();
      for (let attempt = 1; ; attempt++) {
        let hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(playlist);
        if (!hint) {
          // No hint while the open segment is at its target (its next part starts the next
          // segment, whose number is not known yet): the playlist with that part has one.
          const open = Math.max(...[...playlist.matchAll(/URI="part-(\d+)\.\d+\.m4s"/g)].map((m) => Number(m[1])));
          playlist = await (await fetch(`${base}/index.m3u8?_HLS_msn=${open + 1}&_HLS_part=0`)).text();
          hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-(\d+)\.(\d+)\.m4s"/.exec(playlist);
        }
        assert.ok(hint, `the live playlist has a preload hint:\n${playlist}`);
        const [msn, part] = [Number(hint[1]), Number(hint[2])];
        blockingUri = `/b/node-a/live/${bid}/video-360p/index.m3u8?_HLS_msn=${msn}&_HLS_part=${part}`;
        partUri = `/b/node-a/live/${bid}/video-360p/part-${msn}.${part}.m4s`;
        answers.length = 0;
        bodies.length = 0;
        const [blockingStatuses, partStatuses] = await Promise.all([burst(blockingUri), burst(partUri)]);
        assert.deepEqual(blockingStatuses, [200, 200, 200, 200, 200], answers.join('\n'));
        if (attempt < 3 && partStatuses.every((st) => st === 404)) {
          // The blocking reload's answer is the playlist as it stood once the hinted part or a later
          // one existed (a plain reload through the cache may be up to a second old and still hint it).
          const after = bodies.find((b) => b.startsWith('#EXTM3U')) ?? '';
          assert.ok(!after.includes(`part-${msn}.${part}.m4s`), `part-${msn}.${part} answered 404 but the playlist lists it:\n${after}`);
          assert.match(after, new RegExp(`seg-${msn}\\.m4s`), `segment ${msn} ended before the hinted part`);
          playlist = after;
          continue;
        }
        assert.deepEqual(partStatuses, [200, 200, 200, 200, 200], answers.join('\n'));
        t.diagnostic(`hinted-part burst on part-${msn}.${part} (attempt ${attempt})`);
        break;
      }

      // Repeats of what the viewer already fetched: the media objects it named come from the cache.
      const viewerLines = cdn.log();
      const fetchedMedia = [...new Set(viewerLines.filter((l) => l.status === 200 && /\/(part-|seg-|init-)[^/]*\.(m4s|mp4)$/.test(l.uri)).map((l) => l.uri))];
      const repeatUris = [
        ...fetchedMedia.filter((u) => u.includes('/init-')),
        ...fetchedMedia.filter((u) => u.includes('/part-')).slice(-8),
        ...fetchedMedia.filter((u) => u.includes('/seg-')).slice(-4),
      ];
      for (const uri of repeatUris) assert.equal((await fetch(`${cdn.url}${uri}`)).status, 200, uri);
      // Short-lived playlists: two fetches in a row, the second from the cache.
      for (const uri of [`/b/node-a/live/${bid}/master.m3u8`, `/b/node-a/live/${bid}/audio/index.m3u8`]) {
        await fetch(`${cdn.url}${uri}`).then((r) => r.arrayBuffer());
        await fetch(`${cdn.url}${uri}`).then((r) => r.arrayBuffer());
      }
      // A bad directive is answered, and never cached.
      for (let i = 0; i < 2; i++) assert.equal((await fetch(`${cdn.url}/b/node-a/live/${bid}/video-360p/index.m3u8?_HLS_part=1`)).status, 400);

      // The second bad request is the last one sent: once its line is in, every earlier one is.
      const log = await cdn.logWhen((ls) => ls.filter((l) => l.uri.endsWith('index.m3u8?_HLS_part=1')).length >= 2);
      const tally = (pred: (l: CacheLogLine) => boolean) =>
        JSON.stringify(log.filter(pred).reduce<Record<string, number>>((acc, l) => ({ ...acc, [l.cache]: (acc[l.cache] ?? 0) + 1 }), {}));
      t.diagnostic(`nginx: ${log.length} requests; blocking reloads ${tally((l) => l.uri.includes('_HLS_msn='))}; parts ${tally((l) => l.uri.includes('/part-'))}; segments/init ${tally((l) => /\/(seg|init)-/.test(l.uri))}`);
      const lines = (pred: (l: CacheLogLine) => boolean) => log.filter(pred);
      const describeLines = (ls: CacheLogLine[]) => ls.map((l) => `${l.status} ${l.cache} ${l.uri}`).join('\n');

      // The viewer really went through nginx: blocking reloads and parts, and only the not-yet-live master failed.
      const viewerBlocking = lines((l) => l.uri.includes('/index.m3u8?_HLS_msn=') && l.uri !== blockingUri);
      const viewerParts = viewerLines.filter((l) => l.uri.includes('/part-'));
      assert.ok(viewerBlocking.length >= 20, `the viewer made blocking playlist reloads through nginx (${viewerBlocking.length})`);
      // How many parts vs whole segments hls.js fetches depends on how close to the edge it keeps
      // under this machine's load: parts are its choice, their caching is checked by the burst below.
      const viewerMedia = viewerLines.filter((l) => /\/(part|seg)-/.test(l.uri));
      assert.ok(viewerParts.length > 0 && viewerMedia.length >= 10, `the viewer fetched parts and segments through nginx (${viewerParts.length} parts, ${viewerMedia.length} in all)`);
      assert.deepEqual(failed.filter((f) => !f.endsWith('/master.m3u8')), [], 'no failed viewer requests except the master before it existed');
      assert.deepEqual([...new Set(viewerBlocking.map((l) => l.cacheControl))], [cacheControl.manifest(names.playlist, false, true)], 'blocking reloads carry exactly the directives Cache-Control');

      // proxy_cache_lock: one origin pull per object, the other four wait for it and are HITs.
      for (const uri of [blockingUri, partUri]) {
        const same = lines((l) => l.uri === uri);
        const misses = same.filter((l) => l.cache === 'MISS');
        const hits = same.filter((l) => l.cache === 'HIT');
        assert.equal(misses.length, 1, `one origin pull for ${uri}:\n${describeLines(same)}`);
        assert.ok(hits.length >= 4, `the burst's other requests were cache hits for ${uri}:\n${describeLines(same)}`);
      }
      // Parts, segments and init segments are immutable for 14 days: every repeat is a HIT.
      for (const uri of repeatUris) {
        const same = lines((l) => l.uri === uri);
        assert.equal(same.at(-1)?.cache, 'HIT', `repeat of ${uri} was served from the cache:\n${describeLines(same)}`);
        assert.equal(same.at(-1)!.cacheControl || same[0]!.cacheControl, cacheControl.immutable, uri);
      }
      assert.ok(repeatUris.some((u) => u.includes('/init-')) && repeatUris.some((u) => u.includes('/part-')), `init segments and parts were repeated: ${repeatUris.join(' ')}`);
      // The multivariant playlist (max-age=2) and a playlist without directives (max-age=1): the back-to-back repeat is a HIT.
      for (const name of ['master.m3u8', 'audio/index.m3u8']) {
        const same = lines((l) => l.uri === `/b/node-a/live/${bid}/${name}`);
        assert.equal(same.at(-1)?.cache, 'HIT', `${name} repeat came from the cache:\n${describeLines(same.slice(-4))}`);
      }
      // Errors say no-store: each bad request went to the origin.
      const bad = lines((l) => l.uri.endsWith('index.m3u8?_HLS_part=1'));
      assert.deepEqual(bad.map((l) => `${l.status} ${l.cache}`), ['400 MISS', '400 MISS']);

      const status = (await sfu.api<Status>('GET', `/stages/${stageId}`)).body;
      assert.equal(status.broadcast?.state, 'live');
      assert.ok(status.broadcast!.input.every((i) => i.bitrate > 0), `the node reports the SFU's RTP bitrates: ${JSON.stringify(status.broadcast?.input)}`);
      assert.ok(status.broadcast!.viewers >= 1, 'the node counts the CDN pulling playlists as a viewer');

      // Each role serves its own /metrics (behind the metrics token): the SFU what it carries,
      // the broadcast node its FFmpeg, packager and origin; the CDN path never reaches them.
      const scrape = async (url: string) => {
        assert.equal((await fetch(`${url}/metrics`)).status, 401, `${url}/metrics needs the token`);
        const got = await scrapeMetrics(`${url}/metrics`, { authorization: `Bearer ${METRICS}` });
        assert.equal(got.status, 200);
        return got.metrics;
      };
      const sm = await scrape(sfuUrl);
      assert.equal(sm.get('stagecast_mediasoup_workers'), 1);
      assert.equal(sm.get(`stagecast_hosts{stage="${stageId}"}`), 1);
      assert.equal(sm.get(`stagecast_producers{stage="${stageId}",kind="video"}`), 1);
      assert.equal(sm.get(`stagecast_producers{stage="${stageId}",kind="audio"}`), 1);
      assert.ok(sm.has('process_resident_memory_bytes'));
      assert.ok(![...sm.keys()].some((k) => k.startsWith('stagecast_parts_total') || k.startsWith('stagecast_origin_')), 'the sfu shows no packager or origin series');
      const nm = await scrape(nodeUrl);
      assert.ok((nm.get(`stagecast_parts_total{broadcast="${bid}",track="video-360p"}`) ?? 0) > 0, 'parts counted on the node');
      assert.ok((nm.get(`stagecast_rtp_in_bitrate_bps{stage="${stageId}",kind="video"}`) ?? 0) > 0, 'RTP in from the SFU');
      assert.ok((nm.get(`stagecast_ffmpeg_speed{broadcast="${bid}"}`) ?? 0) > 0, 'FFmpeg speed');
      assert.ok((nm.get('stagecast_origin_requests_total{route="part",status="200"}') ?? 0) > 0, 'the CDN pulled parts from the origin');
      assert.ok((nm.get(`stagecast_viewers_estimated{broadcast="${bid}"}`) ?? 0) >= 1);
      assert.ok(!nm.has('stagecast_stages') && !nm.has('stagecast_mediasoup_workers'), 'the node shows no SFU series');
      assert.equal((await fetch(`${cdn.url}/b/node-a/metrics`, { headers: { authorization: `Bearer ${METRICS}` } })).status, 404);

      // WHEP across the roles: the broadcast node's FFmpeg sends the program back to the SFU's
      // program input, and the front row's watch page, served by the SFU, plays it from there.
      const seat = await sfu.api<{ token: string; whepUrl: string; watchUrl: string }>('POST', `/stages/${stageId}/whep-tokens`, { ttlSeconds: 600 });
      assert.equal(seat.status, 201, JSON.stringify(seat.body));
      assert.equal(seat.body.whepUrl, `${sfuUrl}/whep/${stageId}`);
      const front = await h.newPage();
      const whepView = () =>
        front.evaluate(() => {
          const v = document.getElementById('video') as HTMLVideoElement;
          return { state: document.getElementById('state')!.dataset.state ?? '', error: document.getElementById('error')!.textContent ?? '', height: v.videoHeight, frames: v.getVideoPlaybackQuality().totalVideoFrames };
        });
      try {
        await front.goto(seat.body.watchUrl);
        await until('WHEP playback from the SFU of a broadcast on the node', async () => {
          const v = await whepView();
          return v.state === 'playing' && v.frames > 30;
        }, 30_000).catch(async (err: Error) => {
          throw new Error(`${err.message}: the page shows ${JSON.stringify(await whepView())}`);
        });
        assert.equal((await whepView()).height, 360, "the top rung's picture, as HLS viewers get it");
      } catch (err) {
        await front.close();
        throw err;
      }

      // Stop through the SFU: the node ends the broadcast (ENDLIST), served through the CDN.
      const stopped = await sfu.api<{ broadcast: Status['broadcast'] }>('POST', `/stages/${stageId}/stop`);
      assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
      assert.equal(stopped.body.broadcast?.state, 'ended');
      // The node closed the SFU's program input with it: a new WHEP offer finds no program.
      const afterEnd = await postWhepOffer(front, seat.body.whepUrl, seat.body.token);
      await front.close();
      assert.equal(afterEnd.status, 409, afterEnd.body);
      assert.match(afterEnd.body, /not-live/);
      const ended = await (await fetch(`${nodeUrl}/b/node-a/live/${bid}/video-360p/index.m3u8`)).text();
      assert.match(ended, /#EXT-X-ENDLIST\s*$/);
      const placement = (await sfu.api<Status>('GET', `/stages/${stageId}`)).body.placement;
      assert.equal(placement?.connected, false, 'the broadcast channel is closed after the stop');
    } finally {
      await host?.close();
      await viewer?.close();
    }
  });

  test('OBS-style WHIP publishing goes to the sfu role: 201 with a Location there, the session is a host with both tracks, DELETE ends it', async () => {
    let whip: WhipPublisher | undefined;
    try {
      const stageId = 'mp-whip';
      const created = await sfu.api<{ hostToken: string }>('POST', '/stages', { id: stageId, hostName: 'OBS-like' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const endpoint = `${sfuUrl}/whip/${stageId}`;
      // A bad token is refused before anything is set up.
      const refused = await fetch(endpoint, { method: 'POST', headers: { authorization: 'Bearer nope', 'content-type': 'application/sdp' }, body: 'v=0\r\n' });
      assert.equal(refused.status, 401);
      whip = await h.publishWhip({ endpoint, token: created.body.hostToken });
      const resource = whip.resource;
      assert.match(resource, new RegExp(`^${endpoint}/[0-9a-f-]{36}$`));
      await whip.connected(20_000);
      const stage = (await sfu.api<Status>('GET', `/stages/${stageId}`)).body;
      assert.deepEqual(stage.producers.map((p) => p.kind).sort(), ['audio', 'video']);
      await whip.stop();
      // The client's DELETE resolves once answered; the producers close with the session.
      await until('DELETE to close the session and its producers', async () => (await sfu.api<Status>('GET', `/stages/${stageId}`)).body.producers.length === 0, 5_000);
      assert.equal((await fetch(resource, { method: 'DELETE', headers: { authorization: `Bearer ${created.body.hostToken}` } })).status, 404, 'the session is gone');
      assert.equal((await sfu.api('DELETE', `/stages/${stageId}`)).status, 204);
    } finally {
      await whip?.page.close();
    }
  });

  test('a draining broadcast node answers not ready (so SFUs place nothing new there) and refuses new broadcasts', async () => {
    const auth = { authorization: `Bearer ${INTERNAL}` };
    assert.equal((await fetch(`${nodeUrl}/readyz`)).status, 200);
    assert.equal((await fetch(`${nodeUrl}/internal/drain`, { method: 'POST' })).status, 401, 'drain needs the internal token');
    const drained = await fetch(`${nodeUrl}/internal/drain`, { method: 'POST', headers: auth });
    assert.equal(drained.status, 200);
    assert.equal((await fetch(`${nodeUrl}/readyz`)).status, 503);
    const ready = await fetch(`${nodeUrl}/internal/ready`, { headers: auth });
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { ok: false, draining: true, nodeId: 'node-a', feeds: 0 });
    // Media and pages are still served while draining (running broadcasts' viewers).
    assert.equal((await fetch(`${cdn.url}/b/node-a/watch/`)).status, 200);
  });

  test('after SIGTERM every process is gone and the RTP ports are free', async () => {
    const exits = await Promise.all([sfu.proc.stop(), node.proc.stop()]);
    await cdn.stop();
    assert.deepEqual(
      exits.map((e) => ({ code: e.code, killed: e.killed })),
      [
        { code: 0, killed: false },
        { code: 0, killed: false },
      ],
      `graceful exits\n--- sfu\n${sfu.proc.tail(10)}\n--- broadcast\n${node.proc.tail(10)}`,
    );
    const [min] = rtpRange.split('-').map(Number) as [number];
    for (let p = min + (min % 2); p < min + 8; p++) assert.equal(await isUdpPortBound('127.0.0.1', p), false, `UDP ${p} released`);
    for (const url of [sfuUrl, nodeUrl, cdn.url]) await assert.rejects(fetch(url), `${url} no longer listens`);
  });

  test('every log line of both processes has one key per name (role, stage, broadcast … not bound twice)', () => {
    for (const name of ['sfu.log', 'broadcast.log']) {
      const text = readFileSync(path.join(dir, name), 'utf8');
      assert.ok(text.split('\n').filter((l) => l.startsWith('{')).length > 10, `${name} has the run's log lines`);
      const twice = linesWithDuplicateKeys(text);
      const summary = [...new Set(twice.map((d) => `${d.keys.join(',')} in "${d.msg}"`))];
      assert.deepEqual(summary, [], `${name}: lines with a key twice`);
    }
  });
});
