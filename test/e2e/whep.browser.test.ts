// WHEP playback (draft-ietf-wish-whep), as the front row meets it: a host goes live
// from the host page, a viewer opens the WHEP watch page with a seat token and plays
// the program over WebRTC from the SFU (the same picture and mix HLS viewers get,
// sent back into the SFU by FFmpeg). Bad, expired and foreign tokens are refused,
// a stage's seats are bounded, leaving frees the seat and its transport at once,
// and the end of the broadcast ends the sessions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { RunningApp } from '../../app/server.ts';
import { signWhepToken } from '../../ingest/index.ts';
import { api } from '../helpers/app.ts';
import { startE2e, type E2e } from '../helpers/e2e/harness.ts';
import { TWO_RUNGS } from '../helpers/e2e/ladders.ts';
import { until } from '../helpers/wait.ts';
import { postWhepOffer } from '../helpers/whep.ts';

type WhepView = { state: string; error: string; width: number; height: number; frames: number; currentTime: number; audioPackets: number; videoPackets: number };

async function sample(page: Page): Promise<WhepView> {
  return page.evaluate(async () => {
    const v = document.getElementById('video') as HTMLVideoElement;
    const pc = (window as unknown as { whep: { client?: { pc: RTCPeerConnection } } }).whep.client?.pc;
    let audioPackets = 0;
    let videoPackets = 0;
    if (pc) {
      (await pc.getStats()).forEach((s: { type: string; kind?: string; packetsReceived?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') audioPackets = s.packetsReceived ?? 0;
        if (s.type === 'inbound-rtp' && s.kind === 'video') videoPackets = s.packetsReceived ?? 0;
      });
    }
    return {
      state: document.getElementById('state')!.dataset.state ?? '',
      error: document.getElementById('error')!.textContent ?? '',
      width: v.videoWidth,
      height: v.videoHeight,
      frames: v.getVideoPlaybackQuality().totalVideoFrames,
      currentTime: v.currentTime,
      audioPackets,
      videoPackets,
    };
  });
}

async function waitView(page: Page, what: string, check: (v: WhepView) => boolean, timeoutMs: number): Promise<WhepView> {
  let last: WhepView | undefined;
  return until(what, async () => ((last = await sample(page)), check(last) && last), timeoutMs, { describe: () => `the WHEP page shows ${JSON.stringify(last)}` });
}

describe('WHEP playback', () => {
  let h: E2e;
  let app: RunningApp;
  const stageId = 'whep-e2e';

  before(async () => {
    h = await startE2e({ app: { transcode: TWO_RUNGS, ingest: { whep: { enabled: true, maxViewersPerStage: 1 } } } });
    app = h.app;
  });
  after(() => h?.close());

  test('Chromium plays the program over WHEP; tokens are checked; seats are bounded; leaving and the broadcast end free them', async () => {
    const whep = app.whep!;
    assert.ok(whep, 'WHEP is on');
    const created = await h.createStage(stageId);
    const stage = app.sfu.getStage(stageId)!;
    const tokens = await api<{ token: string; whepUrl: string; watchUrl: string; expiresAt: string }>(app, 'POST', `/stages/${stageId}/whep-tokens`, { ttlSeconds: 600 });
    assert.equal(tokens.status, 201, JSON.stringify(tokens.body));
    const { token, whepUrl, watchUrl } = tokens.body;
    assert.equal(whepUrl, `${app.url}/whep/${stageId}`);

    await h.publishHost({ stage: stageId, hostUrl: created.hostUrl });

    // Before go-live there is no program: the page says why.
    const viewer = await h.openViewer({ kind: 'whep', url: watchUrl });
    const early = await waitView(viewer, 'the not-live refusal', (v) => v.state === 'failed', 15_000);
    assert.match(early.error, /^409 not-live/);
    assert.equal(whep.countOn(stageId), 0, 'a refused offer holds no seat');

    const live = await h.goLive(stageId);
    assert.equal(live.broadcast.state, 'live');
    assert.ok(stage.program, 'the broadcast sent its program back into the SFU');

    // Tokens: none, forged, expired, a host token, another stage's.
    const second = await h.newPage();
    await second.goto(`${app.url}/watch/whep.html`); // same origin for fetch
    const secret = app.sfu.config.hostTokenSecret;
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string, number, RegExp][] = [
      ['no token', '', 401, /unauthorized/],
      ['forged', `${stageId}.${now + 600}.${'A'.repeat(43)}`, 401, /signature is invalid/],
      ['expired', signWhepToken({ stageId, exp: now - 1 }, secret), 401, /token-expired/],
      ['a host token', app.sfu.issueHostToken(stageId), 401, /malformed WHEP viewer token/],
      ['another stage', signWhepToken({ stageId: 'elsewhere', exp: now + 600 }, secret), 403, /another stage/],
    ];
    for (const [what, t, status, body] of cases) {
      const r = await postWhepOffer(second, whepUrl, t);
      assert.equal(r.status, status, `${what}: ${r.body}`);
      assert.match(r.body, body, what);
      if (status === 401) assert.equal(r.auth, 'Bearer', `${what}: WWW-Authenticate`);
    }
    assert.equal(whep.countOn(stageId), 0, 'refused tokens hold no seat');

    // The front row: the watch page plays the program.
    await viewer.click('#join');
    const playing = await waitView(viewer, 'WHEP playback', (v) => v.state === 'playing' && v.frames > 30 && v.audioPackets > 50, 30_000);
    // The top rung's picture (360p), as HLS viewers get it.
    assert.equal(playing.height, 360);
    assert.equal(playing.width, 640);
    const later = await waitView(viewer, '2 more seconds of playback', (v) => v.currentTime >= playing.currentTime + 2 && v.frames > playing.frames + 40, 10_000);
    assert.ok(later.audioPackets > playing.audioPackets, 'audio keeps arriving');
    assert.equal(whep.countOn(stageId), 1);
    const [session] = whep.sessions;
    assert.ok(session && session.connected && !session.transport.closed);
    assert.equal(session.consumers.length, 2);

    // The one seat is taken: the next viewer is told so, with a retry hint.
    const full = await postWhepOffer(second, whepUrl, token);
    assert.equal(full.status, 503, full.body);
    assert.match(full.body, /whep-full/);

    // Leaving (DELETE) frees the seat and the transport at once.
    const sessionUrl = await viewer.evaluate(() => (window as unknown as { whep: { client?: { sessionUrl?: string } } }).whep.client?.sessionUrl);
    assert.equal(sessionUrl, `${whepUrl}/${session.id}`);
    const closed = new Promise<string>((resolve) => whep.once('sessionclose', (_s, reason) => resolve(reason)));
    await viewer.click('#leave');
    assert.equal(await closed, 'deleted');
    assert.ok(session.transport.closed, 'the transport is closed');
    assert.equal(whep.countOn(stageId), 0);

    // So the next viewer gets the seat.
    await second.goto(watchUrl);
    await waitView(second, 'the second viewer playing', (v) => v.state === 'playing' && v.frames > 10, 30_000);
    assert.equal(whep.countOn(stageId), 1);

    // The broadcast ends: so do its WHEP sessions.
    const ended = new Promise<string>((resolve) => whep.once('sessionclose', (_s, reason) => resolve(reason)));
    const stopped = await api(app, 'POST', `/stages/${stageId}/stop`);
    assert.equal(stopped.status, 200);
    assert.equal(await ended, 'program-ended');
    assert.equal(whep.countOn(stageId), 0);
    assert.equal(stage.program, undefined, 'the program input is closed');
  });
});
