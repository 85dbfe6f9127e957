import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { UdpPortPool, type Logger } from '../common/index.ts';
import { Sfu, SignallingServer, buildHostPage, createHostPageRouter } from '../ingest/index.ts';
import { FsObjectStore, S3ObjectStore, createOriginRouter, createPackager, type ObjectStore, type Packager } from '../packager/index.ts';
import { buildPlayerPages, createPlayerRouter } from '../player/index.ts';
import { verifyFfmpeg } from '../transcode/index.ts';
import { Broadcasts } from './broadcasts.ts';
import type { AppConfig } from './config.ts';
import { createControlApi } from './controlApi.ts';
import { ViewerEstimator } from './viewers.ts';

export interface RunningApp {
  /** Base URL of the HTTP server. */
  readonly url: string;
  readonly sfu: Sfu;
  readonly packager: Packager;
  readonly store: ObjectStore;
  readonly broadcasts: Broadcasts;
  close(): Promise<void>;
}

function createStore(config: AppConfig['store']): ObjectStore {
  if (config.kind === 'fs') return new FsObjectStore(path.resolve(config.dir));
  return new S3ObjectStore({
    bucket: config.bucket,
    prefix: config.prefix,
    region: config.region,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    ...(config.credentials ? { credentials: config.credentials } : {}),
  });
}

/**
 * Wires every stage into one process (the embedded default) and serves them:
 * the host page at /host/ (signalling at /host/ws), the viewer pages at /watch/,
 * the origin at /live/, the control API at /api.
 */
export async function startApp(config: AppConfig, logger: Logger): Promise<RunningApp> {
  const sfu = await Sfu.create(config.ingest, logger);
  const closers: (() => Promise<void> | void)[] = [() => sfu.close()];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        logger.error({ err }, 'shutdown step failed');
      }
    }
  };
  try {
    // Checked now, in the background, so the first go-live does not pay for it; a failure
    // is only logged here (go-live reports it as a 503 and checks again).
    verifyFfmpeg(config.transcode.ffmpegPath).then(
      (version) => logger.info({ version }, 'FFmpeg found'),
      (err: unknown) => logger.warn({ err }, 'FFmpeg check failed'),
    );
    const store = createStore(config.store);
    const packager = createPackager(config.packager, { logger, store });
    closers.push(() => packager.close());
    const broadcasts = new Broadcasts({
      sfu,
      packager,
      transcode: config.transcode,
      compose: config.compose,
      portPool: new UdpPortPool({ host: config.rtp.address, min: config.rtp.ports.min, max: config.rtp.ports.max }),
      rtpAddress: config.rtp.address,
      endedGraceMs: config.endedGraceMs,
      logger,
    });
    closers.push(() => broadcasts.stopAll());

    const [hostAssets, playerAssets] = await Promise.all([buildHostPage(), buildPlayerPages()]);
    const viewers = new ViewerEstimator();
    const app = express();
    app.disable('x-powered-by');
    app.set('trust proxy', 'loopback');
    let url = '';
    const publicUrl = () => config.http.publicUrl?.replace(/\/$/, '') ?? url;
    const viewerBase = () => config.cdnBaseUrl?.replace(/\/$/, '') ?? publicUrl();
    app.use('/host', createHostPageRouter(hostAssets));
    app.use('/watch', createPlayerRouter(playerAssets));
    app.use(viewers.middleware);
    app.use(createOriginRouter(packager, store, { logger }));
    app.use('/api', createControlApi({ sfu, broadcasts, viewers, adminToken: config.adminToken, publicUrl, viewerBase, logger }));
    app.get('/healthz', (_req, res) => {
      res.json({ ok: true, workers: sfu.workers.size, stages: sfu.stages.length });
    });

    const server = http.createServer(app);
    const signalling = new SignallingServer(sfu, logger, '/host/ws');
    signalling.attach(server);
    closers.push(() => signalling.close());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.http.port, config.http.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    closers.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const { port } = server.address() as AddressInfo;
    const shownHost = config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
    url = `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
    logger.info({ url, store: config.store.kind }, 'HTTP server listening');
    return { url, sfu, packager, store, broadcasts, close };
  } catch (err) {
    await close();
    throw err;
  }
}
