// Bad WHIP input, over plain fetch, while a broadcast runs on the stage (a
// browser host publishing): every request gets its clear status and reason,
// nothing is left allocated, and the live playlist keeps advancing afterwards.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { RunningApp } from '../../app/server.ts';
import { api, broadcastIdOf } from '../helpers/app.ts';
import { startE2e, type E2e } from '../helpers/e2e/harness.ts';
import { ONE_RUNG } from '../helpers/e2e/ladders.ts';

const offer = (name: string) => readFileSync(new URL(`../ingest/golden/whip/${name}`, import.meta.url), 'utf8');
const obs = offer('obs-offer.sdp');
const chromium = offer('chromium-offer.sdp');

let h: E2e;
let app: RunningApp;
let stageId: string;
let token: string;

before(async () => {
  h = await startE2e({
    app: {
      transcode: ONE_RUNG,
      ingest: {
        hostTokenSecret: 'test-host-token-secret-0123456789',
        // Sessions that never connect must outlive this test; the burst covers this test's ~45 requests from loopback,
        // and the flood below comes from its own client address.
        whip: { connectTimeoutMs: 120_000, ratePerSecond: 5, rateBurst: 60 },
      },
    },
  });
  app = h.app;
  const created = await h.createStage('whip-bad');
  stageId = created.id;
  token = created.hostToken;
  await h.publishHost({ stage: stageId, hostUrl: created.hostUrl });
  await h.goLive(stageId);
  await h.waitForPlaylist(stageId);
});
after(() => h?.close());

/** The next media sequence number of the live 360p playlist. */
async function nextMsn(query = ''): Promise<number> {
  const res = await fetch(`${app.url}/live/${broadcastIdOf(app, stageId)}/video-360p/index.m3u8${query}`);
  assert.equal(res.status, 200);
  const text = await res.text();
  assert.doesNotMatch(text, /#EXT-X-ENDLIST/);
  return Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]) + (text.match(/#EXTINF:/g)?.length ?? 0);
}

function whip(path: string, init: { method?: string; body?: string; type?: string | null; auth?: string | null; ip?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.type !== null) headers['content-type'] = init.type ?? 'application/sdp';
  if (init.auth !== null) headers.authorization = `Bearer ${init.auth ?? token}`;
  if (init.ip) headers['x-forwarded-for'] = init.ip;
  return fetch(`${app.url}/whip/${path}`, { method: init.method ?? 'POST', headers, ...(init.body !== undefined ? { body: init.body } : {}) });
}

/** Expects `status` and an error body whose message matches `reason`. */
async function expectError(res: Response, status: number, reason: RegExp): Promise<void> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  assert.match(body.error.message, reason, text);
}

test('every bad request gets its status and reason; the broadcast keeps advancing and nothing is left behind', async () => {
  await nextMsn(); // the broadcast runs
  const hostsBefore = app.sfu.getStage(stageId)!.hostCount;
  const other = await app.sfu.createStage('whip-bad-other');

  // The SDP itself.
  await expectError(await whip(stageId, { body: 'this is not SDP' }), 400, /v=0/);
  await expectError(await whip(stageId, { body: 'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n\x00\x01garbage\r\n' }), 400, /line 3/);
  await expectError(await whip(stageId, { body: `${obs}a=pad:${'x'.repeat(100_000)}\r\n` }), 413, /at most 32768/);
  const manyMedia = `v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n${'m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n'.repeat(900)}`;
  await expectError(await whip(stageId, { body: manyMedia }), 422, /more than 8 m= sections/);
  await expectError(await whip(stageId, { body: obs.replace(/a=fingerprint:.*\r\n/, '') }), 400, /fingerprint/);
  await expectError(await whip(stageId, { body: obs.replace(/a=ice-ufrag:.*\r\n/, '') }), 400, /ice-ufrag/);
  const vp9Only = obs.replace('SAVPF 96', 'SAVPF 98').replace('a=rtpmap:96 H264/90000', 'a=rtpmap:98 VP9/90000').replace(/a=(rtcp-fb|fmtp):96 .*\r\n/g, '');
  await expectError(await whip(stageId, { body: vp9Only }), 422, /VP9\/90000.*takes video\/VP8, video\/H264/);
  const pcmuOnly = obs.replace('SAVPF 111', 'SAVPF 0').replace('a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000');
  await expectError(await whip(stageId, { body: pcmuOnly }), 422, /PCMU\/8000.*takes audio\/opus/);

  // The request around it.
  const json = await whip(stageId, { body: JSON.stringify({ sdp: obs }), type: 'application/json' });
  assert.equal(json.headers.get('accept-post'), 'application/sdp');
  await expectError(json, 415, /application\/sdp/);
  await expectError(await whip(stageId, { body: obs, type: null }), 415, /application\/sdp/);
  const anonymous = await whip(stageId, { body: obs, auth: null });
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer');
  await expectError(anonymous, 401, /host token is required/);
  await expectError(await whip(stageId, { body: obs, auth: 'forged.token' }), 401, /signature|malformed/);
  await expectError(await whip(stageId, { body: obs, auth: app.sfu.issueHostToken(stageId, { ttlSeconds: -1 }) }), 401, /expired/);
  await expectError(await whip(stageId, { body: obs, auth: app.sfu.issueHostToken(other.id) }), 403, /another stage/);
  await expectError(await whip('no-such-stage', { body: obs, auth: app.sfu.issueHostToken('no-such-stage') }), 404, /no stage/);
  await expectError(await whip(stageId, { body: obs, auth: app.sfu.issueHostToken(stageId, { role: 'host-audio' }) }), 403, /audio only/);
  await expectError(await whip(`${stageId}/00000000-0000-4000-8000-000000000000`, { method: 'DELETE' }), 404, /no WHIP session/);
  await expectError(await whip(`${stageId}/00000000-0000-4000-8000-000000000000`, { method: 'PATCH', type: 'application/trickle-ice-sdpfrag', body: 'a=end-of-candidates' }), 404, /no WHIP session/);
  const patchEndpoint = await whip(stageId, { method: 'PATCH', body: 'x' });
  assert.equal(patchEndpoint.headers.get('allow'), 'OPTIONS, POST');
  await expectError(patchEndpoint, 405, /takes OPTIONS, POST/);
  assert.equal(app.sfu.getStage(stageId)!.hostCount, hostsBefore, 'no refused request took a host slot');

  // CORS preflight: no PATCH advertised (clients then do not trickle), Location/ETag readable.
  const preflight = await fetch(`${app.url}/whip/${stageId}`, { method: 'OPTIONS', headers: { origin: 'http://elsewhere.example', 'access-control-request-method': 'POST' } });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
  assert.equal(preflight.headers.get('access-control-allow-methods'), 'OPTIONS, POST');
  assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /Authorization.*Content-Type/);
  assert.match(preflight.headers.get('access-control-expose-headers') ?? '', /Location.*ETag.*Link/);
  assert.equal(preflight.headers.get('accept-post'), 'application/sdp');

  // Hosts up to the limit of 9 (one browser host + 8 WHIP sessions), then the tenth is refused.
  const locations: string[] = [];
  for (let i = hostsBefore; i < 9; i++) {
    const res = await whip(stageId, { body: i % 2 ? obs : chromium });
    assert.equal(res.status, 201, await res.clone().text());
    assert.equal(res.headers.get('content-type'), 'application/sdp');
    assert.match(res.headers.get('etag') ?? '', /^".+"$/);
    assert.match(await res.text(), /^v=0\r\n[\s\S]*a=setup:passive\r\n/);
    locations.push(res.headers.get('location')!);
  }
  await expectError(await whip(stageId, { body: obs }), 409, /already has 9 hosts/);
  const [first] = locations;
  const patch = await fetch(`${app.url}${first}`, { method: 'PATCH', headers: { 'content-type': 'application/trickle-ice-sdpfrag', authorization: `Bearer ${token}` }, body: 'a=end-of-candidates' });
  assert.equal(patch.headers.get('allow'), 'OPTIONS, DELETE');
  await expectError(patch, 405, /trickle ICE and ICE restarts are not supported/);
  await expectError(await fetch(`${app.url}${first}`, { method: 'DELETE', headers: { authorization: `Bearer ${app.sfu.issueHostToken(stageId)}` } }), 401, /token the session was created with/);
  for (const location of locations) {
    const res = await fetch(`${app.url}${location}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
  }
  assert.equal(app.whip.sessions.length, 0);
  assert.equal(app.sfu.getStage(stageId)!.hostCount, hostsBefore);

  // A flood from one client address is cut off with 429; another address is still served.
  const flood = await Promise.all(Array.from({ length: 150 }, () => whip(stageId, { method: 'OPTIONS', ip: '203.0.113.9' })));
  const limited = flood.filter((r) => r.status === 429);
  assert.ok(limited.length >= 40, `${limited.length} of 150 flooding requests were refused`);
  assert.equal(limited[0]!.headers.get('retry-after'), '1');
  await expectError(limited[0]!, 429, /too many WHIP requests/);
  assert.equal((await whip(stageId, { method: 'OPTIONS', ip: '203.0.113.10' })).status, 204);

  // Throughout, the broadcast ran on: the playlist advances past where it was (a blocking reload waits for it).
  const msn = await nextMsn();
  assert.ok((await nextMsn(`?_HLS_msn=${msn + 1}`)) > msn + 1, 'the live playlist advanced after the bad input');
  const status = await api<{ broadcast: { state: string } }>(app, 'GET', `/stages/${stageId}`);
  assert.equal(status.body.broadcast.state, 'live');
});
