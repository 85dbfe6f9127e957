import fs from 'node:fs/promises';
import path from 'node:path';
import { S3Client, PutObjectCommand, GetObjectCommand, type S3ClientConfig } from '@aws-sdk/client-s3';
import { DependencyError, TypedEmitter, errorMessage, type Logger } from '../common/index.ts';
import type { RetryPolicy } from './config.ts';

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
  put(key: string, body: Buffer, meta: ObjectMeta): Promise<void>;
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

  async put(key: string, body: Buffer, meta: ObjectMeta): Promise<void> {
    assertSafeKey(key);
    await this.#client.send(
      new PutObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key, Body: body, ContentType: meta.contentType, CacheControl: meta.cacheControl }),
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

/** Whether an upload error is worth retrying: network errors and 5xx (and 429). */
export function isRetryable(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  const code = (err as NodeJS.ErrnoException)?.code;
  return code !== undefined ? ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'EBUSY', 'EMFILE'].includes(code) : true;
}

/** Delay before retry number `attempt` (1-based). */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.delayMs * policy.backoffFactor ** (attempt - 1));
}

export interface PublisherEvents {
  /** The queue was full; this job was dropped (the media path is never blocked). */
  queueFull: [key: string, queued: number];
  /** An upload failed for good after its retries. */
  uploadFailed: [key: string, error: unknown];
  uploaded: [key: string, kind: 'media' | 'manifest'];
  /** Nothing queued and nothing in flight. */
  drained: [];
}

interface Job {
  key: string;
  body: Buffer;
  meta: ObjectMeta;
  kind: 'media' | 'manifest';
}

/**
 * Uploads to an ObjectStore in publishing order: media objects are uploaded
 * concurrently; a manifest waits until every job queued before it has finished
 * (so it never names an object that is not there yet), and manifests are written
 * one at a time, a newer copy replacing an older one still waiting.
 */
export class Publisher extends TypedEmitter<PublisherEvents> {
  readonly #store: ObjectStore;
  readonly #policy: RetryPolicy;
  readonly #max: number;
  readonly #concurrency: number;
  readonly #logger: Logger;
  #queue: Job[] = [];
  #inFlight = 0;
  #delayTimers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(store: ObjectStore, opts: { retry: RetryPolicy; maxQueued: number; concurrency: number; logger: Logger }) {
    super();
    this.#store = store;
    this.#policy = opts.retry;
    this.#max = opts.maxQueued;
    this.#concurrency = opts.concurrency;
    this.#logger = opts.logger;
    this.onListenerError((event, err) => this.#logger.error({ err, event }, 'publisher listener threw'));
  }

  get queued(): number {
    return this.#queue.length;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Queues an upload; returns false (and reports `queueFull`) when the queue is full. */
  enqueue(key: string, body: Buffer, meta: ObjectMeta, kind: 'media' | 'manifest'): boolean {
    if (this.#closed) return false;
    if (kind === 'manifest') {
      // A newer copy of a manifest supersedes one still waiting.
      const i = this.#queue.findIndex((j) => j.key === key);
      if (i >= 0) this.#queue.splice(i, 1);
    }
    if (this.#queue.length >= this.#max) {
      this.#logger.error({ key, queued: this.#queue.length }, 'upload queue full, dropping upload');
      this.emit('queueFull', key, this.#queue.length);
      return false;
    }
    this.#queue.push({ key, body, meta, kind });
    this.#pump();
    return true;
  }

  /** Resolves when everything queued so far has been uploaded (or has failed). */
  async drain(): Promise<void> {
    if (this.#queue.length === 0 && this.#inFlight === 0) return;
    await this.waitFor('drained');
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#delayTimers) clearTimeout(t);
    this.#delayTimers.clear();
  }

  #pump(): void {
    while (this.#inFlight < this.#concurrency && this.#queue.length > 0) {
      const next = this.#queue[0]!;
      // Barrier: a manifest starts only after everything before it has finished.
      if (next.kind === 'manifest' && this.#inFlight > 0) return;
      this.#queue.shift();
      this.#inFlight++;
      void this.#run(next).finally(() => {
        this.#inFlight--;
        if (this.#queue.length === 0 && this.#inFlight === 0) this.emit('drained');
        this.#pump();
      });
      if (next.kind === 'manifest') return;
    }
  }

  async #run(job: Job): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#store.put(job.key, job.body, job.meta);
        this.emit('uploaded', job.key, job.kind);
        return;
      } catch (err) {
        if (this.#closed || attempt >= this.#policy.maxRetries || !isRetryable(err)) {
          this.#logger.error({ key: job.key, err: errorMessage(err), attempts: attempt + 1 }, 'upload failed');
          this.emit('uploadFailed', job.key, err);
          return;
        }
        const delay = retryDelay(this.#policy, attempt + 1);
        this.#logger.warn({ key: job.key, err: errorMessage(err), delay }, 'upload failed, retrying');
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            this.#delayTimers.delete(t);
            resolve();
          }, delay);
          this.#delayTimers.add(t);
        });
      }
    }
  }
}
