// How WHIP sessions end besides DELETE, with a real client (Chromium's
// RTCPeerConnection) against the real SFU: a client that never connects, a
// DTLS handshake that fails, a client that goes away without DELETE, the stage
// closing, the app closing. Each time the host leaves and its producers close.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import type { RunningApp } from '../../app/server.ts';
import type { WhipSessionEndReason } from '../../ingest/index.ts';
import { api } from '../helpers/app.ts';
import { startE2e, type E2e } from '../helpers/e2e/harness.ts';

let h: E2e;
let app: RunningApp;
let page: Page;

before(async () => {
  h = await startE2e({ app: { ingest: { hostTokenSecret: 'test-host-token-secret-0123456789', whip: { connectTimeoutMs: 4000 } } } });
  app = h.app;
  page = await h.newPage({ role: 'host' });
  // Any page of the app's origin: a secure context, and the WHIP requests are same-origin.
  await page.goto(`${app.url}/healthz`);
});
after(() => h?.close());

type PublishOptions = { endpoint: string; token: string; corruptFingerprint?: boolean };

/**
 * Publishes the fake camera and microphone over WHIP from the page with a bare
 * RTCPeerConnection; with `corruptFingerprint` the offer sent names another
 * certificate than the one the browser will present.
 */
function publish(opts: PublishOptions): Promise<{ status: number; location: string | null }> {
  return page.evaluate(async ({ endpoint, token, corruptFingerprint }) => {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 180 } });
    const pc = new RTCPeerConnection({ iceServers: [] });
    (window as unknown as { pc: RTCPeerConnection }).pc = pc;
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    await pc.setLocalDescription(await pc.createOffer());
    let sdp = pc.localDescription!.sdp;
    if (corruptFingerprint) sdp = sdp.replace(/(a=fingerprint:sha-256 )([0-9A-F]{2})/g, (_m, p: string, b: string) => `${p}${b === '00' ? '11' : '00'}`);
    const res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: sdp });
    if (res.status === 201) await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
    return { status: res.status, location: res.headers.get('location') };
  }, opts);
}

async function stageWithToken(id: string): Promise<{ token: string; endpoint: string }> {
  const created = await h.createStage(id);
  return { token: created.hostToken, endpoint: `${app.url}/whip/${id}` };
}

const nextEnd = () => new Promise<WhipSessionEndReason>((resolve) => app.whip.once('sessionclose', (_s, reason) => resolve(reason)));

test('a session whose client never connects ends after the connect timeout and frees its host slot', async () => {
  const { token, endpoint } = await stageWithToken('whip-never');
  const offer = readFileSync(new URL('../ingest/golden/whip/obs-offer.sdp', import.meta.url), 'utf8');
  const ended = nextEnd();
  const res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: offer });
  assert.equal(res.status, 201);
  assert.equal(app.sfu.getStage('whip-never')!.hostCount, 1);
  assert.equal(await ended, 'connect-timeout');
  assert.equal(app.sfu.getStage('whip-never')!.hostCount, 0);
  assert.equal(app.sfu.getStage('whip-never')!.producers.length, 0);
});

test('a DTLS handshake that fails (the certificate is not the offered one) ends the session', async () => {
  const { token, endpoint } = await stageWithToken('whip-dtls');
  const ended = nextEnd();
  const { status } = await publish({ endpoint, token, corruptFingerprint: true });
  assert.equal(status, 201);
  assert.equal(await ended, 'dtls-failed');
  assert.equal(app.sfu.getStage('whip-dtls')!.hostCount, 0);
});

test('a client that connects, publishes, then closes its peer connection without DELETE: the session ends', async () => {
  const { token, endpoint } = await stageWithToken('whip-vanish');
  const stage = app.sfu.getStage('whip-vanish')!;
  const { status } = await publish({ endpoint, token });
  assert.equal(status, 201);
  const [session] = app.whip.sessions;
  assert.ok(session);
  // Media arrives: the producers report a bitrate once DTLS is up.
  await page.waitForFunction(() => (window as unknown as { pc: RTCPeerConnection }).pc.connectionState === 'connected', undefined, { timeout: 20_000, polling: 200 });
  assert.equal(session.connected, true);
  assert.equal(stage.producers.length, 2);
  const ended = nextEnd();
  await page.evaluate(() => (window as unknown as { pc: RTCPeerConnection }).pc.close());
  // Chromium's close sends a DTLS close_notify; without it ICE consent would expire (30 s).
  assert.match(await ended, /^(transport-closed|ice-disconnected)$/);
  assert.equal(stage.hostCount, 0);
  assert.equal(stage.producers.length, 0);
});

test('closing the stage ends its sessions; their resources are gone (404)', async () => {
  const { token, endpoint } = await stageWithToken('whip-stage-close');
  const { location } = await publish({ endpoint, token });
  const ended = nextEnd();
  assert.equal((await api(app, 'DELETE', '/stages/whip-stage-close')).status, 204);
  assert.equal(await ended, 'transport-closed');
  const res = await fetch(`${app.url}${location}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 404);
});

test('closing the app ends every session (last: it closes the app)', async () => {
  const { token, endpoint } = await stageWithToken('whip-shutdown');
  await publish({ endpoint, token });
  assert.equal(app.whip.sessions.length, 1);
  const ended = nextEnd();
  await h.closeApp();
  assert.equal(await ended, 'shutdown');
  assert.equal(app.whip.sessions.length, 0);
});
