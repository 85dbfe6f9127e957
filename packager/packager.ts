import { InvalidStateError, TypedEmitter, type Logger } from '../common/index.ts';
import { Broadcast, ID_PATTERN, type BroadcastOptions } from './broadcast.ts';
import { parsePackagerConfig, type PackagerConfig, type PackagerConfigInput } from './config.ts';
import { Publisher, type ObjectStore } from './store.ts';

export interface PackagerEvents {
  newBroadcast: [broadcast: Broadcast];
  /** An ended broadcast left memory (removeBroadcast): the store serves it from now on. */
  broadcastRemoved: [broadcastId: string];
  closed: [];
}

export interface PackagerDeps {
  logger: Logger;
  /** Durable store; without one the packager serves from memory only. */
  store?: ObjectStore;
}

/**
 * Creates broadcasts and owns the upload publisher. `close()` ends every
 * broadcast (ENDLIST, static MPD) and drains the uploads (for at most
 * `closeDrainTimeoutMs`); safe twice.
 */
export class Packager extends TypedEmitter<PackagerEvents> {
  readonly config: PackagerConfig;
  readonly store: ObjectStore | undefined;
  readonly publisher: Publisher | undefined;
  readonly #logger: Logger;
  readonly #broadcasts = new Map<string, Broadcast>();
  #closed = false;

  constructor(config: PackagerConfigInput | PackagerConfig, deps: PackagerDeps) {
    super();
    this.config = parsePackagerConfig(config);
    this.#logger = deps.logger.child({ role: 'packager' });
    this.onListenerError((event, err) => this.#logger.error({ err, event }, 'packager listener threw'));
    this.store = deps.store;
    this.publisher = deps.store
      ? new Publisher(deps.store, {
          retry: this.config.uploadRetry,
          maxQueued: this.config.uploadQueueMax,
          maxQueuedBytes: this.config.uploadQueueMaxBytes,
          concurrency: this.config.uploadConcurrency,
          logger: this.#logger.child({ component: 'publisher' }),
        })
      : undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  createBroadcast(broadcastId: string, options: BroadcastOptions = {}): Broadcast {
    if (this.#closed) throw new InvalidStateError('createBroadcast() after close()');
    if (!ID_PATTERN.test(broadcastId)) throw new TypeError(`invalid broadcast id ${JSON.stringify(broadcastId)}`);
    if (this.#broadcasts.has(broadcastId)) throw new InvalidStateError(`broadcast ${broadcastId} already exists`);
    const b = new Broadcast(broadcastId, this.config, this.#logger.child({ broadcast: broadcastId }), this.publisher, options);
    this.#broadcasts.set(broadcastId, b);
    this.#logger.info({ broadcast: broadcastId }, 'createBroadcast()');
    this.emit('newBroadcast', b);
    return b;
  }

  getBroadcast(broadcastId: string): Broadcast | undefined {
    return this.#broadcasts.get(broadcastId);
  }

  get broadcasts(): Broadcast[] {
    return [...this.#broadcasts.values()];
  }

  /** Forgets an ended broadcast (its objects stay in the store and are served from there). */
  removeBroadcast(broadcastId: string): void {
    const b = this.#broadcasts.get(broadcastId);
    if (!b) return;
    b.end();
    this.#broadcasts.delete(broadcastId);
    this.emit('broadcastRemoved', broadcastId);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const b of this.#broadcasts.values()) b.end();
    if (this.publisher) {
      const pub = this.publisher;
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        pub.drain().then(() => true),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), this.config.closeDrainTimeoutMs))),
      ]);
      clearTimeout(timer);
      if (!drained) {
        this.#logger.error(
          { queued: pub.queued, queuedBytes: pub.queuedBytes, pendingManifests: pub.pendingManifests, timeoutMs: this.config.closeDrainTimeoutMs },
          'uploads not drained in time; giving them up',
        );
      }
      pub.close();
    }
    this.#logger.info('close()');
    this.emit('closed');
  }
}

export function createPackager(config: PackagerConfigInput, deps: PackagerDeps): Packager {
  return new Packager(config, deps);
}
