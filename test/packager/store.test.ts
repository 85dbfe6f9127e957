import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsObjectStore } from '../../packager/index.ts';
import { captureCmaf, get, LADDER, startHarness, writeAll, type Harness } from './helpers.ts';
import { readM3u8, readMpd } from './readback.ts';

let root: string;
before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'fsstore-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

test('FsObjectStore: bodies, Content-Type and Cache-Control survive a new store instance on the same root', async () => {
  const a = new FsObjectStore(path.join(root, 'meta'));
  await a.put('b1/video/seg-1.m4s', Buffer.from('segment bytes'), { contentType: 'video/iso.segment', cacheControl: 'public, max-age=1209600, immutable' });
  await a.put('b1/master.m3u8', Buffer.from('#EXTM3U\n'), { contentType: 'application/vnd.apple.mpegurl', cacheControl: 'public, max-age=2' });
  await a.put('b1/master.m3u8', Buffer.from('#EXTM3U\n#v2\n'), { contentType: 'application/vnd.apple.mpegurl', cacheControl: 'public, max-age=3600' });
  const b = new FsObjectStore(path.join(root, 'meta'));
  assert.deepEqual(await b.get('b1/video/seg-1.m4s'), { body: Buffer.from('segment bytes'), contentType: 'video/iso.segment', cacheControl: 'public, max-age=1209600, immutable' });
  assert.deepEqual(await b.get('b1/master.m3u8'), { body: Buffer.from('#EXTM3U\n#v2\n'), contentType: 'application/vnd.apple.mpegurl', cacheControl: 'public, max-age=3600' });
  assert.equal(await b.get('b1/video/seg-2.m4s'), undefined);
  const left = (await fs.readdir(path.join(root, 'meta', 'b1'))).filter((f) => f.includes('.tmp'));
  assert.deepEqual(left, [], 'no temporary files left behind');
});

test('FsObjectStore: keys cannot escape the root (.., absolute paths, encoded or back-slash separators, sidecar names)', async () => {
  const s = new FsObjectStore(path.join(root, 'jail'));
  await fs.writeFile(path.join(root, 'secret.txt'), 'outside');
  const bad = [
    '../secret.txt',
    'b/../../secret.txt',
    '/etc/passwd',
    '/tmp/x.m4s',
    'b/..',
    'b/./x',
    'b/%2e%2e/%2e%2e/secret.txt',
    'b%2F..%2F..%2Fsecret.txt',
    'b\\..\\..\\secret.txt',
    '..\\secret.txt',
    'b//x',
    'b/x/',
    '',
    'b/seg-1.m4s.meta.json',
    'b/seg-1.m4s.1-1.tmp',
    'b/x\u0000y',
    `b/${'x'.repeat(600)}`,
  ];
  for (const key of bad) {
    await assert.rejects(s.get(key), TypeError, `get ${JSON.stringify(key)}`);
    await assert.rejects(s.put(key, Buffer.from('x'), { contentType: 'text/plain', cacheControl: 'no-cache' }), TypeError, `put ${JSON.stringify(key)}`);
  }
  assert.equal(await fs.readFile(path.join(root, 'secret.txt'), 'utf8'), 'outside');
  assert.deepEqual(await fs.readdir(path.join(root, 'jail')).catch(() => []), [], 'nothing written');
});

let h: Harness | undefined;
test('after the broadcast is removed from memory, the origin serves its VOD from the filesystem store with the stored headers', async () => {
  const dir = path.join(root, 'vod');
  const store = new FsObjectStore(dir);
  h = await startHarness({}, store);
  try {
    const [video, audio] = await Promise.all([captureCmaf(3, LADDER[1]!), captureCmaf(3, LADDER[2]!)]);
    const b = h.packager.createBroadcast('vod1');
    await Promise.all([writeAll(b.openTrack('video-180p'), [video]), writeAll(b.openTrack('audio'), [audio])]);
    b.end();
    await h.packager.publisher!.drain();
    h.packager.removeBroadcast('vod1');
    assert.equal(h.packager.getBroadcast('vod1'), undefined);

    const base = `${h.base}/live/vod1`;
    const master = await get(`${base}/master.m3u8`);
    assert.equal(master.status, 200);
    assert.equal(master.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    assert.equal(master.headers.get('cache-control'), 'public, max-age=3600');
    assert.equal((readM3u8(master.text) as unknown as { playlists: unknown[] }).playlists.length, 1);
    for (const id of ['video-180p', 'audio']) {
      const pl = await get(`${base}/${id}/index.m3u8`);
      assert.equal(pl.status, 200);
      assert.match(pl.text, /#EXT-X-ENDLIST\n$/);
      const m = readM3u8(pl.text) as unknown as { segments: { uri: string; map: { uri: string } }[] };
      assert.ok(m.segments.length >= 3, `${id}: ${m.segments.length} segments`);
      for (const s of m.segments) {
        const r = await get(`${base}/${id}/${s.uri}`, { method: 'HEAD' });
        assert.equal(r.status, 200, s.uri);
        assert.equal(r.headers.get('content-type'), id === 'audio' ? 'audio/mp4' : 'video/iso.segment');
        assert.equal(r.headers.get('cache-control'), 'public, max-age=1209600, immutable');
      }
      const init = await get(`${base}/${id}/${m.segments[0]!.map.uri}`);
      assert.equal(init.body.toString('latin1', 4, 8), 'ftyp');
      assert.equal(init.headers.get('content-type'), id === 'audio' ? 'audio/mp4' : 'video/mp4');
      const range = await get(`${base}/${id}/${m.segments[0]!.uri}`, { headers: { Range: 'bytes=4-7' } });
      assert.equal(range.status, 206);
    }
    const mpd = await get(`${base}/manifest.mpd`);
    assert.equal(mpd.headers.get('content-type'), 'application/dash+xml');
    assert.match(mpd.text, /type="static"/);
    assert.equal((readMpd(mpd.text, `${base}/manifest.mpd`) as { playlists: unknown[] }).playlists.length, 1);
    assert.equal((await get(`${base}/video-180p/part-0.0.m4s`)).status, 404, 'parts are never stored');
    assert.equal((await get(`${base}/video-180p/seg-999.m4s`)).status, 404);
  } finally {
    await h.close();
  }
});
