/**
 * A lean HTTP/1.1 GET client for the load generators: keep-alive sockets in a
 * per-viewer pool (at most `maxSockets`, as a browser holds per host), one
 * request at a time per socket, responses parsed by hand (status, the headers
 * the benchmarks read, Content-Length or chunked bodies). Node's http client
 * spends most of a generator's CPU in ClientRequest/IncomingMessage and the
 * Agent; this spends it on the bytes, so one generator process drives several
 * times more viewers and the server under test, not the generator, is what a
 * large audience measures.
 */
import net from 'node:net';

export interface RawResponse {
  status: number;
  /** The body as text when asked for, else ''. */
  body: string;
  bytes: number;
  /** X-Cache-Status (nginx's $upstream_cache_status), when the server sent one. */
  cache: string | undefined;
}

export class RawHttpError extends Error {
  constructor(
    /** A short kind: ECONNRESET, TIMEOUT, closed, bad response … with the socket's state. */
    readonly kind: string,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  path: string;
  text: boolean;
  resolve: (r: RawResponse) => void;
  reject: (e: RawHttpError) => void;
}

const CRLF2 = Buffer.from('\r\n\r\n');
const TIMEOUT_MS = 15_000;

/** One keep-alive connection; `onIdle` hands it back to the pool. */
class RawConn {
  readonly #socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #cur: (Pending & { head?: { status: number; cache: string | undefined; length: number; chunked: boolean; bodyStart: number }; chunks: Buffer[]; got: number; reused: boolean }) | undefined;
  #used = false;
  #timer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(
    host: string,
    port: number,
    readonly onIdle: (c: RawConn) => void,
    readonly onClose: (c: RawConn) => void,
    readonly onOpen: () => void,
  ) {
    this.#socket = net.connect({ host, port, noDelay: true });
    this.#socket.once('connect', onOpen);
    this.#socket.on('data', (d: Buffer) => this.#data(d));
    this.#socket.on('error', (err: NodeJS.ErrnoException) => this.#fail(err.code ?? err.message, err.message));
    this.#socket.on('close', () => this.#fail('closed', 'the server closed the connection'));
  }

  send(p: Pending): void {
    this.#cur = { ...p, chunks: [], got: 0, reused: this.#used };
    this.#used = true;
    this.#timer = setTimeout(() => this.#fail('TIMEOUT', 'no response in 15 s'), TIMEOUT_MS);
    this.#socket.write(`GET ${p.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: stagecast-bench\r\nAccept: */*\r\n\r\n`);
  }

  destroy(): void {
    this.closed = true;
    this.#socket.destroy();
  }

  #fail(kind: string, message: string): void {
    const cur = this.#cur;
    this.#cur = undefined;
    clearTimeout(this.#timer);
    if (!this.closed) {
      this.closed = true;
      this.#socket.destroy();
      this.onClose(this);
    }
    cur?.reject(new RawHttpError(`${kind}${cur.reused ? ' on a reused keep-alive socket' : ' on a new socket'}`, `${cur.path}: ${message}`));
  }

  #data(d: Buffer): void {
    const cur = this.#cur;
    if (!cur) return this.#fail('bad response', 'bytes with no request in flight');
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    if (!cur.head) {
      const end = this.#buf.indexOf(CRLF2);
      if (end < 0) return;
      const head = this.#buf.subarray(0, end).toString('latin1');
      const status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
      if (!status || (!length && !chunked)) return this.#fail('bad response', head.split('\r\n')[0] ?? '');
      cur.head = { status, cache: /\r\nx-cache-status: *([A-Z]+)/i.exec(head)?.[1], length: length ? Number(length[1]) : -1, chunked, bodyStart: 0 };
      this.#buf = this.#buf.subarray(end + 4);
    }
    const h = cur.head;
    if (!h.chunked) {
      if (this.#buf.length < h.length) return;
      return this.#done(this.#buf.subarray(0, h.length), this.#buf.subarray(h.length));
    }
    // Chunked: <hex size>\r\n<bytes>\r\n … 0\r\n\r\n
    for (;;) {
      const eol = this.#buf.indexOf('\r\n');
      if (eol < 0) return;
      const size = parseInt(this.#buf.subarray(0, eol).toString('latin1'), 16);
      if (Number.isNaN(size)) return this.#fail('bad response', 'malformed chunk size');
      if (this.#buf.length < eol + 2 + size + 2) return;
      if (size === 0) return this.#done(Buffer.concat(cur.chunks), this.#buf.subarray(eol + 4));
      cur.chunks.push(this.#buf.subarray(eol + 2, eol + 2 + size));
      this.#buf = this.#buf.subarray(eol + 2 + size + 2);
    }
  }

  #done(body: Buffer, rest: Buffer): void {
    const cur = this.#cur!;
    this.#cur = undefined;
    clearTimeout(this.#timer);
    this.#buf = rest.length ? Buffer.from(rest) : Buffer.alloc(0);
    cur.resolve({ status: cur.head!.status, body: cur.text ? body.toString('utf8') : '', bytes: body.length, cache: cur.head!.cache });
    this.onIdle(this);
  }
}

/** A viewer's connections to one server: idle sockets are reused, at most `maxSockets` open, the rest queue. */
export class RawPool {
  readonly #idle: RawConn[] = [];
  readonly #all = new Set<RawConn>();
  readonly #queue: Pending[] = [];
  #open = 0;
  /** Sockets this pool has opened (connections, not requests). */
  opened = 0;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly maxSockets = 6,
  ) {}

  get(path: string, text: boolean): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const p: Pending = { path, text, resolve, reject };
      const idle = this.#idle.pop();
      if (idle) return idle.send(p);
      if (this.#open < this.maxSockets) return this.#connect().send(p);
      this.#queue.push(p);
    });
  }

  #connect(): RawConn {
    this.#open++;
    const conn = new RawConn(
      this.host,
      this.port,
      (c) => {
        const next = this.#queue.shift();
        if (next) c.send(next);
        else this.#idle.push(c);
      },
      (c) => {
        this.#open--;
        this.#all.delete(c);
        const i = this.#idle.indexOf(c);
        if (i >= 0) this.#idle.splice(i, 1);
        // A queued request takes a fresh socket in place of the closed one.
        const next = this.#queue.shift();
        if (next) this.#connect().send(next);
      },
      () => this.opened++,
    );
    this.#all.add(conn);
    return conn;
  }

  destroy(): void {
    this.#idle.length = 0;
    for (const c of this.#all) c.destroy();
    this.#all.clear();
    for (const p of this.#queue.splice(0)) p.reject(new RawHttpError('closed', `${p.path}: the viewer stopped`));
  }
}
