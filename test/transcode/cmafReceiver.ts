/**
 * A minimal, independent CMAF ingest for tests: accepts the chunked PUT/POST of
 * one track per request at /ingest/<broadcast>/<trackId> and parses boxes enough
 * to check init segments, fragment timing and keyframes. Also usable as an
 * in-process sink (`openTrack`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';

export interface Fragment {
  readonly seq: number;
  /** tfdt baseMediaDecodeTime, track timescale. */
  readonly decodeTime: number;
  /** Sum of sample durations, track timescale. */
  readonly duration: number;
  readonly samples: number;
  /** First sample is a sync sample. */
  readonly keyframe: boolean;
  readonly arrivedAt: number;
}

export interface Session {
  readonly trackId: string;
  readonly index: number;
  /** Init segment seen (ftyp + moov). */
  init: boolean;
  handler?: string;
  timescale: number;
  defaultDuration: number;
  defaultFlags: number;
  fragments: Fragment[];
  /** The stream ended: by its writer's end(), or cut off (destroy(), FFmpeg gone mid-write). */
  ended: boolean;
  /** Bytes of a partial box dropped at a cut-off (whole boxes only ever count as fragments). */
  cutOffBytes?: number;
  errors: string[];
}

class BoxParser {
  #buf: Buffer = Buffer.alloc(0);
  constructor(private readonly session: Session, private readonly onFragment: (f: Fragment) => void) {}

  /** Bytes of a box not yet whole. */
  get pendingBytes(): number {
    return this.#buf.length;
  }

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    while (this.#buf.length >= 8) {
      const size = this.#buf.readUInt32BE(0);
      if (size < 8) {
        this.session.errors.push(`bad box size ${size}`);
        this.#buf = Buffer.alloc(0);
        return;
      }
      if (this.#buf.length < size) return;
      const type = this.#buf.toString('latin1', 4, 8);
      const box = this.#buf.subarray(8, size);
      this.#buf = this.#buf.subarray(size);
      this.#top(type, box);
    }
  }

  #top(type: string, body: Buffer): void {
    const s = this.session;
    if (type === 'ftyp') return;
    if (type === 'moov') {
      s.init = true;
      for (const [t, b] of children(body)) {
        if (t === 'trak') {
          const mdia = find(b, 'mdia');
          const mdhd = mdia && find(mdia, 'mdhd');
          const hdlr = mdia && find(mdia, 'hdlr');
          if (mdhd) s.timescale = mdhd[0] === 1 ? mdhd.readUInt32BE(20) : mdhd.readUInt32BE(12);
          if (hdlr) s.handler = hdlr.toString('latin1', 8, 12);
        } else if (t === 'mvex') {
          const trex = find(b, 'trex');
          if (trex) {
            s.defaultDuration = trex.readUInt32BE(12);
            s.defaultFlags = trex.readUInt32BE(20);
          }
        }
      }
      return;
    }
    if (type === 'moof') {
      if (!s.init) s.errors.push('moof before moov');
      let seq = 0;
      let decodeTime = 0;
      let duration = 0;
      let samples = 0;
      let firstFlags: number | undefined;
      for (const [t, b] of children(body)) {
        if (t === 'mfhd') seq = b.readUInt32BE(4);
        if (t !== 'traf') continue;
        let defDur = s.defaultDuration;
        let defFlags = s.defaultFlags;
        for (const [tt, bb] of children(b)) {
          const flags = bb.readUInt32BE(0) & 0xffffff;
          if (tt === 'tfhd') {
            let o = 8;
            if (flags & 0x1) o += 8;
            if (flags & 0x2) o += 4;
            if (flags & 0x8) {
              defDur = bb.readUInt32BE(o);
              o += 4;
            }
            if (flags & 0x10) o += 4;
            if (flags & 0x20) defFlags = bb.readUInt32BE(o);
          } else if (tt === 'tfdt') {
            decodeTime = bb[0] === 1 ? Number(bb.readBigUInt64BE(4)) : bb.readUInt32BE(4);
          } else if (tt === 'trun') {
            const count = bb.readUInt32BE(4);
            let o = 8;
            if (flags & 0x1) o += 4;
            let first: number | undefined;
            if (flags & 0x4) {
              first = bb.readUInt32BE(o);
              o += 4;
            }
            for (let i = 0; i < count; i++) {
              let d = defDur;
              let f = defFlags;
              if (flags & 0x100) {
              d = bb.readUInt32BE(o);
              o += 4;
            }
              if (flags & 0x200) o += 4;
              if (flags & 0x400) {
              f = bb.readUInt32BE(o);
              o += 4;
            }
              if (flags & 0x800) o += 4;
              if (i === 0 && samples === 0) firstFlags = first ?? f;
              duration += d;
            }
            samples += count;
          }
        }
      }
      // sample_is_non_sync_sample is bit 16 of the sample flags.
      const keyframe = firstFlags !== undefined && (firstFlags & 0x10000) === 0;
      const fragment = { seq, decodeTime, duration, samples, keyframe, arrivedAt: Date.now() };
      s.fragments.push(fragment);
      this.onFragment(fragment);
    }
  }
}

function* children(body: Buffer): Generator<[string, Buffer]> {
  let o = 0;
  while (o + 8 <= body.length) {
    const size = body.readUInt32BE(o);
    if (size < 8 || o + size > body.length) return;
    yield [body.toString('latin1', o + 4, o + 8), body.subarray(o + 8, o + size)];
    o += size;
  }
}

function find(body: Buffer, type: string): Buffer | undefined {
  for (const [t, b] of children(body)) if (t === type) return b;
  return undefined;
}

export class CmafReceiver extends EventEmitter {
  readonly sessions: Session[] = [];
  readonly #server: http.Server;
  #port = 0;
  readonly #requests = new Set<http.IncomingMessage>();

  constructor() {
    super();
    this.#server = http.createServer((req, res) => {
      const m = /^\/ingest\/([\w-]+)\/([\w-]+)$/.exec(req.url ?? '');
      if (!m || (req.method !== 'PUT' && req.method !== 'POST')) {
        res.writeHead(404).end();
        return;
      }
      this.#requests.add(req);
      const writable = this.openTrack(m[2] ?? '');
      req.on('data', (c: Buffer) => writable.write(c));
      req.on('close', () => {
        this.#requests.delete(req);
        // An aborted request (FFmpeg killed) is a cut-off, a complete one a clean end.
        if (req.complete) writable.end();
        else writable.destroy();
      });
      req.on('end', () => res.writeHead(204).end());
    });
  }

  /** In-process sink: a new session per call. Takes bytes in any chunking, as the packager does. */
  openTrack(trackId: string): Writable {
    const session: Session = {
      trackId,
      index: this.sessions.filter((s) => s.trackId === trackId).length,
      init: false,
      timescale: 0,
      defaultDuration: 0,
      defaultFlags: 0,
      fragments: [],
      ended: false,
      errors: [],
    };
    this.sessions.push(session);
    this.emit('session', session);
    const parser = new BoxParser(session, (f) => this.emit('fragment', session, f));
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        parser.push(chunk);
        cb();
      },
      final: (cb) => {
        if (parser.pendingBytes > 0) session.errors.push(`ended inside a box (${parser.pendingBytes} bytes pending)`);
        session.ended = true;
        this.emit('end', session);
        cb();
      },
      // Cut off by its writer: the partial box is dropped, the session ends.
      destroy: (err, cb) => {
        if (!session.ended) {
          session.cutOffBytes = parser.pendingBytes;
          session.ended = true;
          this.emit('end', session);
        }
        cb(err);
      },
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  baseUrl(broadcast = 'b1'): string {
    return `http://127.0.0.1:${this.#port}/ingest/${broadcast}`;
  }

  /** Latest session of a track. */
  session(trackId: string): Session | undefined {
    return this.sessions.filter((s) => s.trackId === trackId).at(-1);
  }

  /** Resolves when `predicate` holds, checked on each fragment/session event; rejects after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate()) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('fragment', check);
        this.off('session', check);
      };
      this.on('fragment', check);
      this.on('session', check);
      check();
    });
  }

  async close(): Promise<void> {
    for (const r of this.#requests) r.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
