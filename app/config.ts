import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ingestConfigSchema } from '../ingest/index.ts';
import { packagerConfigSchema } from '../packager/index.ts';
import { audioFragmentDurationUs, transcodeConfigSchema, type TranscodeConfig } from '../transcode/index.ts';

const portRange = z
  .object({ min: z.number().int().min(1024).max(65535), max: z.number().int().min(1024).max(65535) })
  .refine((r) => r.max > r.min + 1, { message: 'max must exceed min by at least 2' });

/** Where segments, playlists and the VOD are kept: a directory (embedded default) or S3. */
const storeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fs'), dir: z.string().min(1).default('data/store') }),
  z.object({
    kind: z.literal('s3'),
    bucket: z.string().min(3),
    prefix: z.string().default(''),
    region: z.string().default('us-east-1'),
    /** S3-protocol endpoint (MinIO, s3rver); unset for AWS. */
    endpoint: z.url().optional(),
    forcePathStyle: z.boolean().default(false),
    /** Static credentials, only for local S3 servers; AWS uses the standard credential chain. */
    credentials: z.object({ accessKeyId: z.string(), secretAccessKey: z.string() }).optional(),
  }),
]);

const nodeId = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'node ids are DNS labels: lowercase letters, digits and -, at most 63');

/** `id=http://host:port,id2=…` (STAGECAST_BROADCAST_NODES) or an array of { id, url }. */
const broadcastNodesSchema = z.preprocess(
  (v) =>
    typeof v === 'string'
      ? v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => {
            const i = s.indexOf('=');
            return i < 0 ? { id: s, url: '' } : { id: s.slice(0, i).trim(), url: s.slice(i + 1).trim() };
          })
      : v,
  z
    .array(z.object({ id: nodeId, url: z.url({ protocol: /^https?$/, error: 'each node needs id=http(s)://host:port' }) }))
    .refine((nodes) => new Set(nodes.map((n) => n.id)).size === nodes.length, 'node ids must be unique'),
);

/** The slate shipped with the app (a plain card, 1280×720). */
export const DEFAULT_SLATE_IMAGE = fileURLToPath(new URL('./assets/slate.png', import.meta.url));

/** How a stage's hosts make one program: layout, active speaker, slate, grace. */
export const composeConfigSchema = z
  .object({
    /** Layout a broadcast starts with: `grid` (every host's video in a grid) or `speaker` (the active speaker full frame). */
    layout: z.enum(['grid', 'speaker']).default('grid'),
    /** With no host publishing at all, the broadcast shows the slate this long (ms), then ends; a host back in time resumes it. */
    hostGraceMs: z.number().int().min(0).default(30_000),
    /** Image shown (with silence) while no host sends video; PNG or JPEG, any size (fitted to the frame). */
    slateImage: z
      .string()
      .min(1)
      .default(DEFAULT_SLATE_IMAGE)
      .refine((p) => existsSync(p), { message: 'slate image not found' }),
    /** Changes (joins, leaves, mutes, layout, speaker) closer together than this (ms) make one FFmpeg restart. */
    changeDebounceMs: z.number().int().min(0).max(10_000).default(400),
    speaker: z
      .object({
        /** A new speaker must be the loudest this long (ms) before taking the program. */
        minDominanceMs: z.number().int().min(0).default(1000),
        /** A speaker keeps the program at least this long (ms). */
        minHoldMs: z.number().int().min(0).default(2500),
        /** Audio level report period (ms) of mediasoup's AudioLevelObserver. */
        levelIntervalMs: z.number().int().min(100).max(5000).default(300),
        /** Levels below this (dBov, -127…0) count as silence. */
        levelThreshold: z.number().int().min(-127).max(0).default(-70),
      })
      .prefault({}),
  })
  .prefault({});
export type ComposeConfig = z.infer<typeof composeConfigSchema>;

/**
 * The packager section as the app takes it: its segment and part targets may be
 * left unset, and then follow the transcoder's timing (see `stageTiming`).
 */
const appPackagerSchema = packagerConfigSchema.extend({
  /** Unset: `transcode.segmentDurationMs` (the encoder's keyframe interval). Set: must equal it. */
  segmentTargetMs: packagerConfigSchema.shape.segmentTargetMs.unwrap().optional(),
  /** Unset: derived from `transcode.partDurationMs` and `fps` (see `derivedPartTargetMs`). Set: every part must fit it. */
  partTargetMs: packagerConfigSchema.shape.partTargetMs.unwrap().optional(),
});

type TimingInput = Pick<TranscodeConfig, 'segmentDurationMs' | 'partDurationMs' | 'fps'>;

/**
 * The longest part FFmpeg makes, ms: it closes a fragment at the first frame
 * that reaches `-frag_duration`, so a video part is that many whole frames
 * rounded up (250 ms at 30 fps: 8 frames, 266.7 ms); audio parts are whole AAC
 * frames that fit the part (transcode's `audioFragmentDurationUs`). Copied video
 * (passthrough) has the publisher's frame rate: not known here.
 */
function longestPartMs(t: TimingInput): { video: number; any: number } {
  const video = (Math.ceil((t.partDurationMs * t.fps) / 1000) * 1000) / t.fps;
  return { video, any: Math.max(video, audioFragmentDurationUs(t.partDurationMs) / 1000) };
}

/** The part target when none is set: 10 % above the part duration (220 for 200), never below the longest part. */
export function derivedPartTargetMs(t: TimingInput): number {
  return Math.max(Math.round(1.1 * t.partDurationMs), Math.ceil(longestPartMs(t).any));
}

const fmt = (ms: number) => String(Number(ms.toFixed(1)));

/**
 * One timing for the whole pipeline. The encoder forces a keyframe every
 * `transcode.segmentDurationMs` and the packager cuts segments on its
 * `segmentTargetMs` grid (audio on the same grid), so the two must be one
 * value; LL-HLS wants every part ≤ PART-TARGET and every non-independent,
 * non-last part ≥ 85 % of it (§4.4.4.9). Errors name both keys.
 */
function stageTiming(c: { transcode: TimingInput; packager: { segmentTargetMs?: number; partTargetMs?: number } }, ctx: z.RefinementCtx): void {
  const t = c.transcode;
  const seg = c.packager.segmentTargetMs;
  if (seg !== undefined && seg !== t.segmentDurationMs) {
    ctx.addIssue({
      code: 'custom',
      path: ['packager', 'segmentTargetMs'],
      message: `packager.segmentTargetMs (${seg}) must equal transcode.segmentDurationMs (${t.segmentDurationMs}), the encoder's keyframe interval; leave packager.segmentTargetMs unset to follow it`,
    });
  }
  const part = c.packager.partTargetMs;
  if (part === undefined) return;
  const longest = longestPartMs(t);
  const made = `transcode.partDurationMs (${t.partDurationMs}) at transcode.fps (${t.fps})`;
  if (longest.any > part) {
    ctx.addIssue({
      code: 'custom',
      path: ['packager', 'partTargetMs'],
      message: `packager.partTargetMs (${part}) is below the longest part FFmpeg makes, ${fmt(longest.any)} ms from ${made}; leave packager.partTargetMs unset to derive it`,
    });
  } else if (longest.video < 0.85 * part) {
    ctx.addIssue({
      code: 'custom',
      path: ['packager', 'partTargetMs'],
      message: `packager.partTargetMs (${part}): video parts of ${fmt(longest.video)} ms from ${made} are under 85 % of it; leave packager.partTargetMs unset to derive it`,
    });
  }
}

/** The whole process's configuration: one section per stage, validated once at start-up. */
export const appConfigSchema = z.object({
  /**
   * What this process runs: `all` (every stage, the embedded default), `sfu`
   * (mediasoup, signalling, host page, control API; broadcasts run on broadcast
   * nodes) or `broadcast` (FFmpeg, packager, origin and store for the stages SFUs
   * place on it). See docs/scaling.md.
   */
  role: z.enum(['all', 'sfu', 'broadcast']).default('all'),
  /** This broadcast node's stable id (a DNS label, e.g. the StatefulSet pod name); viewer URLs carry it as /b/<id>/. */
  nodeId: nodeId.optional(),
  /** Bearer secret of node-to-node calls under /internal/ (both roles); at least 16 characters. */
  internalToken: z.string().min(16, 'internalToken must be at least 16 characters').optional(),
  /** The broadcast nodes an SFU places stages on. */
  broadcastNodes: broadcastNodesSchema.default([]),
  http: z
    .object({
      /** Address the HTTP server (pages, signalling, API) binds to. */
      host: z.string().min(1).default('0.0.0.0'),
      /** Port of the HTTP server; 0 picks a free one. */
      port: z.number().int().min(0).max(65535).default(8080),
      /** Base URL people reach the server at (for the links printed); defaults to http://localhost:port. */
      publicUrl: z.url().optional(),
    })
    .prefault({}),
  /** Bearer token for the control API; at least 16 characters. */
  adminToken: z.string().min(16, 'adminToken must be at least 16 characters'),
  log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  // An unset ingest.hostSimulcastLayers follows the transcode mode (see the transform below).
  ingest: ingestConfigSchema,
  packager: appPackagerSchema.prefault({}),
  transcode: transcodeConfigSchema.prefault({}),
  compose: composeConfigSchema,
  store: storeSchema.default({ kind: 'fs', dir: 'data/store' }),
  /** An ended broadcast stays in memory this long (ms) so live viewers finish on the live playlist; then the store serves the VOD. */
  endedGraceMs: z.number().int().min(0).default(15_000),
  /** Base URL of the CDN in front of the origin; viewer links use it when set. */
  cdnBaseUrl: z.url().optional(),
  /**
   * Address FFmpeg receives RTP on, and the UDP ports it may use (pairs: RTP, RTP + 1).
   * The default range lies below Linux's ephemeral range (32768-60999): a port is checked
   * free when allocated but FFmpeg binds it later, and in between any process's
   * ephemeral socket could take a port inside that range.
   */
  rtp: z
    .object({ address: z.string().min(1).default('127.0.0.1'), ports: portRange.default({ min: 24000, max: 24999 }) })
    .prefault({}),
  /** Prometheus metrics at GET /metrics. */
  metrics: z
    .object({
      /** Serve /metrics at all. */
      enabled: z.boolean().default(true),
      /** Bearer token a scraper must send (`Authorization: Bearer …`); unset = open (keep it on a private network then). */
      token: z.string().min(16, 'metrics.token must be at least 16 characters').optional(),
    })
    .prefault({}),
  /** Signed, expiring viewer URLs (`/live/t/<token>/<broadcast>/…`), verified at the origin. */
  viewerAuth: z
    .object({
      /** HMAC-SHA256 secret of viewer tokens (at least 16 characters); unset = no viewer tokens. */
      secret: z.string().min(16, 'viewerAuth.secret must be at least 16 characters').optional(),
      /** Refuse unsigned `/live/…` requests (403); false keeps them open and accepts signed ones too. */
      required: z.boolean().default(false),
      /** Expiries are rounded up to this many seconds so viewers in one window share URLs (and CDN objects). */
      expiryGranularitySeconds: z.number().int().min(1).max(86_400).default(300),
      /** Longest ttlSeconds the control API grants. */
      maxTtlSeconds: z.number().int().min(60).default(7 * 86_400),
    })
    .prefault({})
    .refine((v) => !v.required || v.secret, { message: 'viewerAuth.required needs viewerAuth.secret', path: ['secret'] }),
  /** Control API limits per client address. */
  api: z
    .object({
      rateLimit: z
        .object({
          /** Requests per second per client address, and the burst allowed above that. */
          perSecond: z.number().positive().default(10),
          burst: z.number().int().min(1).default(30),
        })
        .prefault({}),
    })
    .prefault({}),
  /** A stage created at start-up so a host can go live at once; empty for none. */
  initialStage: z.string().regex(/^[A-Za-z0-9_-]{0,64}$/).default('main'),
})
  .refine((c) => c.role === 'all' || c.internalToken, { message: 'roles sfu and broadcast need internalToken (STAGECAST_INTERNAL_TOKEN)', path: ['internalToken'] })
  .refine((c) => c.role !== 'broadcast' || c.nodeId, { message: 'role broadcast needs nodeId (STAGECAST_NODE_ID)', path: ['nodeId'] })
  .refine((c) => c.role !== 'sfu' || c.broadcastNodes.length > 0, {
    message: 'role sfu needs at least one broadcast node (STAGECAST_BROADCAST_NODES=id=http://host:port,…)',
    path: ['broadcastNodes'],
  })
  .superRefine(stageTiming)
  .transform((c) => ({
    ...c,
    // The copy-the-layers mode needs layers: browser hosts send simulcast under it unless told otherwise.
    ingest: { ...c.ingest, hostSimulcastLayers: c.ingest.hostSimulcastLayers ?? (c.transcode.mode === 'simulcast' || c.transcode.mode === 'auto' ? 3 : 1) },
    packager: {
      ...c.packager,
      segmentTargetMs: c.packager.segmentTargetMs ?? c.transcode.segmentDurationMs,
      partTargetMs: c.packager.partTargetMs ?? derivedPartTargetMs(c.transcode),
    },
  }));

export type AppConfig = z.infer<typeof appConfigSchema>;
export type AppConfigInput = z.input<typeof appConfigSchema>;

/** Turns a zod error into one line per key, naming the key. */
export function describeConfigError(err: z.ZodError): string {
  return err.issues.map((i) => `config ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
}
