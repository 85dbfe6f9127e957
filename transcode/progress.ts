import type { TranscodeProgress } from './types.ts';

/** A bounded ring of text lines: FFmpeg's stderr without unbounded memory. */
export class LineRing {
  readonly #lines: string[] = [];
  #start = 0;
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new TypeError(`invalid ring capacity ${capacity}`);
  }

  push(line: string): void {
    if (this.#lines.length < this.capacity) {
      this.#lines.push(line);
    } else {
      this.#lines[this.#start] = line;
      this.#start = (this.#start + 1) % this.capacity;
    }
  }

  /** Oldest first. */
  lines(): string[] {
    return [...this.#lines.slice(this.#start), ...this.#lines.slice(0, this.#start)];
  }

  clear(): void {
    this.#lines.length = 0;
    this.#start = 0;
  }
}

function num(line: string, key: string): number | undefined {
  const m = new RegExp(`(?:^|\\s)${key}=\\s*([-\\d.]+)`).exec(line);
  if (!m?.[1]) return undefined;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : undefined;
}

/** Parses FFmpeg's stats line (`frame= … fps= … time=… bitrate=…kbits/s speed=…x`); undefined for other lines. */
export function parseProgressLine(line: string): TranscodeProgress | undefined {
  if (!line.includes('time=') || !line.includes('size=')) return undefined;
  const t = /time=\s*(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(line);
  const speed = /speed=\s*([\d.]+)x/.exec(line);
  const bitrate = /bitrate=\s*([\d.]+)kbits\/s/.exec(line);
  const progress: { -readonly [K in keyof TranscodeProgress]: TranscodeProgress[K] } = {};
  const frames = num(line, 'frame');
  const fps = num(line, 'fps');
  const dup = num(line, 'dup');
  const drop = num(line, 'drop');
  if (frames !== undefined) progress.frames = frames;
  if (fps !== undefined) progress.fps = fps;
  if (t) {
    const ms = Math.round((Number(t[2]) * 3600 + Number(t[3]) * 60 + Number(t[4])) * 1000);
    progress.outTimeMs = t[1] === '-' ? -ms : ms;
  }
  if (bitrate?.[1]) progress.bitrateKbps = Number(bitrate[1]);
  if (speed?.[1]) progress.speed = Number(speed[1]);
  if (dup !== undefined) progress.dup = dup;
  if (drop !== undefined) progress.drop = drop;
  return progress;
}

/** The error lines of an FFmpeg stderr tail (with `-loglevel level+…`), falling back to the last lines. */
export function errorSummary(lines: readonly string[], max = 5): string {
  const errors = lines.filter((l) => /\[(error|fatal|panic)\]/.test(l) || /error|failed|invalid|refused|not found/i.test(l));
  const pick = (errors.length > 0 ? errors : lines).slice(-max);
  return pick.map((l) => l.replace(/^\[[^\]]*\]\s*/, '').trim()).join(' | ');
}
