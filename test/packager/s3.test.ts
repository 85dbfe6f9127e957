/* eslint-disable @typescript-eslint/no-explicit-any -- the parsers return untyped objects */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import { S3Client, CreateBucketCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { S3ObjectStore, type ObjectMeta, type ObjectStore } from '../../packager/index.ts';
import { get, pushInProcess, startHarness, type Harness } from './helpers.ts';
import { readM3u8, readMpd } from './readback.ts';

const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
let s3rver: any;
let dir: string;
let endpoint: string;
let client: S3Client;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  s3rver = new (S3rver as any)({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const addr = (await s3rver.run()) as AddressInfo;
  endpoint = `http://127.0.0.1:${addr.port}`;
  client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials });
  await client.send(new CreateBucketCommand({ Bucket: 'media' }));
});

after(async () => {
  client?.destroy();
  await s3rver?.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** Records each completed upload and what manifests name at upload time. */
class RecordingStore implements ObjectStore {
  readonly done: string[] = [];
  readonly violations: string[] = [];
  constructor(readonly inner: ObjectStore) {}
  async put(key: string, body: Buffer, meta: ObjectMeta): Promise<void> {
    for (const named of namedBy(key, body.toString('utf8'))) {
      if (!this.done.includes(named)) this.violations.push(`${key} names ${named} before it was uploaded`);
    }
    await this.inner.put(key, body, meta);
    this.done.push(key);
  }
  get(key: string) {
    return this.inner.get(key);
  }
}

/** Keys of the objects a manifest names (via the independent parsers). */
function namedBy(key: string, text: string): string[] {
  const dirOf = key.slice(0, key.lastIndexOf('/'));
  if (key.endsWith('.mpd')) {
    const m = readMpd(text, `http://x/${key}`) as any;
    const all = [...m.playlists, ...Object.values(m.mediaGroups.AUDIO ?? {}).flatMap((g: any) => Object.values(g).flatMap((x: any) => x.playlists))];
    return all.flatMap((p: any) => p.segments.flatMap((s: any) => [s.resolvedUri, s.map.resolvedUri])).map((u: string) => new URL(u).pathname.slice(1));
  }
  const m = readM3u8(text) as any;
  if (m.playlists) return [...m.playlists.map((p: any) => `${dirOf}/${p.uri}`), ...Object.values(m.mediaGroups.AUDIO ?? {}).flatMap((g: any) => Object.values(g).map((r: any) => `${dirOf}/${r.uri}`))];
  return m.segments.flatMap((s: any) => [`${dirOf}/${s.uri}`, `${dirOf}/${s.map.uri}`]);
}

let h: Harness;
let store: RecordingStore;
test('against a real S3 server: media before manifests, every named object exists with Content-Type and Cache-Control', async () => {
  store = new RecordingStore(new S3ObjectStore({ bucket: 'media', endpoint, forcePathStyle: true, credentials }));
  h = await startHarness({}, store);
  try {
    const run = pushInProcess(h.packager, 's3b', 4);
    assert.equal(await run.exited, 0, run.stderr());
    await h.packager.close(); // ends the broadcast, drains the uploads
    assert.deepEqual(store.violations, []);
    const manifests = ['s3b/master.m3u8', 's3b/manifest.mpd', 's3b/video-360p/index.m3u8', 's3b/video-180p/index.m3u8', 's3b/audio/index.m3u8'];
    const named = new Set<string>();
    for (const key of manifests) {
      const obj = await store.get(key);
      assert.ok(obj, key);
      for (const n of namedBy(key, obj.body.toString('utf8'))) named.add(n);
      if (key.endsWith('.m3u8') && key !== 's3b/master.m3u8') assert.match(obj.body.toString(), /#EXT-X-ENDLIST/);
      if (key.endsWith('.mpd')) assert.match(obj.body.toString(), /type="static"/);
    }
    assert.ok(named.size >= 15, `named ${[...named].join(" ")}`);
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
