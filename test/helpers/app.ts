import { appConfigSchema, type AppConfigInput } from '../../app/config.ts';
import { startApp, type RunningApp } from '../../app/server.ts';
import { createLogger } from '../../common/index.ts';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

/** The whole app on loopback with a free HTTP port and one mediasoup worker. */
export async function startTestApp(overrides: Partial<AppConfigInput> = {}): Promise<RunningApp> {
  const config = appConfigSchema.parse({
    http: { host: '127.0.0.1', port: 0 },
    adminToken: TEST_ADMIN_TOKEN,
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
    initialStage: '',
    ...overrides,
    ingest: { numWorkers: 1, listenIp: '127.0.0.1', hostTokenSecret: 'test-host-token-secret-0123456789', ...overrides.ingest },
  });
  return startApp(config, createLogger({ level: config.log.level }));
}
