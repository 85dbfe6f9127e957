import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Client, HeadObjectCommand } from '@aws-sdk/client-s3';
import { S3ObjectStore } from '../../packager/index.ts';
import { get, pushInProcess, startHarness, type Harness } from './helpers.ts';
import { credentials, namedBy, RecordingStore, S3Server } from './s3store.ts';

const s3 = new S3Server();
let client: S3Client;

before(async () => {
  await s3.start();
  client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials });
});

after(async () => {
  client?.destroy();
  await s3.destroy();
});

let h: Harness;
let store: RecordingStore;
test('against a real S3 server: media before manifests, every named object exists with Content-Type and Cache-Control', async () => {
  store = new RecordingStore(new S3ObjectStore({ bucket: 'media', endpoint: s3.endpoint, forcePathStyle: true, credentials }));
  h = await startHarness({}, store);
  try {
    const run = pushInProcess(h.packager, 's3b', 4);
    assert.equal(await run.exited, 0, run.stderr());
    await h.packager.close(); // ends the broadcast, drains the uploads
    assert.deepEqual(store.violations, []);
    assert.deepEqual([...store.mpdNamedMissing], []);
    const manifests = ['s3b/master.m3u8', 's3b/manifest.mpd', 's3b/video-360p/index.m3u8', 's3b/video-180p/index.m3u8', 's3b/audio/index.m3u8'];
    const named = new Set<string>();
    for (const key of manifests) {
      const obj = await store.get(key);
      assert.ok(obj, key);
      for (const n of namedBy(key, obj.body.toString('utf8'))) named.add(n);
      if (key.endsWith('.m3u8') && key !== 's3b/master.m3u8') assert.match(obj.body.toString(), /#EXT-X-ENDLIST/);
      if (key.endsWith('.mpd')) assert.match(obj.body.toString(), /type="static"/);
    }
    assert.ok(named.size >= 15, `named ${[...named].join(' ')}`);
    for (const key of named) {
      if (key.endsWith('.m3u8')) continue;
      const head = await client.send(new HeadObjectCommand({ Bucket: 'media', Key: key }));
      const audio = key.startsWith('s3b/audio/');
      assert.equal(head.ContentType, audio ? 'audio/mp4' : key.endsWith('.mp4') ? 'video/mp4' : 'video/iso.segment', key);
      assert.equal(head.CacheControl, 'public, max-age=1209600, immutable', key);
    }
    const pl = await client.send(new HeadObjectCommand({ Bucket: 'media', Key: 's3b/audio/index.m3u8' }));
    assert.equal(pl.ContentType, 'application/vnd.apple.mpegurl');
    assert.ok(pl.CacheControl);
    // After the broadcast is gone from memory, the origin serves the VOD from the store.
    h.packager.removeBroadcast('s3b');
    assert.equal(h.packager.getBroadcast('s3b'), undefined);
    const vod = await get(`${h.base}/live/s3b/video-360p/index.m3u8`);
    assert.equal(vod.status, 200);
    assert.match(vod.text, /#EXT-X-ENDLIST/);
  } finally {
    await h.close();
    (store.inner as S3ObjectStore).close();
  }
});
