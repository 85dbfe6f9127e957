import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { types as ms } from 'mediasoup';
import { ClientRateLimiter, InputError, InvalidStateError, TokenBucket, type Logger } from '../../common/index.ts';
import type { Sfu } from '../sfu.ts';
import type { Host, Stage } from '../stage.ts';
import { parseRequest, requestIdOf, type ServerMessage, type SignalRequest } from './messages.ts';

/** WebSocket close codes, in the private range, mirroring HTTP statuses. */
export const CloseCode = {
  unauthorized: 4401,
  forbidden: 4403,
  notFound: 4404,
  rateLimited: 4429,
  stageClosed: 4410,
  joinTimeout: 4408,
  /** The stage owner removed this host. */
  removed: 4409,
} as const;

const REJECTIONS_BEFORE_CLOSE = 50;

/**
 * Host signalling over WebSocket at `path`. Each connection joins one stage with
 * a host token, then creates a send transport and produces. Every message is
 * validated; a bad one gets an error reply and nothing else happens. One
 * connection's failure never affects another.
 */
export class SignallingServer {
  readonly #wss: WebSocketServer;
  readonly #sfu: Sfu;
  readonly #log: Logger;
  readonly #path: string;
  readonly #sessions = new Set<Session>();
  readonly #onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Connection attempts per client address (a flood of connections is refused before any WebSocket exists). */
  readonly #connectLimiter: ClientRateLimiter;
  #server: Server | undefined;

  constructor(sfu: Sfu, logger: Logger, path = '/ws') {
    this.#sfu = sfu;
    this.#log = logger.child({ component: 'signalling' });
    this.#path = path;
    const { connectRatePerSecond, connectBurst } = sfu.config.signalling;
    this.#connectLimiter = new ClientRateLimiter({ perSecond: connectRatePerSecond, burst: connectBurst });
    // The hard cap closes the socket (1009); below it, oversized messages get an error reply.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: 4 * sfu.config.signalling.maxMessageBytes });
    this.#onUpgrade = (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== this.#path) return; // another upgrade handler's path
      if (!this.#connectLimiter.take(req.socket.remoteAddress ?? 'unknown')) {
        this.#log.debug({ remote: req.socket.remoteAddress }, 'signalling connection refused: too many from this address');
        socket.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
    };
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  attach(server: Server): void {
    this.#server = server;
    server.on('upgrade', this.#onUpgrade);
  }

  close(): void {
    this.#server?.off('upgrade', this.#onUpgrade);
    for (const s of this.#sessions) s.close(1001, 'server shutting down');
    this.#wss.close();
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const session = new Session(ws, this.#sfu, this.#log.child({ remote: req.socket.remoteAddress }));
    this.#sessions.add(session);
    ws.once('close', () => {
      this.#sessions.delete(session);
      session.dispose();
    });
  }
}

class Session {
  readonly #ws: WebSocket;
  readonly #sfu: Sfu;
  #log: Logger;
  readonly #bucket: TokenBucket;
  readonly #joinTimer: NodeJS.Timeout;
  #stage: Stage | undefined;
  #host: Host | undefined;
  #rejections = 0;
  #queue: Promise<void> = Promise.resolve();
  #onStageClose = (): void => {
    this.#send({ notification: 'stageClosed', data: { reason: this.#stage?.closeReason ?? 'closed' } });
    this.close(CloseCode.stageClosed, 'stage closed');
  };

  constructor(ws: WebSocket, sfu: Sfu, log: Logger) {
    this.#ws = ws;
    this.#sfu = sfu;
    this.#log = log;
    const { ratePerSecond, rateBurst, joinTimeoutMs } = sfu.config.signalling;
    this.#bucket = new TokenBucket(ratePerSecond, rateBurst, Date.now());
    this.#joinTimer = setTimeout(() => {
      if (!this.#host) this.close(CloseCode.joinTimeout, 'no join in time');
    }, joinTimeoutMs);
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('error', (err) => this.#log.warn({ err }, 'signalling socket error'));
  }

  close(code: number, reason: string): void {
    if (this.#ws.readyState === this.#ws.OPEN || this.#ws.readyState === this.#ws.CONNECTING) this.#ws.close(code, reason);
  }

  /** The socket is gone: the host leaves the stage. */
  dispose(): void {
    clearTimeout(this.#joinTimer);
    this.#stage?.off('close', this.#onStageClose);
    this.#host?.close();
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    if (!this.#bucket.take(Date.now())) {
      this.#reject(requestIdOf(raw), new InputError('rate-limited', 'too many messages; slow down', 429));
      if (++this.#rejections >= REJECTIONS_BEFORE_CLOSE) this.close(CloseCode.rateLimited, 'rate limit exceeded');
      return;
    }
    let request: SignalRequest;
    try {
      if (isBinary) throw new InputError('malformed', 'binary messages are not accepted');
      request = parseRequest(raw, this.#sfu.config.signalling.maxMessageBytes);
    } catch (err) {
      this.#reject(requestIdOf(raw), err);
      return;
    }
    // Requests of one connection are handled in order.
    this.#queue = this.#queue.then(() => this.#handle(request));
  }

  async #handle(request: SignalRequest): Promise<void> {
    try {
      const data = await this.#dispatch(request);
      this.#send({ id: request.id, ok: true, data: data ?? null });
    } catch (err) {
      this.#reject(request.id, err);
    }
  }

  async #dispatch(req: SignalRequest): Promise<unknown> {
    if (req.method === 'join') return this.#join(req.data.stageId, req.data.token);
    const host = this.#host;
    if (!host) throw new InputError('not-joined', 'join a stage first', 401);
    switch (req.method) {
      case 'createTransport':
        return host.createTransport();
      case 'connectTransport':
        await host.connectTransport(req.data.transportId, req.data.dtlsParameters as ms.DtlsParameters);
        return null;
      case 'produce': {
        const info = await host.produce(req.data.transportId, req.data.kind, req.data.rtpParameters as unknown as ms.RtpParameters, req.data.source);
        return { id: info.id };
      }
      case 'closeProducer':
        host.closeProducer(req.data.producerId);
        return null;
      case 'getStats':
        return { producers: await host.stats() };
      case 'leave':
        host.close();
        this.#host = undefined;
        this.close(1000, 'left');
        return null;
    }
  }

  #join(stageId: string, token: string): unknown {
    if (this.#host) throw new InputError('already-joined', 'this connection already joined a stage', 409);
    const { stage, claims } = this.#sfu.authorize(stageId, token);
    const host = stage.addHost(claims.role, claims.name);
    clearTimeout(this.#joinTimer);
    this.#stage = stage;
    this.#host = host;
    this.#log = this.#log.child({ stage: stage.id, host: host.id });
    stage.once('close', this.#onStageClose);
    host.onRemoved((reason) => {
      this.#send({ notification: 'removed', data: { reason } });
      this.#host = undefined;
      this.close(CloseCode.removed, reason);
    });
    return { hostId: host.id, role: claims.role, routerRtpCapabilities: stage.rtpCapabilities, simulcastLayers: this.#sfu.config.hostSimulcastLayers ?? 1 };
  }

  #reject(id: string | null, err: unknown): void {
    const { code, message, status } = classify(err);
    if (status >= 500) this.#log.error({ err }, 'signalling request failed');
    else this.#log.debug({ code, message }, 'signalling request refused');
    this.#send({ id, ok: false, error: { code, message } });
    if (status === 401 || status === 403 || status === 404) {
      if (!this.#host) this.close(status === 401 ? CloseCode.unauthorized : status === 403 ? CloseCode.forbidden : CloseCode.notFound, code);
    }
  }

  #send(message: ServerMessage): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(JSON.stringify(message));
  }
}

/** Who is to blame: the client (4xx with its code) or us (500, details only in our log). */
function classify(err: unknown): { code: string; message: string; status: number } {
  if (err instanceof InputError) return { code: err.code, message: err.message, status: err.status };
  if (err instanceof InvalidStateError) return { code: 'invalid-state', message: err.message, status: 409 };
  // mediasoup rejects bad parameters with TypeError and unsupported media with UnsupportedError.
  if (err instanceof TypeError) return { code: 'invalid-parameters', message: err.message, status: 400 };
  if (err instanceof Error && err.name === 'UnsupportedError') return { code: 'unsupported-codec', message: err.message, status: 415 };
  return { code: 'internal', message: 'internal error', status: 500 };
}
