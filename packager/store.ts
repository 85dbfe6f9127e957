import { setMaxListeners } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { S3Client, PutObjectCommand, GetObjectCommand, type S3ClientConfig } from '@aws-sdk/client-s3';
import { DependencyError, TypedEmitter, errorMessage, type Logger } from '../common/index.ts';
import type { RetryPolicy } from './config.ts';
import { describeStoreError, isTransientStoreError, storeFailure } from './storeErrors.ts';

export interface ObjectMeta {
  readonly contentType: string;
  readonly cacheControl: string;
}

export interface StoredObject extends ObjectMeta {
  readonly body: Buffer;
}

/**
 * Durable storage for segments, init segments and manifests. Keys are
 * `<broadcastId>/<name>` or `<broadcastId>/<trackId>/<name>`.
 */
export interface ObjectStore {
  /** `signal` aborts the upload (the publisher closing); a store may ignore it, the publisher stops waiting either way. */
  put(key: string, body: Buffer, meta: ObjectMeta, signal?: AbortSignal): Promise<void>;
  /** undefined when the object does not exist. */
  get(key: string): Promise<StoredObject | undefined>;
}

const META_SUFFIX = '.meta.json';

/**
 * Rejects keys that could leave the store's namespace: only `[A-Za-z0-9_.-]`
 * path segments separated by `/` (so no absolute paths, no `\`, no `%`-encoded
 * separators), no `.`/`..` segments, and never a name of the filesystem
 * store's own sidecar or temporary files.
 */
export function assertSafeKey(key: string): void {
  if (
    key.length > 512 ||
    !/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/.test(key) ||
    key.split('/').some((p) => p === '.' || p === '..') ||
    key.endsWith(META_SUFFIX) ||
    key.endsWith('.tmp')
  ) {
    throw new TypeError(`unsafe object key ${JSON.stringify(key)}`);
  }
}

let tmpCounter = 0;

/** The broadcast a key belongs to (keys are `<broadcastId>/…`), for log lines. */
const broadcastOf = (key: string): string => key.split('/', 1)[0]!;

/**
 * Filesystem store (the embedded default). Content-Type and Cache-Control sit
 * next to each object in a sidecar `<file>.meta.json`; both files are written
 * to a temporary name and renamed (sidecar first), so a reader never sees half
 * an object and a restarted process serves what the last one wrote.
 */
export class FsObjectStore implements ObjectStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The file of a key, checked to stay under the root (belt and braces after assertSafeKey). */
  #file(key: string): string {
    assertSafeKey(key);
    const file = path.resolve(this.root, key);
    if (!file.startsWith(this.root + path.sep)) throw new TypeError(`unsafe object key ${JSON.stringify(key)}`);
    return file;
  }

  async put(key: string, body: Buffer, meta: ObjectMeta): Promise<void> {
    const file = this.#file(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}-${++tmpCounter}.tmp`;
    await fs.writeFile(`${tmp}m`, JSON.stringify({ contentType: meta.contentType, cacheControl: meta.cacheControl }));
    await fs.rename(`${tmp}m`, `${file}${META_SUFFIX}`);
    await fs.writeFile(tmp, body);
    await fs.rename(tmp, file);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    const file = this.#file(key);
    try {
      const [body, meta] = await Promise.all([fs.readFile(file), fs.readFile(`${file}${META_SUFFIX}`, 'utf8')]);
      const m = JSON.parse(meta) as ObjectMeta;
      return { body, contentType: m.contentType, cacheControl: m.cacheControl };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new DependencyError('store-read', `fs store read ${key}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

export interface S3StoreOptions {
  bucket: string;
  prefix?: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Only for tests against a local server; in deployment the standard AWS chain supplies credentials. */
  credentials?: S3ClientConfig['credentials'];
}

/** S3 (or any S3-protocol server). The SDK's own retries are off: the publisher's policy applies. */
export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(opts: S3StoreOptions) {
    this.#client = new S3Client({
      region: opts.region ?? 'us-east-1',
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      forcePathStyle: opts.forcePathStyle ?? false,
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      maxAttempts: 1,
    });
    this.#bucket = opts.bucket;
    this.#prefix = opts.prefix ? opts.prefix.replace(/\/?$/, '/') : '';
  }

  async put(key: string, body: Buffer, meta: ObjectMeta, signal?: AbortSignal): Promise<void> {
    assertSafeKey(key);
    await this.#client.send(
      new PutObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key, Body: body, ContentType: meta.contentType, CacheControl: meta.cacheControl }),
      signal ? { abortSignal: signal } : {},
    );
  }

  async get(key: string): Promise<StoredObject | undefined> {
    assertSafeKey(key);
    try {
      const res = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }));
      const body = Buffer.from(await res.Body!.transformToByteArray());
      return { body, contentType: res.ContentType ?? 'application/octet-stream', cacheControl: res.CacheControl ?? 'no-cache' };
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (err as Error).name === 'NoSuchKey') return undefined;
      throw new DependencyError('store-read', `s3 get ${key}: ${errorMessage(err)}`, { cause: err });
    }
  }

  close(): void {
    this.#client.destroy();
  }
}

/**
 * Delay before retry number `attempt` (1-based): the nominal backoff
 * (delayMs · backoffFactor^(attempt−1), at most maxDelayMs), spread by the
 * policy's jitter over `random()` ∈ [0, 1) so that tracks failing together do
 * not retry together.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  // delayMs 0 stays 0 (not 0 · ∞ = NaN once the factor overflows).
  const nominal = policy.delayMs === 0 ? 0 : Math.min(policy.maxDelayMs, policy.delayMs * policy.backoffFactor ** (attempt - 1));
  if (policy.jitter === 'none') return nominal;
  const r = Math.min(1, Math.max(0, random() || 0)); // a bad source never leaves the bounds
  return Math.round(policy.jitter === 'full' ? r * nominal : nominal / 2 + r * (nominal / 2));
}

/** Settles like `p`, or rejects with the signal's reason once it aborts (a store may ignore the signal; we stop waiting anyway). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {}); // its late failure is no longer anyone's business
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export interface PublisherEvents {
  /**
   * The media queue was full (count or bytes): this media upload was dropped,
   * the media path was not blocked. The key is recorded in `dropped`, and
   * manifests written to the store mark the segment as a gap.
   */
  queueFull: [key: string, queued: number, queuedBytes: number];
  /**
   * An upload failed for good, reported once per object with a DependencyError
   * whose code says why: `store-rejected` (the store refused, not retried),
   * `store-unavailable` (transient errors until the retries ran out),
   * `store-closed` (given up by close()). A TypeError for an unsafe key.
   */
  uploadFailed: [key: string, error: unknown];
  uploaded: [key: string, kind: 'media' | 'manifest'];
  /** A failed attempt that will be retried after `delayMs` (jittered). */
  retry: [key: string, attempt: number, delayMs: number, error: unknown];
  /** Nothing queued and nothing in flight (also once close() has given up the rest). */
  drained: [];
}

/** How a media upload ended: in the store, or not (dropped on a full queue, or failed after its retries). */
export type UploadOutcome = 'stored' | 'dropped' | 'failed';

/** A manifest body, rendered when its upload starts (so it is the newest and names only what is stored by then). */
export type ManifestSource = Buffer | (() => Buffer | undefined);

interface MediaJob {
  seq: number;
  key: string;
  body: Buffer;
  meta: ObjectMeta;
  onSettled: ((outcome: UploadOutcome) => void) | undefined;
}

interface ManifestJob {
  key: string;
  source: ManifestSource;
  meta: ObjectMeta;
  /** Media jobs up to this sequence number must have settled first (only for pre-rendered bodies). */
  after: number;
  onUploaded: (() => void) | undefined;
}

/** How one upload with its retries ended; `abandoned` = close() stopped it, with the last store error if an attempt had failed. */
type RunResult = { outcome: 'stored' | 'failed' } | { outcome: 'abandoned'; lastError: unknown };

export interface PublisherOptions {
  retry: RetryPolicy;
  /** Bound on media uploads waiting or in flight. */
  maxQueued: number;
  /** Bound on the bytes of media uploads waiting or in flight. */
  maxQueuedBytes?: number;
  concurrency: number;
  logger: Logger;
  /** The jitter's random source, uniform in [0, 1); Math.random unless a test injects one. */
  random?: () => number;
}

const MAX_DROPPED_KEYS = 1000;
/** Keys named in close()'s summary line (the count is always whole). */
const MAX_LOGGED_KEYS = 100;

/**
 * Uploads to an ObjectStore in publishing order, without ever blocking the
 * media path:
 * - Media (init segments, segments) go through a FIFO bounded by count and
 *   bytes (waiting + in flight). When it is full the new upload is dropped,
 *   reported (`queueFull`, logged) and recorded in `dropped`; its owner learns
 *   it through `onSettled('dropped')`. The newest media is not preferred over
 *   the oldest: what is queued already is what the store manifests will name.
 * - Manifests are coalesced: one pending upload per key, the newest wins, so
 *   their memory is bounded by the number of keys however long the store is
 *   away. They are written one at a time. A manifest given as a function is
 *   rendered when its upload starts, from the state of the media uploads then
 *   (Broadcast names only media already stored); one given as bytes waits for
 *   every media upload queued before it.
 * Transient failures (isTransientStoreError) are retried with jittered backoff
 * (RetryPolicy); a refusal is not. Either way a failure is reported once
 * (`uploadFailed`, logged with the key, `onSettled('failed')`). close() drains
 * for a bound, then gives up the rest and reports each object it gave up.
 */
export class Publisher extends TypedEmitter<PublisherEvents> {
  readonly #store: ObjectStore;
  readonly #policy: RetryPolicy;
  readonly #max: number;
  readonly #maxBytes: number;
  readonly #concurrency: number;
  readonly #logger: Logger;
  readonly #random: () => number;
  #media: MediaJob[] = [];
  #manifests = new Map<string, ManifestJob>();
  #unsettled = new Set<number>();
  #seq = 0;
  #mediaInFlight = 0;
  #manifestInFlight = false;
  #queuedBytes = 0;
  #peak = 0;
  #droppedCount = 0;
  #droppedKeys: string[] = [];
  /** Aborted by close(): ends retry waits and in-flight puts, so every run settles. */
  readonly #abort = new AbortController();
  /** Runs in flight, so close() can wait for their reports. */
  readonly #running = new Set<Promise<void>>();
  /** Keys given up by close(), for its summary line. */
  #givenUp: string[] = [];
  #closing: Promise<void> | undefined;
  #closed = false;

  constructor(store: ObjectStore, opts: PublisherOptions) {
    super();
    this.#store = store;
    this.#policy = opts.retry;
    this.#max = opts.maxQueued;
    this.#maxBytes = opts.maxQueuedBytes ?? Number.MAX_SAFE_INTEGER;
    this.#concurrency = opts.concurrency;
    this.#logger = opts.logger;
    this.#random = opts.random ?? Math.random;
    // Each run in flight listens on it (its put or its retry wait): up to `concurrency` + 1, not a leak.
    setMaxListeners(0, this.#abort.signal);
    this.onListenerError((event, err) => this.#logger.error({ err, event }, 'publisher listener threw'));
  }

  /** Media uploads waiting or in flight (what the queue bound applies to). */
  get queued(): number {
    return this.#unsettled.size;
  }

  /** Bytes of media uploads waiting or in flight. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Highest `queued` seen. */
  get peakQueued(): number {
    return this.#peak;
  }

  get inFlight(): number {
    return this.#mediaInFlight + (this.#manifestInFlight ? 1 : 0);
  }

  /** Manifests waiting (at most one per key). */
  get pendingManifests(): number {
    return this.#manifests.size;
  }

  /** Media uploads dropped on a full queue: the total, and the most recent keys (up to 1,000). */
  get dropped(): { count: number; keys: readonly string[] } {
    return { count: this.#droppedCount, keys: this.#droppedKeys };
  }

  /**
   * Queues an upload; false (and `queueFull`) when a media upload did not fit.
   * Kept for callers with pre-rendered bodies; see enqueueMedia/enqueueManifest.
   */
  enqueue(key: string, body: Buffer, meta: ObjectMeta, kind: 'media' | 'manifest'): boolean {
    if (kind === 'manifest') return this.enqueueManifest(key, body, meta);
    return this.enqueueMedia(key, body, meta);
  }

  enqueueMedia(key: string, body: Buffer, meta: ObjectMeta, onSettled?: (outcome: UploadOutcome) => void): boolean {
    if (this.#closed) {
      // Media after close() is lost: say so, and let its owner know.
      const err = storeFailure('store-closed', key, undefined);
      this.#logger.warn({ broadcast: broadcastOf(key), key, code: 'store-closed' }, 'media upload after close() refused');
      this.emit('uploadFailed', key, err);
      onSettled?.('failed');
      return false;
    }
    if (this.#unsettled.size + 1 > this.#max || this.#queuedBytes + body.length > this.#maxBytes) {
      this.#droppedCount++;
      this.#droppedKeys.push(key);
      if (this.#droppedKeys.length > MAX_DROPPED_KEYS) this.#droppedKeys.shift();
      this.#logger.error({ broadcast: broadcastOf(key), key, queued: this.#unsettled.size, queuedBytes: this.#queuedBytes, dropped: this.#droppedCount }, 'upload queue full, media upload dropped');
      this.emit('queueFull', key, this.#unsettled.size, this.#queuedBytes);
      onSettled?.('dropped');
      return false;
    }
    const seq = ++this.#seq;
    this.#media.push({ seq, key, body, meta, onSettled });
    this.#unsettled.add(seq);
    this.#queuedBytes += body.length;
    this.#peak = Math.max(this.#peak, this.#unsettled.size);
    this.#pump();
    return true;
  }

  /**
   * Queues a manifest, replacing a pending upload of the same key. After
   * close() it is refused quietly (debug): such a manifest is a re-render
   * prompted by the media close() gave up, which close() reports; the store
   * keeps its previous version.
   */
  enqueueManifest(key: string, source: ManifestSource, meta: ObjectMeta, onUploaded?: () => void): boolean {
    if (this.#closed) {
      this.#logger.debug({ broadcast: broadcastOf(key), key }, 'manifest upload after close() refused');
      return false;
    }
    this.#manifests.delete(key);
    this.#manifests.set(key, { key, source, meta, after: typeof source === 'function' ? 0 : this.#seq, onUploaded });
    this.#pump();
    return true;
  }

  get idle(): boolean {
    return this.#media.length === 0 && this.#manifests.size === 0 && this.inFlight === 0;
  }

  /** Resolves when everything queued so far (and anything it led to) has been uploaded or has failed, or close() gave it up. */
  async drain(): Promise<void> {
    if (this.idle || this.#closed) return;
    await this.waitFor('drained');
  }

  /**
   * Waits up to `drainTimeoutMs` for the uploads queued (and those they lead
   * to, which are still accepted meanwhile), then gives up the rest: retry
   * waits and puts in flight are aborted, and every object not stored is
   * reported (`uploadFailed` with a `store-closed` DependencyError,
   * `onSettled('failed')`, one summary log line with the count and the keys).
   * Resolves once all of that is done, so within the bound however the store
   * behaves. Safe twice (the first call's bound holds).
   */
  close(drainTimeoutMs = 0): Promise<void> {
    this.#closing ??= this.#close(drainTimeoutMs);
    return this.#closing;
  }

  async #close(drainTimeoutMs: number): Promise<void> {
    if (drainTimeoutMs > 0 && !this.idle) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new AbortController();
      await Promise.race([
        this.waitFor('drained', { signal: bound.signal }).catch(() => {}),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, drainTimeoutMs))),
      ]);
      clearTimeout(timer);
      bound.abort();
    }
    this.#closed = true;
    // Waiting work first, so the in-flight runs' reports below are the last to settle.
    for (const job of this.#media.splice(0)) {
      this.#unsettled.delete(job.seq);
      this.#queuedBytes -= job.body.length;
      this.#giveUp(job.key, undefined, job.onSettled);
    }
    for (const job of this.#manifests.values()) this.#giveUp(job.key, undefined);
    this.#manifests.clear();
    this.#abort.abort(new DependencyError('store-closed', 'publisher closed'));
    await Promise.all(this.#running);
    if (this.#givenUp.length > 0) {
      this.#logger.error(
        { count: this.#givenUp.length, keys: this.#givenUp.slice(0, MAX_LOGGED_KEYS), drainTimeoutMs },
        'close(): uploads given up, not in the store',
      );
    }
    this.#givenUp = [];
    this.emit('drained');
  }

  /** Reports an object close() gave up; `lastError` is the store's last answer, if an attempt had failed. */
  #giveUp(key: string, lastError: unknown, onSettled?: (outcome: UploadOutcome) => void): void {
    this.#givenUp.push(key);
    this.emit('uploadFailed', key, storeFailure('store-closed', key, lastError));
    try {
      onSettled?.('failed');
    } catch (err) {
      this.#logger.error({ err, key }, 'upload settle callback threw');
    }
  }

  #oldestUnsettled(): number {
    let min = Infinity;
    for (const s of this.#unsettled) if (s < min) min = s;
    return min;
  }

  /** Starts `run` and keeps it in #running until its report is done. */
  #track(run: Promise<void>): void {
    const p = run
      .catch((err: unknown) => this.#logger.error({ err }, 'upload settle callback threw'))
      .finally(() => this.#running.delete(p));
    this.#running.add(p);
  }

  #pump(): void {
    if (this.#closed) return;
    while (this.#mediaInFlight < this.#concurrency && this.#media.length > 0) {
      const job = this.#media.shift()!;
      this.#mediaInFlight++;
      this.#track(
        this.#run(job.key, job.body, job.meta).then((r) => {
          this.#mediaInFlight--;
          this.#unsettled.delete(job.seq);
          this.#queuedBytes -= job.body.length;
          if (r.outcome === 'abandoned') return this.#giveUp(job.key, r.lastError, job.onSettled);
          const ok = r.outcome === 'stored';
          if (ok) this.emit('uploaded', job.key, 'media');
          try {
            job.onSettled?.(ok ? 'stored' : 'failed');
          } finally {
            this.#settle();
          }
        }),
      );
    }
    if (!this.#manifestInFlight) {
      const oldest = this.#oldestUnsettled();
      const job = [...this.#manifests.values()].find((j) => j.after < oldest);
      if (job) {
        this.#manifests.delete(job.key);
        const body = typeof job.source === 'function' ? job.source() : job.source;
        if (body) {
          this.#manifestInFlight = true;
          this.#track(
            this.#run(job.key, body, job.meta).then((r) => {
              this.#manifestInFlight = false;
              if (r.outcome === 'abandoned') return this.#giveUp(job.key, r.lastError);
              const ok = r.outcome === 'stored';
              if (ok) this.emit('uploaded', job.key, 'manifest');
              try {
                if (ok) job.onUploaded?.();
              } finally {
                this.#settle();
              }
            }),
          );
        } else {
          queueMicrotask(() => this.#settle());
        }
      }
    }
  }

  #settle(): void {
    // Once closed, close() itself says `drained`, after its last report.
    if (this.#closed) return;
    this.#pump();
    if (this.idle) this.emit('drained');
  }

  /** One upload with its retries, transient errors only; a failure is logged and reported here, an abort left to close(). */
  async #run(key: string, body: Buffer, meta: ObjectMeta): Promise<RunResult> {
    const signal = this.#abort.signal;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      try {
        await untilAborted(this.#store.put(key, body, meta, signal), signal);
        return { outcome: 'stored' };
      } catch (err) {
        if (signal.aborted) return { outcome: 'abandoned', lastError };
        lastError = err;
        const transient = isTransientStoreError(err);
        if (!transient || attempt >= this.#policy.maxRetries) {
          const failure = storeFailure(transient ? 'store-unavailable' : 'store-rejected', key, err);
          this.#logger.error(
            { broadcast: broadcastOf(key), key, code: failure instanceof DependencyError ? failure.code : failure.name, err: describeStoreError(err), attempts: attempt + 1 },
            transient ? 'upload failed, retries exhausted' : 'upload refused, not retried',
          );
          this.emit('uploadFailed', key, failure);
          return { outcome: 'failed' };
        }
        const delay = retryDelay(this.#policy, attempt + 1, this.#random);
        this.#logger.warn({ broadcast: broadcastOf(key), key, err: describeStoreError(err), attempt: attempt + 1, delay }, 'upload failed, retrying');
        this.emit('retry', key, attempt + 1, delay, err);
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          return { outcome: 'abandoned', lastError };
        }
      }
    }
  }
}
