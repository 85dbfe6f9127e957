import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import type { Logger } from '../common/index.ts';
import type { StreamCmafSink } from './types.ts';

/** Largest top-level box accepted from FFmpeg (a 4K keyframe fragment fits easily). */
const MAX_BOX_BYTES = 64 * 1024 * 1024;
/** Largest thumbnail accepted (a 180p JPEG is about 10 KB). */
const MAX_THUMBNAIL_BYTES = 1024 * 1024;

/**
 * Cuts a byte stream into whole top-level ISO-BMFF boxes and forwards only
 * complete ones, so a consumer never sees half a fragment even when FFmpeg is
 * killed mid-write. Calls `onBox` for each.
 */
export class BoxFramer extends Transform {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  constructor(private readonly onBox: (type: string, size: number) => void = () => {}) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    let buf = this.#pending.length === 1 ? chunk : Buffer.concat(this.#pending, this.#pendingBytes);
    let offset = 0;
    while (buf.length - offset >= 8) {
      let size = buf.readUInt32BE(offset);
      const type = buf.toString('latin1', offset + 4, offset + 8);
      let header = 8;
      if (size === 1) {
        if (buf.length - offset < 16) break;
        const big = buf.readBigUInt64BE(offset + 8);
        if (big > BigInt(MAX_BOX_BYTES)) return done(new Error(`box ${type} too large (${big} bytes)`));
        size = Number(big);
        header = 16;
      }
      if (size < header || size > MAX_BOX_BYTES) return done(new Error(`bad box ${JSON.stringify(type)} size ${size}`));
      if (buf.length - offset < size) break;
      this.push(buf.subarray(offset, offset + size));
      this.onBox(type, size);
      offset += size;
    }
    buf = buf.subarray(offset);
    this.#pending = buf.length ? [buf] : [];
    this.#pendingBytes = buf.length;
    done();
  }

  override _flush(done: TransformCallback): void {
    // A trailing partial box (the process died mid-fragment) is dropped.
    this.#pending = [];
    done();
  }
}

/**
 * Lets FFmpeg push to an in-process sink: a loopback HTTP endpoint that accepts
 * FFmpeg's chunked PUT per track and session and pipes whole boxes into
 * `sink.openTrack(trackId, session)`. One code path for FFmpeg (HTTP), either way.
 */
export class StreamSinkBridge {
  readonly #server: http.Server;
  readonly #open = new Set<http.IncomingMessage>();
  readonly #sink: StreamCmafSink;
  readonly #logger: Logger;
  readonly #onBox: (info: { trackId: string; session: number; type: string; size: number }) => void;
  #closed = false;
  #port = 0;

  private constructor(sink: StreamCmafSink, logger: Logger, onBox: (info: { trackId: string; session: number; type: string; size: number }) => void) {
    this.#sink = sink;
    this.#logger = logger;
    this.#onBox = onBox;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 0;
    this.#server.requestTimeout = 0;
  }

  static async start(
    sink: StreamCmafSink,
    logger: Logger,
    onBox: (info: { trackId: string; session: number; type: string; size: number }) => void,
  ): Promise<StreamSinkBridge> {
    const bridge = new StreamSinkBridge(sink, logger, onBox);
    await new Promise<void>((resolve, reject) => {
      bridge.#server.once('error', reject);
      bridge.#server.listen(0, '127.0.0.1', () => resolve());
    });
    bridge.#port = (bridge.#server.address() as AddressInfo).port;
    return bridge;
  }

  get port(): number {
    return this.#port;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const thumb = /^\/(\d+)\/thumbs\/(\d{1,9})\.jpg$/.exec(req.url ?? '');
    if (thumb) return this.#thumbnail(req, res, Number(thumb[1]), Number(thumb[2]));
    const m = /^\/(\d+)\/([\w-]+)$/.exec(req.url ?? '');
    if (!m || (req.method !== 'PUT' && req.method !== 'POST') || this.#closed) {
      res.writeHead(m ? 405 : 404).end();
      return;
    }
    const session = Number(m[1]);
    const trackId = m[2] ?? '';
    const logger = this.#logger;
    let target: Writable;
    try {
      target = this.#sink.openTrack(trackId, session);
    } catch (err) {
      logger.error({ err, trackId }, 'openTrack() failed');
      res.writeHead(500).end();
      return;
    }
    this.#open.add(req);
    const framer = new BoxFramer((type, size) => this.#onBox({ trackId, session, type, size }));
    const finish = () => {
      this.#open.delete(req);
      if (!target.writableEnded) target.end();
    };
    framer.on('error', (err) => {
      logger.warn({ err, trackId, session }, 'bad CMAF from FFmpeg');
      req.unpipe(framer);
      finish();
      res.writeHead(400).end();
    });
    target.on('error', (err) => logger.warn({ err, trackId, session }, 'sink track stream failed'));
    req.pipe(framer);
    framer.pipe(target, { end: false });
    framer.on('end', finish);
    // FFmpeg killed mid-request: end the session with the whole boxes received so far.
    req.on('close', () => {
      if (!req.complete) framer.end();
    });
    req.on('end', () => {
      if (!res.headersSent) res.writeHead(204).end();
    });
  }

  /** One thumbnail POSTed by FFmpeg's image2 muxer: read whole (bounded), handed to the sink. */
  #thumbnail(req: http.IncomingMessage, res: http.ServerResponse, session: number, index: number): void {
    const sink = this.#sink.thumbnail?.bind(this.#sink);
    if (!sink || (req.method !== 'PUT' && req.method !== 'POST') || this.#closed) {
      res.writeHead(sink ? 405 : 404).end();
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes > MAX_THUMBNAIL_BYTES) {
        this.#logger.warn({ session, index, bytes }, 'thumbnail too large; dropped');
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        sink(session, index, Buffer.concat(chunks, bytes));
      } catch (err) {
        this.#logger.warn({ err, session, index }, 'thumbnail refused');
      }
      if (!res.headersSent) res.writeHead(204).end();
    });
  }

  urlFor(session: number, trackId: string): string {
    return `http://127.0.0.1:${this.#port}/${session}/${trackId}`;
  }

  /** Where a session's thumbnails go (`%d`: FFmpeg's image2 index). */
  thumbnailUrlFor(session: number): string {
    return `http://127.0.0.1:${this.#port}/${session}/thumbs/%d.jpg`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const req of this.#open) req.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
