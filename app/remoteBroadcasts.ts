import WebSocket from 'ws';
import { DependencyError, InputError, errorMessage, type Logger } from '../common/index.ts';
import type { Sfu } from '../ingest/index.ts';
import type { Cue, CueInput } from '../packager/index.ts';
import type { BroadcastControl } from './broadcasts.ts';
import type { LayoutMode } from './composition.ts';
import { serveStageFeed } from './feedService.ts';
import { FEEDS_PATH } from './internalApi.ts';
import type { BroadcastStatus } from './broadcastStatus.ts';
import { rankNodes, type BroadcastNode } from './placement.ts';
import { RpcChannel } from './rpcChannel.ts';

export interface RemoteBroadcastsDeps {
  sfu: Sfu;
  nodes: readonly BroadcastNode[];
  internalToken: string;
  logger: Logger;
  /** How long a readiness check may take before the node counts as not ready. */
  readyTimeoutMs?: number;
  /** How long a broadcast node may take to answer `start` (FFmpeg up, first media in the packager). */
  startTimeoutMs?: number;
  /** Layout a stage starts with unless its owner chose one. */
  defaultLayout: LayoutMode;
}

type Status = BroadcastStatus & { viewers?: number };

interface Placement {
  node: BroadcastNode;
  channel: RpcChannel;
  last: Status | undefined;
}

/** Where a stage's broadcast runs, as the stage status reports it. */
export interface PlacementInfo {
  nodeId: string;
  /** The node's base URL (internal; not for viewers). */
  nodeUrl: string;
  connected: boolean;
}

/**
 * The SFU's broadcasts, run on broadcast nodes: a stage is placed on the first
 * ready node in rendezvous order of its id (app/placement.ts), asked over the
 * node's internal channel to start, and served its feed back over that channel.
 * Same surface as Broadcasts, so the control API works unchanged.
 */
export class RemoteBroadcasts implements BroadcastControl {
  readonly #deps: RemoteBroadcastsDeps;
  readonly #log: Logger;
  readonly #placements = new Map<string, Placement>();
  /** Layouts the owners chose (the SFU holds the control API; the node gets them at start and on change). */
  readonly #layouts = new Map<string, LayoutMode>();

  constructor(deps: RemoteBroadcastsDeps) {
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'remote-broadcasts' });
  }

  placement(stageId: string): PlacementInfo | undefined {
    const p = this.#placements.get(stageId);
    return p && { nodeId: p.node.id, nodeUrl: p.node.url, connected: !p.channel.closed };
  }

  /** The last viewer count a node reported for a broadcast (distinct clients polling playlists; behind a CDN its nodes). */
  viewers(broadcastId: string): number {
    for (const p of this.#placements.values()) if (p.last?.id === broadcastId) return p.last.viewers ?? 0;
    return 0;
  }

  /** Nodes in placement order for a stage, each with whether it answered its readiness check. */
  async candidates(stageId: string): Promise<{ node: BroadcastNode; ready: boolean; reason?: string }[]> {
    return Promise.all(rankNodes(stageId, this.#deps.nodes).map(async (node) => ({ node, ...(await this.#ready(node)) })));
  }

  get(stageId: string): { stop(reason?: string): Promise<void> } | undefined {
    if (!this.#placements.has(stageId)) return undefined;
    return { stop: async () => void (await this.stop(stageId).catch(() => undefined)) };
  }

  async setLayout(stageId: string, mode: LayoutMode): Promise<LayoutMode> {
    if (!this.#deps.sfu.getStage(stageId)) throw new InputError('unknown-stage', `no stage ${stageId}`, 404);
    this.#layouts.set(stageId, mode);
    const p = this.#placements.get(stageId);
    if (p && !p.channel.closed) await p.channel.request('setLayout', { stageId, mode }, 5000);
    return mode;
  }

  /** Relayed to the node the stage's broadcast runs on; its 4xx come back as they are. */
  async addCaption(stageId: string, cue: CueInput): Promise<Cue> {
    const p = this.#placements.get(stageId);
    if (!p || p.channel.closed) throw new InputError('not-live', `stage ${stageId} has no broadcast`, 409);
    return p.channel.request<Cue>('addCaption', { stageId, cue }, 5000);
  }

  layoutOf(stageId: string): LayoutMode {
    return this.#layouts.get(stageId) ?? this.#deps.defaultLayout;
  }

  forget(stageId: string): void {
    this.#layouts.delete(stageId);
  }

  async goLive(stageId: string): Promise<void> {
    const stage = this.#deps.sfu.getStage(stageId);
    if (!stage) throw new InputError('unknown-stage', `no stage ${stageId}`, 404);
    const existing = this.#placements.get(stageId);
    if (existing && !existing.channel.closed) throw new InputError('already-live', `stage ${stageId} is already live on ${existing.node.id}`, 409);
    if (stage.producers.length === 0) throw new InputError('no-publisher', `no host is publishing on stage ${stageId}`, 409);

    const candidates = await this.candidates(stageId);
    // The first ready node in the stage's order whose channel opens.
    let chosen: BroadcastNode | undefined;
    let channel: RpcChannel | undefined;
    for (const c of candidates) {
      if (!c.ready) continue;
      try {
        channel = await this.#connect(c.node, this.#log);
        chosen = c.node;
        break;
      } catch (err) {
        c.ready = false;
        c.reason = errorMessage(err);
      }
    }
    if (!chosen || !channel) {
      const why = candidates.map((c) => `${c.node.id}: ${c.reason}`).join('; ');
      throw new DependencyError('no-broadcast-node', `no broadcast node is ready (${why || 'none configured'})`);
    }
    const log = this.#log.child({ stage: stageId, node: chosen.id });
    const placement: Placement = { node: chosen, channel, last: undefined };
    const node = chosen;
    this.#placements.set(stageId, placement);
    serveStageFeed(channel, stage, log);
    channel.once('close', (code, reason) => {
      log.info({ code, reason }, 'broadcast node channel closed');
      const last = placement.last;
      if (last && last.state !== 'ended' && last.state !== 'failed') {
        placement.last = { ...last, state: 'failed', error: `connection to broadcast node ${node.id} lost` };
      }
    });
    log.info({ candidates: candidates.map((c) => ({ node: c.node.id, ready: c.ready })) }, 'stage placed on a broadcast node');
    try {
      placement.last = await channel.request<Status>('start', { stage: { id: stage.id, producers: stage.producers, programInput: this.#deps.sfu.config.whep.enabled }, layout: this.layoutOf(stageId) }, this.#deps.startTimeoutMs ?? 90_000);
    } catch (err) {
      placement.last = { id: stageId, stageId, state: 'failed', error: errorMessage(err), renditions: [], input: [] };
      channel.close(1000, 'start failed');
      throw err;
    }
  }

  async stop(stageId: string): Promise<void> {
    const p = this.#placements.get(stageId);
    if (!p) throw new InputError('not-live', `stage ${stageId} has no broadcast`, 404);
    if (p.channel.closed) return;
    p.last = await p.channel.request<Status>('stop', { stageId }, 60_000);
    p.channel.close(1000, 'broadcast stopped');
  }

  async status(stageId: string): Promise<Status | undefined> {
    const p = this.#placements.get(stageId);
    if (!p) return undefined;
    if (!p.channel.closed) {
      try {
        p.last = (await p.channel.request<Status | null>('status', { stageId }, 5000)) ?? p.last;
      } catch (err) {
        this.#log.warn({ err: errorMessage(err), stage: stageId }, 'broadcast status from the node failed; reporting the last one');
      }
    }
    return p.last;
  }

  /** Closes every channel; each node ends the broadcasts it ran for this SFU. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#placements.keys()].map((id) => this.stop(id).catch(() => undefined)));
    for (const p of this.#placements.values()) p.channel.close(1001, 'sfu shutting down');
  }

  async #ready(node: BroadcastNode): Promise<{ ready: boolean; reason?: string }> {
    try {
      const res = await fetch(new URL('/internal/ready', node.url), {
        headers: { authorization: `Bearer ${this.#deps.internalToken}` },
        signal: AbortSignal.timeout(this.#deps.readyTimeoutMs ?? 2000),
      });
      if (!res.ok) return { ready: false, reason: `HTTP ${res.status}` };
      const body = (await res.json()) as { nodeId?: unknown };
      // A node answering with another id is misconfigured (two ids for one URL): never place on it.
      if (body.nodeId !== node.id) return { ready: false, reason: `answers as node ${String(body.nodeId)}` };
      return { ready: true };
    } catch (err) {
      return { ready: false, reason: errorMessage(err) };
    }
  }

  #connect(node: BroadcastNode, log: Logger): Promise<RpcChannel> {
    const url = new URL(FEEDS_PATH, node.url);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${this.#deps.internalToken}` }, maxPayload: 256 * 1024, handshakeTimeout: 5000 });
      const fail = (err: Error) => {
        ws.terminate();
        reject(new DependencyError('broadcast-node-unreachable', `cannot open the internal channel to ${node.id}: ${err.message}`));
      };
      ws.once('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', fail);
      ws.once('open', () => {
        ws.off('error', fail);
        resolve(new RpcChannel(ws, log));
      });
    });
  }
}
