import type { types as ms } from 'mediasoup';
import { InputError, type Logger } from '../common/index.ts';
import type { MediaKind } from './types.ts';

/** What the transcoder's RTP copy of the program is, per kind: the relay sends this SSRC and payload type. */
export interface ProgramStreamSpec {
  ssrc: number;
  payloadType: number;
}

/** Where to send a kind of the program's RTP (the PlainTransport's address; RTCP muxed). */
export interface ProgramInputAddress {
  ip: string;
  port: number;
}

/**
 * The broadcast's program coming back into the SFU as RTP (for WHEP viewers):
 * one PlainTransport (comedia, RTCP muxed) and one producer per kind, H.264
 * constrained baseline and Opus. These producers are not a host's: they are
 * not in `stage.producers`, so no broadcast composes the program into itself.
 */
export class ProgramSource {
  readonly #transports: ms.PlainTransport[];
  readonly producers: Readonly<Record<MediaKind, ms.Producer>>;
  readonly addresses: Readonly<Record<MediaKind, ProgramInputAddress>>;
  readonly #onClose: (() => void)[] = [];
  readonly #log: Logger;
  #closed = false;

  private constructor(transports: ms.PlainTransport[], producers: Record<MediaKind, ms.Producer>, addresses: Record<MediaKind, ProgramInputAddress>, log: Logger) {
    this.#transports = transports;
    this.producers = producers;
    this.addresses = addresses;
    this.#log = log;
    for (const p of Object.values(producers)) p.observer.once('close', () => this.close());
  }

  static async open(router: ms.Router, listenIp: string, spec: Record<MediaKind, ProgramStreamSpec>, logger: Logger): Promise<ProgramSource> {
    for (const [kind, s] of Object.entries(spec)) {
      if (!Number.isInteger(s.ssrc) || s.ssrc < 1 || s.ssrc > 0xffffffff) throw new InputError('bad-program-input', `bad ${kind} SSRC ${s.ssrc}`, 400);
      if (!Number.isInteger(s.payloadType) || s.payloadType < 96 || s.payloadType > 127) throw new InputError('bad-program-input', `bad ${kind} payload type ${s.payloadType}`, 400);
    }
    const log = logger.child({ component: 'program-source' });
    const transports: ms.PlainTransport[] = [];
    try {
      const open = async (kind: MediaKind): Promise<{ producer: ms.Producer; address: ProgramInputAddress }> => {
        // comedia: the relay's socket is the one remote; RTCP rides on the RTP port.
        const transport = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: listenIp }, rtcpMux: true, comedia: true });
        transports.push(transport);
        const producer = await transport.produce({ kind, rtpParameters: programRtpParameters(kind, spec[kind]) });
        return { producer, address: { ip: transport.tuple.localAddress ?? listenIp, port: transport.tuple.localPort } };
      };
      const video = await open('video');
      const audio = await open('audio');
      log.info({ video: video.address, audio: audio.address }, 'program input opened');
      return new ProgramSource(transports, { video: video.producer, audio: audio.producer }, { video: video.address, audio: audio.address }, log);
    } catch (err) {
      for (const t of transports) t.close();
      throw err;
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#onClose.push(listener);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#transports) t.close();
    this.#log.info('program input closed');
    for (const l of this.#onClose.splice(0)) {
      try {
        l();
      } catch (err) {
        this.#log.error({ err }, 'program input close listener threw');
      }
    }
  }
}

/** The program's RTP as the relay sends it: what FFmpeg's rtp muxer writes (no header extensions, no RTX). */
export function programRtpParameters(kind: MediaKind, s: ProgramStreamSpec): ms.RtpParameters {
  const codec: ms.RtpCodecParameters =
    kind === 'video'
      ? {
          mimeType: 'video/H264',
          payloadType: s.payloadType,
          clockRate: 90000,
          parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
          rtcpFeedback: [],
        }
      : { mimeType: 'audio/opus', payloadType: s.payloadType, clockRate: 48000, channels: 2, parameters: {}, rtcpFeedback: [] };
  return { codecs: [codec], headerExtensions: [], encodings: [{ ssrc: s.ssrc }], rtcp: { cname: 'stagecast-program', reducedSize: true } };
}
