import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Writable } from 'node:stream';
import type { Logger } from '../common/index.ts';
import type { StreamCmafSink } from './types.ts';

/** Largest thumbnail accepted (a 180p JPEG is about 10 KB). */
const MAX_THUMBNAIL_BYTES = 1024 * 1024;

/**
 * Lets FFmpeg push to an in-process sink: a loopback HTTP endpoint that accepts
 * FFmpeg's chunked PUT per track and run and pipes its bytes, as they come,
 * into `sink.openTrack(trackId, run)`. One code path for FFmpeg (HTTP),
 * either way. The bytes are not framed here: the sink frames them (the
 * packager's CmafReader) and is told how the stream ended, `end()` when FFmpeg
 * finished its request, `destroy()` when it was cut off mid-write.
 */
export class StreamSinkBridge {
  readonly #server: http.Server;
  readonly #open = new Set<http.IncomingMessage>();
  readonly #sink: StreamCmafSink;
  readonly #logger: Logger;
  readonly #onData: (run: number) => void;
  #closed = false;
  #port = 0;

  private constructor(sink: StreamCmafSink, logger: Logger, onData: (run: number) => void) {
    this.#sink = sink;
    this.#logger = logger;
    this.#onData = onData;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    this.#server.keepAliveTimeout = 0;
    this.#server.requestTimeout = 0;
  }

  /** `onData`: bytes of a run's output arrived (its output advances). */
  static async start(sink: StreamCmafSink, logger: Logger, onData: (run: number) => void): Promise<StreamSinkBridge> {
    const bridge = new StreamSinkBridge(sink, logger, onData);
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
    const run = Number(m[1]);
    const trackId = m[2] ?? '';
    const logger = this.#logger;
    let target: Writable;
    try {
      target = this.#sink.openTrack(trackId, run);
    } catch (err) {
      logger.error({ err, trackId }, 'openTrack() failed');
      res.writeHead(500).end();
      return;
    }
    this.#open.add(req);
    target.on('error', (err) => {
      // The sink refused the bytes (bad CMAF): FFmpeg is told, and the sink has dropped the run.
      logger.warn({ err, trackId, run }, 'sink refused the CMAF from FFmpeg');
      if (!res.headersSent) res.writeHead(400, { Connection: 'close' }).end();
      req.destroy();
    });
    req.pipe(target);
    req.on('data', () => this.#onData(run));
    req.on('close', () => {
      this.#open.delete(req);
      // FFmpeg killed mid-request (or the bridge closed): cut off, the sink keeps the whole boxes.
      if (!req.complete && !target.destroyed) target.destroy();
    });
    req.on('end', () => {
      if (!res.headersSent) res.writeHead(204).end();
    });
  }

  /** One thumbnail POSTed by FFmpeg's image2 muxer: read whole (bounded), handed to the sink. */
  #thumbnail(req: http.IncomingMessage, res: http.ServerResponse, run: number, index: number): void {
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
        this.#logger.warn({ run, index, bytes }, 'thumbnail too large; dropped');
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      try {
        sink(run, index, Buffer.concat(chunks, bytes));
      } catch (err) {
        this.#logger.warn({ err, run, index }, 'thumbnail refused');
      }
      if (!res.headersSent) res.writeHead(204).end();
    });
  }

  urlFor(run: number, trackId: string): string {
    return `http://127.0.0.1:${this.#port}/${run}/${trackId}`;
  }

  /** Where a run's thumbnails go (`%d`: FFmpeg's image2 index). */
  thumbnailUrlFor(run: number): string {
    return `http://127.0.0.1:${this.#port}/${run}/thumbs/%d.jpg`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const req of this.#open) req.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
