/**
 * The multivariant playlist model from a broadcast's state (manifestSource.ts):
 * the renditions really produced, an audio group, the captions rendition.
 * A model only: hls.ts serializes it.
 */
import type { AudioRendition, MultivariantPlaylist, VariantStream } from './hls.ts';
import type { ManifestSource } from './manifestSource.ts';
import { names } from './naming.ts';

/** The multivariant playlist from the tracks really produced (undefined until one has media). */
export function buildMultivariantPlaylist(src: ManifestSource, opts: { storedOnly?: boolean } = {}): MultivariantPlaylist | undefined {
  if (!src.expectedReady()) return undefined;
  const ready = src.tracks.filter((t) => t.init && !t.failure && src.startable(t) && (!opts.storedOnly || t.playlistStored));
  const audio = ready.filter((t) => t.kind === 'audio');
  const video = ready.filter((t) => t.kind === 'video').sort((a, b) => b.bandwidth - a.bandwidth);
  if (ready.length === 0) return undefined;
  const audioRenditions: AudioRendition[] = audio.map((t, i) => ({
    groupId: 'audio',
    name: t.id,
    uri: `${t.id}/${names.playlist}`,
    default: i === 0,
    ...(t.init!.info.channels ? { channels: t.init!.info.channels } : {}),
  }));
  const audioBw = Math.max(0, ...audio.map((t) => t.bandwidth));
  const audioAvg = Math.max(0, ...audio.map((t) => t.averageBitrate));
  const audioCodec = audio[0]?.init!.info.codec;
  const variants: VariantStream[] =
    video.length > 0
      ? video.map((t) => ({
          uri: `${t.id}/${names.playlist}`,
          bandwidth: Math.max(1, Math.round(t.bandwidth + audioBw)),
          averageBandwidth: Math.max(1, Math.round(t.averageBitrate + audioAvg)),
          codecs: [t.init!.info.codec, audioCodec].filter(Boolean).join(','),
          ...(t.init!.info.width ? { resolution: { width: t.init!.info.width, height: t.init!.info.height ?? 0 } } : {}),
          ...(t.frameRate ? { frameRate: t.frameRate } : {}),
          ...(audio.length > 0 ? { audioGroup: 'audio' } : {}),
        }))
      : audio.map((t) => ({
          uri: `${t.id}/${names.playlist}`,
          bandwidth: Math.max(1, Math.round(t.bandwidth)),
          averageBandwidth: Math.max(1, Math.round(t.averageBitrate)),
          codecs: t.init!.info.codec,
        }));
  const captions = src.captions;
  const subtitles =
    captions && src.captionReference && (!opts.storedOnly || captions.playlistStored)
      ? [{ groupId: 'subs', name: captions.name, uri: `${names.captions}/${names.playlist}`, language: captions.language, default: false }]
      : [];
  return {
    version: 9,
    independentSegments: true,
    audio: video.length > 0 ? audioRenditions : [],
    ...(subtitles.length > 0 ? { subtitles } : {}),
    variants: subtitles.length > 0 ? variants.map((v) => ({ ...v, subtitlesGroup: 'subs' })) : variants,
  };
}
