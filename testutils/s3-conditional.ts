import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3Server } from './s3.js';

/**
 * A stand-in for AWS S3's conditional writes in front of s3rver, which has none.
 *
 * RECIPES-style facts (checked here with @aws-sdk/client-s3 3.1175 and s3rver 3.7.1):
 * - s3rver 3.7.1 ignores If-None-Match and If-Match on PutObject and If-Match on DeleteObject: a second
 *   `PutObject({ IfNoneMatch: '*' })` of an existing key gets 200 and overwrites it; a PutObject or DeleteObject with
 *   a wrong If-Match succeeds.
 * - AWS S3 has had conditional writes since 2024 (If-None-Match: * on PutObject/CompleteMultipartUpload, then
 *   If-Match with an ETag; conditional DeleteObject after that). A failed condition is 412 PreconditionFailed with an
 *   XML error body naming the condition; If-Match on a key that does not exist is 404 NoSuchKey; two conditional
 *   writes of one key at the same moment may give 409 ConditionalRequestConflict (retry). The SDK surfaces these as
 *   errors named PreconditionFailed / NoSuchKey with $metadata.httpStatusCode 412 / 404.
 *
 * This proxy does what AWS does for the calls onedump's lease makes, and nothing more: every PUT and DELETE of an
 * object (not the parts of a multipart upload, not bucket calls) is serialized per key; under that key's turn the
 * conditions are checked against the object's current ETag (a HeadObject to s3rver) and the request is forwarded only
 * when they hold, so check-and-write is atomic as far as clients of the proxy can tell. Everything else is forwarded
 * unchanged (the Host header included, so SigV4 signatures still verify). It is not AWS: only '*' for If-None-Match,
 * one ETag for If-Match, no 409s.
 */
export interface ConditionalS3 {
  endpoint: string;
  port: number;
  /** Conditional requests answered 412 (or 404 for If-Match on a missing key), by condition. */
  readonly rejected: { ifNoneMatch: number; ifMatch: number };
  /** Conditional requests that held and were forwarded, by method and condition, e.g. "PUT If-Match". */
  readonly passed: Record<string, number>;
  close(): Promise<void>;
}

const unquote = (e: string) => e.trim().replace(/^W\//, '').replace(/"/g, '');

function s3Error(res: ServerResponse, status: number, code: string, message: string, extra = ''): void {
  const id = randomBytes(8).toString('hex').toUpperCase();
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${extra}<RequestId>${id}</RequestId><HostId>${id}</HostId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': id });
  res.end(body);
}

function forward(req: IncomingMessage, res: ServerResponse, upstream: { host: string; port: number }): Promise<void> {
  return new Promise((resolve) => {
    const up = request({ host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
      r.on('end', resolve);
      r.on('error', () => resolve());
    });
    up.on('error', (err) => {
      if (!res.headersSent) s3Error(res, 502, 'BadGateway', `s3rver: ${err.message}`);
      else res.destroy();
      resolve();
    });
    req.pipe(up);
  });
}

export async function startConditionalS3(s3: S3Server): Promise<ConditionalS3> {
  const client: S3Client = s3.client();
  const turns = new Map<string, Promise<void>>();
  const rejected = { ifNoneMatch: 0, ifMatch: 0 };
  const passed: Record<string, number> = {};
  const upstream = { host: s3.host, port: s3.port };

  /** Runs `fn` when every earlier request of the same key is done. */
  const inTurn = (key: string, fn: () => Promise<void>): Promise<void> => {
    const prev = turns.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    turns.set(key, next);
    void next.finally(() => {
      if (turns.get(key) === next) turns.delete(key);
    });
    return next;
  };

  const currentEtag = async (bucket: string, key: string): Promise<string | undefined> => {
    try {
      const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return unquote(h.ETag ?? '');
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [bucket, ...rest] = url.pathname.replace(/^\//, '').split('/');
    const objectWrite = (req.method === 'PUT' || req.method === 'DELETE') && rest.length > 0 && rest.join('/') !== '' && !url.searchParams.has('uploadId');
    if (!objectWrite || !bucket) return forward(req, res, upstream);
    const key = decodeURIComponent(rest.join('/'));
    const ifNoneMatch = req.headers['if-none-match'];
    const ifMatch = req.headers['if-match'];
    return inTurn(`${bucket}/${key}`, async () => {
      if (ifNoneMatch === undefined && ifMatch === undefined) return forward(req, res, upstream);
      const etag = await currentEtag(bucket, key);
      if (ifNoneMatch !== undefined && etag !== undefined && (ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').map(unquote).includes(etag))) {
        rejected.ifNoneMatch++;
        req.resume();
        return s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', '<Condition>If-None-Match</Condition>');
      }
      if (ifMatch !== undefined) {
        if (etag === undefined) {
          rejected.ifMatch++;
          req.resume();
          return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.', `<Key>${key}</Key>`);
        }
        if (ifMatch.trim() !== '*' && !ifMatch.split(',').map(unquote).includes(etag)) {
          rejected.ifMatch++;
          req.resume();
          return s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', '<Condition>If-Match</Condition>');
        }
      }
      const what = `${req.method} ${ifNoneMatch !== undefined ? 'If-None-Match' : 'If-Match'}`;
      passed[what] = (passed[what] ?? 0) + 1;
      return forward(req, res, upstream);
    });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (!res.headersSent) s3Error(res, 500, 'InternalError', `conditional proxy: ${err.message}`);
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    rejected,
    passed,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      client.destroy();
    },
  };
}
