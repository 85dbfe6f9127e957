// HTTP Range at the origin (RFC 9110 §14): one satisfiable range → 206, none
// satisfiable → 416 with `bytes */size`, a malformed or multi-range header →
// 200 with the whole object, and If-Range against the strong ETag the origin
// sends (a weak tag or a date never matches: §13.1.5).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectMeta, ObjectStore, StoredObject } from '../../packager/index.ts';
import { get, startHarness, type Harness } from '../packager/helpers.ts';

/** An object store in memory. */
class MemoryStore implements ObjectStore {
  readonly #objects = new Map<string, StoredObject>();
  async put(key: string, body: Buffer, meta: ObjectMeta): Promise<void> {
    this.#objects.set(key, { ...meta, body });
  }
  async get(key: string): Promise<StoredObject | undefined> {
    const o = this.#objects.get(key);
    return o && { ...o, body: Buffer.from(o.body) }; // a fresh buffer per read, as a real store gives
  }
}

const SIZE = 1000;
const BODY = Buffer.from(Array.from({ length: SIZE }, (_, i) => i % 251));
let h: Harness;
let url: string;

before(async () => {
  const store = new MemoryStore();
  await store.put('vod1/video/seg-3.m4s', BODY, { contentType: 'video/iso.segment', cacheControl: 'public, max-age=1209600, immutable' });
  await store.put('vod1/video/seg-4.m4s', Buffer.concat([BODY.subarray(1), Buffer.from([7])]), { contentType: 'video/iso.segment', cacheControl: 'public, max-age=1209600, immutable' });
  h = await startHarness({}, store);
  url = `${h.base}/live/vod1/video/seg-3.m4s`;
});
after(async () => {
  await h?.close();
});

test('a segment carries a strong ETag of its bytes: the same on every read, different for other bytes', async () => {
  const a = await get(url);
  assert.equal(a.status, 200);
  assert.deepEqual(a.body, BODY);
  assert.equal(a.headers.get('accept-ranges'), 'bytes');
  const etag = a.headers.get('etag');
  assert.match(etag ?? '', /^"[^"]+"$/, 'a strong entity tag');
  assert.equal((await get(url)).headers.get('etag'), etag);
  assert.notEqual((await get(`${h.base}/live/vod1/video/seg-4.m4s`)).headers.get('etag'), etag);
});

test('one satisfiable range is 206 with Content-Range (suffix and open-ended too)', async () => {
  const cases: [string, number, number][] = [
    ['bytes=0-7', 0, 7],
    ['bytes=990-', 990, 999],
    ['bytes=-10', 990, 999],
    ['bytes=500-99999', 500, 999],
    ['Bytes=1-2', 1, 2],
    // Overlapping or adjacent ranges are combined into one.
    ['bytes=0-9,10-19,5-12', 0, 19],
  ];
  for (const [range, start, end] of cases) {
    const r = await get(url, { headers: { Range: range } });
    assert.equal(r.status, 206, range);
    assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${SIZE}`, range);
    assert.equal(r.headers.get('content-length'), String(end - start + 1), range);
    assert.deepEqual(r.body, BODY.subarray(start, end + 1), range);
  }
});

test('no satisfiable range is 416 with Content-Range: bytes */size', async () => {
  for (const range of ['bytes=1000-', 'bytes=99999999-', 'bytes=-0', 'bytes=5-1', 'bytes=1000-1001,2000-']) {
    const r = await get(url, { headers: { Range: range } });
    assert.equal(r.status, 416, range);
    assert.equal(r.headers.get('content-range'), `bytes */${SIZE}`, range);
  }
});

test('a malformed Range, or another unit, is ignored: 200 with the whole object', async () => {
  for (const range of ['bytes=abc', 'bytes=1-x', 'bytes', 'bytes=-', 'bytes=--5', 'items=0-1', '0-7']) {
    const r = await get(url, { headers: { Range: range } });
    assert.equal(r.status, 200, range);
    assert.equal(r.headers.get('content-range'), null, range);
    assert.deepEqual(r.body, BODY, range);
  }
});

test('several ranges that do not combine get the whole object with 200 (no multipart/byteranges)', async () => {
  const r = await get(url, { headers: { Range: 'bytes=0-9,100-109' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-range'), null);
  assert.deepEqual(r.body, BODY);
});

test('If-Range with the current ETag → 206 with the range', async () => {
  const etag = (await get(url)).headers.get('etag');
  assert.ok(etag, 'the origin sends an ETag to match');
  const r = await get(url, { headers: { Range: 'bytes=10-19', 'If-Range': etag } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), `bytes 10-19/${SIZE}`);
  assert.deepEqual(r.body, BODY.subarray(10, 20));
});

test('If-Range that does not match (another ETag, a weak tag, a date) → 200 with the whole object', async () => {
  const etag = (await get(url)).headers.get('etag')!;
  const other = (await get(`${h.base}/live/vod1/video/seg-4.m4s`)).headers.get('etag')!;
  for (const ifRange of [other, `W/${etag}`, '"nope"', new Date().toUTCString(), 'Thu, 01 Jan 1970 00:00:00 GMT', 'garbage']) {
    const r = await get(url, { headers: { Range: 'bytes=10-19', 'If-Range': ifRange } });
    assert.equal(r.status, 200, ifRange);
    assert.equal(r.headers.get('content-range'), null, ifRange);
    assert.deepEqual(r.body, BODY, ifRange);
  }
  // A non-matching If-Range also turns an unsatisfiable range into the whole object (the Range is ignored).
  assert.equal((await get(url, { headers: { Range: 'bytes=5000-', 'If-Range': other } })).status, 200);
});

test('HEAD with a Range gives the 206 headers and no body', async () => {
  const r = await fetch(url, { method: 'HEAD', headers: { Range: 'bytes=0-99' } });
  assert.equal(r.status, 206);
  assert.equal(r.headers.get('content-range'), `bytes 0-99/${SIZE}`);
  assert.equal(r.headers.get('content-length'), '100');
  assert.equal((await r.arrayBuffer()).byteLength, 0);
});

test('CORS lets a page send If-Range and read the ETag', async () => {
  const pre = await fetch(url, { method: 'OPTIONS', headers: { Origin: 'http://example.com', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range, if-range' } });
  assert.equal(pre.status, 204);
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /\bIf-Range\b/);
  assert.match(pre.headers.get('access-control-expose-headers') ?? '', /\bETag\b/);
});
