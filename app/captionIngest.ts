/**
 * Caption ingest: cues from a live captioner or a speech-to-text service, for
 * a stage's live broadcast. Two forms, the same rules (packager/captions.ts):
 * - `POST /api/stages/:id/captions` with one cue as JSON → 201 with the cue as
 *   placed (control API, admin token);
 * - a WebSocket at `/api/stages/:id/captions/ws` (admin token in the
 *   `Authorization` header): one cue per text message, answered in order
 *   with `{ type: 'cue', … }` or `{ type: 'error', code, status, message }`.
 *   A refused cue never closes the socket; a captioner keeps going.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { z } from 'zod';
import { InputError, STAGE_ID_PATTERN, bearerMatches, errorMessage, type Logger } from '../common/index.ts';
import { CAPTION_LIMITS, type Cue, type CueInput } from '../packager/index.ts';

const time = z.union([z.number(), z.string().max(64)]);

/** The shape of a cue (its rules are the packager's). */
const captionCueSchema = z
  .object({
    // Longer text is refused by the packager with its own 413; this bound only keeps bodies small.
    text: z.string().max(CAPTION_LIMITS.maxTextChars * 4),
    start: time.optional(),
    end: time.optional(),
    duration: z.number().optional(),
    speaker: z.string().max(CAPTION_LIMITS.maxSpeakerChars * 4).optional(),
  })
  .strict();

/** A cue's shape from JSON (the POST body, a socket message, the internal channel's params); InputError `bad-cue` otherwise. */
export function parseCue(json: unknown): CueInput {
  const cue = captionCueSchema.safeParse(json);
  if (!cue.success) throw new InputError('bad-cue', `expected { text, start?, end? | duration?, speaker? }: ${cue.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  return cue.data;
}

/** Where cues go: the stage's live broadcast, in this process or on its node. */
export type CaptionSink = (stageId: string, cue: CueInput) => Cue | Promise<Cue>;

const PATH = /^\/api\/stages\/([^/]+)\/captions\/ws$/;

export class CaptionSocketServer {
  readonly #wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 });
  readonly #sink: CaptionSink;
  readonly #token: string;
  readonly #log: Logger;
  #server: Server | undefined;

  constructor(sink: CaptionSink, adminToken: string, logger: Logger) {
    this.#sink = sink;
    this.#token = adminToken;
    this.#log = logger.child({ component: 'captions' });
  }

  attach(server: Server): void {
    this.#server = server;
    server.on('upgrade', this.#onUpgrade);
  }

  close(): void {
    this.#server?.off('upgrade', this.#onUpgrade);
    for (const ws of this.#wss.clients) ws.close(1001, 'server shutting down');
    this.#wss.close();
  }

  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const m = PATH.exec(new URL(req.url ?? '/', 'http://x').pathname);
    if (!m) return; // another upgrade handler's path
    const refuse = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    if (!bearerMatches(req.headers.authorization, this.#token)) return void refuse('401 Unauthorized');
    const stageId = decodeURIComponent(m[1]!);
    if (!STAGE_ID_PATTERN.test(stageId)) return void refuse('404 Not Found');
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, stageId));
  };

  #accept(ws: WebSocket, stageId: string): void {
    const log = this.#log.child({ stage: stageId });
    log.info('captioner connected');
    // Answers go out in the order the cues came, even when one is relayed to another node.
    let queue = Promise.resolve();
    ws.on('message', (data: RawData, isBinary: boolean) => {
      queue = queue.then(async () => {
        const answer = await this.#cue(stageId, data, isBinary);
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(answer));
      });
    });
    ws.on('error', (err) => log.warn({ err: errorMessage(err) }, 'captioner socket error'));
    ws.on('close', (code) => log.info({ code }, 'captioner disconnected'));
  }

  async #cue(stageId: string, data: RawData, isBinary: boolean): Promise<object> {
    try {
      if (isBinary) throw new InputError('bad-cue', 'send cues as JSON text messages');
      let json: unknown;
      try {
        json = JSON.parse(data.toString());
      } catch {
        throw new InputError('bad-cue', 'a message is one cue as JSON');
      }
      return { type: 'cue', ...(await this.#sink(stageId, parseCue(json))) };
    } catch (err) {
      if (err instanceof InputError) return { type: 'error', code: err.code, status: err.status, message: err.message };
      this.#log.error({ err, stage: stageId }, 'caption failed');
      return { type: 'error', code: 'internal', status: 500, message: 'internal error' };
    }
  }
}
