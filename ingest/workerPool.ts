import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { InvalidStateError, TypedEmitter, type Logger } from '../common/index.ts';

export interface WorkerPoolOptions {
  numWorkers: number;
  logLevel: ms.WorkerLogLevel;
}

export interface WorkerPoolEvents {
  /** A worker died unexpectedly; it has been replaced (or replacement failed). */
  workerdied: [pid: number, error: Error];
  /** A dead worker's replacement is up. */
  workerreplaced: [deadPid: number, newPid: number];
  /** A replacement worker for a dead one could not be started. */
  replacefailed: [error: Error];
}

/**
 * mediasoup workers, one per core by default. A worker that dies is logged and
 * replaced; the Routers it carried close with it (their stages notice through
 * `workerclose` and close with a clear reason). Closing the pool closes them all.
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #workers: ms.Worker[] = [];
  readonly #load = new Map<ms.Worker, number>();
  readonly #opts: WorkerPoolOptions;
  readonly #log: Logger;
  #closed = false;

  private constructor(opts: WorkerPoolOptions, log: Logger) {
    super();
    this.#opts = opts;
    this.#log = log;
    this.onListenerError((event, err) => log.error({ err, event }, 'WorkerPool listener threw'));
  }

  static async create(opts: WorkerPoolOptions, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(opts, log.child({ component: 'worker-pool' }));
    try {
      for (let i = 0; i < opts.numWorkers; i++) await pool.#spawn();
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.#workers.length;
  }

  get pids(): number[] {
    return this.#workers.map((w) => w.pid);
  }

  /** The least loaded worker, for a new Router; the caller reports the Router's close. */
  acquire(): { worker: ms.Worker; release: () => void } {
    if (this.#closed) throw new InvalidStateError('worker pool is closed');
    const worker = [...this.#workers].sort((a, b) => (this.#load.get(a) ?? 0) - (this.#load.get(b) ?? 0))[0];
    if (!worker) throw new InvalidStateError('no mediasoup worker is running');
    this.#load.set(worker, (this.#load.get(worker) ?? 0) + 1);
    let released = false;
    return {
      worker,
      release: () => {
        if (released) return;
        released = true;
        const n = this.#load.get(worker);
        if (n !== undefined) this.#load.set(worker, Math.max(0, n - 1));
      },
    };
  }

  /**
   * Closes every worker; resolves once their processes have exited (or after
   * `timeoutMs`, logged), so a shutdown leaves no worker behind. Safe twice.
   */
  close(timeoutMs = 5_000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    const exited = this.#workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.subprocessClosed) return resolve();
          const timer = setTimeout(() => {
            this.#log.warn({ pid: w.pid }, 'mediasoup worker did not exit in time');
            resolve();
          }, timeoutMs);
          w.once('subprocessclose', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    );
    for (const w of this.#workers) w.close();
    this.#workers.length = 0;
    this.#load.clear();
    this.#log.debug('close()');
    return Promise.all(exited).then(() => undefined);
  }

  async #spawn(): Promise<ms.Worker> {
    const worker = await mediasoup.createWorker({ logLevel: this.#opts.logLevel });
    if (this.#closed) {
      worker.close();
      throw new InvalidStateError('worker pool closed while starting a worker');
    }
    this.#workers.push(worker);
    this.#load.set(worker, 0);
    this.#log.info({ pid: worker.pid }, 'mediasoup worker started');
    worker.on('died', (error) => this.#onDied(worker, error));
    return worker;
  }

  #onDied(worker: ms.Worker, error: Error): void {
    const i = this.#workers.indexOf(worker);
    if (i >= 0) this.#workers.splice(i, 1);
    this.#load.delete(worker);
    this.#log.error({ pid: worker.pid, err: error }, 'mediasoup worker died; replacing it');
    this.emit('workerdied', worker.pid, error);
    if (this.#closed) return;
    this.#spawn().then(
      (replacement) => this.emit('workerreplaced', worker.pid, replacement.pid),
      (err: Error) => {
        this.#log.error({ err }, 'could not replace a dead mediasoup worker');
        this.emit('replacefailed', err);
      },
    );
  }
}
