import { test } from 'node:test';
import assert from 'node:assert/strict';
import { broadcastIdFor, looksLikeBroadcastId, silentLogger, stageOfBroadcast } from '../../common/index.ts';
import { createPackager, signViewerToken, verifyViewerToken } from '../../packager/index.ts';
import { Recordings } from '../../app/recordings.ts';
import { stageAliasResolver } from '../../app/stageLinks.ts';

test('broadcast ids: <stage>-<UTC start>, a suffix for a second start in the same second, and the stage read back', () => {
  const at = new Date('2026-12-03T17:48:09.512Z');
  assert.equal(broadcastIdFor('weekly', at), 'weekly-20261203T174809Z');
  assert.equal(broadcastIdFor('weekly', at, 2), 'weekly-20261203T174809Z-2');
  assert.equal(stageOfBroadcast('weekly-20261203T174809Z'), 'weekly');
  assert.equal(stageOfBroadcast('weekly-20261203T174809Z-2'), 'weekly');
  assert.equal(stageOfBroadcast('main-x-20261203T174809Z'), 'main-x');
  assert.equal(stageOfBroadcast('weekly'), undefined, 'a stage name (or an id from before) carries no stamp');
  assert.equal(stageOfBroadcast('-20261203T174809Z'), undefined);
  assert.equal(looksLikeBroadcastId('show-20261203T174809Z'), true);
  assert.equal(looksLikeBroadcastId('show-2026'), false);
  const longest = broadcastIdFor('s'.repeat(64), at, 9999);
  assert.ok(/^[A-Za-z0-9_-]{1,96}$/.test(longest), `${longest.length} characters fit the id pattern`);
});

test("a stage's viewer token covers the stage's broadcasts, not another stage's", () => {
  const secret = 'viewer-secret-0123456789';
  const token = signViewerToken({ broadcastId: 'main', exp: 2_000_000_000 }, secret);
  const check = (broadcastId: string) => verifyViewerToken(token, secret, { broadcastId, nowSeconds: 1_900_000_000 });
  assert.equal(check('main').broadcastId, 'main');
  assert.equal(check('main-20261203T174809Z').broadcastId, 'main');
  assert.throws(() => check('main-x-20261203T174809Z'), { code: 'token-wrong-broadcast' });
  assert.throws(() => check('other-20261203T174809Z'), { code: 'token-wrong-broadcast' });
  // A broadcast's own token does not open the stage's other broadcasts.
  const own = signViewerToken({ broadcastId: 'main-20261203T174809Z', exp: 2_000_000_000 }, secret);
  assert.throws(() => verifyViewerToken(own, secret, { broadcastId: 'main-20261210T174809Z', nowSeconds: 1_900_000_000 }), { code: 'token-wrong-broadcast' });
});

test('the stable link: the live broadcast, else a broadcast of that very id, else the latest recording, else nothing', async () => {
  const packager = createPackager({}, { logger: silentLogger() });
  const store = { put: async () => {}, get: async () => undefined };
  const recordings = new Recordings({ store, publisher: undefined, logger: silentLogger() });
  await recordings.load();
  const current = new Map<string, { id: string; state: string }>();
  const resolve = stageAliasResolver({ broadcasts: { get: (s) => current.get(s) }, packager, recordings });
  assert.equal(resolve('weekly'), undefined, 'before the first broadcast: 404, "not live yet"');
  current.set('weekly', { id: 'weekly-20261203T170000Z', state: 'live' });
  assert.deepEqual(resolve('weekly'), { broadcastId: 'weekly-20261203T170000Z', live: true });
  current.set('weekly', { id: 'weekly-20261203T170000Z', state: 'ended' });
  assert.deepEqual(resolve('weekly'), { broadcastId: 'weekly-20261203T170000Z', live: false }, 'ended, still in memory');
  current.clear();
  recordings.add({ id: 'weekly-20261203T170000Z', stageId: 'weekly', endedAt: '2026-12-03T17:10:00Z', renditions: [] });
  recordings.add({ id: 'weekly-20261210T170000Z', stageId: 'weekly', endedAt: '2026-12-10T17:10:00Z', renditions: [] });
  assert.deepEqual(resolve('weekly'), { broadcastId: 'weekly-20261210T170000Z', live: false }, 'the latest recording');
  // A recording from before per-broadcast ids is named after its stage: served as itself, unless the stage is live.
  recordings.add({ id: 'legacy', endedAt: '2026-11-01T00:00:00Z', renditions: [] });
  assert.equal(resolve('legacy'), undefined);
  current.set('legacy', { id: 'legacy-20261203T170000Z', state: 'live' });
  assert.deepEqual(resolve('legacy'), { broadcastId: 'legacy-20261203T170000Z', live: true });
  assert.equal(resolve('weekly-20261210T170000Z'), undefined, 'a broadcast id is never an alias');
  await packager.close();
});
