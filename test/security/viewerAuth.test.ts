// Signed, expiring viewer URLs: the token's rules, the control API that issues
// them, and the origin that checks them (over HTTP, with real media).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningApp } from '../../app/server.ts';
import { InputError } from '../../common/index.ts';
import { signViewerToken, verifyViewerToken } from '../../packager/index.ts';
import { api, startTestApp } from '../helpers/app.ts';
import { pushInProcess, until, type FfmpegRun } from '../packager/helpers.ts';

const SECRET = 'viewer-secret-0123456789abcdef';

describe('viewer tokens', () => {
  const now = 1_800_000_000;
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      assert.ok(err instanceof InputError, String(err));
      assert.equal(err.status, 403);
      return err.code;
    }
    return 'accepted';
  };

  test('a token verifies for its broadcast until it expires', () => {
    const token = signViewerToken({ broadcastId: 'main', exp: now + 60 }, SECRET);
    assert.deepEqual(verifyViewerToken(token, SECRET, { broadcastId: 'main', nowSeconds: now }), { broadcastId: 'main', exp: now + 60 });
    assert.equal(code(() => verifyViewerToken(token, SECRET, { broadcastId: 'main', nowSeconds: now + 60 })), 'token-expired');
  });

  test('another broadcast, a forged signature, a changed expiry or another secret are refused with their reason', () => {
    const token = signViewerToken({ broadcastId: 'main', exp: now + 60 }, SECRET);
    assert.equal(code(() => verifyViewerToken(token, SECRET, { broadcastId: 'other', nowSeconds: now })), 'token-wrong-broadcast');
    const [b, exp, sig] = token.split('.') as [string, string, string];
    const flipped = `${b}.${exp}.${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    assert.equal(code(() => verifyViewerToken(flipped, SECRET, { broadcastId: 'main', nowSeconds: now })), 'token-invalid');
    assert.equal(code(() => verifyViewerToken(`${b}.${Number(exp) + 3600}.${sig}`, SECRET, { broadcastId: 'main', nowSeconds: now })), 'token-invalid');
    assert.equal(code(() => verifyViewerToken(`other.${exp}.${sig}`, SECRET, { broadcastId: 'other', nowSeconds: now })), 'token-invalid');
    assert.equal(code(() => verifyViewerToken(token, `${SECRET}x`, { broadcastId: 'main', nowSeconds: now })), 'token-invalid');
    for (const bad of ['', 'x', 'main.1.', `main.${exp}`, `${token}.x`, `main.-1.${sig}`, `ma/in.${exp}.${sig}`, 'a'.repeat(5000)]) {
      assert.equal(code(() => verifyViewerToken(bad, SECRET, { broadcastId: 'main', nowSeconds: now })), 'token-malformed', bad.slice(0, 40));
    }
  });
});

describe('the origin with viewerAuth.required', () => {
  let app: RunningApp;
  let run: FfmpegRun;
  const B = 'signed1';

  before(async () => {
    app = await startTestApp({ viewerAuth: { secret: SECRET, required: true, expiryGranularitySeconds: 60 } });
    assert.equal((await api(app, 'POST', '/stages', { id: B })).status, 201);
    assert.equal((await api(app, 'POST', '/stages', { id: 'other' })).status, 201);
    run = pushInProcess(app.packager, B, 12);
    const b = app.packager.getBroadcast(B)!;
    await until(app.packager, B, () => b.tracks.length === 3 && b.tracks.every((t) => (t.current?.msn ?? 0) >= 3), 20_000, "three complete segments on every track (playlists are served from then on)");
  });
  after(async () => {
    await run?.stop();
    await app?.close();
  });

  test('the control API issues a signed URL whose expiry is rounded up to the granularity', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await api<{ token: string; expiresAt: string; hlsUrl: string; viewerUrl: string }>(app, 'POST', `/stages/${B}/viewer-tokens`, { ttlSeconds: 120 });
    assert.equal(r.status, 201);
    const exp = Date.parse(r.body.expiresAt) / 1000;
    assert.equal(exp % 60, 0);
    assert.ok(exp >= before + 120 && exp < before + 120 + 61, `exp ${exp - before} s ahead`);
    assert.equal(r.body.hlsUrl, `${app.url}/live/t/${r.body.token}/${B}/master.m3u8`);
    assert.equal(r.body.viewerUrl, `${app.url}/watch/?src=${encodeURIComponent(r.body.hlsUrl)}`);
    // Two viewers in the same window get the same URL: one CDN object for both.
    const again = await api<{ hlsUrl: string }>(app, 'POST', `/stages/${B}/viewer-tokens`, { ttlSeconds: 120 });
    if (Math.floor(Date.now() / 1000) + 120 <= exp) assert.equal(again.body.hlsUrl, r.body.hlsUrl);
    assert.equal((await api(app, 'POST', `/stages/${B}/viewer-tokens`, { ttlSeconds: -1 })).status, 400);
    assert.equal((await api(app, 'POST', `/stages/${B}/viewer-tokens`, { ttlSeconds: 10 ** 9 })).status, 400);
    assert.equal((await api(app, 'POST', '/stages/nope/viewer-tokens', {})).status, 404);
  });

  test('with a valid token every object plays through the signed prefix; playlists need no rewriting', async () => {
    const r = await api<{ token: string; hlsUrl: string }>(app, 'POST', `/stages/${B}/viewer-tokens`, { ttlSeconds: 300 });
    const master = await fetch(r.body.hlsUrl);
    assert.equal(master.status, 200);
    const text = await master.text();
    const child = text.split('\n').find((l) => l.endsWith('index.m3u8'))!;
    assert.ok(!child.includes('/') || !child.startsWith('/'), `child URI is relative: ${child}`);
    const playlistUrl = new URL(child, r.body.hlsUrl).href;
    assert.ok(playlistUrl.includes(`/live/t/${r.body.token}/${B}/`), 'the relative URI inherits the token');
    const playlist = await fetch(playlistUrl);
    assert.equal(playlist.status, 200);
    const ptext = await playlist.text();
    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(ptext)![1]!;
    const part = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(ptext)![1]!;
    for (const uri of [init, part]) assert.equal((await fetch(new URL(uri, playlistUrl))).status, 200, uri);
    // The playlist body is the same as for an unsigned request on an open origin: nothing token-specific in it.
    assert.ok(!ptext.includes(r.body.token) && !text.includes(r.body.token));
    const blocking = await fetch(`${playlistUrl}?_HLS_msn=0`);
    assert.equal(blocking.status, 200, 'delivery directives pass through the signed prefix');
    assert.equal((await fetch(`${r.body.hlsUrl.replace('master.m3u8', 'manifest.mpd')}`)).status, 200, 'DASH too');
  });

  test('no token, an expired, forged or other-broadcast token: 403 with the reason, not cached', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = signViewerToken({ broadcastId: B, exp: now - 1 }, SECRET);
    const forged = signViewerToken({ broadcastId: B, exp: now + 600 }, 'another-secret-0123456789');
    const otherStage = signViewerToken({ broadcastId: 'other', exp: now + 600 }, SECRET);
    const cases: [string, string][] = [
      [`/live/${B}/master.m3u8`, 'token-required'],
      [`/live/${B}/video-360p/index.m3u8?_HLS_msn=1`, 'token-required'],
      [`/live/t/${expired}/${B}/master.m3u8`, 'token-expired'],
      [`/live/t/${forged}/${B}/master.m3u8`, 'token-invalid'],
      [`/live/t/${otherStage}/${B}/master.m3u8`, 'token-wrong-broadcast'],
      [`/live/t/${otherStage}/${B}/video-360p/init-0.mp4`, 'token-wrong-broadcast'],
      [`/live/t//${B}/master.m3u8`, 'token-malformed'],
      [`/live/t/%ZZ/${B}/master.m3u8`, 'token-malformed'],
      [`/live/t/${otherStage}`, 'token-wrong-broadcast'],
    ];
    for (const [path, reason] of cases) {
      const res = await fetch(`${app.url}${path}`);
      const body = await res.text();
      assert.equal(res.status, 403, path);
      assert.ok(body.startsWith(`${reason}:`), `${path}: ${body}`);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
    }
    const valid = signViewerToken({ broadcastId: 'other', exp: now + 600 }, SECRET);
    assert.equal((await fetch(`${app.url}/live/t/${valid}/other/master.m3u8`)).status, 404, 'a valid token for a broadcast with no media: the origin answers 404');
  });
});

describe('the origin with viewerAuth not required', () => {
  let app: RunningApp;
  before(async () => {
    app = await startTestApp({ viewerAuth: { secret: SECRET, required: false } });
  });
  after(async () => {
    await app?.close();
  });
  test('unsigned requests are served as before, signed ones are checked all the same', async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.equal((await fetch(`${app.url}/live/x/master.m3u8`)).status, 404, 'open, and nothing there');
    assert.equal((await fetch(`${app.url}/live/t/${signViewerToken({ broadcastId: 'x', exp: now - 5 }, SECRET)}/x/master.m3u8`)).status, 403);
    assert.equal((await fetch(`${app.url}/live/t/${signViewerToken({ broadcastId: 'x', exp: now + 60 }, SECRET)}/x/master.m3u8`)).status, 404);
  });
});
