import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Logger } from '../common/index.ts';
import { Sfu, SignallingServer, buildHostPage, createHostPageRouter } from '../ingest/index.ts';
import type { AppConfig } from './config.ts';
import { createControlApi } from './controlApi.ts';

export interface RunningApp {
  /** Base URL of the HTTP server. */
  readonly url: string;
  readonly sfu: Sfu;
  close(): Promise<void>;
}

/**
 * Wires the stages into one process (the embedded default) and serves them:
 * the host page at /host/, host signalling at /host/ws, the control API at /api.
 */
export async function startApp(config: AppConfig, logger: Logger): Promise<RunningApp> {
  const sfu = await Sfu.create(config.ingest, logger);
  const closers: (() => Promise<void> | void)[] = [() => sfu.close()];
  const close = async () => {
    for (const c of closers.splice(0).reverse()) await c();
  };
  try {
    const assets = await buildHostPage();
    const app = express();
    app.disable('x-powered-by');
    let url = '';
    const publicUrl = () => config.http.publicUrl?.replace(/\/$/, '') ?? url;
    app.use('/host', createHostPageRouter(assets));
    app.use('/api', createControlApi({ sfu, adminToken: config.adminToken, publicUrl, logger }));
    app.get('/healthz', (_req, res) => {
      res.json({ ok: true, workers: sfu.workers.size, stages: sfu.stages.length });
    });

    const server = http.createServer(app);
    const signalling = new SignallingServer(sfu, logger, '/host/ws');
    signalling.attach(server);
    closers.push(
      () => signalling.close(),
    );
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
    logger.info({ url }, 'HTTP server listening');
    return { url, sfu, close };
  } catch (err) {
    await close();
    throw err;
  }
}
