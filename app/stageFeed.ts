import type { PortAllocator, RtpSessionDescriptor } from '../common/index.ts';
import type { MediaKind, ProducerInfo, ProgramInputAddress, ProgramStreamSpec, RtpOutputSource, RtpOutputTrack, RtpTargetHook, StageEvents } from '../ingest/index.ts';

/**
 * The RTP a broadcast receives from a stage: what LiveBroadcast uses of
 * ingest's RtpOutput. In-process it is the RtpOutput itself; on a broadcast node
 * it is a proxy to the RtpOutput on the SFU (app/remoteFeed.ts).
 */
export interface StageRtpOutput {
  /** What arrives on which port (transcode writes FFmpeg's SDP from it). */
  readonly descriptor: RtpSessionDescriptor;
  readonly tracks: readonly RtpOutputTrack[];
  readonly closed: boolean;
  /** Starts the media and asks the publishers for a keyframe. */
  resume(): Promise<void>;
  requestKeyFrame(): Promise<void>;
  stats(): Promise<{ producerId: string; kind: MediaKind; bitrate: number; packetCount: number }[]>;
  close(): void;
}

/** A host as a broadcast's composition sees it: its tracks, in join order on the stage. */
export interface StageFeedHost {
  readonly id: string;
  /** The name the host joined with, where the feed knows it (the in-process Stage). */
  readonly name?: string | undefined;
  readonly producers: readonly { id: string; kind: MediaKind; paused: boolean }[];
}

/** The stage events a broadcast listens to (all of them are forwarded to a remote feed). */
export type StageFeedEvents = StageEvents;

/**
 * What a broadcast needs of a stage: its id, its producers, their events and
 * RTP out of it. ingest's Stage satisfies this structurally (role `all`); a
 * broadcast node gets a RemoteStageFeed that forwards the same calls and events
 * over the internal channel to the SFU that holds the stage.
 */
export interface StageFeed {
  readonly id: string;
  readonly producers: ProducerInfo[];
  /** The hosts in join order (the grid's order). */
  readonly hosts: readonly StageFeedHost[];
  /** Starts audio-level reports (`audiolevels` events) for the active-speaker choice. */
  watchAudioLevels(opts: { intervalMs: number; threshold: number }): Promise<void>;
  on<K extends keyof StageFeedEvents & string>(event: K, listener: (...args: StageFeedEvents[K]) => void): unknown;
  once<K extends keyof StageFeedEvents & string>(event: K, listener: (...args: StageFeedEvents[K]) => void): unknown;
  off<K extends keyof StageFeedEvents & string>(event: K, listener: (...args: StageFeedEvents[K]) => void): unknown;
  /** `target` (a test hook between SFU and FFmpeg) is honoured in-process only; a remote feed ignores it. */
  /** A source is a producer id, or one spatial layer of a simulcast producer. */
  createRtpOutput(opts: { producerIds: RtpOutputSource[]; remoteIp: string; portPool: PortAllocator; target?: RtpTargetHook }): Promise<StageRtpOutput>;
  /**
   * Opens the way for the program's RTP copy back into the SFU (WHEP viewers):
   * the in-process Stage's own, or the SFU's over the internal channel.
   */
  openProgramInput?(spec: Record<MediaKind, ProgramStreamSpec>): Promise<StageProgramInput>;
  /** A remote feed's SFU asks for the program back (its WHEP is on); in-process, the broadcast's `whep` decides. */
  readonly wantsProgram?: boolean;
}

/** Where the program's RTP goes into the SFU, until closed. */
export interface StageProgramInput {
  readonly addresses: Readonly<Record<MediaKind, ProgramInputAddress>>;
  close(): void;
}

/** Where Broadcasts finds a stage's feed: the Sfu (role `all`) or the feeds SFUs opened to this node. */
export interface StageFeedSource {
  getStage(id: string): StageFeed | undefined;
}
