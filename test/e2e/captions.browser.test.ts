// Live captions (issue 16): cues posted to the control API (and over its
// WebSocket) reach players we did not write. Plain hls.js (its defaults; the
// viewer turns captions on) has each cue in the video's text track within
// PART-HOLD-BACK + 1 s of the POST and shows it with the frame of its start
// (checked through hls.js's playingDate), also after FFmpeg is killed and
// restarted (a discontinuity); dash.js with no settings shows them from the
// MPD's wvtt representation; our viewer page has a captions menu; bad cues
// get a clear 4xx and are not placed; after the stop, the recording keeps
// them (captions.vtt, the stored WebVTT segments and playlist).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { Page } from 'playwright-core';
import { api, TEST_ADMIN_TOKEN } from '../helpers/app.ts';
import type { PlainPlayerServer } from '../helpers/plainPlayers.ts';
import { app, broadcastId, harness, join, setupHosts, teardownHosts, until, STAGE } from '../helpers/hosts.ts';

let players: PlainPlayerServer;

before(async () => {
  await setupHosts({ hosts: ['red'], packager: { captions: { enabled: true } } });
  players = await harness().players();
});
after(teardownHosts);

type PlacedCue = { id: string; start: number; end: number; text: string; shiftedMs: number };
const post = (cue: unknown) => api<PlacedCue & { error?: { code: string; message: string } }>(app, 'POST', `/stages/${STAGE}/captions`, cue);

/**
 * Waits until a text track of the page's video has a cue containing `text`
 * (`active`: one showing now); returns when (ms since the epoch) and the
 * PROGRAM-DATE-TIME hls.js was playing then (undefined without hls.js).
 */
async function cueIn(page: Page, text: string, active: boolean, timeoutMs: number): Promise<{ at: number; playingDate?: number }> {
  const handle = await page
    .waitForFunction(
      ([t, onlyActive]) => {
        const v = document.querySelector('video')!;
        for (const track of Array.from(v.textTracks)) {
          for (const c of Array.from((onlyActive ? track.activeCues : track.cues) ?? [])) {
            // What a viewer reads: the cue rendered (entities decoded, voice tags gone).
            const shownText = (c as VTTCue).getCueAsHTML?.().textContent ?? (c as VTTCue).text;
            if (shownText.includes(t)) {
              const hls = (window as unknown as { stagecast?: { hls?: { playingDate?: Date | null } } }).stagecast?.hls;
              return { at: Date.now(), playingDate: hls?.playingDate?.getTime() };
            }
          }
        }
        return false;
      },
      [text, active] as const,
      { timeout: timeoutMs, polling: 50 },
    )
    .catch(async (err: unknown) => {
      const tracks = await page.evaluate(() =>
        Array.from(document.querySelector('video')!.textTracks).map((t) => ({ label: t.label, kind: t.kind, mode: t.mode, cues: Array.from(t.cues ?? []).map((c) => `${c.startTime.toFixed(2)}-${c.endTime.toFixed(2)} ${(c as VTTCue).text}`) })),
      );
      const time = await page.evaluate(() => document.querySelector('video')!.currentTime);
      const loads = await page.evaluate(() => (window as unknown as { subtitleLoads?: string[] }).subtitleLoads?.slice(-25));
      throw new Error(`"${text}" not ${active ? 'shown' : 'in the text tracks'} in ${timeoutMs} ms (currentTime ${time.toFixed(2)}); text tracks: ${JSON.stringify(tracks)}; subtitle loads and errors: ${loads?.join(' ')}`, { cause: err });
    });
  return (await handle.jsonValue()) as { at: number; playingDate?: number };
}

const shown = (page: Page, text: string, timeoutMs: number) => cueIn(page, text, true, timeoutMs);

/** PART-HOLD-BACK (s) of the captions playlist. */
async function partHoldBack(): Promise<number> {
  const text = await (await fetch(`${app.url}/live/${broadcastId()}/captions/index.m3u8`)).text();
  const m = /PART-HOLD-BACK=([\d.]+)/.exec(text);
  assert.ok(m, `the captions playlist has PART-HOLD-BACK:\n${text.slice(0, 400)}`);
  return Number(m[1]);
}

test('captions: posted cues show in plain hls.js within PART-HOLD-BACK + 1 s at their media time, across an FFmpeg restart; dash.js shows them; bad cues are 4xx; the recording keeps them', async (t) => {
  // Before go-live there is nothing to caption.
  assert.equal((await post({ text: 'too soon', duration: 1000 })).status, 409);
  assert.equal((await api(app, 'POST', '/stages/no-such-stage/captions', { text: 'x', duration: 1000 })).status, 404);

  await join('red');
  assert.equal((await api(app, 'POST', `/stages/${STAGE}/live`)).status, 201);
  await until(async () => (await fetch(`${app.url}/live/${STAGE}/master.m3u8`)).status === 200, 30_000, 'the multivariant playlist');
  const master = await (await fetch(`${app.url}/live/${STAGE}/master.m3u8`, { redirect: 'follow' })).text();
  assert.match(master, /#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Captions",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,CHARACTERISTICS="public.accessibility.transcribes-spoken-dialog",URI="captions\/index.m3u8"/);
  assert.match(master, /#EXT-X-STREAM-INF:.*SUBTITLES="subs"/);

  // Plain hls.js: the viewer turns captions on (the page's one line for a captions button).
  // Each page in its own context: a browser allows 6 HTTP/1.1 connections per host and profile, and one
  // LL-HLS player with captions holds up to 6 (blocking playlist reloads and parts for video, audio and captions).
  const hlsPage = await harness().newPage({ context: true });
  await hlsPage.goto(players.pageUrl('hlsjs', `${app.url}/live/${STAGE}/master.m3u8`));
  await hlsPage.waitForFunction(() => document.querySelector('video')!.currentTime > 1, undefined, { timeout: 60_000, polling: 200 });
  await hlsPage.evaluate(() => {
    const hls = (window as unknown as { stagecast: { hls: { subtitleTrack: number; subtitleDisplay: boolean } } }).stagecast.hls;
    hls.subtitleDisplay = true;
    hls.subtitleTrack = 0;
    // When each subtitle part or segment arrived, for the failure message of a late cue.
    const w = window as unknown as { subtitleLoads: string[] };
    w.subtitleLoads = [];
    (hls as unknown as { on(e: string, f: (e: string, d: { frag: { type: string; sn: number }; part?: { index: number } | null }) => void): void }).on('hlsFragLoaded', (_e, d) => {
      if (d.frag.type !== 'subtitle') return;
      w.subtitleLoads.push(`${Date.now()} ${d.frag.sn}.${d.part?.index ?? 'seg'}`);
      if (w.subtitleLoads.length > 60) w.subtitleLoads.shift();
    });
    (window as unknown as { playingCc: number }).playingCc = 0;
    (hls as unknown as { on(e: string, f: (e: string, d: { frag: { cc: number } }) => void): void }).on('hlsFragChanged', (_e, d) => {
      (window as unknown as { playingCc: number }).playingCc = d.frag.cc;
    });
    (hls as unknown as { on(e: string, f: (e: string, d: { details: string; fatal: boolean; frag?: { type: string; sn: number } }) => void): void }).on('hlsError', (_e, d) => {
      w.subtitleLoads.push(`${Date.now()} error:${d.details}${d.fatal ? ':fatal' : ''}:${d.frag?.type ?? ''}${d.frag?.sn ?? ''}`);
    });
  });
  const viewer = await harness().newPage({ context: true });
  await viewer.goto(`${app.url}/watch/?broadcast=${STAGE}&captions=on`);
  await viewer.waitForFunction(() => document.getElementById('state')?.dataset.state === 'playing', undefined, { timeout: 60_000, polling: 200 });
  assert.equal(await viewer.locator('#captions-box').isVisible(), true, 'our viewer shows a captions menu');
  assert.deepEqual(await viewer.locator('#captions option').allTextContents(), ['Off', 'Captions (en)']);

  const holdBack = await partHoldBack();
  /**
   * Posts a cue; plain hls.js must have it in its text track within
   * PART-HOLD-BACK + 1 s, and show it with the frame of its start (when it came
   * before the playhead reached that frame, as it does unless the player sits
   * closer to the edge than the captioner's lag).
   */
  let lastEnd = 0;
  const check = async (text: string, speaker?: string) => {
    // A captioner's next line comes after the previous one ends (cues may not overlap).
    if (Date.now() < lastEnd + 50) await new Promise((resolve) => setTimeout(resolve, lastEnd + 50 - Date.now()));
    const posted = Date.now();
    const r = await post({ text, duration: 2000, ...(speaker ? { speaker } : {}) });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const cue = r.body;
    lastEnd = cue.end;
    const [inTrack, inHls, inViewer] = await Promise.all([cueIn(hlsPage, text, false, 15_000), shown(hlsPage, text, 15_000), shown(viewer, text, 15_000)]);
    const delay = (inTrack.at - posted) / 1000;
    const offset = (inHls.playingDate! - cue.start) / 1000;
    const figures = { text, delay, shownAfter: (inHls.at - posted) / 1000, viewerShownAfter: (inViewer.at - posted) / 1000, offset, shiftedMs: cue.shiftedMs, playerBehindWall: (inHls.at - inHls.playingDate!) / 1000 };
    if (delay > holdBack + 1) {
      const loads = await hlsPage.evaluate(() => (window as unknown as { subtitleLoads: string[] }).subtitleLoads);
      const playlistTail = (await (await fetch(`${app.url}/live/${broadcastId()}/captions/index.m3u8`)).text()).split('\n').slice(-8).join(' ');
      assert.fail(`plain hls.js had "${text}" ${delay.toFixed(2)} s after the POST (PART-HOLD-BACK ${holdBack} s); ${JSON.stringify(cue)}; subtitle loads (ms after the POST): ${loads.map((l) => `${Number(l.split(' ')[0]) - posted}:${l.split(' ')[1]}`).join(' ')}; playlist now: ${playlistTail}`);
    }
    assert.ok(inTrack.playingDate !== undefined && inHls.playingDate !== undefined, 'hls.js has a playingDate');
    if (inTrack.playingDate! < cue.start - 100) {
      assert.ok(offset >= -0.1 && offset <= 0.3, `"${text}" appeared with the frame of ${offset.toFixed(2)} s after its start`);
    }
    return figures;
  };
  const first = await check('Welcome to the stage', 'Red');
  const second = await check('Captions come with parts & <tags> escaped');

  // An FFmpeg restart (FFmpeg killed; the supervisor starts another: a discontinuity): the cues stay on the broadcast clock.
  const { pid } = (await api<{ broadcast: { transcoder: { pid: number } } }>(app, 'GET', `/stages/${STAGE}`)).body.broadcast.transcoder;
  process.kill(pid, 'SIGKILL');
  await until(async () => (await (await fetch(`${app.url}/live/${broadcastId()}/captions/index.m3u8`)).text()).includes('#EXT-X-DISCONTINUITY'), 20_000, 'the discontinuity in the captions playlist');
  // The player into the new run (hls.js plays a fragment of it) before the next cue.
  await hlsPage.waitForFunction(() => (window as unknown as { playingCc: number }).playingCc > 0, undefined, { timeout: 30_000, polling: 200 }).catch(async (err) => {
    const state = await hlsPage.evaluate(() => {
      const v = document.querySelector('video')!;
      const b = v.buffered;
      const loads = (window as unknown as { subtitleLoads: string[] }).subtitleLoads.slice(-30);
      return { currentTime: v.currentTime, readyState: v.readyState, buffered: Array.from({ length: b.length }, (_, i) => [b.start(i).toFixed(2), b.end(i).toFixed(2)]), loads };
    });
    throw new Error(`plain hls.js never played the new run: ${JSON.stringify(state)}`, { cause: err });
  });
  const third = await check('After the restart');

  // dash.js (no settings: its first text track is on by default) shows them from the wvtt representation.
  const dashPage = await harness().newPage({ context: true });
  await dashPage.goto(players.pageUrl('dashjs', `${app.url}/live/${broadcastId()}/manifest.mpd`));
  await dashPage.waitForFunction(() => document.querySelector('video')!.currentTime > 1, undefined, { timeout: 60_000, polling: 200 });
  if (Date.now() < lastEnd + 50) await new Promise((resolve) => setTimeout(resolve, lastEnd + 50 - Date.now()));
  const dashCue = await post({ text: 'Seen in dash.js', duration: 3000 });
  assert.equal(dashCue.status, 201);
  await shown(dashPage, 'Seen in dash.js', 15_000);
  await dashPage.close();

  // Bad input: a clear 4xx each, and nothing placed.
  const bad: [unknown, number, string][] = [
    [{ duration: 1000 }, 400, 'bad-cue'],
    [{ text: 'no end' }, 400, 'bad-cue'],
    [{ text: '   ', duration: 1000 }, 400, 'bad-cue'],
    [{ text: 'a\n\nb', duration: 1000 }, 400, 'bad-cue'],
    [{ text: 'x', duration: 60_000 }, 400, 'bad-cue'],
    [{ text: 'x', start: 'yesterday', duration: 1000 }, 400, 'bad-cue'],
    [{ text: 'x'.repeat(501), duration: 1000 }, 413, 'cue-too-large'],
    [{ text: 'late', start: Date.now() - 120_000, duration: 1000 }, 422, 'cue-too-late'],
    [{ text: 'early', start: Date.now() + 120_000, duration: 1000 }, 422, 'cue-too-early'],
    [{ text: 'x', duration: 1000, colour: 'red' }, 400, 'bad-cue'],
  ];
  for (const [body, code, name] of bad) {
    const r = await post(body);
    assert.equal(r.status, code, `${JSON.stringify(body).slice(0, 80)} → ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error?.code, name);
    assert.ok(r.body.error!.message.length > 10, 'a message that says what is wrong');
  }
  const a = await post({ text: 'first of two', start: Date.now() + 5000, duration: 2000 });
  assert.equal(a.status, 201);
  const overlap = await post({ text: 'overlapping', start: a.body.start + 1000, duration: 2000 });
  assert.equal(overlap.status, 409);
  assert.equal(overlap.body.error?.code, 'cue-overlap');
  assert.match(overlap.body.error!.message, new RegExp(a.body.id));

  // The WebSocket form: one cue per message, answered in order; a bad one does not close it.
  const ws = new WebSocket(`${app.url.replace('http', 'ws')}/api/stages/${STAGE}/captions/ws`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const answers: { type: string; code?: string; status?: number; text?: string }[] = [];
  ws.on('message', (d) => answers.push(JSON.parse(d.toString())));
  ws.send('not json');
  ws.send(JSON.stringify({ text: 'over the socket', start: a.body.end + 100, duration: 1500 }));
  ws.send(JSON.stringify({ text: 'x'.repeat(600), duration: 1000 }));
  await until(() => answers.length === 3, 5000, 'three answers');
  assert.deepEqual(
    answers.map((x) => [x.type, x.code ?? x.text]),
    [['error', 'bad-cue'], ['cue', 'over the socket'], ['error', 'cue-too-large']],
  );
  ws.close();
  const refused = new WebSocket(`${app.url.replace('http', 'ws')}/api/stages/${STAGE}/captions/ws`);
  const refusal = await new Promise<number>((resolve) => refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)).once('open', () => resolve(101)));
  assert.equal(refusal, 401, 'no admin token, no captioner socket');

  // Wait for the socket's cue to be out, then stop: the recording keeps the captions.
  await shown(hlsPage, 'over the socket', 20_000);
  const id = broadcastId();
  assert.equal((await api(app, 'POST', `/stages/${STAGE}/stop`)).status, 200);
  await until(async () => (await fetch(`${app.url}/live/${id}/captions.vtt`)).status === 200 && (await app.store!.get(`${id}/captions.vtt`)) !== undefined, 30_000, 'the stored captions.vtt');
  const whole = (await app.store!.get(`${id}/captions.vtt`))!.body.toString();
  for (const text of ['Welcome to the stage', 'Captions come with parts &amp; &lt;tags&gt; escaped', 'After the restart', 'Seen in dash.js', 'first of two', 'over the socket']) assert.ok(whole.includes(text), `captions.vtt has "${text}":\n${whole}`);
  assert.ok(whole.includes('<v Red>Welcome to the stage</v>'), 'the speaker as a voice span');
  await until(async () => (await app.store!.get(`${id}/captions/index.m3u8`))?.body.toString().includes('#EXT-X-ENDLIST') === true, 30_000, 'the stored captions playlist');
  const vod = (await app.store!.get(`${id}/captions/index.m3u8`))!.body.toString();
  assert.match(vod, /#EXT-X-DISCONTINUITY/);
  const segs = vod.match(/^seg-\d+\.vtt$/gm)!;
  let withCues = 0;
  for (const s of segs) {
    const body = (await app.store!.get(`${id}/captions/${s}`))?.body.toString();
    assert.ok(body?.startsWith('WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:'), `${s} stored`);
    if (body!.includes('-->')) withCues++;
  }
  assert.ok(withCues >= 5, `${withCues} stored segments carry cues`);
  t.diagnostic(JSON.stringify({ partHoldBack: holdBack, first, second, third }));
});
