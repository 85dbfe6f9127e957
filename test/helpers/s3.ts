/* eslint-disable @typescript-eslint/no-explicit-any -- s3rver ships no types */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';

/** A real S3-protocol server for tests (s3rver on loopback) with the bucket `media`. */
export const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** An s3rver on a fixed port and directory that can be stopped and started again (same port, same data). */
export class S3Server {
  port = 0;
  dir = '';
  #server: any;

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    if (!this.dir) this.dir = await fs.mkdtemp(path.join(os.tmpdir(), 's3rver-'));
    this.#server = new (S3rver as any)({ port: this.port, address: '127.0.0.1', silent: true, directory: this.dir });
    const addr = (await this.#server.run()) as AddressInfo;
    if (!this.port) {
      this.port = addr.port;
      const client = new S3Client({ region: 'us-east-1', endpoint: this.endpoint, forcePathStyle: true, credentials });
      await client.send(new CreateBucketCommand({ Bucket: 'media' }));
      client.destroy();
    }
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    s.httpServer?.closeAllConnections?.();
    await s.close();
  }

  async destroy(): Promise<void> {
    await this.stop();
    if (this.dir) await fs.rm(this.dir, { recursive: true, force: true });
  }
}

