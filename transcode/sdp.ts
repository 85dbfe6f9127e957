import { InputError } from '../common/index.ts';

/** What transcode needs to know about one m-line of the ingest SDP. */
export interface SdpMedia {
  readonly kind: 'video' | 'audio';
  /** RTP port (FFmpeg assumes RTCP on port + 1). */
  readonly port: number;
  readonly payloadType: number;
  /** Upper-case encoding name from `a=rtpmap` (VP8, H264, OPUS, …). */
  readonly codec: string;
  readonly clockRate: number;
}

export interface SdpInfo {
  /** Connection address (`c=`) of the session or of the first media. */
  readonly address: string;
  readonly video?: SdpMedia;
  readonly audio?: SdpMedia;
}

const VIDEO_CODECS = new Set(['VP8', 'VP9', 'H264']);
const AUDIO_CODECS = new Set(['OPUS']);

function bad(message: string): never {
  throw new InputError('bad-sdp', `bad SDP: ${message}`);
}

/**
 * Checks an SDP from ingest enough to fail early with a clear error: one video
 * and/or one audio m-line with a port and an rtpmap of a codec we handle, and a
 * connection address. FFmpeg parses the SDP itself; this is the gatekeeper.
 */
export function parseSdp(sdp: string): SdpInfo {
  const { address, medias } = scan(sdp);
  const pick = (kind: 'video' | 'audio'): SdpMedia | undefined => {
    const found = medias.filter((m) => m.kind === kind);
    if (found.length > 1) bad(`more than one ${kind} m-line`);
    return found[0];
  };
  const video = pick('video');
  const audio = pick('audio');
  if (!video && !audio) bad('no audio or video m-line');
  return { address, ...(video ? { video } : {}), ...(audio ? { audio } : {}) };
}

/** A composed program's SDP: any number of video m-lines, then audio m-lines (checked in that order). */
export interface ProgramSdpInfo {
  readonly address: string;
  readonly videos: readonly SdpMedia[];
  readonly audios: readonly SdpMedia[];
}

export function parseProgramSdp(sdp: string): ProgramSdpInfo {
  const { address, medias } = scan(sdp);
  const firstAudio = medias.findIndex((m) => m.kind === 'audio');
  if (firstAudio >= 0 && medias.slice(firstAudio).some((m) => m.kind === 'video')) bad('video m-lines must come before audio m-lines');
  const ports = new Set<number>();
  for (const m of medias) {
    if (ports.has(m.port) || ports.has(m.port + 1) || ports.has(m.port - 1)) bad(`port ${m.port} overlaps another m-line's RTP/RTCP pair`);
    ports.add(m.port);
  }
  return { address, videos: medias.filter((m) => m.kind === 'video'), audios: medias.filter((m) => m.kind === 'audio') };
}

function scan(sdp: string): { address: string; medias: SdpMedia[] } {
  if (typeof sdp !== 'string' || !sdp.trim()) bad('empty');
  const lines = sdp.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines[0] !== 'v=0') bad('must start with v=0');
  let address: string | undefined;
  const medias: { kind: string; port: number; pts: number[]; rtpmap: Map<number, { codec: string; clockRate: number }>; address?: string }[] = [];
  for (const line of lines) {
    if (!/^[a-z]=/.test(line)) bad(`malformed line "${line.slice(0, 60)}"`);
    const value = line.slice(2);
    const current = medias.at(-1);
    if (line.startsWith('c=')) {
      const m = /^IN IP[46] (\S+)$/.exec(value);
      if (!m?.[1]) bad(`malformed connection line "${line}"`);
      if (current) current.address = m[1];
      else address = m[1];
    } else if (line.startsWith('m=')) {
      const m = /^(\w+) (\d+) (RTP\/AVPF?|RTP\/SAVPF?|UDP\/TLS\/RTP\/SAVPF) ([\d ]+)$/.exec(value);
      if (!m) bad(`malformed media line "${line}"`);
      const port = Number(m[2]);
      if (!Number.isInteger(port) || port < 1 || port > 65534) bad(`port out of range in "${line}"`);
      medias.push({ kind: m[1] ?? '', port, pts: (m[4] ?? '').trim().split(/\s+/).map(Number), rtpmap: new Map() });
    } else if (line.startsWith('a=rtpmap:') && current) {
      const m = /^rtpmap:(\d+) ([\w-]+)\/(\d+)/.exec(value);
      if (!m) bad(`malformed rtpmap "${line}"`);
      current.rtpmap.set(Number(m[1]), { codec: (m[2] ?? '').toUpperCase(), clockRate: Number(m[3]) });
    }
  }
  if (medias.length > 32) bad(`too many m-lines (${medias.length})`);
  const checked = medias
    .filter((m) => m.kind === 'video' || m.kind === 'audio')
    .map((m): SdpMedia => {
      const kind = m.kind as 'video' | 'audio';
      if (!m.address && !address) bad(`no connection address for ${kind}`);
      const pt = m.pts[0];
      const map = pt === undefined ? undefined : m.rtpmap.get(pt);
      if (pt === undefined || !map) bad(`${kind} payload type has no rtpmap`);
      if (!(kind === 'video' ? VIDEO_CODECS : AUDIO_CODECS).has(map.codec)) bad(`unsupported ${kind} codec ${map.codec}`);
      return { kind, port: m.port, payloadType: pt, codec: map.codec, clockRate: map.clockRate };
    });
  const resolved = address ?? medias[0]?.address;
  if (!resolved) bad('no connection address');
  return { address: resolved, medias: checked };
}

/** An SDP cut into its session lines and its m-sections (each starting with its m= line). */
function sections(sdp: string): { session: string[]; medias: string[][] } {
  const lines = sdp.split(/\r?\n/).filter((l) => l.trim() !== '');
  const session: string[] = [];
  const medias: string[][] = [];
  for (const line of lines) {
    if (line.startsWith('m=')) medias.push([line]);
    else if (medias.length > 0) medias.at(-1)!.push(line);
    else session.push(line);
  }
  return { session, medias };
}

/**
 * What must be equal for two video sources to share one switched RTP stream:
 * payload type, rtpmap and fmtp of the source SDP's video m-line. Undefined when
 * the SDP has no video.
 */
export function videoCodecKey(sdp: string): string | undefined {
  const video = sections(sdp).medias.find((m) => m[0]!.startsWith('m=video '));
  if (!video) return undefined;
  const pt = video[0]!.split(' ')[3];
  return [pt, ...video.filter((l) => l.startsWith(`a=rtpmap:${pt} `) || l.startsWith(`a=fmtp:${pt} `))].join('|');
}

/** One video m-line behind an RTP switch: copied from a source's SDP, sent by the switch to `port` under `ssrc`. */
export interface SwitchedVideoLine {
  /** A source's SDP (every source of this switch has the same codec). */
  readonly source: string;
  readonly port: number;
  readonly ssrc: number;
}

/**
 * The program SDP of the speaker layout behind RTP switches: one video m-line
 * per switch (one, or one per simulcast layer, highest first), each copied
 * from a source's SDP but at the port where its switch sends and with the
 * switch's SSRC, then the audio m-lines of the audio output's SDP. Pure.
 */
export function switchedProgramSdp(input: { videos: readonly SwitchedVideoLine[]; audio?: string | undefined }): string {
  if (input.videos.length === 0) bad('no switched video');
  let session: string[] | undefined;
  const lines: string[] = [];
  input.videos.forEach((v, i) => {
    const source = sections(v.source);
    session ??= source.session;
    const video = source.medias.find((m) => m[0]!.startsWith('m=video '));
    if (!video) bad('the switch source SDP has no video m-line');
    const [, , ...rest] = video[0]!.split(' ');
    lines.push(
      `m=video ${v.port} ${rest.join(' ')}`,
      ...video.slice(1).flatMap((l) => {
        if (l.startsWith('a=rtcp:')) return [`a=rtcp:${v.port + 1}`];
        if (l.startsWith('a=ssrc:')) return [`a=ssrc:${v.ssrc} cname:stagecast`];
        if (l.startsWith('a=label:')) return [input.videos.length === 1 ? 'a=label:switch' : `a=label:switch/${i}`];
        return [l];
      }),
    );
  });
  if (input.audio) for (const m of sections(input.audio).medias) if (m[0]!.startsWith('m=audio ')) lines.push(...m);
  const sdp = [...session!, ...lines].join('\r\n') + '\r\n';
  parseProgramSdp(sdp); // the gatekeeper's check
  return sdp;
}
