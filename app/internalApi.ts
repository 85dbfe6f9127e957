import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type Router } from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import { InputError, bearerMatches, type Logger } from '../common/index.ts';
import type { Broadcasts } from './broadcasts.ts';
import { parseCue } from './captionIngest.ts';
import { RemoteStageFeed, remoteStageSchema } from './remoteFeed.ts';
import { RpcChannel } from './rpcChannel.ts';
import type { StageFeedSource } from './stageFeed.ts';
import type { ViewerEstimator } from './viewers.ts';

const layoutSchema = z.enum(['grid', 'speaker']);

export interface InternalApiOptions {
  nodeId: string;
  token: string;
  broadcasts: Broadcasts;
  viewers: Pick<ViewerEstimator, 'count'>;
  logger: Logger;
}

/** Where this node's channel endpoint lives; SFUs connect to `<node url>/internal/feeds`. */
export const FEEDS_PATH = '/internal/feeds';

/**
 * A broadcast node's internal API (Bearer internal token; never routed through
 * the CDN): `GET /internal/ready` for placement, and one WebSocket per broadcast
 * at `/internal/feeds` over which an SFU asks for a broadcast of a stage it
 * holds (`start`, `stop`, `status`) and serves that stage's feed back.
 */
export class InternalApi implements StageFeedSource {
  readonly router: Router;
  readonly #opts: InternalApiOptions;
  readonly #log: Logger;
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 256 * 1024 });
  readonly #feeds = new Map<string, RemoteStageFeed>();
  readonly #channels = new Set<RpcChannel>();
  #server: Server | undefined;
  #draining = false;

  constructor(opts: InternalApiOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ component: 'internal-api' });
    this.router = express.Router();
    this.router.use((req, res, next) => {
      if (!bearerMatches(req.get('authorization'), opts.token)) return void res.status(401).json({ error: { code: 'unauthorized', message: 'internal token required' } });
      next();
    });
    // 503 while draining: SFUs place no new stage here, running ones go on until they stop.
    this.router.get('/ready', (_req, res) => {
      res.status(this.#draining ? 503 : 200).json({ ok: !this.#draining, draining: this.#draining, nodeId: opts.nodeId, feeds: this.liveFeeds });
    });
    // Called by the pod's preStop hook (scripts/drain.ts) before SIGTERM.
    this.router.post('/drain', (_req, res) => {
      if (!this.#draining) this.#log.info({ feeds: this.liveFeeds }, 'draining: no new broadcasts');
      this.#draining = true;
      res.json({ draining: true, nodeId: opts.nodeId, feeds: this.liveFeeds });
    });
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Broadcasts SFUs are feeding to this node now. */
  get liveFeeds(): number {
    return [...this.#feeds.values()].filter((f) => !f.closed).length;
  }

  getStage(id: string): RemoteStageFeed | undefined {
    return this.#feeds.get(id);
  }

  attach(server: Server): void {
    this.#server = server;
    server.on('upgrade', this.#onUpgrade);
  }

  close(): void {
    this.#server?.off('upgrade', this.#onUpgrade);
    for (const c of this.#channels) c.close(1001, 'node shutting down');
    this.#wss.close();
  }

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== FEEDS_PATH) return; // another upgrade handler's path
    if (!bearerMatches(req.headers.authorization, this.#opts.token)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
  };

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const log = this.#log.child({ remote: req.socket.remoteAddress });
    const channel = new RpcChannel(ws, log);
    this.#channels.add(channel);
    let stageId: string | undefined;
    let feed: RemoteStageFeed | undefined;
    channel.once('close', () => {
      this.#channels.delete(channel);
      if (stageId && this.#feeds.get(stageId) === feed) this.#feeds.delete(stageId);
    });
    const status = async (id: string) => {
      const s = await this.#opts.broadcasts.status(id);
      return s ? { ...s, viewers: this.#opts.viewers.count(s.id) } : null; // viewers watch the broadcast's media
    };
    const own = (params: unknown): string => {
      const id = (params as { stageId?: unknown } | null)?.stageId;
      if (typeof id !== 'string' || id !== stageId) throw new InputError('not-this-channel', 'this channel carries no such stage', 404);
      return id;
    };

    channel
      .handle('start', async (params) => {
        if (stageId) throw new InputError('already-started', 'this channel already carries a broadcast', 409);
        if (this.#draining) throw new InputError('draining', `node ${this.#opts.nodeId} is draining`, 503);
        const parsed = remoteStageSchema.safeParse((params as { stage?: unknown } | null)?.stage);
        if (!parsed.success) throw new InputError('bad-params', `start: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
        const stage = parsed.data;
        if (this.#feeds.get(stage.id)?.closed === false) throw new InputError('already-live', `stage ${stage.id} already has a feed on this node`, 409);
        stageId = stage.id;
        feed = new RemoteStageFeed(channel, stage, log);
        this.#feeds.set(stage.id, feed);
        log.info({ stage: stage.id }, 'broadcast requested by an SFU');
        const layout = layoutSchema.safeParse((params as { layout?: unknown } | null)?.layout);
        if (layout.success) this.#opts.broadcasts.setLayout(stage.id, layout.data);
        await this.#opts.broadcasts.goLive(stage.id);
        return status(stage.id);
      })
      .handle('stop', async (params) => {
        const id = own(params);
        await this.#opts.broadcasts.stop(id);
        return status(id);
      })
      .handle('status', (params) => status(own(params)))
      .handle('addCaption', (params) => {
        return this.#opts.broadcasts.addCaption(own(params), parseCue((params as { cue?: unknown }).cue));
      })
      .handle('setLayout', (params) => {
        const id = own(params);
        const mode = layoutSchema.safeParse((params as { mode?: unknown }).mode);
        if (!mode.success) throw new InputError('bad-params', 'setLayout: mode must be "grid" or "speaker"');
        return this.#opts.broadcasts.setLayout(id, mode.data);
      });
  }
}
