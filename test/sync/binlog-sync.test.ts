import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { startMariaDB, type MariaDBInstance, settleBinlogs } from '../../testutils/mariadb.js';
import { startS3, type S3Server } from '../../testutils/s3.js';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { runCli } from '../../testutils/cli.js';
import { treeHashes, sha256 } from '../../testutils/tree.js';

let db: MariaDBInstance;
let s3: S3Server;
let sshd: SshdInstance;
let work: string;

beforeAll(async () => {
  [db, s3, sshd] = await Promise.all([startMariaDB(), startS3(['binlogs']), startSshd()]);
  work = mkdtempSync(join(tmpdir(), 'onedump-binlog-sync-'));
  const c = await db.connect();
  await c.query('CREATE DATABASE shop');
  await c.query('CREATE TABLE shop.t (id INT PRIMARY KEY, v TEXT)');
  await c.query("INSERT INTO shop.t VALUES (1, REPEAT('a', 5000))");
  await c.query('FLUSH BINARY LOGS');
  await c.query("INSERT INTO shop.t VALUES (2, REPEAT('b', 5000))");
  await c.end();
  await settleBinlogs(() => db.connect());
}, 180_000);
afterAll(async () => {
  await Promise.allSettled([db?.stop(), s3?.stop(), sshd?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

async function binlogs(): Promise<Array<{ name: string; size: number }>> {
  const c = await db.connect();
  const [rows] = await c.query('SHOW BINARY LOGS');
  await c.end();
  return (rows as Array<{ Log_name: string; File_size: number }>).map((r) => ({ name: r.Log_name, size: Number(r.File_size) }));
}

async function grow(): Promise<void> {
  const c = await db.connect();
  await c.query(`INSERT INTO shop.t VALUES (${Date.now() % 1_000_000_000}, REPEAT('c', 3000))`);
  await c.query('FLUSH BINARY LOGS');
  await c.end();
  await settleBinlogs(() => db.connect());
}

interface Target {
  name: string;
  url: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

const binlogDir = () => dirname(db.binlogBase);
const s3q = () => `endpoint=${encodeURIComponent(s3.endpoint)}&forcepathstyle=true&checksums=when_required&region=us-east-1`;
const s3env = () => ({ AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey });

function targets(): Target[] {
  return [
    { name: 'local', url: join(work, 'local-dest') + '/', args: [] },
    { name: 's3', url: `s3://binlogs/shipped/?${s3q()}`, args: [], env: s3env() },
    {
      name: 'sftp',
      url: `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.dir}/binlogs/?sshknownhosts=${encodeURIComponent(sshd.knownHostsPath)}`,
      args: ['--ssh-key', sshd.keyPath],
    },
  ];
}

describe('binlog sync', () => {
  for (const name of ['local', 's3', 'sftp']) {
    it(`to ${name}: twice in a row sends nothing the second time, then only the new and grown files`, async () => {
      const t = targets().find((x) => x.name === name)!;
      const state = join(work, `${name}.checksum`);
      const log = join(work, `${name}.log`);
      const run = async () => {
        const r = await runCli(
          ['binlog', 'sync', '--dsn', db.dsn(), '--to', t.url, '--checksum', '--checksum-file', state, '--save-log', '--log-file', log, '--json', ...t.args],
          { env: t.env },
        );
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as { sent: number; files: { sent: Array<{ key: string; size: number }> } };
      };
      const listed = await binlogs();
      const first = await run();
      expect(first.sent).toBe(listed.length);
      expect(first.files.sent.map((s) => [s.key.replace(/^.*\//, ''), s.size]).sort()).toEqual(listed.map((b) => [b.name, b.size]).sort());

      const second = await run();
      expect(second.sent).toBe(0);

      const before = new Map(listed.map((b) => [b.name, b.size]));
      await grow();
      const after = await binlogs();
      const changed = after.filter((b) => before.get(b.name) !== b.size).map((b) => b.name).sort();
      expect(changed.length).toBe(2); // the file that was active (grew, then rotated) and the new one
      const third = await run();
      expect(third.files.sent.map((s) => s.key.replace(/^.*\//, '')).sort()).toEqual(changed);

      // The destination holds each binlog exactly as the server reported it.
      const dl = mkdtempSync(join(work, `dl-${name}-`));
      const r = await runCli(['download', t.url, dl, ...t.args], { env: t.env });
      expect(r.code, r.stderr).toBe(0);
      const got = treeHashes(dl);
      // Each file as it was when it was last sent. (MariaDB appends a Binlog_checkpoint event to the new active binlog
      // shortly after a rotation, so the server's current size can already be larger than what the run saw.)
      const sentSize = new Map<string, number>();
      for (const r of [first, second, third]) for (const f of r.files.sent) sentSize.set(f.key.replace(/^.*\//, ''), f.size);
      expect([...sentSize.keys()].sort()).toEqual((await binlogs()).map((b) => b.name).sort());
      for (const [name, size] of sentSize) {
        expect(got.get(name), name).toBe(sha256(readFileSync(join(binlogDir(), name)).subarray(0, size)));
      }
      expect(got.has('mysql-bin.index')).toBe(false);

      const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { finished_at: string; files: string[] | null; ok: boolean; error: string });
      expect(lines.length).toBe(3);
      expect(lines.map((l) => l.ok)).toEqual([true, true, true]);
      expect(lines[1]!.files).toBeNull(); // nothing tried: null, as the Go tool writes it
      expect(lines[2]!.files!.map((f) => f.replace(/^.*\//, '')).sort()).toEqual(changed);
      expect(lines[2]!.files![0]!.startsWith(binlogDir())).toBe(true);
      expect(Number.isNaN(Date.parse(lines[0]!.finished_at))).toBe(false);
      expect(lines[0]!.error).toBe('');
    }, 120_000);
  }

  it('the Go form sync-s3 ships to the bucket and prefix, and --dry-run sends nothing', async () => {
    const env = { ...s3env(), AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_REGION: 'us-east-1', DATABASE_DSN: db.dsn() };
    const dry = await runCli(['binlog', 'sync-s3', '--s3-bucket', 'binlogs', '--s3-prefix', 'go-form', '--checksum=true', '--dry-run'], { env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/would send {2}mysql-bin\.000001 → s3:\/\/binlogs\/go-form\/mysql-bin\.000001 {2}\(new or changed/);
    const r = await runCli(['binlog', 'sync-s3', '-b', 'binlogs', '-p', 'go-form', '--checksum=true', '--save-log=true', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { sent: number };
    expect(j.sent).toBe((await binlogs()).length);
    // Default places: checksum.onedump and onedump-binlog-sync.log in the binlog folder.
    expect(existsSync(join(binlogDir(), 'checksum.onedump'))).toBe(true);
    expect(readFileSync(join(binlogDir(), 'onedump-binlog-sync.log'), 'utf8').trim().split('\n').length).toBe(1);

    // The Go tool's download form brings them back, each as the server reported it.
    const dir = join(work, 'go-download');
    const d = await runCli(['download', 's3', '--bucket', 'binlogs', '--prefix', 'go-form', '--dir', dir, '--json'], { env });
    expect(d.code, d.stderr).toBe(0);
    const got = treeHashes(dir);
    const listed = await binlogs();
    expect(got.size).toBe(listed.length);
    for (const b of listed) expect(got.get(b.name), b.name).toBe(sha256(readFileSync(join(binlogDir(), b.name)).subarray(0, b.size)));
  }, 120_000);

  it('fails with one sentence when a binlog the server lists is not on this machine', async () => {
    const first = join(binlogDir(), 'mysql-bin.000001');
    renameSync(first, first + '.away');
    try {
      const r = await runCli(['binlog', 'sync', '--dsn', '-', '--to', join(work, 'nowhere') + '/'], { env: { ONEDUMP_DSN: db.dsn() } });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/binlog .*mysql-bin\.000001 is not on this machine; run binlog sync on the database server itself/);
      expect(r.stderr.trim().split('\n').length).toBe(1);
    } finally {
      renameSync(first + '.away', first);
    }
  });
});
