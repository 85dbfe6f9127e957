// The stage owner's controls over a multi-host broadcast (issue 6): the speaker
// layout following the loud tone, mute and remove through the API, bad input, and
// a tenth host refused while the broadcast goes on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api } from '../helpers/app.ts';
import {
  BOTTOM_LEFT, CENTRE, CORNER, LEFT, RIGHT, STAGE, TOP_LEFT, TOP_RIGHT,
  app, hostIdOf, hostPages, join, keptPlaying, openViewer, playback, playlist, setMic, setupHosts, stage, status, teardownHosts, until, waitLayout, type HostName, type Status,
} from '../helpers/hosts.ts';
import { SignalClient } from '../helpers/signalClient.ts';

/** What the speaker test reads of the status beyond helpers/hosts.ts's Status: the FFmpeg session and the RTP switch. */
type SwitchStatus = {
  transcoder?: { run: number; pid?: number };
  program?: { speaker?: string; changes: number; switch?: { sources: string[]; onAir?: string; switches: number } };
};
const switchStatus = async (): Promise<SwitchStatus> => (await api<{ broadcast: SwitchStatus }>(app, 'GET', `/stages/${STAGE}`)).body.broadcast;

/** Discontinuities ever in the 360p playlist: the window's tags plus those that slid out (EXT-X-DISCONTINUITY-SEQUENCE). */
async function discontinuities(): Promise<number> {
  const pl = await playlist();
  const slid = Number(/#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)/.exec(pl)?.[1] ?? 0);
  return slid + (pl.match(/#EXT-X-DISCONTINUITY\n/g)?.length ?? 0);
}

before(() => setupHosts());
after(teardownHosts);

test('two hosts go live in a grid, a third joins', async () => {
  await join('red');
  await join('green');
  const live = await api<{ broadcast: Status }>(app, 'POST', `/stages/${STAGE}/live`);
  assert.equal(live.status, 201, JSON.stringify(live.body));
  await openViewer();
  await join('blue');
  await waitLayout([[TOP_LEFT, 'red'], [TOP_RIGHT, 'green'], [BOTTOM_LEFT, 'blue']]);
  assert.ok((await playback()).currentTime > 0);
});

test('speaker layout: the program shows the loud host, and switches when the loud tone moves to another host, without restarting FFmpeg', async (t) => {
  assert.equal((await api(app, 'PUT', `/stages/${STAGE}/layout`, { mode: 'speaker' })).status, 200);
  await waitLayout([[CENTRE, 'red'], [CORNER, 'black']]);
  await until(async () => (await status()).program?.speaker === hostIdOf('red'), 10_000, 'red as the active speaker');
  // The speaker layout runs behind the RTP switch: every host's video is a source, red's on air.
  await until(async () => (await switchStatus()).program?.switch?.onAir === hostIdOf('red'), 10_000, 'red on air through the switch');
  const before = await switchStatus();
  assert.deepEqual([...before.program!.switch!.sources].sort(), [hostIdOf('red'), hostIdOf('green'), hostIdOf('blue')].sort());
  const run = before.transcoder!.run;
  const pid = before.transcoder!.pid;
  assert.ok(pid !== undefined);
  const changes = before.program!.changes;
  const discontinuitiesBefore = await discontinuities();
  const t0 = (await playback()).currentTime;
  // Red's microphone goes silent (the track is disabled, the producer stays): green and blue remain, equally quiet.
  const switchedAt = Date.now();
  await setMic('red', false);
  await until(async () => {
    const sp = (await status()).program?.speaker;
    return sp !== undefined && sp !== hostIdOf('red');
  }, 20_000, 'another host as the active speaker');
  const speakerMs = Date.now() - switchedAt;
  const speakerId = (await status()).program?.speaker ?? '';
  const speaker = stage().hosts.find((h) => h.id === speakerId)!.name as HostName;
  await waitLayout([[CENTRE, speaker]]);
  t.diagnostic(`the speaker moved to ${speaker} ${speakerMs} ms after red went silent (hysteresis: 1 s dominance, 2.5 s hold)`);
  await keptPlaying(t0, 2);
  // The switch, not a new FFmpeg: same session and process, no program change, no new discontinuity for viewers.
  const after = await switchStatus();
  assert.equal(after.program!.switch!.onAir, speakerId);
  assert.ok(after.program!.switch!.switches > before.program!.switch!.switches);
  assert.equal(after.transcoder!.run, run);
  assert.equal(after.transcoder!.pid, pid);
  assert.equal(after.program!.changes, changes);
  assert.equal(await discontinuities(), discontinuitiesBefore);
  // A host's video leaving and coming back (the owner mutes red's video; the audio mix stays): a switch source
  // removed and added again, still the same FFmpeg.
  const red = hostIdOf('red')!;
  assert.equal((await api(app, 'POST', `/stages/${STAGE}/hosts/${red}/mute`, { video: true })).status, 200);
  await until(async () => (await switchStatus()).program?.switch?.sources.includes(red) === false, 10_000, "red's video out of the switch");
  assert.equal((await api(app, 'POST', `/stages/${STAGE}/hosts/${red}/mute`, { video: false })).status, 200);
  await until(async () => (await switchStatus()).program?.switch?.sources.includes(red) === true, 10_000, "red's video back in the switch");
  const afterMute = await switchStatus();
  assert.deepEqual([afterMute.transcoder!.run, afterMute.transcoder!.pid, afterMute.program!.changes], [run, pid, changes]);
  await waitLayout([[CENTRE, speaker]]);
  assert.equal(await discontinuities(), discontinuitiesBefore);
  await setMic('red', true);
  assert.equal((await api(app, 'PUT', `/stages/${STAGE}/layout`, { mode: 'grid' })).status, 200);
  await waitLayout([[TOP_LEFT, 'red'], [TOP_RIGHT, 'green'], [BOTTOM_LEFT, 'blue']]);
});

test('the owner mutes and removes hosts; bad ids are 404, bad bodies 400; a tenth host is refused while the broadcast goes on', async () => {
  const wsUrl = `${app.url.replace('http', 'ws')}/host/ws`;
  const red = hostIdOf('red')!;
  const blue = hostIdOf('blue')!;
  // Bad input first: nothing changes.
  assert.equal((await api(app, 'POST', `/stages/${STAGE}/hosts/nobody/mute`, { video: true })).status, 404);
  assert.equal((await api(app, 'POST', `/stages/nostage/hosts/${red}/mute`, { video: true })).status, 404);
  assert.equal((await api(app, 'DELETE', `/stages/${STAGE}/hosts/nobody`)).status, 404);
  assert.equal((await api(app, 'PUT', `/stages/nostage/layout`, { mode: 'grid' })).status, 404);
  for (const body of [{}, { video: 'yes' }, { video: true, extra: 1 }]) {
    const r = await api<{ error: { code: string } }>(app, 'POST', `/stages/${STAGE}/hosts/${red}/mute`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.code, 'invalid-request');
  }
  assert.equal((await api(app, 'PUT', `/stages/${STAGE}/layout`, { mode: 'pip' })).status, 400);

  // Muting red's video takes it out of the grid; its audio stays in the mix.
  const muted = await api<{ muted: { video: boolean; audio: boolean }; producers: { kind: string; paused: boolean }[] }>(app, 'POST', `/stages/${STAGE}/hosts/${red}/mute`, { video: true });
  assert.equal(muted.status, 200);
  assert.deepEqual(muted.body.muted, { audio: false, video: true });
  assert.equal(muted.body.producers.find((p) => p.kind === 'video')?.paused, true);
  await waitLayout([[LEFT, 'green'], [RIGHT, 'blue']]);
  assert.ok((await status()).program!.audios.includes(red));
  await api(app, 'POST', `/stages/${STAGE}/hosts/${red}/mute`, { video: false });
  await waitLayout([[TOP_LEFT, 'red'], [TOP_RIGHT, 'green'], [BOTTOM_LEFT, 'blue']]);

  // The stage lists its hosts with role, producers, muted and speaking.
  const listed = await api<{ hostList: { id: string; name: string; role: string; producers: unknown[]; muted: unknown; speaking: boolean }[] }>(app, 'GET', `/stages/${STAGE}`);
  assert.deepEqual(listed.body.hostList.map((h) => h.name), ['red', 'green', 'blue']);
  assert.ok(listed.body.hostList.every((h) => h.role === 'host' && h.producers.length === 2 && typeof h.speaking === 'boolean'));

  // A tenth host: seven more join over raw signalling (3 + 7 = 10 > 9).
  const extra: SignalClient[] = [];
  try {
    const token = (await api<{ hostToken: string }>(app, 'POST', `/stages/${STAGE}/host-tokens`, { role: 'host-audio' })).body.hostToken;
    for (let i = 0; i < 7; i++) {
      const c = await SignalClient.connect(wsUrl);
      extra.push(c);
      const r = await c.request('join', { stageId: STAGE, token });
      if (i < 6) assert.equal(r.ok, true, JSON.stringify(r));
      else {
        assert.equal(r.ok, false);
        assert.equal(r.error?.code, 'stage-full');
        assert.match(r.error?.message ?? '', /already has 9 hosts/);
      }
    }
    assert.equal((await status()).state, 'live');
  } finally {
    for (const c of extra) c.close();
  }

  // Removing blue: its page is told why and disconnected, and it leaves the program.
  assert.equal((await api(app, 'DELETE', `/stages/${STAGE}/hosts/${blue}`)).status, 204);
  await hostPages.get('blue')!.waitForFunction(() => /removed by the stage owner/.test(document.getElementById('error')?.textContent ?? ''), undefined, { timeout: 10_000, polling: 200 });
  await waitLayout([[LEFT, 'red'], [RIGHT, 'green']]);
  assert.equal((await status()).state, 'live');
  await hostPages.get('blue')!.close();
  hostPages.delete('blue');
});

