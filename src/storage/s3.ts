import { Readable, addAbortSignal } from 'node:stream';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { S3Client, S3ClientConfig, StorageClass } from '@aws-sdk/client-s3';
import { str, secret, described, bool, posInt, keepField } from '../config/fields.js';
import { OnedumpError, PermanentError, TransientError, UsageError, errorMessage, isTransient } from '../util/errors.js';
import { DEFAULT_RETRY, retry, type RetryPolicy } from '../util/retry.js';
import type { Logger } from '../util/logger.js';
import type { StorageBackend } from './backend.js';
import type { ConditionalWrites, ObjectInfo, PutOptions, Storage, StoredObject, VersionedObject } from './types.js';
import { pushedChunks } from '../util/streams.js';

const MiB = 1024 * 1024;

/**
 * The AWS SDK loads on the first S3 operation, not at start-up: it costs ~80 ms to import, which every other command
 * (slow, dump to disk, config validate) would otherwise pay.
 */
type Sdk = typeof import('@aws-sdk/client-s3');
let S!: Sdk;
let sdkLoading: Promise<void> | undefined;
function loadSdk(): Promise<void> {
  sdkLoading ??= import('@aws-sdk/client-s3').then((m) => {
    S = m;
  });
  return sdkLoading;
}
/** S3's limits: parts of at least 5 MiB (but the last), at most 5 GiB, at most 10,000 of them. */
const MIN_PART = 5 * MiB;
const MAX_PART = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;
export const DEFAULT_PART_SIZE = 16 * MiB;
export const DEFAULT_QUEUE_SIZE = 4;
/**
 * A put whose size is known and at most this (or the part size, if larger) goes up as one PutObject from one buffer of
 * exactly that size, as rclone does: fewer requests and no HeadObject. Larger or unknown-length puts are multipart.
 */
export const SINGLE_PUT_MAX = 64 * MiB;

export interface S3StorageConfig {
  bucket: string;
  /** Root of this storage inside the bucket: '' or a prefix ending in '/'. */
  prefix: string;
  region?: string;
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  storageClass?: string;
  /** Bytes per multipart part (grows ×2 every 1,000 parts so an unknown-length stream never hits 10,000 parts). */
  partSize?: number;
  /** Parts uploaded in parallel; memory is about (queueSize + 1) × partSize. */
  queueSize?: number;
  checksums?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /** Keys per ListObjectsV2 page (default 1000). */
  listPageSize?: number;
  retryPolicy?: Partial<RetryPolicy>;
  log?: Logger;
}

/** Counters of what an upload sent, for logs and for tests that check a part was resent rather than the object. */
export interface S3UploadStats {
  parts: number;
  partAttempts: number;
  bytesSent: number;
}

/**
 * An S3 bucket (or S3-compatible store) under a prefix. Uploads are multipart from the stream: each part is held in
 * memory until S3 acknowledges it, so a part that fails on a dropped connection is sent again (with the shared retry
 * helper) and the stream is read only once. Nothing is visible under the key until CompleteMultipartUpload; on
 * failure the upload is aborted. Every part carries Content-MD5; a multipart object is checked for size and ETag with a
 * HeadObject afterwards. A single PutObject needs no HeadObject: the store checked its Content-Length and Content-MD5 on
 * arrival, and the ETag in its response is compared with the MD5 we computed.
 */
export class S3Storage implements Storage {
  readonly kind = 's3';
  private client!: S3Client;
  private readonly clientConfig: S3ClientConfig;
  private clientReady?: Promise<void>;
  readonly bucket: string;
  readonly prefix: string;
  readonly retryPolicy: RetryPolicy;
  /** Stats of the last completed or failed put (tests and debug logs). */
  lastUpload?: S3UploadStats;
  private readonly cfg: S3StorageConfig;
  private readonly partSize: number;
  private readonly queueSize: number;
  /** S3 conditional writes (AWS since 2024; MinIO, R2 and others too): If-None-Match: * and If-Match on PutObject and DeleteObject. */
  readonly conditional: ConditionalWrites;

  constructor(cfg: S3StorageConfig) {
    this.cfg = cfg;
    this.conditional = {
      createIfAbsent: (key, body, signal) => this.putIf(key, body, { IfNoneMatch: '*' }, signal),
      replaceIf: (key, etag, body, signal) => this.putIf(key, body, { IfMatch: etag }, signal),
      read: (key, signal) => this.readVersioned(key, signal),
      deleteIf: (key, etag, signal) => this.deleteIf(key, etag, signal),
    };
    this.bucket = cfg.bucket;
    this.prefix = cfg.prefix;
    this.partSize = Math.min(MAX_PART, Math.max(MIN_PART, cfg.partSize ?? DEFAULT_PART_SIZE));
    this.queueSize = Math.max(1, cfg.queueSize ?? DEFAULT_QUEUE_SIZE);
    this.retryPolicy = { ...DEFAULT_RETRY, ...cfg.retryPolicy };
    // The SDK warns on every run under Node 20 that future releases need Node 22; users cannot act on that.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.clientConfig = {
      region: cfg.region ?? (cfg.endpoint && !process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION ? 'us-east-1' : undefined),
      endpoint: cfg.endpoint,
      forcePathStyle: cfg.forcePathStyle,
      credentials: cfg.credentials,
      requestChecksumCalculation: cfg.checksums ?? 'WHEN_SUPPORTED',
      responseChecksumValidation: cfg.checksums ?? 'WHEN_SUPPORTED',
      // One retry loop for everything: src/util/retry.ts (via retrying.ts and the part uploads below).
      maxAttempts: 1,
      // Enough sockets for sync --parallel 10 of single-part files, or one upload's parts in flight plus a few.
      requestHandler: { connectionTimeout: 15_000, socketTimeout: 120_000, httpAgent: { keepAlive: true, maxSockets: Math.max(16, this.queueSize + 4) }, httpsAgent: { keepAlive: true, maxSockets: Math.max(16, this.queueSize + 4) } },
    };
  }

  /** Loads the SDK and creates the client on first use. */
  private ready(): Promise<void> {
    this.clientReady ??= loadSdk().then(() => {
      this.client = new S.S3Client(this.clientConfig);
    });
    return this.clientReady;
  }

  /** The SDK client (created on first use), e.g. to add middleware. */
  async sdkClient(): Promise<S3Client> {
    await this.ready();
    return this.client;
  }

  describe(key?: string): string {
    return `s3://${this.bucket}/${this.prefix}${key ?? ''}`;
  }

  private full(key: string): string {
    return this.prefix + key.replace(/^\/+/, '');
  }

  /** Turns an SDK error into one sentence naming the backend, the destination and the fix; keeps transient ones retryable. */
  private fail(err: unknown, action: string, key: string, signal?: AbortSignal): Error {
    if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
    if (err instanceof OnedumpError) return err;
    const e = (err ?? {}) as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const code = e.name === 'Error' || !e.name ? (e.Code ?? '') : e.name;
    const where = this.describe(key);
    const status = e.$metadata?.httpStatusCode;
    const permanent = (msg: string) => new PermanentError(msg, { cause: err });
    switch (code) {
      case 'NoSuchBucket':
        return permanent(`s3 storage: bucket "${this.bucket}" does not exist (${action} ${where}); create it or fix bucket: in the config.`);
      case 'InvalidAccessKeyId':
      case 'SignatureDoesNotMatch':
      case 'InvalidToken':
      case 'ExpiredToken':
      case 'TokenRefreshRequired':
      case 'AuthorizationHeaderMalformed':
        return permanent(
          `s3 storage: the credentials were rejected (${code}) when trying to ${action} ${where}; check access-key-id/secret-access-key/session-token in the config or the AWS credential chain (AWS_ACCESS_KEY_ID, AWS_PROFILE), and the region.`,
        );
      case 'CredentialsProviderError':
        return permanent(
          `s3 storage: no AWS credentials found to ${action} ${where}; set access-key-id and secret-access-key in the config, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE in the environment.`,
        );
      case 'AccessDenied':
      case 'AllAccessDisabled':
      case 'AccountProblem':
        return permanent(`s3 storage: access denied when trying to ${action} ${where}; grant the credentials s3:PutObject, s3:GetObject, s3:ListBucket and s3:DeleteObject on the bucket.`);
      case 'InvalidBucketName':
        return permanent(`s3 storage: "${this.bucket}" is not a valid bucket name (${where}); fix bucket: in the config.`);
      case 'PermanentRedirect':
      case 'IllegalLocationConstraintException':
        return permanent(`s3 storage: bucket "${this.bucket}" is in another region (${where}); set region: to the bucket's region.`);
      case 'InvalidStorageClass':
        return permanent(`s3 storage: storage class "${this.cfg.storageClass}" is not valid (${where}); fix storageclass: in the config.`);
      case 'BadDigest':
      case 'InvalidDigest':
        return new TransientError(`s3 storage: a part of ${where} arrived damaged (${code}); it is sent again.`, { cause: err });
      default:
        break;
    }
    if (/Region is missing/i.test(e.message ?? '')) {
      return permanent(`s3 storage: no region for ${where}; set region: in the config or AWS_REGION in the environment.`);
    }
    const msg = `s3 storage: could not ${action} ${where}: ${errorMessage(err)}${status ? ` (HTTP ${status})` : ''}`;
    if (isTransient(err)) return new TransientError(msg, { cause: err });
    if (status === 403) return permanent(`${msg}; check the credentials and the bucket policy.`);
    return permanent(msg);
  }

  private async send<T>(action: string, key: string, fn: (signal?: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await fn(signal);
    } catch (err) {
      throw this.fail(err, action, key, signal);
    }
  }

  /** One request with the shared retry helper (used inside put, where the wrapper cannot retry). */
  private retried<T>(action: string, key: string, fn: (signal?: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return retry(() => this.send(action, key, fn, signal), {
      policy: this.retryPolicy,
      signal,
      onRetry: (err, attempt, delay) => this.cfg.log?.warn(`${errorMessage(err)}; retry ${attempt} in ${delay} ms`),
    });
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
    await this.ready();
    const Key = this.full(key);
    const where = this.describe(key);
    const outer = opts.signal;
    const ctl = new AbortController();
    const onOuter = () => ctl.abort(outer?.reason);
    outer?.addEventListener('abort', onOuter, { once: true });
    const signal = ctl.signal;
    if (outer?.aborted) ctl.abort(outer.reason);
    // A failed part or an abort stops the reading of the stream too.
    addAbortSignal(signal, body);
    const stats: S3UploadStats = { parts: 0, partAttempts: 0, bytesSent: 0 };
    this.lastUpload = stats;
    const sha = opts.sha256 ? createHash('sha256') : undefined;
    const partMd5s: Buffer[] = [];
    const etags: string[] = [];
    let total = 0;
    let acked = 0;
    let uploadId: string | undefined;
    const inflight = new Set<Promise<void>>();
    let firstError: unknown;
    const common = { Bucket: this.bucket, Key, StorageClass: this.cfg.storageClass as StorageClass | undefined };

    const uploadPart = (partNumber: number, data: Buffer) => {
      const md5 = createHash('md5').update(data).digest();
      partMd5s[partNumber - 1] = md5;
      const task = this.retried(
        `upload part ${partNumber} of`,
        key,
        async (s) => {
          stats.partAttempts++;
          stats.bytesSent += data.length;
          const res = await this.client.send(
            new S.UploadPartCommand({ Bucket: this.bucket, Key, UploadId: uploadId, PartNumber: partNumber, Body: data, ContentLength: data.length, ContentMD5: md5.toString('base64') }),
            { abortSignal: s },
          );
          return res.ETag ?? '';
        },
        signal,
      ).then(
        (etag) => {
          etags[partNumber - 1] = etag;
          stats.parts++;
          acked += data.length;
          opts.onProgress?.(acked);
        },
        (err) => {
          firstError ??= err;
          ctl.abort(err);
        },
      );
      const tracked = task.finally(() => inflight.delete(tracked));
      inflight.add(tracked);
    };

    try {
      let pending: Buffer[] = [];
      let pendingLen = 0;
      let partNumber = 0;
      const partSizeFor = (n: number) => Math.min(MAX_PART, this.partSize * 2 ** Math.floor(n / 1000));
      let single: Buffer | undefined;
      if (opts.size !== undefined && opts.size <= Math.max(SINGLE_PUT_MAX, this.partSize)) {
        // Known small size: read into one buffer of exactly that size (a longer stream is counted, not kept, and fails
        // the size check below) and send it as one PutObject.
        const buf = Buffer.allocUnsafe(opts.size);
        for await (const chunk of pushedChunks(body)) {
          sha?.update(chunk);
          if (total < buf.length) chunk.copy(buf, total, 0, Math.min(chunk.length, buf.length - total));
          total += chunk.length;
        }
        pending = [buf.subarray(0, Math.min(total, buf.length))];
        pendingLen = pending[0]!.length;
      } else {
        for await (const chunk of pushedChunks(body)) {
          sha?.update(chunk);
          total += chunk.length;
          pending.push(chunk);
          pendingLen += chunk.length;
          while (pendingLen >= partSizeFor(partNumber)) {
            if (firstError) throw firstError;
            const size = partSizeFor(partNumber);
            const all = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingLen);
            const part = all.subarray(0, size);
            const rest = all.subarray(size);
            pending = rest.length ? [rest] : [];
            pendingLen = rest.length;
            if (uploadId === undefined) {
              const res = await this.retried('start a multipart upload to', key, (s) => this.client.send(new S.CreateMultipartUploadCommand(common), { abortSignal: s }), signal);
              if (!res.UploadId) throw new PermanentError(`s3 storage: ${where} did not return an upload id.`);
              uploadId = res.UploadId;
            }
            partNumber++;
            if (partNumber > MAX_PARTS) throw new PermanentError(`s3 storage: ${where} would need more than ${MAX_PARTS} parts; raise partsize.`);
            // Memory stays bounded: wait for a free slot before reading more of the stream.
            while (inflight.size >= this.queueSize) await Promise.race(inflight);
            if (firstError) throw firstError;
            uploadPart(partNumber, part);
          }
        }
      }
      if (firstError) throw firstError;
      const rest = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingLen);
      const digest = sha?.digest('hex');
      const checkExpected = () => {
        if (opts.sha256 && digest !== opts.sha256) throw new PermanentError(`s3 storage: ${where} does not match the expected sha256 (${digest} ≠ ${opts.sha256}); nothing was stored.`);
        if (opts.size !== undefined && opts.size !== total) throw new PermanentError(`s3 storage: ${where} got ${total} bytes, expected ${opts.size}; nothing was stored.`);
      };
      let expectedEtag: string;
      if (uploadId === undefined) {
        single = rest;
        checkExpected();
        const md5 = createHash('md5').update(single).digest();
        expectedEtag = md5.toString('hex');
        const res = await this.retried(
          'upload',
          key,
          async (s) => {
            stats.partAttempts++;
            stats.bytesSent += single!.length;
            return this.client.send(new S.PutObjectCommand({ ...common, Body: single, ContentLength: single!.length, ContentMD5: md5.toString('base64') }), { abortSignal: s });
          },
          signal,
        );
        stats.parts = 1;
        acked = total;
        opts.onProgress?.(acked);
        // The store checked Content-MD5 and Content-Length on arrival; the response's ETag is compared where it has the
        // plain-MD5 form. No HeadObject needed.
        const kms = res.ServerSideEncryption === 'aws:kms' || res.ServerSideEncryption === 'aws:kms:dsse' || res.SSECustomerAlgorithm;
        return await this.checkEtag(key, total, (res.ETag ?? '').replace(/"/g, ''), expectedEtag, Boolean(kms));
      } else {
        if (rest.length > 0) {
          partNumber++;
          while (inflight.size >= this.queueSize) await Promise.race(inflight);
          uploadPart(partNumber, rest);
        }
        await Promise.all(inflight);
        if (firstError) throw firstError;
        checkExpected();
        expectedEtag = `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partNumber}`;
        await this.retried(
          'complete the upload of',
          key,
          (s) =>
            this.client.send(
              new S.CompleteMultipartUploadCommand({
                Bucket: this.bucket,
                Key,
                UploadId: uploadId,
                MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
              }),
              { abortSignal: s },
            ),
          signal,
        );
        uploadId = undefined;
      }
      return await this.verify(key, total, expectedEtag, signal);
    } catch (err) {
      ctl.abort(err);
      await Promise.allSettled(inflight);
      if (uploadId !== undefined) await this.abortUpload(Key, uploadId, where, Boolean(outer?.aborted));
      throw outer?.aborted ? this.fail(err, 'upload', key, outer) : this.fail(firstError ?? err, 'upload', key);
    } finally {
      outer?.removeEventListener('abort', onOuter);
    }
  }

  private async abortUpload(Key: string, UploadId: string, where: string, cancelled: boolean): Promise<void> {
    try {
      // Bounded: a cancelled job must not wait long on a stalled connection for the clean-up.
      await this.client.send(new S.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }), { abortSignal: AbortSignal.timeout(cancelled ? 1_000 : 10_000) });
    } catch (err) {
      // The original failure is what the user needs; an unaborted upload only costs storage until a lifecycle rule.
      this.cfg.log?.warn(`s3 storage: could not abort the multipart upload of ${where} (${errorMessage(err)}); a bucket lifecycle rule for incomplete uploads cleans it up.`);
    }
  }

  /**
   * Size always; the ETag where it has the form S3 gives unencrypted objects (MD5 of a single part, MD5 of the parts'
   * MD5s plus "-N" for multipart). Other forms (SSE-KMS, s3rver's whole-object MD5 for multipart) are left to the
   * Content-MD5 every part carried, which the store checked on arrival.
   */
  private async verify(key: string, size: number, expectedEtag: string, signal?: AbortSignal): Promise<StoredObject> {
    const head = await this.retried('check', key, (s) => this.client.send(new S.HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }), { abortSignal: s }), signal);
    const etag = (head.ETag ?? '').replace(/"/g, '');
    if (head.ContentLength !== size) throw await this.badObject(key, `${head.ContentLength} bytes stored, ${size} sent`);
    const kms = head.ServerSideEncryption === 'aws:kms' || head.ServerSideEncryption === 'aws:kms:dsse' || head.SSECustomerAlgorithm;
    return this.checkEtag(key, size, etag, expectedEtag, Boolean(kms));
  }

  /** Compares an ETag of the very form we computed ("md5-N" for multipart, plain md5 for one part) with ours. */
  private async checkEtag(key: string, size: number, etag: string, expectedEtag: string, kms: boolean): Promise<StoredObject> {
    const sameForm = expectedEtag.includes('-') ? /^[0-9a-f]{32}-\d+$/.test(etag) : /^[0-9a-f]{32}$/.test(etag);
    if (!kms && sameForm && etag !== expectedEtag) throw await this.badObject(key, `ETag ${etag}, expected ${expectedEtag}`);
    return { key, size, location: this.describe(key), hash: etag ? { algorithm: 'etag', value: etag } : undefined };
  }

  /** Deletes an object that failed verification and returns the error to throw. */
  private async badObject(key: string, why: string): Promise<PermanentError> {
    await this.client.send(new S.DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) })).catch(() => undefined);
    return new PermanentError(`s3 storage: ${this.describe(key)} failed verification after upload (${why}); the object was deleted, run the job again.`);
  }

  async get(key: string, opts: { signal?: AbortSignal; start?: number } = {}): Promise<Readable> {
    await this.ready();
    try {
      const res = await this.client.send(
        new S.GetObjectCommand({ Bucket: this.bucket, Key: this.full(key), Range: opts.start ? `bytes=${opts.start}-` : undefined }),
        { abortSignal: opts.signal },
      );
      return res.Body as Readable;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name !== 'NoSuchBucket' && (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404)) {
        throw new PermanentError(`s3 storage: ${this.describe(key)} does not exist.`, { cause: err });
      }
      if (e.name === 'InvalidRange' || e.$metadata?.httpStatusCode === 416) return Readable.from([]);
      throw this.fail(err, 'download', key, opts.signal);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    await this.ready();
    let token: string | undefined;
    do {
      const page = await this.send('list', prefix, () =>
        this.client.send(
          new S.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.full(prefix), ContinuationToken: token, MaxKeys: this.cfg.listPageSize ?? 1000 }),
        ),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/') || !o.Key.startsWith(this.prefix)) continue;
        const etag = o.ETag?.replace(/"/g, '');
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, modified: o.LastModified, hash: etag ? { algorithm: 'etag', value: etag } : undefined };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    await this.ready();
    try {
      const h = await this.client.send(new S.HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      const etag = h.ETag?.replace(/"/g, '');
      return { key, size: h.ContentLength ?? 0, modified: h.LastModified, hash: etag ? { algorithm: 'etag', value: etag } : undefined };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      // HEAD has no body, so a missing bucket also looks like 404 NotFound; the listing tells them apart.
      if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) {
        await this.send('list', key, () => this.client.send(new S.ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1, Prefix: this.full(key) })));
        return undefined;
      }
      throw this.fail(err, 'stat', key);
    }
  }

  async delete(key: string): Promise<void> {
    await this.ready();
    await this.send('delete', key, () => this.client.send(new S.DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key) })));
  }

  /**
   * A PutObject of a small body under a condition. S3 answers 412 PreconditionFailed when it does not hold, and 409
   * ConditionalRequestConflict when another conditional write of the key is under way: both mean "someone else was
   * first" (undefined). Not retried here; the caller knows whether a retry is safe.
   */
  private async putIf(key: string, body: Buffer, cond: { IfNoneMatch?: string; IfMatch?: string }, signal?: AbortSignal): Promise<string | undefined> {
    await this.ready();
    const md5 = createHash('md5').update(body).digest('base64');
    try {
      const res = await this.client.send(
        new S.PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: body, ContentLength: body.length, ContentMD5: md5, ContentType: 'application/json', ...cond }),
        { abortSignal: signal },
      );
      return res.ETag ?? '';
    } catch (err) {
      // If-Match on a key that is gone is 404 NoSuchKey: the version we meant is not there either.
      if (conditionFailed(err) || (cond.IfMatch !== undefined && (err as { name?: string }).name === 'NoSuchKey')) return undefined;
      throw this.fail(err, 'write', key, signal);
    }
  }

  private async readVersioned(key: string, signal?: AbortSignal): Promise<VersionedObject | undefined> {
    await this.ready();
    const cmd = new S.GetObjectCommand({ Bucket: this.bucket, Key: this.full(key) });
    let date: string | undefined;
    cmd.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args);
        date = (out.response as { headers?: Record<string, string> }).headers?.date;
        return out;
      },
      { step: 'deserialize', name: 'onedumpResponseDate' },
    );
    try {
      const res = await this.client.send(cmd, { abortSignal: signal });
      const body = Buffer.from((await res.Body?.transformToByteArray()) ?? []);
      const storeNow = date ? Date.parse(date) : NaN;
      const written = res.LastModified?.getTime();
      // The store's clock on both sides, so that hosts whose clocks disagree still agree on an age.
      const ageMs = written !== undefined && Number.isFinite(storeNow) ? Math.max(0, storeNow - written) : undefined;
      return { body, etag: res.ETag ?? '', ageMs };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name !== 'NoSuchBucket' && (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404)) return undefined;
      throw this.fail(err, 'read', key, signal);
    }
  }

  private async deleteIf(key: string, etag: string, signal?: AbortSignal): Promise<boolean> {
    await this.ready();
    try {
      await this.client.send(new S.DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(key), IfMatch: etag }), { abortSignal: signal });
      return true;
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (conditionFailed(err) || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return false;
      throw this.fail(err, 'delete', key, signal);
    }
  }

  async close(): Promise<void> {
    // Only a client that was created has sockets to close.
    if (this.clientReady) await this.clientReady.then(() => this.client.destroy(), () => undefined);
  }
}

/** 412 PreconditionFailed, or 409 ConditionalRequestConflict (a concurrent conditional write of the same key). */
function conditionFailed(err: unknown): boolean {
  const e = (err ?? {}) as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const code = e.name === 'Error' || !e.name ? (e.Code ?? '') : e.name;
  const status = e.$metadata?.httpStatusCode;
  return code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || status === 412 || (status === 409 && code !== 'BucketAlreadyExists');
}

const s3Options = z.strictObject({
  bucket: str({ description: 'Bucket name.', example: 'my-backups', go: true }),
  key: str({ description: 'Object key of the backup (the file name part gets the unique prefix and .gz suffix).', example: 'db/app.sql', go: true }),
  region: described(z.string().optional(), { description: 'AWS region; defaults to AWS_REGION / the AWS config.', example: 'ap-southeast-2', go: true }),
  'access-key-id': secret({ description: 'Access key id; defaults to the AWS credential chain.', example: '${AWS_ACCESS_KEY_ID}', go: true }).optional(),
  'secret-access-key': secret({ description: 'Secret access key; defaults to the AWS credential chain.', example: '${AWS_SECRET_ACCESS_KEY}', go: true }).optional(),
  'session-token': secret({ description: 'Session token for temporary credentials.', example: '${AWS_SESSION_TOKEN}', go: true }).optional(),
  endpoint: described(z.string().url().optional(), { description: 'Endpoint of an S3-compatible store (MinIO, R2, …).', example: 'http://127.0.0.1:9000' }),
  forcepathstyle: bool({ description: 'Path-style addressing (bucket in the path), needed by most S3-compatible stores.', example: true }).optional(),
  storageclass: described(z.string().optional(), { description: 'Storage class, e.g. STANDARD_IA, GLACIER_IR.', example: 'STANDARD_IA' }),
  partsize: posInt({ description: 'Multipart part size in MiB (min 5; default 16). It doubles every 1,000 parts so a stream of any size fits in S3\'s 10,000 parts.', example: 16 }).optional(),
  queuesize: posInt({ description: 'Parts uploaded in parallel (default 4); memory is about (queuesize + 1) × partsize.', example: 4 }).optional(),
  checksums: described(z.enum(['when_supported', 'when_required']).optional(), {
    description: 'SDK request checksums: when_supported (AWS default) or when_required (for stores that mishandle aws-chunked uploads, such as s3rver).',
    example: 'when_required',
  }),
  keep: keepField('under this prefix'),
});
export type S3Options = z.infer<typeof s3Options>;

function splitKey(key: string): { prefix: string; name: string } {
  const k = key.replace(/^\/+/, '');
  const i = k.lastIndexOf('/');
  return i < 0 ? { prefix: '', name: k } : { prefix: k.slice(0, i + 1), name: k.slice(i + 1) };
}

function configFrom(o: Omit<S3Options, 'key'>, prefix: string, log: Logger): S3StorageConfig {
  const id = o['access-key-id'];
  const sec = o['secret-access-key'];
  if (Boolean(id) !== Boolean(sec)) {
    throw new UsageError(`s3 storage s3://${o.bucket}: give both access-key-id and secret-access-key, or neither to use the AWS credential chain.`);
  }
  if (o.partsize !== undefined && o.partsize < 5) throw new UsageError(`s3 storage s3://${o.bucket}: partsize is in MiB and must be at least 5.`);
  return {
    bucket: o.bucket,
    prefix,
    region: o.region,
    endpoint: o.endpoint,
    forcePathStyle: o.forcepathstyle,
    credentials: id && sec ? { accessKeyId: id, secretAccessKey: sec, sessionToken: o['session-token'] } : undefined,
    storageClass: o.storageclass,
    partSize: o.partsize !== undefined ? o.partsize * MiB : undefined,
    queueSize: o.queuesize,
    checksums: o.checksums === 'when_required' ? 'WHEN_REQUIRED' : o.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : undefined,
    log,
  };
}

const URL_PARAMS = ['region', 'endpoint', 'forcepathstyle', 'storageclass', 'partsize', 'queuesize', 'checksums'] as const;

export const s3Backend: StorageBackend<S3Options> = {
  kind: 's3',
  conditionalWrites: true,
  summary: 'Amazon S3 or an S3-compatible store (multipart upload, aborted on failure).',
  options: s3Options,
  schemes: ['s3'],
  fromConfig(o, ctx) {
    const { prefix, name } = splitKey(o.key);
    return { storage: new S3Storage(configFrom(o, prefix, ctx.log)), key: name };
  },
  fromUrl(url, ctx, extra) {
    const bucket = decodeURIComponent(url.hostname);
    if (!bucket) throw new UsageError(`"${url.href}" names no bucket; use s3://bucket/prefix/key.`);
    if (url.username) throw new UsageError(`s3 URLs must not carry credentials; use the AWS credential chain or the config.`);
    const raw: Record<string, unknown> = { ...extra };
    for (const [k, v] of url.searchParams) {
      if (!(URL_PARAMS as readonly string[]).includes(k)) throw new UsageError(`unknown parameter "${k}" in ${url.origin}${url.pathname}; known: ${URL_PARAMS.join(', ')}.`);
      raw[k] = k === 'forcepathstyle' ? v !== 'false' && v !== '0' : k === 'partsize' || k === 'queuesize' ? Number(v) : k === 'checksums' ? v.toLowerCase() : v;
    }
    const path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const parsed = s3Options.omit({ key: true }).safeParse({ bucket, ...raw });
    if (!parsed.success) throw new UsageError(`${url.origin}${url.pathname}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}.`);
    if (path === '' || path.endsWith('/')) return { storage: new S3Storage(configFrom(parsed.data, path, ctx.log)), key: '' };
    const { prefix, name } = splitKey(path);
    return { storage: new S3Storage(configFrom(parsed.data, prefix, ctx.log)), key: name };
  },
  describe(o) {
    return `s3://${o.bucket}/${o.key.replace(/^\/+/, '')}`;
  },
};
