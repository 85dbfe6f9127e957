import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** A real S3-protocol server (s3rver) on loopback with one bucket, in a temporary directory. */
export async function startS3(bucket: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'stagecast-s3-'));
  // s3rver ships no types; its constructor takes these options.
  const Server = S3rver as unknown as new (o: object) => { run(): Promise<AddressInfo>; close(): Promise<void> };
  const server = new Server({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  const addr = await server.run();
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
