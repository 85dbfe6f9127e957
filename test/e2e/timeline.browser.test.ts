// The speaker timeline (issue 16): two Chromium hosts talk in turn (one's tone is
// silenced, then back); every speaker turn becomes an EXT-X-DATERANGE whose
// START-DATE is within ±500 ms of the moment the SFU's audio levels made that host
// the loudest, across an FFmpeg restart (a layout change); the same turns are DASH
// events; the viewer page says who speaks; after the event the recording lists the
// timeline and its chapters seek; thumbnails (one per segment, from the same FFmpeg)
// give the poster and the recording's seek-bar previews.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loudestOf } from '../../app/speaker.ts';
import { api } from '../helpers/app.ts';
import { app, broadcastId, harness, hostIdOf, hostPages, join, openViewer, playlist, setMic, setupHosts, stage, status, teardownHosts, until, STAGE } from '../helpers/hosts.ts';

/** A JPEG's height, from its first SOF marker. */
function jpegHeight(b: Buffer): number | undefined {
  assert.deepEqual([...b.subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return b.readUInt16BE(i + 5);
    i += 2 + b.readUInt16BE(i + 2);
  }
  return undefined;
}

/** Every audio-level report of the SFU: when, and the loudest host (undefined: silence). */
const reports: { at: number; loudest: string | undefined }[] = [];

before(async () => {
  await setupHosts({ hosts: ['red', 'green'] });
});
after(teardownHosts);

/** The speaker DATERANGEs of a playlist: id, host, START-DATE (ms). */
function speakerRanges(text: string): { id: string; host: string; name: string; start: number }[] {
  return [...text.matchAll(/^#EXT-X-DATERANGE:(.*)$/gm)]
    .map((m) => m[1]!)
    .filter((a) => a.includes('CLASS="com.stagecast.speaker"'))
    .map((a) => ({
      id: /ID="([^"]+)"/.exec(a)![1]!,
      host: /X-HOST-ID="([^"]+)"/.exec(a)![1]!,
      name: /X-HOST-NAME="([^"]+)"/.exec(a)?.[1] ?? '',
      start: Date.parse(/START-DATE="([^"]+)"/.exec(a)![1]!),
    }));
}

/**
 * When the SFU saw `hostId` become the loudest for the turn that was decided at
 * `decidedBy`: the first report of the unbroken run of reports naming it
 * loudest that reaches the decision.
 */
function sfuChange(hostId: string, decidedBy: number): number {
  const before = reports.filter((r) => r.at <= decidedBy);
  let i = before.length - 1;
  while (i >= 0 && before[i]!.loudest !== hostId) i--;
  assert.ok(i >= 0, `the SFU never reported ${hostId} loudest before ${new Date(decidedBy).toISOString()}`);
  while (i > 0 && before[i - 1]!.loudest === hostId) i--;
  return before[i]!.at;
}

test('speaker turns are EXT-X-DATERANGEs within ±500 ms of the SFU seeing the change, across an FFmpeg restart; DASH events; the viewer says who speaks; the recording has the timeline and chapters that seek', async (t) => {
  await join('red');
  await join('green');
  stage().on('audiolevels', (levels) => reports.push({ at: Date.now(), loudest: loudestOf(levels) }));
  const red = hostIdOf('red')!;
  const green = hostIdOf('green')!;
  const live = await api<{ broadcast: unknown }>(app, 'POST', `/stages/${STAGE}/live`);
  assert.equal(live.status, 201, JSON.stringify(live.body));
  const viewer = await openViewer();
  await until(async () => (await status()).program?.speaker === red, 15_000, 'red as the active speaker');

  // A layout change restarts FFmpeg (a discontinuity): the timeline is on the broadcast's clock, not FFmpeg's.
  const restarts = (await status()).program!.changes;
  assert.equal((await api(app, 'PUT', `/stages/${STAGE}/layout`, { mode: 'speaker' })).status, 200);
  await until(async () => (await status()).program!.changes > restarts, 20_000, 'the program change (FFmpeg restarted)');

  // Turns: red silenced, green speaks; red back, its louder tone takes the turn again.
  const decided: { host: string; by: number }[] = [];
  await setMic('red', false);
  await until(async () => (await status()).program?.speaker === green, 20_000, 'green as the active speaker');
  decided.push({ host: green, by: Date.now() });
  await until(async () => (await viewer.evaluate(() => document.getElementById('speaker')!.dataset.name)) === 'green', 20_000, 'the viewer page naming green');
  await setMic('red', true);
  await until(async () => (await status()).program?.speaker === red, 20_000, 'red as the active speaker again');
  decided.push({ host: red, by: Date.now() });
  await until(async () => (await viewer.evaluate(() => document.getElementById('speaker')!.dataset.name)) === 'red', 20_000, 'the viewer page naming red again');

  for (const rendition of ['video-360p', 'audio']) {
    const ranges = speakerRanges(await playlist(rendition));
    assert.deepEqual(ranges.map((r) => r.host).slice(-3), [red, green, red], `${rendition}: the last three turns`);
    assert.deepEqual(ranges.map((r) => r.name).slice(-3), ['red', 'green', 'red']);
    for (const d of decided) {
      const range = ranges.filter((r) => r.host === d.host && r.start <= d.by).at(-1)!;
      const seen = sfuChange(d.host, d.by);
      t.diagnostic(`${rendition}: ${range.id} START-DATE − SFU change = ${range.start - seen} ms (decided ${d.by - seen} ms after the change)`);
      assert.ok(Math.abs(range.start - seen) <= 500, `${range.id} starts ${range.start - seen} ms from the SFU's change`);
    }
  }
  const text = await playlist();
  assert.match(text, /#EXT-X-DATERANGE:ID="[^"]+",CLASS="com.stagecast.layout",START-DATE="[^"]+",END-ON-NEXT=YES,X-LAYOUT="speaker"/);
  assert.ok((await playlist()).includes('#EXT-X-DISCONTINUITY'), 'the FFmpeg restart is in the window');

  // DASH: the same turns as events of the timeline's EventStream.
  const mpd = await (await fetch(`${app.url}/live/${broadcastId()}/manifest.mpd`)).text();
  const dashTurns = [...mpd.matchAll(/<Event id="(speaker-\d+)"[^>]*messageData="([^"]*)"/g)].map((m) => JSON.parse(m[2]!.replace(/&quot;/g, '"'))['host-id']);
  assert.ok(mpd.includes('schemeIdUri="urn:stagecast:timeline:2026" value="com.stagecast.speaker"'), mpd.slice(0, 2000));
  assert.deepEqual(dashTurns.slice(-2), [green, red], 'the newest DASH speaker events');

  // Thumbnails: one per segment from the encoding FFmpeg, across its restart (two sessions), JPEGs at 180 lines.
  const bid = broadcastId();
  const thumbsVtt = await (await fetch(`${app.url}/live/${bid}/thumbnails.vtt`)).text();
  const images = [...thumbsVtt.matchAll(/-->.*\n(thumbs\/thumb-(\d+)-\d+\.jpg)/g)];
  assert.ok(images.length >= 8, `thumbnails.vtt lists ${images.length} images:\n${thumbsVtt.slice(0, 500)}`);
  assert.ok(new Set(images.map((m) => m[2])).size >= 2, 'thumbnails from both FFmpeg sessions');
  const image = await fetch(`${app.url}/live/${bid}/${images.at(-1)![1]}`);
  assert.equal(image.status, 200);
  assert.equal(image.headers.get('content-type'), 'image/jpeg');
  assert.equal(jpegHeight(Buffer.from(await image.arrayBuffer())), 180);
  const poster = await fetch(`${app.url}/live/${bid}/poster.jpg`);
  assert.equal(poster.status, 200);
  assert.equal(jpegHeight(Buffer.from(await poster.arrayBuffer())), 180);

  // After the event: the recording lists the timeline, and its chapters seek in the VOD.
  assert.equal((await api(app, 'POST', `/stages/${STAGE}/stop`)).status, 200);
  await until(async () => (await api(app, 'GET', `/recordings/${bid}`)).status === 200, 20_000, 'the recording');
  const rec = (await api<{ timeline: { kind: string; at: number; attributes: Record<string, string> }[]; chaptersUrl: string }>(app, 'GET', `/recordings/${bid}`)).body;
  assert.deepEqual(rec.timeline.filter((e) => e.kind === 'speaker').map((e) => e.attributes['host-id']).slice(-3), [red, green, red]);
  assert.ok(rec.timeline.some((e) => e.kind === 'host' && e.attributes['host-name'] === 'green'));
  assert.equal((await api(app, 'GET', '/recordings/nothing-here')).status, 404);
  const vtt = await (await fetch(rec.chaptersUrl)).text();
  // The stored thumbnails track names stored images.
  const storedThumbs = await (await fetch(`${app.url}/live/${bid}/thumbnails.vtt`)).text();
  assert.ok([...storedThumbs.matchAll(/thumbs\/thumb-/g)].length >= images.length);
  const titles = [...vtt.matchAll(/-->.*\n(.+)/g)].map((m) => m[1]);
  assert.deepEqual(titles.slice(-3), ['red', 'green', 'red'], vtt);

  const vod = await harness().newPage({ browser: hostPages.get('red')!.context().browser()! });
  try {
    await vod.goto(`${app.url}/watch/?broadcast=${bid}`);
    await vod.waitForFunction(() => document.querySelectorAll('#chapters button').length >= 3, undefined, { timeout: 30_000 });
    const buttons = await vod.$$('#chapters button');
    const target = buttons.at(-2)!; // green's turn
    const label = (await target.textContent()) ?? '';
    assert.match(label, /green$/);
    const [m, s] = label.split(' ')[0]!.split(':').map(Number);
    await target.click();
    await vod.waitForFunction((at) => Math.abs((document.getElementById('video') as HTMLVideoElement).currentTime - at) < 2.5, m! * 60 + s!, { timeout: 15_000 });
    // The scrub bar's preview shows the thumbnail of the time it is moved to.
    await vod.waitForFunction(() => !document.getElementById('scrub')!.hidden, undefined, { timeout: 15_000 });
    await vod.evaluate(() => {
      const range = document.getElementById('scrub-range') as HTMLInputElement;
      range.value = '3.5';
      range.dispatchEvent(new Event('input'));
    });
    await vod.waitForFunction(() => {
      const img = document.getElementById('scrub-preview') as HTMLImageElement;
      return !img.hidden && img.complete && img.naturalHeight === 180 && /\/thumbs\/thumb-\d+-\d+\.jpg$/.test(img.src);
    }, undefined, { timeout: 15_000 });
  } finally {
    await vod.close();
  }
});
