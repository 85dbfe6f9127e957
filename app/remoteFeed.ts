import { z } from 'zod';
import { STAGE_ID_PATTERN, TypedEmitter, rtpSessionSchema, type Logger, type PortAllocator, type PortPair, type RtpSessionDescriptor } from '../common/index.ts';
import type { MediaKind, ProducerInfo, ProgramInputAddress, ProgramStreamSpec, RtpOutputSource, RtpOutputTrack, StageEvents } from '../ingest/index.ts';
import type { RpcChannel } from './rpcChannel.ts';
import type { StageFeed, StageFeedHost, StageProgramInput, StageRtpOutput } from './stageFeed.ts';

const producerSchema = z.object({
  id: z.string().min(1).max(64),
  hostId: z.string().min(1).max(64),
  kind: z.enum(['audio', 'video']),
  mimeType: z.string().min(1).max(64),
  source: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }).optional(),
  layers: z.array(z.object({ height: z.number().int().positive().optional() })).max(16).optional(),
  paused: z.boolean().optional(),
});
/** What an SFU says about a stage when it asks for a broadcast. */
export const remoteStageSchema = z.object({
  id: z.string().regex(STAGE_ID_PATTERN),
  producers: z.array(producerSchema).max(64),
  /** The SFU wants the program back as RTP (its WHEP playback is on). */
  programInput: z.boolean().optional(),
});
export type RemoteStage = z.infer<typeof remoteStageSchema>;

const addressSchema = z.object({ ip: z.string().min(1).max(64), port: z.number().int().min(1).max(65535) });
const programInputSchema = z.object({ inputId: z.string().min(1).max(64), addresses: z.object({ video: addressSchema, audio: addressSchema }) });

const stageEventSchema = z.object({ name: z.string().min(1).max(64), args: z.array(z.unknown()).max(8) });
const outputSchema = z.object({
  outputId: z.string(),
  /** What the SFU's output sends where: checked here, bounded, before FFmpeg's SDP is written from it. */
  descriptor: rtpSessionSchema,
  tracks: z.array(
    z.object({
      kind: z.enum(['audio', 'video']),
      producerId: z.string(),
      spatialLayer: z.number().int().optional(),
      mimeType: z.string(),
      ports: z.object({ rtp: z.number().int(), rtcp: z.number().int() }),
    }),
  ),
});

/**
 * A stage held by an SFU on another machine, seen from a broadcast node: the
 * StageFeed a LiveBroadcast needs, forwarded over the internal channel. Ports
 * are reserved here (FFmpeg listens on this machine) and sent to the SFU, which
 * connects its PlainTransports to them. The channel closing closes the feed.
 */
export class RemoteStageFeed extends TypedEmitter<StageEvents> implements StageFeed {
  readonly id: string;
  readonly #channel: RpcChannel;
  readonly #log: Logger;
  readonly #producers = new Map<string, ProducerInfo>();
  readonly #outputs = new Map<string, RemoteRtpOutput>();
  readonly #programInputs = new Map<string, RemoteProgramInput>();
  readonly wantsProgram: boolean;
  #closed = false;

  constructor(channel: RpcChannel, stage: RemoteStage, logger: Logger) {
    super();
    this.id = stage.id;
    this.#channel = channel;
    // The internal API's channel logger names the component already; pino would write a second one.
    this.#log = logger.child({ stage: stage.id });
    this.onListenerError((event, err) => this.#log.error({ err, event }, 'remote feed listener threw'));
    this.wantsProgram = stage.programInput === true;
    for (const p of stage.producers) this.#producers.set(p.id, p as ProducerInfo);
    channel.on('event', (name, data) => this.#onEvent(name, data));
    channel.once('close', () => this.#close());
  }

  get producers(): ProducerInfo[] {
    return [...this.#producers.values()];
  }

  /** Hosts with tracks, in the order their first track arrived (the SFU's join order for a running stage). */
  get hosts(): StageFeedHost[] {
    const hosts = new Map<string, { id: string; producers: { id: string; kind: MediaKind; paused: boolean }[] }>();
    for (const p of this.#producers.values()) {
      const h = hosts.get(p.hostId) ?? { id: p.hostId, producers: [] };
      h.producers.push({ id: p.id, kind: p.kind, paused: p.paused ?? false });
      hosts.set(p.hostId, h);
    }
    return [...hosts.values()];
  }

  async watchAudioLevels(opts: { intervalMs: number; threshold: number }): Promise<void> {
    await this.#channel.request('watchAudioLevels', opts);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async createRtpOutput(opts: { producerIds: RtpOutputSource[]; remoteIp: string; portPool: PortAllocator }): Promise<StageRtpOutput> {
    const pairs: PortPair[] = [];
    try {
      for (let i = 0; i < opts.producerIds.length; i++) pairs.push(await opts.portPool.allocate());
      const answer = outputSchema.parse(
        await this.#channel.request('createRtpOutput', { producerIds: opts.producerIds, remoteIp: opts.remoteIp, ports: pairs }),
      );
      const output = new RemoteRtpOutput(this.#channel, answer.outputId, answer.descriptor, answer.tracks, () => {
        this.#outputs.delete(answer.outputId);
        for (const p of pairs) opts.portPool.release(p);
      });
      this.#outputs.set(answer.outputId, output);
      if (this.#closed) output.close();
      return output;
    } catch (err) {
      for (const p of pairs) opts.portPool.release(p);
      throw err;
    }
  }

  /**
   * The SFU opens the program's way back into the stage (its PlainTransports,
   * on its RTP-out listen address) and says where to send; the relay on this
   * node sends there.
   */
  async openProgramInput(spec: Record<MediaKind, ProgramStreamSpec>): Promise<StageProgramInput> {
    const answer = programInputSchema.parse(await this.#channel.request('openProgramInput', spec));
    const input = new RemoteProgramInput(this.#channel, answer.inputId, answer.addresses, () => this.#programInputs.delete(answer.inputId));
    this.#programInputs.set(answer.inputId, input);
    if (this.#closed) input.close();
    return input;
  }

  #onEvent(name: string, data: unknown): void {
    if (name === 'outputclose' || name === 'programinputclose') {
      const id = (data as { outputId?: unknown; inputId?: unknown } | null)?.[name === 'outputclose' ? 'outputId' : 'inputId'];
      if (typeof id === 'string') (name === 'outputclose' ? this.#outputs : this.#programInputs).get(id)?.markClosed();
      return;
    }
    if (name !== 'stage') return;
    const e = stageEventSchema.safeParse(data);
    if (!e.success) return void this.#log.warn({ name }, 'malformed stage event ignored');
    const { name: event, args } = e.data;
    if (event === 'producer' || event === 'producerclose') {
      const info = producerSchema.safeParse(args[0]);
      if (!info.success) return void this.#log.warn({ event }, 'malformed producer info ignored');
      if (event === 'producer') this.#producers.set(info.data.id, info.data as ProducerInfo);
      else this.#producers.delete(info.data.id);
    }
    if (event === 'producerpause') {
      const known = this.#producers.get((args[0] as { id?: unknown } | null)?.id as string);
      if (known && typeof args[1] === 'boolean') this.#producers.set(known.id, { ...known, paused: args[1] });
    }
    if (event === 'close') return this.#close();
    // Every other stage event is re-emitted as it came: listeners of the in-process Stage work unchanged.
    this.emit(event as keyof StageEvents, ...(args as StageEvents[keyof StageEvents]));
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const o of [...this.#outputs.values()]) o.markClosed();
    for (const p of [...this.#programInputs.values()]) p.markClosed();
    this.#log.info('remote stage feed closed');
    this.emit('close', 'closed');
  }
}

/** The SFU's RTP output toward this node, driven over the channel. */
class RemoteRtpOutput implements StageRtpOutput {
  readonly descriptor: RtpSessionDescriptor;
  readonly tracks: readonly RtpOutputTrack[];
  readonly #channel: RpcChannel;
  readonly #id: string;
  readonly #onClosed: () => void;
  #closed = false;

  constructor(channel: RpcChannel, id: string, descriptor: RtpSessionDescriptor, tracks: RtpOutputTrack[], onClosed: () => void) {
    this.#channel = channel;
    this.#id = id;
    this.descriptor = descriptor;
    this.tracks = tracks;
    this.#onClosed = onClosed;
  }

  get closed(): boolean {
    return this.#closed || this.#channel.closed;
  }

  async resume(): Promise<void> {
    await this.#channel.request('output.resume', { outputId: this.#id });
  }

  async requestKeyFrame(): Promise<void> {
    await this.#channel.request('output.requestKeyFrame', { outputId: this.#id });
  }

  async stats(): Promise<{ producerId: string; kind: MediaKind; bitrate: number; packetCount: number }[]> {
    return (await this.#channel.request('output.stats', { outputId: this.#id }, 5000)) as never;
  }

  close(): void {
    if (this.#closed) return;
    this.#channel.request('output.close', { outputId: this.#id }).catch(() => {
      // The SFU or the channel is gone: its transports went with it.
    });
    this.markClosed();
  }

  /** The SFU closed it (its producer or stage went away), or the channel did. */
  markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClosed();
  }
}

/** The SFU's program input (WHEP), seen from the broadcast node: where the relay sends, and its close. */
class RemoteProgramInput implements StageProgramInput {
  readonly addresses: Readonly<Record<MediaKind, ProgramInputAddress>>;
  readonly #channel: RpcChannel;
  readonly #id: string;
  readonly #onClosed: () => void;
  #closed = false;

  constructor(channel: RpcChannel, id: string, addresses: Record<MediaKind, ProgramInputAddress>, onClosed: () => void) {
    this.#channel = channel;
    this.#id = id;
    this.addresses = addresses;
    this.#onClosed = onClosed;
  }

  close(): void {
    if (this.#closed) return;
    this.#channel.request('programInput.close', { inputId: this.#id }).catch(() => {
      // The SFU or the channel is gone: the program input went with it.
    });
    this.markClosed();
  }

  /** The SFU closed it (its stage went away), or the channel did. */
  markClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClosed();
  }
}
