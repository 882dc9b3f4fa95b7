import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { storageFromUrl } from '../../src/storage/registry.js';
import { syncBinlogs } from '../../src/binlog/sync.js';
import { queryBinlogStatus } from '../../src/binlog/status.js';
import { silentLogger } from '../../src/util/logger.js';
import { startMariaDB, type MariaDBInstance, settleBinlogs } from '../../testutils/mariadb.js';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { runCli } from '../../testutils/cli.js';

// Issue 21: the Go tool's `binlog sync s3 …` invocation, its keys (PREFIX + "/" + name, uncleaned) and its run log.

let db: MariaDBInstance;
let s3: S3Server;
let work: string;
const BUCKET = 'onedump';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const binlogDir = () => dirname(db.binlogBase);

async function binlogs(): Promise<Array<{ name: string; size: number }>> {
  const c = await db.connect();
  const [rows] = await c.query('SHOW BINARY LOGS');
  await c.end();
  return (rows as Array<{ Log_name: string; File_size: number }>).map((r) => ({ name: r.Log_name, size: Number(r.File_size) }));
}

async function write(n: number): Promise<void> {
  const c = await db.connect();
  for (let i = 0; i < n; i++) {
    await c.query(`INSERT INTO shop.t VALUES (${Math.floor(Math.random() * 1e9)}, REPEAT(${c.escape(String.fromCharCode(97 + i))}, ${100 + Math.floor(Math.random() * 4000)}))`);
    await c.query('FLUSH BINARY LOGS');
  }
  await c.end();
  await settleBinlogs(() => db.connect());
}

/** Every object of the bucket: key → sha256 of its body. */
async function objects(prefix = ''): Promise<Map<string, string>> {
  const client = s3.client();
  const out = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      const body = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }));
      out.set(o.Key!, sha(Buffer.from(await body.Body!.transformToByteArray())));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

const env = () => ({
  AWS_ACCESS_KEY_ID: s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL_S3: s3.endpoint,
  DATABASE_DSN: db.dsn(),
});

interface LogLine {
  finished_at: string;
  files: string[] | null;
  ok: boolean;
  error: string;
}
/** Go's time.Time JSON: RFC 3339 in UTC, fraction without trailing zeros. */
const GO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z$/;

beforeAll(async () => {
  [db, s3] = await Promise.all([startMariaDB(), startS3([BUCKET])]);
  work = mkdtempSync(join(tmpdir(), 'onedump-binlog-sync-go-'));
  const c = await db.connect();
  await c.query('CREATE DATABASE shop');
  await c.query('CREATE TABLE shop.t (id INT PRIMARY KEY, v TEXT)');
  await c.end();
  await write(2);
}, 180_000);
afterAll(async () => {
  await Promise.allSettled([db?.stop(), s3?.stop()]);
});

describe('binlog sync s3: the Go tool\'s form', () => {
  it('binlog sync s3 --checksum=true --s3-bucket onedump --s3-prefix prefix --save-log=true (Go\'s own test invocation)', async () => {
    const args = ['binlog', 'sync', 's3', '--checksum=true', '--s3-bucket', BUCKET, '--s3-prefix', 'prefix', '--save-log=true'];
    const r = await runCli(args, { env: env() });
    expect(r.code, r.stderr).toBe(0);
    const listed = await binlogs();
    const got = await objects('prefix');
    expect([...got.keys()].sort()).toEqual(listed.map((b) => `prefix/${b.name}`).sort());
    for (const b of listed) expect(got.get(`prefix/${b.name}`), b.name).toBe(sha(readFileSync(join(binlogDir(), b.name)).subarray(0, b.size)));
    expect(existsSync(join(binlogDir(), 'checksum.onedump'))).toBe(true);

    // Again: nothing new, so the Go log line's files is null (Go marshals an empty slice it never filled as null).
    const again = await runCli(args, { env: env() });
    expect(again.code, again.stderr).toBe(0);
    const raw = readFileSync(join(binlogDir(), 'onedump-binlog-sync.log'), 'utf8');
    const lines = raw.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^\{"finished_at":"[^"]+","files":null,"ok":true,"error":""\}$/);
    const parsed = lines.map((l) => JSON.parse(l) as LogLine);
    expect(parsed[0]!.files!.map((f) => f.replace(/^.*\//, '')).sort()).toEqual(listed.map((b) => b.name).sort());
    expect(parsed[0]!.files!.every((f) => f.startsWith(binlogDir() + '/'))).toBe(true);
    for (const l of parsed) expect(l.finished_at).toMatch(GO_TIME);
    expect(Object.keys(parsed[0]!)).toEqual(['finished_at', 'files', 'ok', 'error']);
  }, 120_000);

  it('binlog sync -b … -p … (no "s3" word: cobra ignores it) and sync-s3 still work; --log-file\'s folder is created', async () => {
    await write(1);
    const log = join(work, 'not', 'yet', 'there', 'sync.log');
    const r = await runCli(['binlog', 'sync', '-b', BUCKET, '-p', 'short', '--save-log', '--log-file', log], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(dirname(log)).isDirectory()).toBe(true);
    const line = JSON.parse(readFileSync(log, 'utf8').trim()) as LogLine;
    expect(line.ok).toBe(true);
    expect(line.finished_at).toMatch(GO_TIME);
    const listed = await binlogs();
    expect([...(await objects('short/')).keys()].sort()).toEqual(listed.map((b) => `short/${b.name}`).sort());
    const old = await runCli(['binlog', 'sync-s3', '--s3-bucket=' + BUCKET, '--s3-prefix=older', '--save-log=true', '--log-file=' + log], { env: env() });
    expect(old.code, old.stderr).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(2);
    expect((await objects('older/')).size).toBe(listed.length);
    // A prefix ending in "/" (the Go tool would write trail//NAME): ours are trail/NAME, once each.
    const trail = await runCli(['binlog', 'sync', 's3', '-b', BUCKET, '-p', 'trail/'], { env: env() });
    expect(trail.code, trail.stderr).toBe(0);
    expect([...(await objects('trail')).keys()].sort()).toEqual(listed.map((b) => `trail/${b.name}`).sort());
  }, 120_000);

  // s3rver cannot hold a key with an empty path segment (its router needs non-empty ones: PutObject of "a//b" fails),
  // so the key rule is checked on the local storage with a Go prefix that is a real folder.
  it('binlogs already stored under the Go tool\'s key are kept there: not sent again, not copied twice', async () => {
    const dest = mkdtempSync(join(work, 'dest-'));
    const { storage } = storageFromUrl(dest + '/', { log: silentLogger });
    const c = await db.connect();
    const status = await queryBinlogStatus(c);
    await c.end();
    const listed = status.binlogs;
    // What "the Go tool" left: all binlogs but the newest under its key, and its checksum.onedump (sha256 lines).
    const shipped = listed.slice(0, -1);
    const newest = listed[listed.length - 1]!;
    mkdirSync(join(dest, 'bl', 'go'), { recursive: true });
    const hashes: string[] = [];
    for (const b of shipped) {
      const body = readFileSync(join(binlogDir(), b.name)).subarray(0, b.size);
      writeFileSync(join(dest, 'bl', 'go', b.name), body);
      hashes.push(sha(body));
    }
    const state = join(work, 'go-checksum.onedump');
    writeFileSync(state, hashes.join('\n'));
    const out = await syncBinlogs({ status, storage, prefix: 'bl/', goPrefix: 'bl/go/', checksum: true, checksumFile: state, saveLog: false });
    expect(out.result.sent.map((f) => f.key)).toEqual([`bl/${newest.name}`]);
    expect(out.result.skipped.map((f) => f.key).sort()).toEqual(shipped.map((b) => `bl/go/${b.name}`).sort());
    const keys = async () => {
      const k: string[] = [];
      for await (const o of storage.list('bl/')) k.push(o.key);
      return k.sort();
    };
    expect(await keys()).toEqual([...shipped.map((b) => `bl/go/${b.name}`), `bl/${newest.name}`].sort());

    // Without --checksum (the Go tool sends everything every time) they are overwritten in place, each binlog once.
    const all = await syncBinlogs({ status, storage, prefix: 'bl/', goPrefix: 'bl/go/', checksum: false, checksumFile: state, saveLog: false });
    expect(all.result.sent.map((f) => f.key).sort()).toEqual([...shipped.map((b) => `bl/go/${b.name}`), `bl/${newest.name}`].sort());
    expect(await keys()).toEqual([...shipped.map((b) => `bl/go/${b.name}`), `bl/${newest.name}`].sort());
    // A file under both keys: ours wins (it is the one this tool keeps up to date).
    writeFileSync(join(dest, 'bl', shipped[0]!.name), 'stale');
    const both = await syncBinlogs({ status, storage, prefix: 'bl/', goPrefix: 'bl/go/', checksum: false, checksumFile: state, saveLog: false });
    expect(both.result.sent.map((f) => f.key)).toContain(`bl/${shipped[0]!.name}`);
    for (const b of listed) {
      const k = existsSync(join(dest, 'bl', b.name)) ? join(dest, 'bl', b.name) : join(dest, 'bl', 'go', b.name);
      expect(sha(readFileSync(k)), b.name).toBe(sha(readFileSync(join(binlogDir(), b.name)).subarray(0, b.size)));
    }
  }, 120_000);

  it('bad invocations: one sentence, exit 2, nothing sent', async () => {
    const before = (await objects()).size;
    const cases: Array<[string[], RegExp]> = [
      [['binlog', 'sync', 's3', '--s3-bucket', BUCKET], /^onedump: binlog sync s3 needs --s3-prefix \(the bucket and the key prefix for the binlog files\)\.$/],
      [['binlog', 'sync', 's3'], /^onedump: binlog sync s3 needs --s3-bucket and --s3-prefix /],
      [['binlog', 'sync', 'gcs', '-b', BUCKET, '-p', 'x'], /^onedump: binlog sync takes no argument but "s3" \(the Go tool's form\); got "gcs"\./],
      [['binlog', 'sync', '--to', join(work, 'x') + '/', '-b', BUCKET, '-p', 'x'], /^onedump: give either --to URL or the Go tool's form/],
      [['binlog', 'sync'], /^onedump: give --to URL \(the destination folder\), or use the Go tool's form: binlog sync s3 --s3-bucket B --s3-prefix P\.$/],
      [['binlog', 'sync', 's3', '-b', BUCKET, '-p', 'x', '--checksum=maybe'], /^onedump: --checksum takes true or false \(got "maybe"\)\.$/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args, { env: env() });
      expect(r.code, args.join(' ')).toBe(2);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('onedump:') || l.startsWith('error:'));
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0], args.join(' ')).toMatch(re);
    }
    expect((await objects()).size).toBe(before);
  }, 120_000);
});
