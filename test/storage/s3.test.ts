import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Readable, type Writable } from 'node:stream';
import { once } from 'node:events';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { S3Storage, s3Backend, type S3StorageConfig } from '../../src/storage/s3.js';
import { withRetries } from '../../src/storage/retrying.js';
import { storageFromUrl } from '../../src/storage/registry.js';
import { runPipeline } from '../../src/jobs/pipeline.js';
import { silentLogger } from '../../src/util/logger.js';
import { PermanentError } from '../../src/util/errors.js';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { startCutProxy } from '../../testutils/proxy.js';
import { randomStream, unendingStream, sha256Of } from '../../testutils/streams.js';
import { storageConformance } from './conformance.js';
import { runRetentionScenario } from './retention-scenario.js';
import { loadConfigFor } from '../../src/cli/common.js';

/** Backup names followed by their manifests' names. */
const withManifests = (names: string[]) => names.flatMap((n) => [n, `${n}.manifest.json`]);

const BUCKET = 'onedump-test';
const MiB = 1024 * 1024;
let s3: S3Server;

beforeAll(async () => {
  s3 = await startS3([BUCKET, 'onedump-other']);
}, 60_000);
afterAll(async () => {
  await s3?.stop();
});

let seq = 0;
function storage(over: Partial<S3StorageConfig> = {}, endpoint = s3.endpoint): S3Storage {
  return new S3Storage({
    bucket: BUCKET,
    prefix: `t${process.pid}-${++seq}/`,
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    checksums: 'WHEN_REQUIRED',
    partSize: 5 * MiB,
    queueSize: 4,
    retryPolicy: { initialMs: 50, maxMs: 500 },
    ...over,
  });
}

async function objectSha(st: { get: S3Storage['get'] }, key: string) {
  return sha256Of(await st.get(key));
}

storageConformance('s3', {
  async make({ listPageSize }) {
    return withRetries(storage({ listPageSize }));
  },
});

describe('s3 storage', () => {
  it('is built from a URL with credentials from the AWS environment, rooted at the key\'s prefix', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    try {
      const { storage: st, key } = storageFromUrl(`s3://${BUCKET}/url-form/app.sql?endpoint=${encodeURIComponent(s3.endpoint)}&forcepathstyle=true&checksums=when_required&region=us-east-1`, {
        log: silentLogger,
      });
      expect(key).toBe('app.sql');
      expect(st.describe(key)).toBe(`s3://${BUCKET}/url-form/app.sql`);
      await st.put(key, Readable.from([Buffer.from('from a url')]));
      const c = s3.client();
      const listed = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'url-form/' }));
      c.destroy();
      expect(listed.Contents?.map((o) => o.Key)).toEqual(['url-form/app.sql']);
      await st.close?.();
      const folder = storageFromUrl(`s3://${BUCKET}/url-form/?endpoint=${encodeURIComponent(s3.endpoint)}&forcepathstyle=true&checksums=when_required`, { log: silentLogger });
      expect(folder.key).toBe('');
      expect((await folder.storage.stat('app.sql'))?.size).toBe(10);
      await folder.storage.close?.();
    } finally {
      process.env = saved;
    }
    expect(() => storageFromUrl(`s3://${BUCKET}/x?bogus=1`, { log: silentLogger })).toThrow(/unknown parameter "bogus"/);
  });

  it('loads a config from s3:// (the root -c flag)', async () => {
    const c = s3.client();
    await c.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'configs/jobs.yml',
        Body: 'jobs:\n  - name: from-s3\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:3306)/app\n    storage:\n      local: [{ path: /tmp/x.sql }]\n',
      }),
    );
    c.destroy();
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    try {
      const loaded = await loadConfigFor(`s3://${BUCKET}/configs/jobs.yml?endpoint=${encodeURIComponent(s3.endpoint)}&forcepathstyle=true&checksums=when_required`);
      expect(loaded.config.jobs.map((j) => j.name)).toEqual(['from-s3']);
    } finally {
      process.env = saved;
    }
  });

  it('is built from a config entry with the Go tool\'s keys; the file name is the key\'s last part', async () => {
    const opts = s3Backend.options.parse({
      bucket: BUCKET,
      key: '/cfg/db/app.sql',
      region: 'us-east-1',
      'access-key-id': 'S3RVER',
      'secret-access-key': 'S3RVER',
      endpoint: s3.endpoint,
      forcepathstyle: true,
      checksums: 'when_required',
      partsize: 5,
      queuesize: 2,
    });
    const { storage: st, key } = s3Backend.fromConfig(opts, { log: silentLogger });
    expect(key).toBe('app.sql');
    expect(st.describe(key)).toBe(`s3://${BUCKET}/cfg/db/app.sql`);
    expect(st.describe(key)).not.toContain('S3RVER');
    await st.put(key, Readable.from([Buffer.alloc(11 * MiB, 3)]));
    expect((await st.stat(key))?.size).toBe(11 * MiB);
    expect((st as S3Storage).lastUpload).toMatchObject({ parts: 3 });
    expect(() => s3Backend.fromConfig({ ...opts, 'secret-access-key': undefined }, { log: silentLogger })).toThrow(/both access-key-id and secret-access-key/);
    await st.close?.();
  });

  it('fails at once with a sentence naming the backend, destination and fix on bad credentials', async () => {
    const st = withRetries(storage({ credentials: { accessKeyId: 'WRONG', secretAccessKey: 'nope-secret-value' } }));
    const t0 = Date.now();
    const err = await st.put('bad/app.sql', Readable.from([Buffer.from('x')])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toMatch(/^s3 storage: the credentials were rejected \(InvalidAccessKeyId\) when trying to upload s3:\/\/onedump-test\/.*bad\/app.sql; check access-key-id/);
    expect((err as Error).message).not.toContain('nope-secret-value');
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('fails at once on a bucket that does not exist', async () => {
    const st = withRetries(storage({ bucket: 'no-such-bucket' }));
    const t0 = Date.now();
    await expect(st.put('x.sql', Readable.from([Buffer.from('x')]))).rejects.toThrow(/bucket "no-such-bucket" does not exist .*create it or fix bucket:/);
    await expect(st.stat('x.sql')).rejects.toThrow(/does not exist/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('fails verification when the server stores something else, and deletes the bad object', async () => {
    const st = storage();
    // A store that lost bytes: the HEAD after a multipart upload reports a wrong size.
    (await st.sdkClient()).middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'HeadObjectCommand') (out.output as { ContentLength?: number }).ContentLength = 1;
        return out;
      },
      { step: 'initialize', name: 'corruptHead' },
    );
    await expect(st.put('verify/app.sql', Readable.from([Buffer.alloc(6 * MiB, 1)]))).rejects.toThrow(
      new RegExp(`failed verification after upload \\(1 bytes stored, ${6 * MiB} sent\\)`),
    );
    const c = s3.client();
    const listed = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${st.prefix}verify/` }));
    c.destroy();
    expect(listed.Contents ?? []).toEqual([]);
  });

  it('fails verification on an ETag that is not the MD5 of what was sent', async () => {
    const st = storage();
    (await st.sdkClient()).middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'PutObjectCommand') (out.output as { ETag?: string }).ETag = '"0123456789abcdef0123456789abcdef"';
        return out;
      },
      { step: 'initialize', name: 'corruptEtag' },
    );
    await expect(st.put('verify/etag.sql', Readable.from([Buffer.from('hello')]))).rejects.toThrow(/failed verification after upload \(ETag 0123456789abcdef0123456789abcdef, expected 5d41402abc4b2a76b9719d911017c592\)/);
    expect(await st.stat('verify/etag.sql')).toBeUndefined();
  });

  it('fails verification on a multipart ETag that is not the MD5 of the parts\' MD5s', async () => {
    const st = storage();
    (await st.sdkClient()).middlewareStack.add(
      (next, context) => async (args) => {
        const out = await next(args);
        if (context.commandName === 'HeadObjectCommand') (out.output as { ETag?: string }).ETag = '"0123456789abcdef0123456789abcdef-2"';
        return out;
      },
      { step: 'initialize', name: 'corruptEtag' },
    );
    await expect(st.put('verify/etag-mp.sql', Readable.from([Buffer.alloc(6 * MiB, 1)]))).rejects.toThrow(/failed verification after upload \(ETag 0123456789abcdef0123456789abcdef-2, expected [0-9a-f]{32}-2\)/);
  });

  it('a single-part upload makes no HeadObject request and still reports size and hash; multipart still checks with one', async () => {
    const st = storage();
    const commands: string[] = [];
    (await st.sdkClient()).middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(context.commandName ?? '?');
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
    const small = await st.put('count/small.sql', Readable.from([Buffer.from('hello')]), { size: 5 });
    expect(commands).toEqual(['PutObjectCommand']);
    expect(small).toMatchObject({ size: 5, hash: { algorithm: 'etag', value: '5d41402abc4b2a76b9719d911017c592' } });
    commands.length = 0;
    const sized = await st.put('count/sized.sql', Readable.from([Buffer.alloc(12 * MiB, 2)]), { size: 12 * MiB });
    expect(commands).toEqual(['PutObjectCommand']);
    expect(sized.size).toBe(12 * MiB);
    commands.length = 0;
    await st.put('count/stream.sql', Readable.from([Buffer.alloc(12 * MiB, 2)]));
    expect(commands).toContain('UploadPartCommand');
    expect(commands.at(-1)).toBe('HeadObjectCommand');
    expect((await st.stat('count/sized.sql'))?.size).toBe(12 * MiB);
  });

  it('a known-size put whose stream is longer or shorter than announced stores nothing', async () => {
    const st = storage();
    await expect(st.put('count/long.sql', Readable.from([Buffer.alloc(7 * MiB, 1)]), { size: 6 * MiB })).rejects.toThrow(/got 7340032 bytes, expected 6291456; nothing was stored/);
    await expect(st.put('count/short.sql', Readable.from([Buffer.alloc(5, 1)]), { size: 6 })).rejects.toThrow(/got 5 bytes, expected 6; nothing was stored/);
    expect(await st.stat('count/long.sql')).toBeUndefined();
    expect(await st.stat('count/short.sql')).toBeUndefined();
  });

  it('uploads 200 MB through a connection cut twice byte-identical, resending parts rather than restarting', { timeout: 300_000 }, async () => {
    const size = 200 * MiB;
    const proxy = await startCutProxy({ host: s3.host, port: s3.port }, { cutAfter: [70 * MiB, 140 * MiB] });
    try {
      const inner = storage({ partSize: 8 * MiB, queueSize: 4 }, `http://${proxy.host}:${proxy.port}`);
      const st = withRetries(inner);
      const src = randomStream(size);
      const stored = await st.put('big/200mb.bin', src.stream);
      const want = await src.sha256;
      expect(stored.size).toBe(size);
      expect(proxy.cuts).toEqual([70 * MiB, 140 * MiB]);
      const stats = inner.lastUpload!;
      expect(stats.parts).toBe(25);
      // Each cut kills the part on that connection (maybe a couple sharing it); those parts alone are resent.
      expect(stats.partAttempts).toBeGreaterThan(stats.parts);
      expect(stats.partAttempts).toBeLessThanOrEqual(stats.parts + 8);
      // What crossed the wire: the object once plus the resent parts, far from a second full upload.
      expect(proxy.bytesUp).toBeGreaterThan(size);
      expect(proxy.bytesUp).toBeLessThan(size + 8 * 8 * MiB + 2 * MiB);
      expect(await objectSha(inner, 'big/200mb.bin')).toEqual({ sha256: want, size });
      await st.close?.();
    } finally {
      await proxy.close();
    }
  });

  it('a live dump streamed through a cut connection is produced once and arrives whole', { timeout: 300_000 }, async () => {
    const size = 200 * MiB;
    const proxy = await startCutProxy({ host: s3.host, port: s3.port }, { cutAfter: [50 * MiB, 120 * MiB] });
    try {
      const inner = storage({ partSize: 8 * MiB, queueSize: 4 }, `http://${proxy.host}:${proxy.port}`);
      let runs = 0;
      const produce = async (out: Writable) => {
        runs++;
        const src = randomStream(size);
        for await (const chunk of src.stream) {
          if (!out.write(chunk)) await once(out, 'drain');
        }
        return { bytes: size } as never;
      };
      const result = await runPipeline(produce, [{ name: 's3[0]', storage: withRetries(inner), key: 'dump/app.sql' }], { gzip: false, signal: new AbortController().signal });
      expect(result.error).toBeUndefined();
      expect(runs).toBe(1);
      expect(result.outcomes[0]?.ok).toBe(true);
      expect(proxy.cuts.length).toBe(2);
      expect(inner.lastUpload!.partAttempts).toBeGreaterThan(inner.lastUpload!.parts);
      expect(await objectSha(inner, 'dump/app.sql')).toEqual({ sha256: result.sha256, size });
    } finally {
      await proxy.close();
    }
  });

  it('a run that ultimately fails leaves no object under the final name and keeps the earlier backup', { timeout: 120_000 }, async () => {
    const proxy = await startCutProxy({ host: s3.host, port: s3.port });
    try {
      const inner = storage({ partSize: 5 * MiB, queueSize: 2, retryPolicy: { attempts: 3, initialMs: 20, maxMs: 50 } }, `http://${proxy.host}:${proxy.port}`);
      const st = withRetries(inner);
      await st.put('fails/app.sql', Readable.from([Buffer.from('the good backup')]));
      // From 8 MiB on, every few hundred KiB cuts the connection: more faults than the policy allows.
      proxy.cutAt(...Array.from({ length: 200 }, (_, i) => 8 * MiB + i * 300 * 1024));
      const src = randomStream(60 * MiB);
      await expect(st.put('fails/app.sql', src.stream)).rejects.toThrow(/s3 storage: could not upload part \d+ of s3:\/\/onedump-test\/.*fails\/app.sql/);
      const direct = storage({ prefix: inner.prefix });
      expect((await readAllText(direct, 'fails/app.sql'))).toBe('the good backup');
      await expect(st.put('fails/new.sql', randomStream(60 * MiB).stream)).rejects.toThrow();
      expect(await direct.stat('fails/new.sql')).toBeUndefined();
      const keys: string[] = [];
      for await (const o of direct.list('fails/')) keys.push(o.key);
      expect(keys).toEqual(['fails/app.sql']);
    } finally {
      await proxy.close();
    }
  });

  it('keep: 3 over five runs of a dump job leaves the newest three and touches nothing else', { timeout: 180_000 }, async () => {
    const prefix = `keep${process.pid}`;
    const c = s3.client();
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/other-app.sql`, Body: 'not ours' }));
    await c.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}/app.sql.gz.bak`, Body: 'not ours either' }));
    const storageYaml = `
      s3:
        - bucket: ${BUCKET}
          key: ${prefix}/app.sql
          region: us-east-1
          endpoint: ${s3.endpoint}
          forcepathstyle: true
          checksums: when_required
          access-key-id: S3RVER
          secret-access-key: S3RVER
          keep: 3`;
    const names = await runRetentionScenario(storageYaml);
    const listed = await c.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/` }));
    c.destroy();
    const keys = (listed.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)).sort();
    // The three kept backups with their manifests; the deleted ones' manifests went with them.
    expect(keys).toEqual([...withManifests(names.slice(2)), 'app.sql.gz.bak', 'other-app.sql'].sort());
  });
});

async function readAllText(st: S3Storage, key: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of await st.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('s3 storage on a stalled connection', () => {
  it('an abort ends an upload whose parts hang', { timeout: 60_000 }, async () => {
    const proxy = await startCutProxy({ host: s3.host, port: s3.port });
    try {
      const st = storage({ partSize: 5 * MiB }, `http://${proxy.host}:${proxy.port}`);
      const ac = new AbortController();
      const putting = st.put('stall/app.sql', unendingStream(12 * MiB), { signal: ac.signal });
      await new Promise((r) => setTimeout(r, 300));
      proxy.hold();
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      ac.abort(new Error('the job timed out'));
      await expect(putting).rejects.toThrow('the job timed out');
      expect(Date.now() - t0).toBeLessThan(2000);
      proxy.resume();
      expect(await storage({ prefix: st.prefix }).stat('stall/app.sql')).toBeUndefined();
    } finally {
      await proxy.close();
    }
  });
});
