// The process entry: reads the environment once, validates the config, runs
// its role (every stage in one process by default; `sfu` or `broadcast` when
// the roles run on separate machines) and shuts down cleanly.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { appConfigSchema, describeConfigError, type AppConfigInput } from './app/config.ts';
import { startNode } from './app/server.ts';
import { createLogger } from './common/index.ts';

const env = process.env;
const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
const generated: string[] = [];
const secretOrGenerate = (name: string, value: string | undefined) => {
  if (value) return value;
  generated.push(name);
  return randomBytes(24).toString('base64url');
};

const role = (env.STAGECAST_ROLE || 'all') as AppConfigInput['role'];
const raw: AppConfigInput = {
  role,
  nodeId: env.STAGECAST_NODE_ID || undefined,
  internalToken: env.STAGECAST_INTERNAL_TOKEN || undefined,
  broadcastNodes: env.STAGECAST_BROADCAST_NODES || undefined,
  http: { host: env.STAGECAST_HTTP_HOST, port: num(env.STAGECAST_HTTP_PORT), publicUrl: env.STAGECAST_PUBLIC_URL || undefined },
  adminToken: secretOrGenerate('STAGECAST_ADMIN_TOKEN', env.STAGECAST_ADMIN_TOKEN),
  log: { level: env.STAGECAST_LOG_LEVEL as never },
  initialStage: env.STAGECAST_INITIAL_STAGE,
  cdnBaseUrl: env.STAGECAST_CDN_BASE_URL || undefined,
  metrics: { token: env.STAGECAST_METRICS_TOKEN || undefined },
  viewerAuth: {
    secret: env.STAGECAST_VIEWER_TOKEN_SECRET || undefined,
    required: env.STAGECAST_VIEWER_TOKEN_REQUIRED === 'true',
  },
  api: {
    rateLimit: { perSecond: num(env.STAGECAST_API_RATE_PER_SECOND), burst: num(env.STAGECAST_API_RATE_BURST) },
  },
  store: env.STAGECAST_S3_BUCKET
    ? {
        kind: 's3',
        bucket: env.STAGECAST_S3_BUCKET,
        prefix: env.STAGECAST_S3_PREFIX,
        region: env.STAGECAST_S3_REGION,
        endpoint: env.STAGECAST_S3_ENDPOINT || undefined,
        forcePathStyle: env.STAGECAST_S3_FORCE_PATH_STYLE === 'true',
      }
    : { kind: 'fs', dir: env.STAGECAST_DATA_DIR ? `${env.STAGECAST_DATA_DIR}/store` : undefined },
  packager: {
    closeDrainTimeoutMs: num(env.STAGECAST_DRAIN_TIMEOUT_MS),
    captions: { enabled: env.STAGECAST_CAPTIONS === '1' || env.STAGECAST_CAPTIONS === 'true', language: env.STAGECAST_CAPTIONS_LANGUAGE || undefined },
  },
  endedGraceMs: num(env.STAGECAST_ENDED_GRACE_MS),
  rtp: {
    // Role broadcast: where SFUs send RTP and FFmpeg listens.
    address: env.STAGECAST_RTP_ADDRESS || undefined,
    ports:
      env.STAGECAST_RTP_MIN_PORT || env.STAGECAST_RTP_MAX_PORT
        ? { min: num(env.STAGECAST_RTP_MIN_PORT) ?? 24000, max: num(env.STAGECAST_RTP_MAX_PORT) ?? 24999 }
        : undefined,
  },
  transcode: {
    ffmpegPath: env.STAGECAST_FFMPEG_PATH,
    mode: env.STAGECAST_TRANSCODE_MODE as never,
    ladder: env.STAGECAST_LADDER as never,
    x264Preset: env.STAGECAST_X264_PRESET as never,
    thumbnails: { enabled: env.STAGECAST_THUMBNAILS === undefined ? undefined : env.STAGECAST_THUMBNAILS !== '0' && env.STAGECAST_THUMBNAILS !== 'false' },
  },
  compose: {
    layout: env.STAGECAST_LAYOUT as never,
    hostGraceMs: num(env.STAGECAST_HOST_GRACE_MS),
    slateImage: env.STAGECAST_SLATE_IMAGE || undefined,
  },
  ingest: {
    numWorkers: num(env.STAGECAST_WORKERS),
    hostSimulcastLayers: num(env.STAGECAST_HOST_SIMULCAST_LAYERS),
    whep: { enabled: env.STAGECAST_WHEP === '1' || env.STAGECAST_WHEP === 'true', maxViewersPerStage: num(env.STAGECAST_WHEP_MAX_VIEWERS) },
    listenIp: env.STAGECAST_RTC_LISTEN_IP,
    rtpOutListenIp: env.STAGECAST_RTP_OUT_LISTEN_IP || undefined,
    announcedAddress: env.STAGECAST_RTC_ANNOUNCED_ADDRESS || undefined,
    rtcPorts:
      env.STAGECAST_RTC_MIN_PORT || env.STAGECAST_RTC_MAX_PORT
        ? { min: num(env.STAGECAST_RTC_MIN_PORT) ?? 40000, max: num(env.STAGECAST_RTC_MAX_PORT) ?? 44999 }
        : undefined,
    // A broadcast node verifies no host tokens; it gets a throw-away secret without a warning.
    hostTokenSecret:
      role === 'broadcast' ? env.STAGECAST_HOST_TOKEN_SECRET || randomBytes(24).toString('base64url') : secretOrGenerate('STAGECAST_HOST_TOKEN_SECRET', env.STAGECAST_HOST_TOKEN_SECRET),
  },
};

const parsed = appConfigSchema.safeParse(JSON.parse(JSON.stringify(raw)));
if (!parsed.success) {
  console.error(describeConfigError(parsed.error as z.ZodError));
  process.exit(2);
}
const config = parsed.data;
const logger = createLogger({ level: config.log.level });
if (generated.length) logger.warn({ generated }, 'secrets not configured; generated for this run only');

const app = await startNode(config, logger);
const lines = [`stagecast (${config.role}${config.nodeId ? ` ${config.nodeId}` : ''}) is running at ${app.url}`];
if (config.initialStage && app.sfu) {
  const stage = await app.sfu.createStage(config.initialStage);
  const token = app.sfu.issueHostToken(stage.id);
  const base = config.http.publicUrl?.replace(/\/$/, '') ?? app.url;
  lines.push(`  go live (host page): ${base}/host/?stage=${stage.id}#token=${token}`);
  lines.push(`  or publish from OBS: Service WHIP, Server ${base}/whip/${stage.id}, Bearer Token ${token}`);
  lines.push(`  then start the broadcast: curl -X POST -H "Authorization: Bearer <control API token>" ${base}/api/stages/${stage.id}/live`);
  if (config.role !== 'all') {
    lines.push('  the go-live answer carries the viewer links (on the broadcast node that runs the stage)');
  } else if (config.viewerAuth.required) {
    lines.push(`  viewer links are signed; get one: curl -X POST -H "Authorization: Bearer <control API token>" ${base}/api/stages/${stage.id}/viewer-tokens`);
  } else {
    lines.push(`  watch (viewer page, the same link for every broadcast of the stage):  ${(config.cdnBaseUrl ?? base).replace(/\/$/, '')}/watch/?stage=${stage.id}`);
  }
  if (config.ingest.whep.enabled && config.role === 'all') {
    lines.push(`  front row (WHEP, sub-second): get a seat link: curl -X POST -H "Authorization: Bearer <control API token>" ${base}/api/stages/${stage.id}/whep-tokens`);
  }
}
if (generated.includes('STAGECAST_ADMIN_TOKEN')) lines.push(`  control API token (this run only): ${config.adminToken}`);
// The links carry credentials: they go to the operator's terminal, never to the log.
process.stdout.write(`${lines.join('\n')}\n`);

// SIGTERM/SIGINT: a graceful shutdown (broadcasts end with ENDLIST and a static
// MPD, uploads drain for at most closeDrainTimeoutMs, FFmpeg, ports and workers
// are released). A second signal, or a shutdown that overruns its bound, exits at once.
let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting without finishing the shutdown');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'shutting down');
  const boundMs = config.packager.closeDrainTimeoutMs + 2 * config.transcode.supervision.killGraceMs + 15_000;
  setTimeout(() => {
    logger.error({ boundMs }, 'shutdown overran its bound; exiting');
    process.exit(1);
  }, boundMs).unref();
  app.close().then(
    () => {
      logger.info('shutdown complete');
      process.exit(0);
    },
    (err) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
