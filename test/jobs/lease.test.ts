import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { acquireLease, LeaseHeldError, LEASE_SUFFIX, type LeaseDoc } from '../../src/jobs/lease.js';
import { S3Storage } from '../../src/storage/s3.js';
import { parseConfigText } from '../../src/config/load.js';
import { CLI_ENTRY, ROOT, runCli } from '../../testutils/cli.js';
import { DUMP_COMPLETED, fakeDumpBinary } from '../../testutils/fake-dump.js';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { startConditionalS3, type ConditionalS3 } from '../../testutils/s3-conditional.js';

const BUCKET = 'onedump-lease';
let s3: S3Server;
let proxy: ConditionalS3;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3([BUCKET]);
  proxy = await startConditionalS3(s3);
  client = s3.client(proxy.endpoint);
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await proxy?.close();
  await s3?.stop();
});

const fresh = (p: string) => mkdtempSync(join(tmpdir(), `onedump-lease-${p}-`));
let seq = 0;

function storage(bucket = BUCKET): S3Storage {
  return new S3Storage({ bucket, prefix: '', endpoint: proxy.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, checksums: 'WHEN_REQUIRED' });
}

/** A config whose one job dumps with a stand-in taking `seconds` to an S3 key of its own, with a lease of `ttl`. */
function leasedJob(dir: string, o: { seconds: number; ttl?: string; bucket?: string; key?: string }): { cfg: string; key: string } {
  const key = o.key ?? `t${++seq}-${Date.now()}/app.sql`;
  const bin = fakeDumpBinary(`sleep ${o.seconds}\necho "-- ran by $PPID"\necho "CREATE TABLE t (id int);"\n${DUMP_COMPLETED}`, dir);
  const cfg = join(dir, `jobs-${seq}.yml`);
  writeFileSync(
    cfg,
    [
      'jobs:',
      '  - name: app',
      '    dbdriver: mysqldump',
      '    dbdsn: root@tcp(127.0.0.1:3306)/app',
      `    driverpath: ${bin}`,
      `    lock: { lease: true${o.ttl ? `, ttl: ${o.ttl}` : ''} }`,
      '    storage:',
      '      s3:',
      `        - { bucket: ${o.bucket ?? BUCKET}, key: ${key}, endpoint: "${proxy.endpoint}", forcepathstyle: true, access-key-id: S3RVER, secret-access-key: S3RVER, checksums: when_required }`,
      '',
    ].join('\n'),
  );
  return { cfg, key };
}

function startCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env } });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, done, stderr: () => stderr, stdout: () => stdout };
}

async function readLease(key: string): Promise<{ doc: LeaseDoc; etag: string } | undefined> {
  try {
    const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key + LEASE_SUFFIX }));
    return { doc: JSON.parse(await r.Body!.transformToString()) as LeaseDoc, etag: r.ETag ?? '' };
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

async function exists(key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return true;
  } catch {
    return false;
  }
}

async function text(key: string): Promise<string> {
  const r = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return r.Body!.transformToString();
}

async function waitFor(check: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the conditional-write stand-in in front of s3rver', () => {
  it('enforces If-None-Match: * and If-Match with 412 PreconditionFailed, as AWS does', async () => {
    const key = `raw-${Date.now()}`;
    const first = await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'one', IfNoneMatch: '*' }));
    await expect(client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'two', IfNoneMatch: '*' }))).rejects.toMatchObject({ name: 'PreconditionFailed', $metadata: { httpStatusCode: 412 } });
    await expect(client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'two', IfMatch: '"0123"' }))).rejects.toMatchObject({ name: 'PreconditionFailed' });
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'three', IfMatch: first.ETag }));
    expect(await text(key)).toBe('three');
  });
});

describe('the lease (in process)', () => {
  it('of ten runs racing for one lease exactly one gets it; the others are told who holds it', async () => {
    const key = `race-${Date.now()}/app.sql`;
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => acquireLease('app', { name: 's3[0]', storage: storage(), key }, { ttlMs: 60_000 })));
    const won = settled.filter((s) => s.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const s of settled.filter((s) => s.status === 'rejected')) {
      expect(s.reason).toBeInstanceOf(LeaseHeldError);
      expect(String(s.reason.message)).toMatch(
        new RegExp(`^another run of job "app" holds its lease s3://${BUCKET}/${key}\\.lease\\.json \\(pid ${process.pid} on ${hostname()}, since \\d{4}-[^)]+\\); this run is skipped$`),
      );
    }
    const lease = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLease>>>).value;
    expect((await readLease(key))?.doc).toMatchObject({ job: 'app', pid: process.pid, host: hostname(), ttlMs: 60_000 });
    await lease.release();
    expect(await readLease(key)).toBeUndefined();
  });

  it('a stale lease is taken over by exactly one of five racing runs; the one it was taken from learns it lost it', async () => {
    const key = `stale-${Date.now()}/app.sql`;
    const old = await acquireLease('app', { name: 's3[0]', storage: storage(), key }, { ttlMs: 1000 });
    expect((await readLease(key))?.doc.ttlMs).toBe(1000);
    const taken: unknown[] = [];
    // Another host's lease replaces it behind its back (as a takeover after a freeze would), and is then left to go
    // stale (ttl 1 s, never renewed).
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key + LEASE_SUFFIX,
        Body: JSON.stringify({ owner: 'dead', job: 'app', host: 'other-host', pid: 4242, started: '2026-01-01T00:00:00.000Z', heartbeat: '2026-01-01T00:00:00.000Z', ttlMs: 1000, onedump: 'x' }),
      }),
    );
    await waitFor(() => old.lost.aborted, 10_000);
    expect(String((old.lost.reason as Error).message)).toMatch(/^job "app" lost its lease s3:\/\/.*: it was taken over by pid 4242 on other-host \(since 2026-01-01T00:00:00\.000Z\); this run is stopped/);
    await old.release(); // leaves the other host's lease alone
    expect((await readLease(key))?.doc.owner).toBe('dead');
    await new Promise((r) => setTimeout(r, 2200)); // older than its TTL by the store's clock (1 s resolution)
    const settled = await Promise.allSettled(
      Array.from({ length: 5 }, () => acquireLease('app', { name: 's3[0]', storage: storage(), key }, { ttlMs: 60_000, onTakeover: (o) => taken.push(o) })),
    );
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    expect(taken).toHaveLength(1);
    expect(taken[0]).toMatchObject({ pid: 4242, host: 'other-host' });
    expect((await readLease(key))?.doc.pid).toBe(process.pid);
    await (settled.find((s) => s.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLease>>>).value.release();
  }, 30_000);
});

describe('two hosts running one job with a lease on S3', () => {
  it('started at once, exactly one dumps; the other exits 11 naming the holder', async () => {
    const dir = fresh('two');
    const { cfg, key } = leasedJob(dir, { seconds: 5 });
    // Two "hosts": separate lock folders, so only the lease can decide.
    const a = startCli(['dump', '-c', cfg, '--json', '--lock-dir', join(dir, 'locks-a')]);
    const b = startCli(['dump', '-c', cfg, '--json', '--lock-dir', join(dir, 'locks-b')]);
    const codes = await Promise.all([a.done, b.done]);
    expect([...codes].sort()).toEqual([0, 11]);
    const [winner, loser] = codes[0] === 0 ? [a, b] : [b, a];
    const result = JSON.parse(loser.stdout());
    expect(result.jobs[0]).toMatchObject({ job: 'app', skipped: 'locked' });
    expect(result.jobs[0].error).toMatch(
      new RegExp(`^another run of job "app" holds its lease s3://${BUCKET}/${key}\\.lease\\.json \\(pid ${winner.child.pid} on ${hostname()}, since [-0-9T:.]+Z\\); this run is skipped$`),
    );
    expect(await text(key)).toMatch(/^-- ran by \d+\n/);
    expect(await readLease(key)).toBeUndefined(); // released on exit
    expect(proxy.rejected.ifNoneMatch).toBeGreaterThan(0);
  }, 90_000);

  it('a lease left by kill -9 holds until its TTL, then the next run takes it over and dumps', async () => {
    const dir = fresh('kill');
    const { cfg, key } = leasedJob(dir, { seconds: 60, ttl: '3s' });
    const a = startCli(['dump', '-c', cfg, '--lock-dir', join(dir, 'locks-a')]);
    await waitFor(async () => (await readLease(key)) !== undefined);
    await new Promise((r) => setTimeout(r, 700)); // at least one renewal went out
    a.child.kill('SIGKILL');
    await a.done;
    const killedAt = Date.now();
    const left = await readLease(key);
    expect(left?.doc).toMatchObject({ pid: a.child.pid, ttlMs: 3000 });
    // Fresh for up to 3 s: another run is refused at once.
    await expect(acquireLease('app', { name: 's3[0]', storage: storage(), key }, { ttlMs: 3000 })).rejects.toBeInstanceOf(LeaseHeldError);
    expect(Date.now() - killedAt).toBeLessThan(2000);
    await new Promise((r) => setTimeout(r, Math.max(0, 4200 - (Date.now() - killedAt))));
    const quick = fakeDumpBinary(`echo "-- quick"\n${DUMP_COMPLETED}`, dir);
    writeFileSync(cfg, (await import('node:fs')).readFileSync(cfg, 'utf8').replace(/driverpath: .*/, `driverpath: ${quick}`));
    const b = await runCli(['dump', '-c', cfg, '--lock-dir', join(dir, 'locks-b')]);
    expect(b.stderr).toMatch(new RegExp(`took over a stale lease at s3://${BUCKET}/${key}\\.lease\\.json left by pid ${a.child.pid} on ${hostname()}`));
    expect(b.code).toBe(0);
    expect(await text(key)).toBe('-- quick\n-- Dump completed\n');
    expect(await readLease(key)).toBeUndefined();
  }, 90_000);

  it('the heartbeat renews the lease during a slow dump, so it outlives its TTL', async () => {
    const dir = fresh('beat');
    const { cfg, key } = leasedJob(dir, { seconds: 15, ttl: '2s' });
    const before = proxy.passed['PUT If-Match'] ?? 0;
    const a = startCli(['dump', '-c', cfg, '--lock-dir', join(dir, 'locks-a')]);
    await waitFor(async () => (await readLease(key)) !== undefined);
    const first = (await readLease(key))!;
    await new Promise((r) => setTimeout(r, 3500)); // longer than the TTL
    const later = (await readLease(key))!;
    expect(later.doc.owner).toBe(first.doc.owner);
    expect(Date.parse(later.doc.heartbeat)).toBeGreaterThan(Date.parse(first.doc.heartbeat) + 2000);
    expect(later.etag).not.toBe(first.etag);
    // Another host is still refused: the lease is fresh although older than its TTL.
    const b = await runCli(['dump', '-c', cfg, '--lock-dir', join(dir, 'locks-b')]);
    expect(b.code, b.stderr).toBe(11);
    expect(b.stderr).toContain(`holds its lease s3://${BUCKET}/${key}.lease.json (pid ${a.child.pid} on ${hostname()}`);
    expect(await a.done).toBe(0);
    expect(a.stderr()).not.toMatch(/lost its lease/);
    expect((proxy.passed['PUT If-Match'] ?? 0) - before).toBeGreaterThanOrEqual(5); // ttl/6 ≈ 333 ms over ~15 s
    expect(await exists(key)).toBe(true);
  }, 90_000);

  it('a run whose lease is taken over stops at its next renewal: exit 1, one sentence, no backup stored', async () => {
    const dir = fresh('lost');
    const { cfg, key } = leasedJob(dir, { seconds: 20, ttl: '2s' });
    const a = startCli(['dump', '-c', cfg, '--json', '--lock-dir', join(dir, 'locks-a')]);
    await waitFor(async () => (await readLease(key)) !== undefined);
    // Another host takes it over behind its back (as after a freeze longer than the TTL).
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key + LEASE_SUFFIX,
        Body: JSON.stringify({ owner: 'other', job: 'app', host: 'db2', pid: 77, started: '2026-12-04T03:00:00.000Z', heartbeat: new Date().toISOString(), ttlMs: 60_000, onedump: 'x' }),
      }),
    );
    const t0 = Date.now();
    expect(await a.done).toBe(1);
    expect(Date.now() - t0).toBeLessThan(15_000); // stopped, not run to the end of its 20 s dump
    const result = JSON.parse(a.stdout());
    expect(result.jobs[0].error).toMatch(
      new RegExp(`^job "app" lost its lease s3://${BUCKET}/${key}\\.lease\\.json: it was taken over by pid 77 on db2 \\(since 2026-12-04T03:00:00\\.000Z\\); this run is stopped so that two runs never write at once\\.$`),
    );
    expect(await exists(key)).toBe(false);
    expect((await readLease(key))?.doc.owner).toBe('other'); // the new holder's lease is left alone
  }, 60_000);

  it('a bucket that does not exist is one clear error, exit 1, and nothing is dumped', async () => {
    const dir = fresh('nobucket');
    const { cfg, key } = leasedJob(dir, { seconds: 0, bucket: 'no-such-bucket' });
    const r = await runCli(['dump', '-c', cfg, '--json', '--lock-dir', join(dir, 'locks')]);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json.jobs[0].error).toBe(`s3 storage: bucket "no-such-bucket" does not exist (write s3://no-such-bucket/${key}.lease.json); create it or fix bucket: in the config.`);
    expect(r.stderr).not.toMatch(/ran by|at .*\.ts:\d+/);
  }, 60_000);

  it('a lease on a destination without conditional writes is refused when the config is loaded (exit 2)', async () => {
    const dir = fresh('refuse');
    const cfg = join(dir, 'jobs.yml');
    const write = (lease: string, storageYaml: string) =>
      writeFileSync(cfg, `jobs:\n  - name: app\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:3306)/app\n    lock: { lease: ${lease} }\n    storage:\n${storageYaml}\n`);
    write('true', `      local: [{ path: ${dir}/app.sql }]`);
    let r = await runCli(['dump', '-c', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('jobs[0].lock.lease: this job has no s3 destination: the lease needs a store with conditional writes; local, sftp, gdrive and dropbox have none here');
    write('"local[0]"', `      local: [{ path: ${dir}/app.sql }]\n      s3: [{ bucket: b, key: app.sql }]`);
    r = await runCli(['config', 'validate', '-c', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('jobs[0].lock.lease: local[0] is a local destination: the lease needs a store with conditional writes');
    write('"s3[1]"', `      s3: [{ bucket: b, key: app.sql }]`);
    r = await runCli(['config', 'validate', '-c', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('jobs[0].lock.lease: this job has no s3[1] (it has 1 s3 destination(s))');
    // A destination name with a digit in its kind is a name (lock.lease: s3[0], and verify.destination: s3[0] too).
    const ok = `jobs:\n  - name: app\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:3306)/app\n    lock: { lease: "s3[0]", ttl: 10m }\n    verify: { destination: "s3[0]" }\n    storage:\n      s3: [{ bucket: b, key: app.sql }]\n`;
    expect(parseConfigText(ok, 'ok.yml', {}).config.jobs[0]!.lock).toEqual({ lease: 's3[0]', ttl: '10m' });
    expect(() => parseConfigText(ok.replace('ttl: 10m', 'ttl: 500ms'), 'ok.yml', {})).toThrow(/jobs\[0\]\.lock\.ttl: must be at least 1s/);
  }, 60_000);
});
