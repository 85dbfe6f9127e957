import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { InputError, type Logger, type PortAllocator, type PortPair } from '../common/index.ts';
import type { ProgramSource, RtpOutput, Stage, StageEvents } from '../ingest/index.ts';
import type { RpcChannel } from './rpcChannel.ts';

/**
 * The stage events an SFU forwards to the broadcast node, by name with their
 * arguments as JSON. A new Stage event a broadcast should react to is one more
 * name here (and in StageFeedEvents); the remote feed re-emits whatever arrives.
 */
export const forwardedStageEvents = ['hostjoin', 'hostleave', 'producer', 'producerclose', 'producerpause', 'audiolevels', 'close'] as const satisfies readonly (keyof StageEvents)[];

const portPair = z.object({ rtp: z.number().int().min(1024).max(65534), rtcp: z.number().int().min(1025).max(65535) }).refine((p) => p.rtcp === p.rtp + 1, 'rtcp must be rtp + 1');
const createParams = z.object({
  producerIds: z
    .array(z.union([z.string().min(1).max(64), z.object({ producerId: z.string().min(1).max(64), spatialLayer: z.number().int().min(0).max(15).optional() })]))
    .min(1)
    .max(32),
  remoteIp: z.string().min(1).max(64),
  ports: z.array(portPair).min(1).max(32),
});
const outputParams = z.object({ outputId: z.string().min(1).max(64) });
const streamSpec = z.object({ ssrc: z.number().int().min(1).max(0xffffffff), payloadType: z.number().int().min(96).max(127) });
const programInputParams = z.object({ video: streamSpec, audio: streamSpec }).strict();
const inputParams = z.object({ inputId: z.string().min(1).max(64) });
const levelParams = z.object({ intervalMs: z.number().int().min(100).max(5000), threshold: z.number().int().min(-127).max(0) });

function parse<T>(schema: z.ZodType<T>, params: unknown, method: string): T {
  const r = schema.safeParse(params);
  if (!r.success) throw new InputError('bad-params', `${method}: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  return r.data;
}

/** The port pairs a broadcast node reserved on its own machine, handed out in order. */
class ReservedPorts implements PortAllocator {
  readonly #pairs: PortPair[];
  constructor(pairs: PortPair[]) {
    this.#pairs = [...pairs];
  }
  async allocate(): Promise<PortPair> {
    const pair = this.#pairs.shift();
    if (!pair) throw new InputError('too-few-ports', 'the broadcast node reserved fewer port pairs than tracks');
    return pair;
  }
  release(): void {
    // The broadcast node owns these ports; it takes them back when its output closes.
  }
}

/**
 * The SFU's side of a remote feed: serves one stage to a broadcast node over
 * `channel` (RTP outputs to the node's ports, resume, keyframes, stats, close)
 * and forwards the stage's events. Returns a dispose function; the channel
 * closing disposes too (every RTP output of this channel is closed).
 * `logger` is bound to the stage and the node by the caller (pino writes a
 * key bound twice twice).
 */
export function serveStageFeed(channel: RpcChannel, stage: Stage, logger: Logger): () => void {
  const log = logger;
  const outputs = new Map<string, RtpOutput>();
  const programInputs = new Map<string, ProgramSource>();
  const output = (params: unknown, method: string): RtpOutput => {
    const { outputId } = parse(outputParams, params, method);
    const o = outputs.get(outputId);
    if (!o) throw new InputError('unknown-output', `no RTP output ${outputId}`, 404);
    return o;
  };

  channel
    .handle('createRtpOutput', async (params) => {
      const p = parse(createParams, params, 'createRtpOutput');
      const o = await stage.createRtpOutput({ producerIds: p.producerIds, remoteIp: p.remoteIp, portPool: new ReservedPorts(p.ports) });
      const outputId = randomUUID();
      outputs.set(outputId, o);
      o.onClose(() => {
        outputs.delete(outputId);
        channel.notify('outputclose', { outputId });
      });
      return { outputId, descriptor: o.descriptor, tracks: o.tracks };
    })
    .handle('output.resume', (params) => output(params, 'output.resume').resume())
    .handle('output.requestKeyFrame', (params) => output(params, 'output.requestKeyFrame').requestKeyFrame())
    .handle('output.stats', (params) => output(params, 'output.stats').stats())
    // The program back from the broadcast node's FFmpeg, for this SFU's WHEP viewers.
    .handle('openProgramInput', async (params) => {
      const source = await stage.openProgramInput(parse(programInputParams, params, 'openProgramInput'));
      const inputId = randomUUID();
      programInputs.set(inputId, source);
      source.onClose(() => {
        programInputs.delete(inputId);
        channel.notify('programinputclose', { inputId });
      });
      return { inputId, addresses: source.addresses };
    })
    .handle('programInput.close', (params) => {
      const { inputId } = parse(inputParams, params, 'programInput.close');
      programInputs.get(inputId)?.close();
    })
    .handle('watchAudioLevels', (params) => stage.watchAudioLevels(parse(levelParams, params, 'watchAudioLevels')))
    .handle('output.close', (params) => {
      const { outputId } = parse(outputParams, params, 'output.close');
      outputs.get(outputId)?.close();
    });

  const unsubscribe: (() => void)[] = [];
  for (const name of forwardedStageEvents) {
    const listener = (...args: unknown[]) => channel.notify('stage', { name, args });
    stage.on(name, listener as never);
    unsubscribe.push(() => stage.off(name, listener as never));
  }

  let disposed = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    for (const u of unsubscribe) u();
    for (const o of [...outputs.values()]) o.close();
    for (const p of [...programInputs.values()]) p.close();
    log.info('stage feed disposed');
  };
  channel.once('close', dispose);
  return dispose;
}
