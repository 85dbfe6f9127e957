import { z } from 'zod';
import { InputError } from '../../common/index.ts';

/**
 * The signalling protocol between the host page and the SFU, over WebSocket.
 * Client → server: `{ id, method, data }`; server → client: `{ id, ok: true, data }`
 * or `{ id, ok: false, error: { code, message } }`; and notifications
 * `{ notification, data }`. Every message is validated here before it is acted on.
 */

const id = z.string().min(1).max(128);
const fingerprint = z.object({ algorithm: z.string().max(32), value: z.string().max(256) });
const dtlsParameters = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z.array(fingerprint).min(1).max(8),
});
const codec = z
  .object({
    mimeType: z.string().max(64),
    payloadType: z.number().int().min(0).max(127),
    clockRate: z.number().int().positive(),
    channels: z.number().int().min(1).max(8).optional(),
    parameters: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
    rtcpFeedback: z.array(z.object({ type: z.string().max(32), parameter: z.string().max(32).optional() })).max(16).optional(),
  })
  .loose();
const rtpParameters = z
  .object({
    mid: z.string().max(32).optional(),
    codecs: z.array(codec).min(1).max(16),
    headerExtensions: z.array(z.object({ uri: z.string().max(256), id: z.number().int() }).loose()).max(16).optional(),
    encodings: z.array(z.object({ ssrc: z.number().int().optional() }).loose()).max(4).optional(),
    rtcp: z.object({ cname: z.string().max(256).optional() }).loose().optional(),
  })
  .loose();

export const requestSchema = z.discriminatedUnion('method', [
  z.object({ id, method: z.literal('join'), data: z.object({ stageId: id, token: z.string().min(1).max(2048) }) }),
  z.object({ id, method: z.literal('createTransport'), data: z.object({}).strict().optional() }),
  z.object({ id, method: z.literal('connectTransport'), data: z.object({ transportId: id, dtlsParameters }) }),
  z.object({
    id,
    method: z.literal('produce'),
    data: z.object({
      transportId: id,
      kind: z.enum(['audio', 'video']),
      rtpParameters,
      /** What the publisher captures (from the track's settings); lets the ladder skip rungs above it. */
      source: z.object({ width: z.number().int().min(1).max(8192), height: z.number().int().min(1).max(8192) }).optional(),
    }),
  }),
  z.object({ id, method: z.literal('closeProducer'), data: z.object({ producerId: id }) }),
  z.object({ id, method: z.literal('getStats'), data: z.object({}).strict().optional() }),
  z.object({ id, method: z.literal('leave'), data: z.object({}).strict().optional() }),
]);

export type SignalRequest = z.infer<typeof requestSchema>;
export type SignalMethod = SignalRequest['method'];

export interface SignalResponseOk {
  id: string;
  ok: true;
  data: unknown;
}
export interface SignalResponseError {
  id: string | null;
  ok: false;
  error: { code: string; message: string };
}
export interface SignalNotification {
  notification: 'stageClosed' | 'producerClosed' | 'removed';
  data: Record<string, unknown>;
}
export type ServerMessage = SignalResponseOk | SignalResponseError | SignalNotification;

/**
 * Parses one raw message. Too large, not JSON, or not a known request → an
 * InputError naming what is wrong (and the request id when it could be read).
 */
export function parseRequest(raw: string | Buffer, maxBytes: number): SignalRequest {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > maxBytes) throw new InputError('message-too-large', `message of ${size} bytes exceeds ${maxBytes}`, 413);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString());
  } catch {
    throw new InputError('malformed', 'message is not valid JSON');
  }
  const result = requestSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'message';
    throw new InputError('invalid-request', `${where}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data;
}

/** The request id of a message that failed validation, if it has a readable one. */
export function requestIdOf(raw: string | Buffer): string | null {
  try {
    const v = JSON.parse(raw.toString()) as { id?: unknown };
    return typeof v.id === 'string' && v.id.length <= 128 ? v.id : null;
  } catch {
    return null;
  }
}
