// The upload publisher against a real S3-protocol server (s3rver) that is up,
// down (stopped: connections refused), failing (a proxy answering 503) or
// refusing (no such bucket, unknown key): close() within its drain bound,
// retries spread by jitter, and errors that are not transient reported at once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DependencyError, createLogger, silentLogger, type Logger } from '../../common/index.ts';
import { FsObjectStore, Publisher, S3ObjectStore, createPackager, type ObjectMeta, type ObjectStore, type RetryPolicy } from '../../packager/index.ts';
import type { UploadOutcome } from '../../packager/store.ts';
import { credentials, FaultProxy, S3Server } from './s3store.ts';

const s3 = new S3Server();
/** A server that was started (so its bucket exists) and stopped: every connection to it is refused. */
const gone = new S3Server();
let tmp: string;
before(async () => {
  await s3.start();
  await gone.start();
  await gone.stop();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'publisher-'));
});
after(async () => {
  await s3.destroy();
  await gone.destroy();
  await fs.rm(tmp, { recursive: true, force: true });
});

const MEDIA: ObjectMeta = { contentType: 'video/iso.segment', cacheControl: 'public, max-age=1209600, immutable' };
const MANIFEST: ObjectMeta = { contentType: 'application/vnd.apple.mpegurl', cacheControl: 'no-cache' };
const s3store = (endpoint: string, bucket = 'media', creds = credentials) => new S3ObjectStore({ bucket, endpoint, forcePathStyle: true, credentials: creds });

/** Counts the store's put calls, so a test can say how many attempts an upload took. */
class CountingStore implements ObjectStore {
  readonly puts = new Map<string, number>();
  constructor(readonly inner: ObjectStore) {}
  put(key: string, body: Buffer, meta: ObjectMeta, signal?: AbortSignal): Promise<void> {
    this.puts.set(key, (this.puts.get(key) ?? 0) + 1);
    return this.inner.put(key, body, meta, signal);
  }
  get(key: string) {
    return this.inner.get(key);
  }
}

/** A logger whose JSON lines the test can read. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: createLogger({ level: 'debug', destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } }) };
}

/** Resolves with `value`, or with 'timed out' after `ms`: a failing run reports instead of hanging. */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'timed out'> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'timed out'>((r) => (t = setTimeout(() => r('timed out'), ms)))]).finally(() => clearTimeout(t));
}

/** Resolves once `n` retries were announced. */
function retries(pub: Publisher, n: number): Promise<void> {
  let seen = 0;
  return new Promise((resolve) => {
    const on = () => {
      if (++seen < n) return;
      pub.off('retry', on);
      resolve();
    };
    pub.on('retry', on);
  });
}

// A retry wait far longer than the drain bound: before the fix close() cleared its timer and left the upload unsettled for ever.
const LONG_WAIT: RetryPolicy = { maxRetries: 10, delayMs: 60_000, maxDelayMs: 60_000, backoffFactor: 2, jitter: 'none' };

test('close(drainMs) with the store down and retries pending resolves within the drain bound; every upload not stored is reported (uploadFailed with a store-closed DependencyError, onSettled failed, drain() released)', async () => {
  const store = s3store(gone.endpoint);
  const { logger, lines } = capturingLogger();
  const pub = new Publisher(store, { retry: LONG_WAIT, maxQueued: 10, concurrency: 2, logger });
  try {
    const outcomes = new Map<string, UploadOutcome>();
    const failed: [string, unknown][] = [];
    pub.on('uploadFailed', (key, err) => failed.push([key, err]));
    const inRetry = retries(pub, 2);
    for (const key of ['c1/video/seg-1.m4s', 'c1/video/seg-2.m4s', 'c1/video/seg-3.m4s']) pub.enqueueMedia(key, Buffer.from(key), MEDIA, (o) => outcomes.set(key, o));
    pub.enqueueManifest('c1/video/index.m3u8', Buffer.from('#EXTM3U\n'), MANIFEST);
    await inRetry; // both uploads in flight failed (connection refused) and wait to retry; one waits in the queue, so does the manifest
    assert.equal(pub.inFlight, 2);
    const drained = pub.drain();

    const BOUND = 400;
    const t0 = performance.now();
    const closed = await within(
      Promise.resolve(pub.close(BOUND)).then(() => 'closed' as const),
      BOUND + 5_000,
    );
    const elapsed = performance.now() - t0;
    // The store stays down, so close() waits the whole bound, then gives up; a drain() pending meanwhile is released.
    assert.deepEqual(
      { closed, waitedTheBound: elapsed >= BOUND - 5, withinBound: elapsed < BOUND + 250, drainReleased: (await within(drained, 1_000)) === undefined },
      { closed: 'closed', waitedTheBound: true, withinBound: true, drainReleased: true },
      `close() took ${elapsed.toFixed(0)} ms, bound ${BOUND} ms`,
    );

    assert.deepEqual(Object.fromEntries(outcomes), { 'c1/video/seg-1.m4s': 'failed', 'c1/video/seg-2.m4s': 'failed', 'c1/video/seg-3.m4s': 'failed' });
    assert.deepEqual(failed.map(([k]) => k).sort(), ['c1/video/index.m3u8', 'c1/video/seg-1.m4s', 'c1/video/seg-2.m4s', 'c1/video/seg-3.m4s']);
    for (const [key, err] of failed) {
      assert.ok(err instanceof DependencyError, `${key}: ${String(err)}`);
      assert.equal(err.code, 'store-closed');
      assert.match(err.message, new RegExp(key.replaceAll('.', '\\.')));
    }
    assert.equal(pub.queued, 0);
    assert.equal(pub.inFlight, 0);
    assert.equal(pub.pendingManifests, 0);
    const summary = lines.filter((l) => l.msg === 'close(): uploads given up, not in the store');
    assert.equal(summary.length, 1, 'one summary line');
    assert.equal(summary[0]!.count, 4);
    assert.deepEqual((summary[0]!.keys as string[]).sort(), failed.map(([k]) => k).sort());

    // Use after close: a media upload is refused and reported, not silently lost.
    let late: UploadOutcome | undefined;
    assert.equal(pub.enqueueMedia('c1/video/seg-4.m4s', Buffer.from('x'), MEDIA, (o) => (late = o)), false);
    assert.equal(late, 'failed');
    assert.equal(failed.at(-1)![0], 'c1/video/seg-4.m4s');
    assert.equal(await within(pub.close(BOUND), 100), undefined, 'close() is safe twice and the second call returns at once');
  } finally {
    void pub.close();
    store.close();
  }
});

test('close(drainMs) waits for the backlog when the store comes back within the bound: everything is stored, nothing reported as failed', async () => {
  const proxy = new FaultProxy(() => s3.port);
  await proxy.start();
  let down = true;
  proxy.failing = () => down;
  const store = s3store(proxy.endpoint);
  const pub = new Publisher(store, { retry: { maxRetries: 50, delayMs: 50, maxDelayMs: 100, backoffFactor: 2, jitter: 'none' }, maxQueued: 10, concurrency: 1, logger: silentLogger() });
  try {
    const outcomes: UploadOutcome[] = [];
    const failed: string[] = [];
    pub.on('uploadFailed', (k) => failed.push(k));
    const inRetry = retries(pub, 1);
    pub.enqueueMedia('c2/video/seg-1.m4s', Buffer.from('one'), MEDIA, (o) => outcomes.push(o));
    pub.enqueueMedia('c2/video/seg-2.m4s', Buffer.from('two'), MEDIA, (o) => outcomes.push(o));
    await inRetry;
    const closing = pub.close(10_000);
    down = false;
    assert.equal(await within(closing, 5_000), undefined, 'close() resolves once drained, long before the bound');
    assert.deepEqual(outcomes, ['stored', 'stored']);
    assert.deepEqual(failed, []);
    assert.equal((await store.get('c2/video/seg-2.m4s'))?.body.toString(), 'two');
  } finally {
    void pub.close();
    store.close();
    await proxy.close();
  }
});

test('Packager.close() with the store down and a retry pending resolves within closeDrainTimeoutMs, and the pending media upload is settled as failed', async () => {
  const store = s3store(gone.endpoint);
  const BOUND = 300;
  const packager = createPackager({ closeDrainTimeoutMs: BOUND, uploadRetry: LONG_WAIT }, { logger: silentLogger(), store });
  const pub = packager.publisher!;
  try {
    const inRetry = retries(pub, 1);
    const settled = new Promise<UploadOutcome>((resolve) => pub.enqueueMedia('c3/video/seg-1.m4s', Buffer.from('x'), MEDIA, resolve));
    await inRetry;
    const t0 = performance.now();
    assert.equal(await within(packager.close(), BOUND + 5_000), undefined);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < BOUND + 250, `Packager.close() took ${elapsed.toFixed(0)} ms, bound ${BOUND} ms`);
    assert.equal(await within(settled, 1_000), 'failed', "the upload's owner learns it was not stored");
    assert.equal(pub.inFlight, 0);
  } finally {
    store.close();
  }
});

/** mulberry32: a seeded PRNG, so a failing run can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

for (const jitter of ['equal', 'full'] as const) {
  test(`after an outage, the retries of several tracks are spread by ${jitter} jitter (not in lockstep), within [${jitter === 'equal' ? 'nominal/2' : '0'}, nominal], drawn from the injected random source`, async () => {
    const proxy = new FaultProxy(() => s3.port);
    await proxy.start();
    proxy.failing = (req) => req.method === 'PUT'; // the outage: every upload answers 503
    const store = s3store(proxy.endpoint);
    const policy: RetryPolicy = { maxRetries: 3, delayMs: 40, maxDelayMs: 120, backoffFactor: 2, jitter };
    const draws: number[] = [];
    const prng = seeded(jitter === 'equal' ? 7 : 11);
    const random = () => {
      const r = prng();
      draws.push(r);
      return r;
    };
    const TRACKS = ['video-1080p', 'video-720p', 'video-360p', 'audio'];
    const pub = new Publisher(store, { retry: policy, maxQueued: 10, concurrency: TRACKS.length, logger: silentLogger(), random });
    try {
      const retried: { key: string; attempt: number; delayMs: number }[] = [];
      pub.on('retry', (key, attempt, delayMs) => retried.push({ key, attempt, delayMs }));
      const failed: [string, unknown][] = [];
      pub.on('uploadFailed', (key, err) => failed.push([key, err]));
      for (const t of TRACKS) pub.enqueueMedia(`j1/${t}/seg-1.m4s`, Buffer.from(t), MEDIA);
      assert.equal(await within(pub.drain(), 10_000), undefined);

      assert.equal(retried.length, TRACKS.length * policy.maxRetries);
      for (let attempt = 1; attempt <= policy.maxRetries; attempt++) {
        const delays = retried.filter((r) => r.attempt === attempt).map((r) => r.delayMs);
        // Two tracks may draw the same whole millisecond; all of them never should (that is lockstep).
        assert.ok(new Set(delays).size > 1, `retry ${attempt}: the tracks wait different delays (${delays.join(', ')} ms)`);
      }
      assert.deepEqual(draws.length, retried.length, 'one draw per retry');
      retried.forEach((r, i) => {
        const nominal = Math.min(policy.maxDelayMs, policy.delayMs * policy.backoffFactor ** (r.attempt - 1));
        const expected = jitter === 'equal' ? nominal / 2 + draws[i]! * (nominal / 2) : draws[i]! * nominal;
        assert.equal(r.delayMs, Math.round(expected), `${r.key} retry ${r.attempt}: the delay comes from the injected draw`);
        assert.ok(r.delayMs >= (jitter === 'equal' ? nominal / 2 : 0) && r.delayMs <= nominal, `${r.key} retry ${r.attempt}: ${r.delayMs} ms within bounds (nominal ${nominal})`);
      });
      // The store saw the attempts at those spread instants, not all at once.
      for (const t of TRACKS) {
        const at = proxy.log.filter((l) => l.path.includes(`/${t}/`)).map((l) => l.at);
        assert.equal(at.length, policy.maxRetries + 1, `${t}: first attempt + maxRetries`);
        const waits = retried.filter((r) => r.key.includes(`/${t}/`)).map((r) => r.delayMs);
        at.slice(1).forEach((a, i) => assert.ok(a - at[i]! >= waits[i]! - 2, `${t}: attempt ${i + 2} came ${(a - at[i]!).toFixed(0)} ms after the previous one, delay ${waits[i]} ms`));
      }
      // Retries exhausted: reported once per object as the store being unavailable.
      assert.deepEqual(failed.map(([k]) => k).sort(), TRACKS.map((t) => `j1/${t}/seg-1.m4s`).sort());
      for (const [, err] of failed) assert.ok(err instanceof DependencyError && err.code === 'store-unavailable', String(err));
    } finally {
      void pub.close();
      store.close();
      await proxy.close();
    }
  });
}

test('an upload the store refuses (NoSuchBucket, InvalidAccessKeyId, ENOTDIR, an error of unknown kind) is tried once and reported once: a store-rejected DependencyError naming the key, logged with the key', async () => {
  const fileNotDir = path.join(tmp, 'not-a-dir');
  await fs.writeFile(fileNotDir, 'x');
  const unknown: ObjectStore = {
    put: async () => {
      throw new Error('the store said something we do not know');
    },
    get: async () => undefined,
  };
  const cases: [name: string, store: ObjectStore, expect: RegExp][] = [
    ['no such bucket', s3store(s3.endpoint, 'no-such-bucket'), /NoSuchBucket/],
    ['unknown access key', s3store(s3.endpoint, 'media', { accessKeyId: 'NOT-S3RVER', secretAccessKey: 'S3RVER' }), /InvalidAccessKeyId/],
    ['filesystem root is a file', new FsObjectStore(fileNotDir), /ENOTDIR|EEXIST/],
    ['error of unknown kind', unknown, /something we do not know/],
  ];
  const seen: Record<string, unknown> = {};
  const want: Record<string, unknown> = {};
  for (const [name, inner, expect] of cases) {
    const store = new CountingStore(inner);
    const { logger, lines } = capturingLogger();
    const pub = new Publisher(store, { retry: { maxRetries: 5, delayMs: 10, maxDelayMs: 50, backoffFactor: 2, jitter: 'equal' }, maxQueued: 10, concurrency: 1, logger });
    try {
      const key = 'r1/video/seg-1.m4s';
      const failed: [string, unknown][] = [];
      let retried = 0;
      pub.on('uploadFailed', (k, err) => failed.push([k, err]));
      pub.on('retry', () => retried++);
      let outcome: UploadOutcome | undefined;
      pub.enqueueMedia(key, Buffer.from('x'), MEDIA, (o) => (outcome = o));
      assert.equal(await within(pub.drain(), 5_000), undefined, name);
      const err = failed[0]?.[1];
      const logged = lines.filter((l) => l.level === 50 && l.key === key);
      seen[name] = {
        attempts: store.puts.get(key),
        retried,
        outcome,
        reported: failed.map(([k]) => k),
        error: err instanceof DependencyError ? err.code : String(err),
        namesKeyAndCause: err instanceof Error && err.message.includes(key) && expect.test(err.message),
        logged: logged.map((l) => ({ code: l.code, attempts: l.attempts })),
      };
      want[name] = { attempts: 1, retried: 0, outcome: 'failed', reported: [key], error: 'store-rejected', namesKeyAndCause: true, logged: [{ code: 'store-rejected', attempts: 1 }] };
    } finally {
      void pub.close();
      if (inner instanceof S3ObjectStore) inner.close();
    }
  }
  assert.deepEqual(seen, want);
});
