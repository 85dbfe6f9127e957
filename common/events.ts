import { EventEmitter } from 'node:events';

/**
 * An EventEmitter typed by an event map (name → argument tuple). A listener that
 * throws is reported through `listenerError` and never breaks the emitter or the
 * other listeners: one faulty consumer must not stop the media path.
 */
export class TypedEmitter<E extends { [K in keyof E]: unknown[] }> {
  readonly #emitter = new EventEmitter({ captureRejections: false });
  #onListenerError: (event: string, err: unknown) => void = () => {};

  constructor() {
    this.#emitter.setMaxListeners(Infinity);
  }

  /** Where exceptions thrown by listeners go (a logger, usually). */
  onListenerError(handler: (event: string, err: unknown) => void): void {
    this.#onListenerError = handler;
  }

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  listenerCount<K extends keyof E & string>(event: K): number {
    return this.#emitter.listenerCount(event);
  }

  removeAllListeners(): void {
    this.#emitter.removeAllListeners();
  }

  /** Calls every listener; one that throws is reported and the rest still run. */
  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    const listeners = this.#emitter.rawListeners(event) as ((...a: unknown[]) => void)[];
    for (const listener of listeners) {
      try {
        listener(...args);
      } catch (err) {
        try {
          this.#onListenerError(event, err);
        } catch {
          // The error handler itself failed; nothing sensible is left to do.
        }
      }
    }
    return listeners.length > 0;
  }

  /** Resolves with the event's arguments the next time it fires. */
  waitFor<K extends keyof E & string>(event: K, options: { signal?: AbortSignal; filter?: (...args: E[K]) => boolean } = {}): Promise<E[K]> {
    return new Promise((resolve, reject) => {
      const onEvent = (...args: E[K]) => {
        // Not the one awaited: keep listening.
        if (options.filter && !options.filter(...args)) return;
        this.off(event, onEvent);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(args);
      };
      const onAbort = () => {
        this.off(event, onEvent);
        reject(options.signal?.reason ?? new Error(`aborted waiting for ${event}`));
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.on(event, onEvent);
    });
  }
}
