import { InputError, broadcastIdFor, type Logger, type UdpPortPool } from '../common/index.ts';
import type { RtpTargetHook } from '../ingest/index.ts';
import type { Cue, CueInput, Packager } from '../packager/index.ts';
import type { TranscodeConfig } from '../transcode/index.ts';
import type { ComposeConfig } from './config.ts';
import type { LayoutMode } from './composition.ts';
import type { BroadcastStatus } from './broadcastStatus.ts';
import { LiveBroadcast } from './liveBroadcast.ts';
import type { Recordings } from './recordings.ts';
import type { StageFeedSource } from './stageFeed.ts';

export interface BroadcastsDeps {
  /** Where stages are found: the Sfu in role `all`, the feeds SFUs opened in role `broadcast`. */
  sfu: StageFeedSource;
  packager: Packager;
  transcode: TranscodeConfig;
  compose: ComposeConfig;
  portPool: UdpPortPool;
  rtpAddress: string;
  /** Every broadcast also sends its program back into the SFU as RTP, for WHEP viewers. */
  whep?: boolean;
  /** Something between the SFU and FFmpeg (tests: a UDP impairment proxy); unset in production. */
  rtpTarget?: RtpTargetHook;
  /** How long an ended broadcast stays in memory before the store serves it alone. */
  endedGraceMs: number;
  /** The store's index of finished broadcasts (VODs); every broadcast that ends is added. */
  recordings?: Recordings;
  logger: Logger;
}

/**
 * What the control API needs of broadcasts: Broadcasts in this process (role
 * `all`), or RemoteBroadcasts on broadcast nodes (role `sfu`).
 */
export interface BroadcastControl {
  goLive(stageId: string): Promise<unknown>;
  stop(stageId: string): Promise<unknown>;
  status(stageId: string): Promise<BroadcastStatus | undefined>;
  get(stageId: string): { stop(reason?: string): Promise<void>; readonly speaker?: string | undefined } | undefined;
  /** Sets the stage's layout (before or during its broadcast). */
  setLayout(stageId: string, mode: LayoutMode): LayoutMode | Promise<LayoutMode>;
  layoutOf(stageId: string): LayoutMode;
  /** Forgets a closed stage's settings. */
  forget(stageId: string): void;
  /** A caption cue for the stage's live broadcast (InputError 409 when it has none). */
  addCaption(stageId: string, cue: CueInput): Cue | Promise<Cue>;
}

/**
 * The broadcasts of all stages. Every go-live is a new broadcast with its own id
 * (`<stage>-<UTC start>`) and its own objects, so a stage goes live as often as
 * it likes and every earlier broadcast stays a recording; the stage id is the
 * stable link (app/stageLinks.ts). Kept here: each stage's latest broadcast. An
 * ended broadcast is a VOD: once its uploads are drained it leaves memory and
 * the origin serves it from the store.
 */
export class Broadcasts implements BroadcastControl {
  readonly #deps: BroadcastsDeps;
  readonly #live = new Map<string, LiveBroadcast>();
  /** Layouts chosen per stage (before or during the broadcast). */
  readonly #layouts = new Map<string, LayoutMode>();
  readonly #log: Logger;
  /** Recordings being added (their status is read asynchronously); a shutdown waits for them. */
  readonly #recording = new Set<Promise<void>>();

  constructor(deps: BroadcastsDeps) {
    this.#deps = deps;
    this.#log = deps.logger.child({ component: 'broadcasts' });
  }

  /** The stage's latest broadcast in memory (live, starting, stopping, or ended within its grace). */
  get(stageId: string): LiveBroadcast | undefined {
    return this.#live.get(stageId);
  }

  /** Stage ids with a broadcast in memory (live, starting or stopping, or ended within its grace). */
  get ids(): string[] {
    return [...this.#live.keys()];
  }

  async goLive(stageId: string): Promise<LiveBroadcast> {
    const stage = this.#deps.sfu.getStage(stageId);
    if (!stage) throw new InputError('unknown-stage', `no stage ${stageId}`, 404);
    const existing = this.#live.get(stageId);
    if (existing && (existing.state === 'starting' || existing.state === 'live' || existing.state === 'stopping')) {
      throw new InputError('already-live', `stage ${stageId} is already ${existing.state === 'stopping' ? 'stopping its broadcast' : 'live'}`, 409);
    }
    const layout = this.#layouts.get(stageId);
    const b = new LiveBroadcast({ ...this.#deps, id: this.#newId(stageId), stage, ...(layout ? { layout } : {}) });
    this.#live.set(stageId, b);
    b.on('state', (state) => {
      if (state !== 'ended') return;
      this.#record(b);
      void this.#retire(b);
    });
    try {
      await b.start();
    } catch (err) {
      // A go-live that never went live (nobody publishing, FFmpeg missing…) leaves the stage as it was:
      // its stable link keeps pointing at its previous broadcast, and nothing of this one stays.
      if (this.#live.get(stageId) === b) {
        if (existing) this.#live.set(stageId, existing);
        else this.#live.delete(stageId);
      }
      if (this.#deps.packager.getBroadcast(b.id)) this.#deps.packager.removeBroadcast(b.id);
      throw err;
    }
    return b;
  }

  /** A broadcast id no object in memory or in the store has: never an earlier broadcast's. */
  #newId(stageId: string): string {
    const now = new Date();
    const taken = (id: string) => this.#deps.packager.getBroadcast(id) !== undefined || this.#deps.recordings?.get(id) !== undefined;
    for (let n = 1; ; n++) {
      const id = broadcastIdFor(stageId, now, n);
      if (!taken(id)) return id;
    }
  }

  /** The layout of a stage's program: applied live when it broadcasts, kept for its next start otherwise. */
  setLayout(stageId: string, mode: LayoutMode): LayoutMode {
    if (!this.#deps.sfu.getStage(stageId)) throw new InputError('unknown-stage', `no stage ${stageId}`, 404);
    this.#layouts.set(stageId, mode);
    const b = this.#live.get(stageId);
    if (b && (b.state === 'live' || b.state === 'starting')) b.setLayout(mode);
    return mode;
  }

  layoutOf(stageId: string): LayoutMode {
    const b = this.#live.get(stageId);
    return b && (b.state === 'live' || b.state === 'starting') ? b.layout : (this.#layouts.get(stageId) ?? this.#deps.compose.layout);
  }

  /** Forgets a closed stage's settings. */
  forget(stageId: string): void {
    this.#layouts.delete(stageId);
  }

  async stop(stageId: string): Promise<LiveBroadcast> {
    const b = this.#live.get(stageId);
    if (!b) throw new InputError('not-live', `stage ${stageId} has no broadcast`, 404);
    await b.stop();
    return b;
  }

  async status(stageId: string): Promise<BroadcastStatus | undefined> {
    return this.#live.get(stageId)?.status();
  }

  addCaption(stageId: string, cue: CueInput): Cue {
    const live = this.#live.get(stageId);
    if (!live) throw new InputError('not-live', `stage ${stageId} has no broadcast`, 409);
    return live.addCaption(cue);
  }

  /** Ends every broadcast (ENDLIST, static MPD) and queues each one's recording entry. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#live.values()].map((b) => b.stop('shutdown')));
    await Promise.all(this.#recording);
  }

  /** Adds an ended broadcast to the store's recordings index (its VOD outlives this process). */
  #record(b: LiveBroadcast): void {
    const recordings = this.#deps.recordings;
    if (!recordings) return;
    const p = b
      .status()
      .then((s) => {
        if (!s.startedAt) return; // never went live: nothing was recorded
        recordings.add({
          id: s.id,
          stageId: s.stageId,
          startedAt: s.startedAt,
          endedAt: s.endedAt ?? new Date().toISOString(),
          renditions: s.renditions.map((r) => ({ trackId: r.trackId, kind: r.kind, ...(r.height !== undefined ? { height: r.height } : {}) })),
          ...(b.timeline.length > 0 ? { timeline: [...b.timeline] } : {}),
        });
      })
      .catch((err: unknown) => this.#log.error({ err, broadcast: b.id }, 'recording the ended broadcast failed'))
      .finally(() => this.#recording.delete(p));
    this.#recording.add(p);
  }

  /**
   * Once its uploads are in the store and live viewers have had time to load the
   * final (ENDLIST) playlist, the ended broadcast leaves memory. The grace matters:
   * the store's playlist lists the whole event from MEDIA-SEQUENCE 0, and a live
   * client whose next reload got it would see the sequence go backwards (which
   * the spec forbids; hls.js then misplaces the last segments).
   */
  async #retire(b: LiveBroadcast): Promise<void> {
    try {
      await new Promise((resolve) => setTimeout(resolve, this.#deps.endedGraceMs).unref());
      await this.#deps.packager.publisher?.drain();
      if (this.#deps.packager.publisher) this.#deps.packager.removeBroadcast(b.id);
      this.#log.info({ stage: b.stageId, broadcast: b.id }, 'broadcast retired to the store');
    } catch (err) {
      this.#log.error({ err, stage: b.stageId, broadcast: b.id }, 'draining uploads of an ended broadcast failed');
    }
  }
}
