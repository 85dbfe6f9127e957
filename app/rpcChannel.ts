import type { RawData, WebSocket } from 'ws';
import { z } from 'zod';
import { DependencyError, InputError, InvalidStateError, TypedEmitter, errorMessage, type Logger } from '../common/index.ts';

/**
 * The node-to-node channel between an SFU and a broadcast node: requests by
 * method name and events by name, JSON over one WebSocket, both ways. It knows
 * no method: the feed (app/remoteFeed.ts, app/feedService.ts) gives them meaning,
 * so adding a method or an event is one handler on each side.
 */
const resultSchema = z.union([
  z.object({ t: z.literal('res'), id: z.number().int().nonnegative(), ok: z.literal(true), result: z.unknown() }),
  z.object({
    t: z.literal('res'),
    id: z.number().int().nonnegative(),
    ok: z.literal(false),
    error: z.object({ code: z.string(), message: z.string(), status: z.number().int().optional() }),
  }),
]);
const messageSchema = z.union([
  z.object({ t: z.literal('req'), id: z.number().int().nonnegative(), method: z.string().min(1).max(64), params: z.unknown() }),
  resultSchema,
  z.object({ t: z.literal('event'), name: z.string().min(1).max(64), data: z.unknown() }),
]);
type Message = z.infer<typeof messageSchema>;

export interface RpcChannelEvents {
  /** An event from the other side. */
  event: [name: string, data: unknown];
  /** The socket closed (either side, or the network); pending requests have been rejected. */
  close: [code: number, reason: string];
}

export type RpcHandler = (params: unknown) => Promise<unknown> | unknown;

export class RpcChannel extends TypedEmitter<RpcChannelEvents> {
  readonly #ws: WebSocket;
  readonly #log: Logger;
  readonly #handlers = new Map<string, RpcHandler>();
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextId = 0;
  #closed = false;

  constructor(ws: WebSocket, logger: Logger) {
    super();
    this.#ws = ws;
    this.#log = logger;
    this.onListenerError((event, err) => logger.error({ err, event }, 'rpc channel listener threw'));
    ws.on('message', (data: RawData, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.once('close', (code: number, reason: Buffer) => this.#onClose(code, reason.toString()));
    ws.on('error', (err: Error) => logger.warn({ err }, 'internal channel socket error'));
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Serves `method`; a handler's InputError reaches the caller with its code and status. */
  handle(method: string, handler: RpcHandler): this {
    this.#handlers.set(method, handler);
    return this;
  }

  request<T = unknown>(method: string, params: unknown = {}, timeoutMs = 30_000): Promise<T> {
    if (this.#closed) return Promise.reject(new DependencyError('channel-closed', `internal channel closed; cannot call ${method}`));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new DependencyError('channel-timeout', `${method} got no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#send({ t: 'req', id, method, params });
    });
  }

  /** Sends an event; dropped silently once the channel is closed (nobody is listening). */
  notify(name: string, data: unknown = {}): void {
    if (!this.#closed) this.#send({ t: 'event', name, data });
  }

  close(code = 1000, reason = ''): void {
    if (this.#closed) return;
    this.#ws.close(code, reason);
    // The close handshake may never finish if the peer is gone; don't wait for it.
    const timer = setTimeout(() => this.#ws.terminate(), 2000);
    timer.unref();
  }

  #send(msg: Message): void {
    this.#ws.send(JSON.stringify(msg), (err) => {
      if (err) this.#log.warn({ err }, 'internal channel send failed');
    });
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    let msg: Message;
    try {
      if (isBinary) throw new InputError('bad-message', 'binary message');
      msg = messageSchema.parse(JSON.parse(data.toString()));
    } catch (err) {
      // A peer that speaks something else is misconfigured: say so and hang up.
      this.#log.error({ err: errorMessage(err) }, 'malformed internal channel message; closing');
      this.close(1007, 'malformed message');
      return;
    }
    if (msg.t === 'event') {
      this.emit('event', msg.name, msg.data);
      return;
    }
    if (msg.t === 'req') {
      void this.#serve(msg.id, msg.method, msg.params);
      return;
    }
    const pending = this.#pending.get(msg.id);
    if (!pending) return; // answered after its timeout
    this.#pending.delete(msg.id);
    clearTimeout(pending.timer);
    if (msg.ok) pending.resolve(msg.result);
    else {
      const e = msg.error;
      pending.reject(e.status && e.status < 500 ? new InputError(e.code, e.message, e.status) : new DependencyError(e.code, e.message));
    }
  }

  async #serve(id: number, method: string, params: unknown): Promise<void> {
    const handler = this.#handlers.get(method);
    try {
      if (!handler) throw new InputError('unknown-method', `no method ${method}`, 404);
      const result = await handler(params);
      if (!this.#closed) this.#send({ t: 'res', id, ok: true, result: result ?? null });
    } catch (err) {
      const status = err instanceof InputError ? err.status : err instanceof InvalidStateError ? 409 : 500;
      const code = (err as { code?: unknown }).code;
      if (status >= 500) this.#log.error({ err, method }, 'internal request failed');
      if (!this.#closed) {
        this.#send({ t: 'res', id, ok: false, error: { code: typeof code === 'string' ? code : 'internal', message: errorMessage(err), status } });
      }
    }
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new DependencyError('channel-closed', `internal channel closed (${code}${reason ? ` ${reason}` : ''}) before request ${id} was answered`));
    }
    this.#pending.clear();
    this.emit('close', code, reason);
  }
}
