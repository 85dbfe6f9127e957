// Several hosts on one broadcast (issue 6) and hosts dropping out (issue 7): a grid
// that follows joins, leaves and returns, the mixed audio, the slate while nobody
// publishes and the end after the grace period. Viewers never see the playlist end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api } from '../helpers/app.ts';
import {
  BOTTOM_LEFT, BOTTOM_RIGHT, CENTRE, CORNER, GRACE_MS, LEFT, RIGHT, STAGE, TOP_LEFT, TOP_RIGHT,
  app, audioBandLevel, join, keptPlaying, leave, openViewer, playback, playlist, setupHosts, status, teardownHosts, until, waitLayout, type Status,
} from '../helpers/hosts.ts';

before(() => setupHosts());
after(teardownHosts);

test('two hosts in a grid, a third joins, one drops and comes back: the layout follows, audio is mixed, playback never ends', async (t) => {
  await join('red');
  await join('green');
  const live = await api<{ broadcast: Status }>(app, 'POST', `/stages/${STAGE}/live`);
  assert.equal(live.status, 201, JSON.stringify(live.body));
  await openViewer();

  // Two hosts side by side, in join order.
  await waitLayout([[LEFT, 'red'], [RIGHT, 'green']]);
  // Both tones are in the mix: the loud 440 Hz and the quiet 1500 Hz.
  const [low, high] = [await audioBandLevel(440), await audioBandLevel(1500)];
  t.diagnostic(`audio rendition: 440 Hz band ${low} dB, 1500 Hz band ${high} dB`);
  assert.ok(low > -30, `loud host's tone in the mix: ${low} dB`);
  assert.ok(high > -60, `quiet host's tone in the mix: ${high} dB`);
  assert.ok(low > high + 10, 'the loud host is louder than the quiet one');

  // A third host joins: a 2×2 grid with an empty (black) cell.
  let t0 = (await playback()).currentTime;
  await join('blue');
  const joinedMs = await waitLayout([[TOP_LEFT, 'red'], [TOP_RIGHT, 'green'], [BOTTOM_LEFT, 'blue'], [BOTTOM_RIGHT, 'black']]);
  t.diagnostic(`third host in the viewer's grid ${joinedMs} ms after it published`);
  await keptPlaying(t0, 2);

  // Green's connection drops: red and blue side by side; the playlist has a discontinuity and no end.
  t0 = (await playback()).currentTime;
  await leave('green');
  await waitLayout([[LEFT, 'red'], [RIGHT, 'blue']]);
  await keptPlaying(t0, 2);
  const pl = await playlist();
  assert.match(pl, /#EXT-X-DISCONTINUITY\n/);
  assert.doesNotMatch(pl, /#EXT-X-ENDLIST/);

  // Green comes back: third in the grid now (join order).
  t0 = (await playback()).currentTime;
  await join('green');
  await waitLayout([[TOP_LEFT, 'red'], [TOP_RIGHT, 'blue'], [BOTTOM_LEFT, 'green']]);
  await keptPlaying(t0, 2);
  const s = await status();
  assert.equal(s.state, 'live');
  assert.ok(s.program!.changes >= 3, `program changes: ${s.program!.changes}`);
  const p = await playback();
  t.diagnostic(`viewer stalls over the whole test: ${p.stalls}, ${p.stalledMs} ms stalled in all`);
});

test('every host gone: the slate and silence go out, a host back within the grace resumes the program; after the grace the broadcast ends', async (t) => {
  let t0 = (await playback()).currentTime;
  await leave('red');
  await leave('green');
  await leave('blue');
  await waitLayout([[CORNER, 'slate']]);
  await keptPlaying(t0, 2);
  assert.doesNotMatch(await playlist(), /#EXT-X-ENDLIST/);
  const s = await status();
  assert.equal(s.state, 'live');
  assert.equal(s.program!.slate, true);

  // Red comes back within the grace period.
  t0 = (await playback()).currentTime;
  await join('red');
  await waitLayout([[CENTRE, 'red']]);
  await keptPlaying(t0, 2);
  assert.equal((await status()).state, 'live');

  // Gone again, for longer than the grace: the broadcast ends (ENDLIST).
  const goneAt = Date.now();
  await leave('red');
  await until(async () => (await status()).state === 'ended', GRACE_MS + 20_000, 'the broadcast to end');
  const endedAfter = Date.now() - goneAt;
  t.diagnostic(`ended ${endedAfter} ms after the last host left (grace ${GRACE_MS} ms)`);
  assert.ok(endedAfter >= GRACE_MS, `ended after ${endedAfter} ms`);
  assert.match(await playlist(), /#EXT-X-ENDLIST/);
});
