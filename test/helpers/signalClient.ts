import { once } from 'node:events';
import WebSocket from 'ws';

type Message = { id?: string | null; ok?: boolean; data?: unknown; error?: { code: string; message: string }; notification?: string };

/** A raw signalling client for tests: send anything, read replies in order. */
export class SignalClient {
  readonly ws: WebSocket;
  readonly messages: Message[] = [];
  readonly #waiters: (() => void)[] = [];
  closed: { code: number; reason: string } | undefined;
  #next = 1;

  private constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      this.messages.push(JSON.parse(data.toString()) as Message);
      this.#wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.#wake();
    });
  }

  static async connect(url: string): Promise<SignalClient> {
    const c = new SignalClient(url);
    await once(c.ws, 'open');
    return c;
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  /** Sends a request and resolves with its reply. */
  async request(method: string, data?: unknown): Promise<Message> {
    const id = `r${this.#next++}`;
    this.ws.send(JSON.stringify({ id, method, data }));
    return this.reply((m) => m.id === id);
  }

  /** Resolves with the first message (seen or still to come) that matches. */
  async reply(match: (m: Message) => boolean, timeoutMs = 5000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) before the reply`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no reply in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (!this.closed) await Promise.race([once(this.ws, 'close'), new Promise((r) => setTimeout(r, timeoutMs))]);
    if (!this.closed) throw new Error('socket not closed in time');
    return this.closed;
  }

  close(): void {
    this.ws.close();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}
