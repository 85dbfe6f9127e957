import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appConfigSchema, type AppConfigInput } from '../../app/config.ts';
import { startApp, type AppHooks, type RunningApp } from '../../app/server.ts';
import { createLogger } from '../../common/index.ts';
import { until } from './wait.ts';
import { testRtpPorts } from './rtpPorts.ts';

export { testRtpPorts };

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/**
 * The whole app on loopback with a free HTTP port, one mediasoup worker and a
 * filesystem store in a fresh temporary directory (removed on close).
 */
/** Overrides of the test config; ingest's are merged over the test defaults (worker, address, host token secret). */
export type TestAppOverrides = Omit<Partial<AppConfigInput>, 'ingest'> & { ingest?: Partial<AppConfigInput['ingest']> };

export async function startTestApp(overrides: TestAppOverrides = {}, hooks: AppHooks = {}): Promise<RunningApp> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stagecast-test-'));
  const config = appConfigSchema.parse({
    http: { host: '127.0.0.1', port: 0 },
    adminToken: TEST_ADMIN_TOKEN,
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
    initialStage: '',
    // Parallel test runs on one machine (worktrees) pick disjoint ranges: STAGECAST_TEST_RTP_PORTS=26000-26999.
    ...(testRtpPorts() ? { rtp: { address: '127.0.0.1', ports: testRtpPorts() } } : {}),
    ...overrides,
    store: overrides.store ?? { kind: 'fs', dir },
    ingest: { numWorkers: 1, listenIp: '127.0.0.1', hostTokenSecret: 'test-host-token-secret-0123456789', ...overrides.ingest },
  });
  const app = await startApp(config, createLogger({ level: config.log.level }), hooks);
  const close = app.close;
  return {
    ...app,
    close: async () => {
      await close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What the control API answered: the status and the parsed JSON body. */
export type ApiAnswer<T> = { status: number; body: T };

/** Calls the control API at `baseUrl` with a bearer token (the admin's). */
export async function apiCall<T = unknown>(baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
  const res = await fetch(`${baseUrl}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Calls the control API of an app in this process with the admin token. */
export function api<T = unknown>(app: RunningApp, method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
  return apiCall<T>(app.url, TEST_ADMIN_TOKEN, method, path, body);
}

/**
 * Waits until a broadcast serves its multivariant playlist (from HOLD-BACK on:
 * three complete segments); players that give up on a 404 are loaded after it.
 */
export async function waitForPlaylist(app: { url: string }, broadcastId: string, timeoutMs = 30_000): Promise<void> {
  const url = `${app.url}/live/${broadcastId}/master.m3u8`;
  await until(`broadcast ${broadcastId} to serve its multivariant playlist`, async () => (await fetch(url)).status === 200, timeoutMs);
}

/** The id of a stage's current (or latest) broadcast in this process: each go-live has its own. */
export function broadcastIdOf(app: RunningApp, stageId: string): string {
  const b = app.broadcasts.get(stageId);
  if (!b) throw new Error(`stage ${stageId} has no broadcast in this process`);
  return b.id;
}
