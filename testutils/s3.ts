import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface S3Server {
  host: string;
  port: number;
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Where s3rver keeps its files (objects, pending multipart parts). */
  directory: string;
  /** A client for the test's own checks (path-style, checksums only when required). */
  client(endpoint?: string): S3Client;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Starts s3rver (the npm package, 3.7.1) in a child process on a free loopback port with the given buckets. It runs
 * with --openssl-legacy-provider because its ListObjectsV2 continuation tokens use a DES cipher. Fails loudly if it
 * does not come up.
 */
export async function startS3(buckets: string[] = ['onedump-test']): Promise<S3Server> {
  const directory = await mkdtemp(join(tmpdir(), 'onedump-s3rver-'));
  const child: ChildProcess = spawn(process.execPath, [join(here, 's3rver-main.cjs'), directory, buckets.join(',')], {
    env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within 30 s: ${stderr}`)), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with code ${code} before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        reject(new Error(`s3rver printed an unexpected line: ${line}`));
      }
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const server: S3Server = {
    host: '127.0.0.1',
    port,
    endpoint,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    directory,
    client: (ep = endpoint) =>
      new S3Client({
        endpoint: ep,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      }),
    async createBucket(name) {
      const c = server.client();
      try {
        await c.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        c.destroy();
      }
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
  return server;
}
