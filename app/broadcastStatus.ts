import type { TrackInfo, TranscodeProgress, Transcoder } from '../transcode/index.ts';
import type { LayoutMode, ProgramSpec } from './composition.ts';

/**
 * A broadcast's status report (`GET /api/stages/:id` → `broadcast`). Pure: the
 * report is built from a view of the broadcast's state, gathered by
 * LiveBroadcast (its only I/O, the SFU's input stats, is awaited before); no
 * clock inside, `now` is passed in.
 */

export type BroadcastState = 'starting' | 'live' | 'stopping' | 'ended' | 'failed';

export interface BroadcastStatus {
  /** The broadcast (names its media: `/live/<id>/…`). */
  id: string;
  /** The stage it is a broadcast of (names the room). */
  stageId: string;
  state: BroadcastState;
  error?: string;
  startedAt?: string;
  endedAt?: string;
  renditions: { trackId: string; kind: string; height?: number; bitrateKbps?: number; measuredBandwidth?: number }[];
  input: { producerId: string; kind: string; bitrate: number }[];
  transcoder?: {
    state: string;
    /** The FFmpeg run on air (1 for the first; one more per restart or program change). */
    run: number;
    pid?: number;
    speed?: number;
    fps?: number;
    restarts: number;
    /** The run copies the host's H.264 (passthrough) rather than encoding it. */
    videoCopied: boolean;
    /** Damaged pictures FFmpeg reported (lost/reordered RTP) and the keyframe requests they led to. */
    decodeErrors: number;
    keyframeRequests: number;
  };
  /** Age of the newest part at the live edge, ms: how fresh the origin's edge is. */
  lastPartAgeMs?: number;
  /** What the program shows now. */
  program?: {
    mode: LayoutMode;
    speaker?: string;
    videos: { hostId: string; cell: { x: number; y: number; width: number; height: number } }[];
    audios: string[];
    slate: boolean;
    /** Program changes applied (each an FFmpeg restart with a discontinuity); speaker switches behind the RTP switch are not. */
    changes: number;
    /**
     * The speaker layout's RTP switch: its sources (hosts), the one on air, switches made; with
     * copied simulcast layers (one switch per layer, highest first) each layer's as well.
     */
    switch?: { sources: string[]; onAir?: string; switches: number; layers?: { height: number | undefined; onAir?: string; switches: number }[] };
    /** Set while no host publishes: when the broadcast ends unless one comes back. */
    hostGraceEndsAt?: string;
  };
}

/** What the report reads of the transcoder. */
export type TranscoderView = Pick<Transcoder, 'state' | 'run' | 'pid' | 'copiesVideo' | 'decodeStats'> & {
  readonly lastProgress: TranscodeProgress | undefined;
  readonly tracks: readonly Pick<TrackInfo, 'trackId' | 'kind' | 'height' | 'bitrateKbps'>[];
};

/** What the report reads of the speaker layout's switch (app/switchedVideo.ts): its sources by producer id, its lanes highest first. */
export interface SwitchView {
  readonly sources: ReadonlyMap<string, { readonly hostId: string }>;
  readonly lanes: readonly {
    readonly layer: { readonly height: number | undefined } | undefined;
    readonly rtpSwitch: { readonly active: string | undefined; readonly stats: { readonly switches: number } };
  }[];
}

/** What the report reads of the program (app/program.ts), once it has one. */
export interface ProgramView {
  readonly mode: LayoutMode;
  readonly speaker: string | undefined;
  /** The program on air. */
  readonly spec: ProgramSpec;
  readonly changes: number;
  readonly switched: SwitchView | undefined;
  readonly graceEndsAt: number | undefined;
}

export interface BroadcastView {
  readonly id: string;
  readonly stageId: string;
  readonly state: BroadcastState;
  readonly error: string | undefined;
  readonly startedAt: Date | undefined;
  readonly endedAt: Date | undefined;
  readonly transcoder: TranscoderView | undefined;
  /** The supervisor's restarts (program changes are counted apart). */
  readonly restarts: number;
  /** The packager's tracks, with the bandwidth it measured. */
  readonly packaged: readonly { readonly id: string; readonly bandwidth: number }[];
  /** Bytes per program input, from the SFU's view. */
  readonly input: BroadcastStatus['input'];
  readonly lastPartAt: number | undefined;
  readonly program: ProgramView | undefined;
  readonly now: number;
}

export function broadcastStatus(b: BroadcastView): BroadcastStatus {
  const progress = b.transcoder?.lastProgress;
  const bandwidth = new Map(b.packaged.map((t) => [t.id, t.bandwidth]));
  return {
    id: b.id,
    stageId: b.stageId,
    state: b.state,
    ...(b.error ? { error: b.error } : {}),
    ...(b.startedAt ? { startedAt: b.startedAt.toISOString() } : {}),
    ...(b.endedAt ? { endedAt: b.endedAt.toISOString() } : {}),
    renditions: (b.transcoder?.tracks ?? []).map((t) => ({
      trackId: t.trackId,
      kind: t.kind,
      ...(t.height !== undefined ? { height: t.height } : {}),
      ...(t.bitrateKbps !== undefined ? { bitrateKbps: t.bitrateKbps } : {}),
      ...(bandwidth.get(t.trackId) ? { measuredBandwidth: bandwidth.get(t.trackId) } : {}),
    })),
    input: b.input,
    ...(b.transcoder
      ? {
          transcoder: {
            state: b.transcoder.state,
            run: b.transcoder.run,
            ...(b.transcoder.pid !== undefined ? { pid: b.transcoder.pid } : {}),
            restarts: b.restarts,
            videoCopied: b.transcoder.copiesVideo,
            ...b.transcoder.decodeStats,
            ...(progress?.speed !== undefined ? { speed: progress.speed } : {}),
            ...(progress?.fps !== undefined ? { fps: progress.fps } : {}),
          },
        }
      : {}),
    ...(b.lastPartAt && b.state === 'live' ? { lastPartAgeMs: b.now - b.lastPartAt } : {}),
    ...(b.program ? { program: programStatus(b.program) } : {}),
  };
}

function programStatus(p: ProgramView): NonNullable<BroadcastStatus['program']> {
  return {
    mode: p.mode,
    ...(p.speaker ? { speaker: p.speaker } : {}),
    videos: p.spec.videos.map((v) => ({ hostId: v.hostId, cell: v.cell })),
    audios: p.spec.audios.map((a) => a.hostId),
    slate: p.spec.slate,
    changes: p.changes,
    ...(p.switched ? { switch: switchStatus(p.switched) } : {}),
    ...(p.graceEndsAt ? { hostGraceEndsAt: new Date(p.graceEndsAt).toISOString() } : {}),
  };
}

/** The switch as the status shows it: the top lane's on-air source and switches; with layers, each lane's. */
function switchStatus(switched: SwitchView): NonNullable<NonNullable<BroadcastStatus['program']>['switch']> {
  const hostOf = (producerId: string | undefined) => (producerId === undefined ? undefined : (switched.sources.get(producerId)?.hostId ?? producerId));
  const top = switched.lanes[0]!.rtpSwitch;
  const onAir = hostOf(top.active);
  return {
    sources: [...switched.sources.values()].map((s) => s.hostId),
    ...(onAir ? { onAir } : {}),
    switches: top.stats.switches,
    ...(switched.lanes[0]!.layer
      ? {
          layers: switched.lanes.map((l) => {
            const laneOnAir = hostOf(l.rtpSwitch.active);
            return { height: l.layer!.height, ...(laneOnAir ? { onAir: laneOnAir } : {}), switches: l.rtpSwitch.stats.switches };
          }),
        }
      : {}),
  };
}
